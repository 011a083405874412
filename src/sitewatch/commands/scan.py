"""`sitewatch scan`: crawl a site, check it, store and export the findings."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from sitewatch.config import SiteConfig, load_config, parse_as_of, validate
from sitewatch.errors import UsageError
from sitewatch.paths import output_file
from sitewatch.safetext import raw_stream
from sitewatch.scan import findings_document, write_json
from sitewatch.store import DB_HELP, DEFAULT_DB, ScanRecord, Store
from sitewatch.urls import display_url, normalize

if TYPE_CHECKING:
    from sitewatch.crawl.stats import CrawlStats


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scan", help="crawl a site, check every link and column, store and report the findings")
    p.add_argument("url", nargs="*", metavar="URL", help="start URL(s); optional when --config names them")
    add_scan_flags(p)
    p.add_argument("--resume", nargs="?", const="latest", metavar="SCAN_ID",
                   help="continue an interrupted scan (default: the site's latest) instead of starting one; it "
                        "keeps the settings it started with: --rate, --concurrency and --timeout apply, other "
                        "scan flags are refused when they differ from the stored ones")
    p.set_defaults(func=cmd_scan)


def add_scan_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="SITE.toml",
                   help="site config (TOML): name, start URLs, scope, politeness, columns")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="the day every date rule is judged for (default: today)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds before a request counts as failed (default 15)")
    p.add_argument("--json", metavar="PATH", help="write the findings JSON (schema sitewatch.findings/1) here")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--max-pages", type=int, metavar="N", help="crawl at most N pages of the site (default 100000)")
    p.add_argument("--max-depth", type=int, metavar="N",
                   help="follow links at most N clicks from the start; a column's next list pages add no depth "
                        "(default 30)")
    p.add_argument("--concurrency", type=int, metavar="N", help="simultaneous requests per host (default 4)")
    p.add_argument("--rate", type=float, metavar="R", help="requests per second per host, 0 = unlimited (default 4)")
    p.add_argument("--prefix", action="append", metavar="PATH",
                   help="crawl scope path prefix (repeatable; default: the start URL's folder)")
    p.add_argument("--link-cache-days", type=int, metavar="N",
                   help="reuse the ok result of an external link or attachment measured less than N days ago by an "
                        "earlier scan of the site instead of requesting it again; 0 = request every link (default 7)")
    p.add_argument("--no-conditional", action="store_true",
                   help="read every page in full: no conditional requests (If-None-Match, If-Modified-Since) for the "
                        "pages the last scan read, no reuse of unchanged ones (default: reuse them)")
    p.add_argument("--no-robots", action="store_true", help="ignore robots.txt (only for your own site)")
    p.add_argument("--render-js", action="store_true",
                   help="re-render pages that look JavaScript-only in headless Chromium (needs sitewatch[render])")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> SiteConfig:
    cfg = load_config(args.config) if args.config else SiteConfig()
    if args.url:
        urls = []
        for u in args.url:
            n = normalize(u)
            if n is None:
                raise UsageError(f"scan: not an http(s) URL: {u!r}")
            urls.append(n)
        cfg.start_urls = urls
    if not cfg.start_urls:
        raise UsageError("scan: give a start URL or a --config with site.start_urls")
    cfg.source = args.config or "command line"
    return apply_flags(cfg, args)


def apply_flags(cfg: SiteConfig, args: argparse.Namespace) -> SiteConfig:
    """``cfg`` with the scan flags given on the command line applied (and validated)."""
    for flag, attr in (("timeout", "timeout"), ("max_pages", "max_pages"), ("max_depth", "max_depth"),
                       ("concurrency", "concurrency"), ("rate", "rate"),
                       ("link_cache_days", "link_cache_days")):
        v = getattr(args, flag)
        if v is not None:
            setattr(cfg, attr, v)
    if args.prefix:
        cfg.prefixes = args.prefix
    if args.no_robots:
        cfg.obey_robots = False
    if getattr(args, "no_conditional", False):
        cfg.conditional = False
    if args.as_of:
        cfg.as_of = parse_as_of(args.as_of)
    if getattr(args, "render_js", False):
        cfg.render_js = True
    if cfg.render_js:   # fail before a scan is created when Playwright or Chromium is missing
        from sitewatch.crawl.render import require_rendering
        require_rendering("--render-js" if getattr(args, "render_js", False) else f"{args.config}: crawl.render_js")
    validate(cfg)
    if getattr(args, "json", None):
        output_file(args.json, "--json")
    return cfg


class Progress:
    """A one-line progress display on a terminal; silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.monotonic()

    def __call__(self, stats: CrawlStats, queued: int) -> None:
        if not self.enabled:
            return
        dt_ = max(time.monotonic() - self.t0, 1e-6)
        raw_stream(sys.stderr).write(f"\r  pages {stats.pages}  checked {stats.checked}  broken {stats.broken}  "
                         f"queued {queued}  {stats.pages / dt_:.1f} pages/s   ")
        raw_stream(sys.stderr).flush()

    def done(self) -> None:
        if self.enabled:
            raw_stream(sys.stderr).write("\r" + " " * 90 + "\r")


