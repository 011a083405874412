"""The crawl: fetch pages politely, follow links inside the site, check every link, store as it goes."""
