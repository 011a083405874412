-- The store of sitewatch 0.1.0 (its first release, commit "Crawler core"), as its SQLAlchemy models created it
-- in SQLite, with one small scan in it: the baseline `sitewatch db upgrade` must migrate without loss.
CREATE TABLE scans (
	id INTEGER NOT NULL, 
	site VARCHAR(200) NOT NULL, 
	start_urls JSON NOT NULL, 
	as_of DATE NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	config JSON NOT NULL, 
	stats JSON NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE probes (
	id INTEGER NOT NULL, 
	site VARCHAR(200) NOT NULL, 
	url TEXT NOT NULL, 
	at DATETIME NOT NULL, 
	ok BOOLEAN NOT NULL, 
	status INTEGER, 
	latency_ms INTEGER, 
	error TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_probes_site ON probes (site);
CREATE INDEX ix_probes_at ON probes (at);
CREATE TABLE sitewatch_meta (
	"key" VARCHAR(40) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE pages (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	status INTEGER, 
	title TEXT NOT NULL, 
	encoding VARCHAR(40) NOT NULL, 
	content_type VARCHAR(100) NOT NULL, 
	elapsed_ms INTEGER NOT NULL, 
	size INTEGER NOT NULL, 
	depth INTEGER NOT NULL, 
	content_hash VARCHAR(40) NOT NULL, 
	pub_date DATE, 
	meta JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_pages_scan_id ON pages (scan_id);
CREATE TABLE links (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	page_url TEXT NOT NULL, 
	target TEXT NOT NULL, 
	tag VARCHAR(20) NOT NULL, 
	text TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_links_scan_target ON links (scan_id, target);
CREATE TABLE targets (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	internal BOOLEAN NOT NULL, 
	method VARCHAR(8) NOT NULL, 
	status INTEGER, 
	verdict VARCHAR(20) NOT NULL, 
	reason VARCHAR(40) NOT NULL, 
	detail TEXT NOT NULL, 
	final_url TEXT NOT NULL, 
	chain JSON NOT NULL, 
	elapsed_ms INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_targets_scan_verdict ON targets (scan_id, verdict);
CREATE INDEX ix_targets_scan_url ON targets (scan_id, url);
CREATE TABLE columns (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	"key" TEXT NOT NULL, 
	name TEXT NOT NULL, 
	url TEXT NOT NULL, 
	engine VARCHAR(20) NOT NULL, 
	total INTEGER, 
	empty_marker BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_columns_scan_id ON columns (scan_id);
CREATE TABLE list_items (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	column_key TEXT NOT NULL, 
	page_url TEXT NOT NULL, 
	title TEXT NOT NULL, 
	url TEXT NOT NULL, 
	date DATE, 
	date_source VARCHAR(20), 
	pinned BOOLEAN NOT NULL, 
	document_number TEXT, 
	attachments JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_items_scan_column ON list_items (scan_id, column_key);
CREATE TABLE findings (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	rule VARCHAR(60) NOT NULL, 
	severity VARCHAR(20) NOT NULL, 
	url TEXT NOT NULL, 
	fingerprint VARCHAR(32) NOT NULL, 
	message TEXT NOT NULL, 
	found_on JSON NOT NULL, 
	evidence JSON NOT NULL, 
	extra JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_findings_scan_id ON findings (scan_id);
CREATE INDEX ix_findings_fingerprint ON findings (fingerprint);
CREATE TABLE frontier (
	id INTEGER NOT NULL, 
	scan_id INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	depth INTEGER NOT NULL, 
	crawl BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE INDEX ix_frontier_scan_id ON frontier (scan_id);

INSERT INTO scans VALUES (1, '示例镇', '["http://127.0.0.1:1/"]', '2026-11-20', 'full', 'completed',
  '2026-11-20 09:00:00.000000', '2026-11-20 09:05:00.000000', '{"name": "示例镇", "max_pages": 100}',
  '{"pages": 2, "checked": 3, "links": 3, "broken": 1, "seconds": 1.5}');
INSERT INTO scans VALUES (2, '示例镇', '["http://127.0.0.1:1/"]', '2026-11-21', 'full', 'interrupted',
  '2026-11-21 09:00:00.000000', '2026-11-21 09:01:00.000000', '{"name": "示例镇"}', '{"pages": 1}');
INSERT INTO pages VALUES (1, 1, 'http://127.0.0.1:1/', 200, '首页', 'utf-8', 'text/html', 12, 3000, 0,
  'abc', '2026-11-19', '{}');
INSERT INTO pages VALUES (2, 1, 'http://127.0.0.1:1/news/', 200, '新闻', 'gb18030', 'text/html; charset=gbk', 15,
  2000, 1, 'def', NULL, '{"list": true}');
INSERT INTO links VALUES (1, 1, 'http://127.0.0.1:1/', 'http://127.0.0.1:1/news/', 'a', '新闻');
INSERT INTO links VALUES (2, 1, 'http://127.0.0.1:1/', 'http://127.0.0.1:1/gone.html', 'a', '失效链接');
INSERT INTO links VALUES (3, 1, 'http://127.0.0.1:1/news/', 'http://127.0.0.1:1/', 'a', '首页');
INSERT INTO targets VALUES (1, 1, 'http://127.0.0.1:1/', 1, 'GET', 200, 'ok', '', '', 'http://127.0.0.1:1/', '[]', 12);
INSERT INTO targets VALUES (2, 1, 'http://127.0.0.1:1/news/', 1, 'GET', 200, 'ok', '', '',
  'http://127.0.0.1:1/news/', '[]', 15);
INSERT INTO targets VALUES (3, 1, 'http://127.0.0.1:1/gone.html', 1, 'GET', 404, 'broken', 'http_404', '',
  'http://127.0.0.1:1/gone.html', '[]', 3);
INSERT INTO list_items VALUES (1, 1, 'news', 'http://127.0.0.1:1/news/', '通知', 'http://127.0.0.1:1/news/1.html',
  '2026-11-18', 'list', 0, NULL, '[]');
INSERT INTO findings VALUES (1, 1, 'links.broken', 'serious', 'http://127.0.0.1:1/gone.html', '0123456789abcdef',
  '失效链接', '["http://127.0.0.1:1/"]', '{"status": 404}', '{}');
INSERT INTO frontier VALUES (1, 2, 'http://127.0.0.1:1/news/', 1, 1);
INSERT INTO probes VALUES (1, '示例镇', 'http://127.0.0.1:1/', '2026-11-20 08:00:00.000000', 1, 200, 30, '');