def cmd_scan(args: argparse.Namespace) -> int:
    if getattr(args, "resume", None) is not None:
        return cmd_resume(args)
    from sitewatch.resume import stop_on_signals
    from sitewatch.scan import start_scan

    cfg = config_from_args(args)
    store = Store(args.db or DEFAULT_DB)
    progress = Progress(sys.stderr.isatty() and not args.quiet)
    # Ctrl-C / SIGTERM: the requests in flight are cancelled and checkpointed with the frontier for --resume
    with stop_on_signals() as stop:
        result = start_scan(cfg, store, stop=stop, progress=progress)
    progress.done()
    doc = findings_document(store, result.scan_id)
    if result.status != "completed":
        print_summary(doc, args.db or DEFAULT_DB, None)
        print(f"sitewatch: scan {result.scan_id} interrupted; continue it with: sitewatch scan --resume "
              f"{result.scan_id}" + (f" --db {args.db}" if args.db else ""), file=sys.stderr)
        return 130
    if args.json:
        write_json(args.json, doc)
    print_summary(doc, args.db or DEFAULT_DB, args.json)
    return reach_exit(doc)


def cmd_resume(args: argparse.Namespace) -> int:
    from sitewatch.resume import resumable_scan, stop_on_signals
    from sitewatch.scan import resume_scan

    if args.json:
        output_file(args.json, "--json")
    store = Store(args.db or DEFAULT_DB)
    given = config_from_args(args) if (args.config or args.url) else None
    if args.resume == "latest":
        scan = resumable_scan(store, (given.name or given.start_urls[0]) if given else None)
        if scan is None:
            raise UsageError("scan --resume: no interrupted scan to resume in the store")
    elif not args.resume.isdigit() or (scan := store.scan(int(args.resume))) is None:
        raise UsageError(f"scan --resume: no scan with id {args.resume} in the store")
    if scan.status == "completed":
        raise UsageError(f"scan --resume: scan {scan.id} is already completed")
    if scan.status == "running" and scan.runner_state() == "alive":
        raise UsageError(f"scan --resume: scan {scan.id} is still running (process {scan.stats['runner']['pid']}); "
                         "stop it first (Ctrl-C or kill -INT: it checkpoints) or let it finish")
    cfg = resume_config(scan, args, given)
    if scan.status == "running":
        print(f"sitewatch: scan {scan.id} is marked running; resuming it as interrupted", file=sys.stderr)
    progress = Progress(sys.stderr.isatty() and not args.quiet)
    with stop_on_signals() as stop:
        result = resume_scan(store, scan.id, cfg, stop=stop, progress=progress)
    progress.done()
    doc = findings_document(store, result.scan_id)
    if args.json and result.status == "completed":
        write_json(args.json, doc)
    print_summary(doc, args.db or DEFAULT_DB, args.json if result.status == "completed" else None)
    return reach_exit(doc) if result.status == "completed" else 130


UNREACHABLE_EXIT = 3


def reach_exit(doc: dict[str, Any]) -> int:
    """0 for a completed scan; 3 (with one line on stderr) when it could not fetch the homepage or crawled no
    page: the findings are stored and exported as usual, but a script must be able to tell."""
    from sitewatch.rules.availability import unreachable_line

    line = unreachable_line(doc)
    if line is None:
        return 0
    print(f"sitewatch: {line}", file=sys.stderr)
    return UNREACHABLE_EXIT


_FLAG_OF = {"max_pages": "--max-pages", "max_depth": "--max-depth", "prefixes": "--prefix", "robots": "--no-robots",
            "render_js": "--render-js", "link_cache_days": "--link-cache-days", "as_of": "--as-of",
            "conditional": "--no-conditional",
            "start_urls": "the start URL"}


def resume_config(scan: ScanRecord, args: argparse.Namespace, given: SiteConfig | None) -> SiteConfig:
    """The settings `scan --resume` runs with (``resume.resume_settings``): the scan's own, with --rate,
    --concurrency, --timeout (and a config's retries) from this command line. ``given`` is the command line's
    config when it names a --config or start URLs; without --config, the flags are checked against the scan's
    stored settings (and start URLs, when given, against its start URLs). A flag or config setting that would
    change what the scan measures is refused; repeating the original command line with --resume is accepted."""
    from sitewatch.resume import config_from_scan, resume_settings

    if not args.config:
        flags = apply_flags(SiteConfig.from_json(config_from_scan(scan).to_json(), source="command line"), args)
        if given is not None:
            flags.start_urls = given.start_urls
        given = flags
    cfg, kept = resume_settings(scan, given)
    if kept:
        assert given is not None                     # settings are compared against a given config
        key, stored, now = kept[0]
        raise UsageError(f"scan --resume: {_FLAG_OF.get(key, key)} {now!r} ({given.source}) differs from scan "
                         f"{scan.id}'s {stored!r}; a resumed scan keeps the settings it started with (only --rate, "
                         "--concurrency, --timeout may change)")
    validate(cfg)
    return cfg


def print_summary(doc: dict[str, Any], db: str, json_path: str | None) -> None:
    s = doc["scan"]
    print(f"sitewatch: scan {s['id']} of {doc['site']} as of {doc['as_of']}: {s['status']}")
    print(f"  {s['pages']} pages crawled, {s['checked']} URLs checked, {s['links']} links, "
          f"{s['requests']} requests in {s['seconds']:.1f} s ({s['pages_per_second'] or 0} pages/s)")
    _print_throttle(s.get("throttle"))
    cov = s.get("coverage") or {}
    if cov.get("cuts"):
        print("  NOT COVERED (the scan did not read the whole site):")
        for kind, cut in cov["cuts"].items():
            example = f"; e.g. {display_url(cut['examples'][0])}" if cut.get("examples") else ""
            print(f"    {kind}: {cut['count']}{example}")
    elif s["status"] == "completed":
        print("  coverage: complete (no bound cut the crawl)")
    cond = s.get("conditional") or {}
    if cond.get("stored"):
        reused = sum(cond.get(k) or 0 for k in ("cached", "not_modified", "unchanged"))
        print(f"  unchanged pages: {reused} of the {cond['stored']} pages read by scan {cond['source_scan']} reused "
              f"({cond.get('cached') or 0} articles measured within the link cache's age not requested, "
              f"{cond.get('not_modified')} answered 304, {cond.get('unchanged')} the same body); "
              f"{cond.get('changed')} changed and read again; {cond.get('canaries')} fetched in full to test the "
              "validators")
    for wrong in cond.get("wrong_validators") or ():
        print(f"  VALIDATORS WRONG: {display_url(wrong['url'])} changed under the same validators; its host's pages "
              "are read in full from now on")
    cache = s.get("cache") or {}
    if cache.get("reused"):
        print(f"  link cache: {cache['reused']} external links and attachments not requested, their ok results "
              f"reused (measured {cache['measured_from']} to {cache['measured_to']}, "
              f"within {cache['max_age_days']} days)")
    if doc["summary"]:
        print("  findings: " + ", ".join(f"{rule} {n}" for rule, n in doc["summary"].items()))
    else:
        print("  findings: none")
    print(f"  stored in {db}" + (f"; findings JSON: {json_path}" if json_path else ""))


def _print_throttle(hosts: list[dict[str, Any]] | None) -> None:
    """Adaptive politeness: the hosts that asked to slow down (429, 503, 504, timeouts) and their delays."""
    if not hosts:
        return                      # a scan stored before the numbers existed, or no request sent
    backed = [h for h in hosts if h.get("backoffs")]
    if not backed:
        print(f"  politeness: no back-off (delay between requests {hosts[0]['delay']:g} s per host)")
        return
    print(f"  politeness: backed off on {len(backed)} host{'s' if len(backed) > 1 else ''}:")
    for h in backed:
        print(f"    {display_url(h['host'])}: {h['backoffs']} back-off{'s' if h['backoffs'] > 1 else ''}, "
              f"delay now {h['delay']:g} s (least {h['min_delay']:g} s, most {h['max_delay']:g} s), "
              f"{h['requests']} requests")
