"""Site configuration (TOML) and the effective scan settings after CLI flags are applied."""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sitewatch.addresses import parse_allow
from sitewatch.defaults import DEFAULT_CONCURRENCY, DEFAULT_RATE, DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT
from sitewatch.errors import ConfigError
from sitewatch.urls import normalize

DEFAULT_MAX_PAGES = 100_000     # a real 镇街 site has up to ~50,000 pages: crawl it whole by default
DEFAULT_MAX_DEPTH = 30
DEFAULT_LINK_CACHE_DAYS = 7     # an external link or attachment found ok is not requested again for 7 days (0 = off)


@dataclass
class ColumnConfig:
    category: str | None = None      # pin the column's category (dynamic, notice, yearly, none)
    unit: str | None = None          # 责任科室
    max_age_days: int | None = None


@dataclass
class SiteConfig:
    """Everything one scan of one site needs. Built from a TOML file and/or CLI flags."""

    name: str = ""
    start_urls: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float = DEFAULT_RATE
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    obey_robots: bool = True
    adaptive: bool = True             # [politeness] adaptive: back off on 429/503/timeouts, never above the caps
    user_agent: str = DEFAULT_USER_AGENT
    verify_tls: bool = True
    proxy: str | None = None          # [network] proxy: every request of the site goes through it
    network_allow: list[str] = field(default_factory=list)   # [network] allow: internal networks/hosts to request
    ca_bundle: str | None = None      # [network] ca_bundle: PEM file of the CAs trusted for this site
    max_pages: int = DEFAULT_MAX_PAGES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_query_variants: int = 50
    as_of: dt.date | None = None
    columns: dict[str, ColumnConfig] = field(default_factory=dict)
    default_unit: str | None = None
    rule_packs: list[str] = field(default_factory=list)
    rule_overrides: dict[str, Any] = field(default_factory=dict)
    disclosures: dict[str, Any] = field(default_factory=dict)
    list_engines: dict[str, str] = field(default_factory=dict)   # URL prefix -> forced engine name
    render_js: bool = False
    link_cache_days: int = DEFAULT_LINK_CACHE_DAYS   # [crawl]: reuse ok results of external links younger than this
    conditional: bool = True      # [crawl]: ask "changed since?" for pages the last scan read; reuse unchanged ones
    schedule: dict[str, Any] = field(default_factory=dict)
    source: str = "<flags>"
    # not in the TOML nor stored with a scan: set by the process that runs the scan
    shared_budget: str | None = None  # a Redis URL: per-host politeness shared with every process using it (fleet)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)   # the TOML table it was read from

    def to_json(self) -> dict[str, Any]:
        """Every setting that shapes a scan, as stored with it (``from_json`` reads it back for ``--resume``).
        ``as_of`` is stored apart (``scans.as_of``); ``schedule`` and ``source`` do not shape a scan."""
        return {"name": self.name, "start_urls": self.start_urls, "prefixes": self.prefixes,
                "extra_hosts": self.extra_hosts, "excludes": self.excludes, "concurrency": self.concurrency,
                "rate": self.rate, "timeout": self.timeout, "retries": self.retries, "robots": self.obey_robots,
                "adaptive": self.adaptive, "user_agent": self.user_agent, "verify_tls": self.verify_tls,
                "max_pages": self.max_pages, "max_depth": self.max_depth, "max_query_variants": self.max_query_variants,
                "columns": {k: vars(v) for k, v in self.columns.items()}, "default_unit": self.default_unit,
                "disclosures": self.disclosures, "rule_overrides": self.rule_overrides,
                "rule_packs": self.rule_packs, "list_engines": self.list_engines, "render_js": self.render_js,
                "link_cache_days": self.link_cache_days, "conditional": self.conditional,
                "network_allow": self.network_allow,
                "ca_bundle": self.ca_bundle}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "<stored>") -> SiteConfig:
        """The config ``to_json`` stored; keys a store written by an older version lacks keep their defaults."""
        cfg = cls(source=source)
        data = copy.deepcopy(data or {})
        for key in _STORED:
            if data.get(key) is not None:
                setattr(cfg, key, data[key])
        if data.get("robots") is not None:
            cfg.obey_robots = bool(data["robots"])
        cfg.columns = {k: ColumnConfig(**v) for k, v in (data.get("columns") or {}).items()}
        return cfg

    def unit_for(self, column_name: str) -> str | None:
        c = self.columns.get(column_name)
        return (c.unit if c and c.unit else None) or self.default_unit


_STORED = ("name", "start_urls", "prefixes", "extra_hosts", "excludes", "concurrency", "rate", "timeout", "retries",
           "adaptive",
           "user_agent", "verify_tls", "max_pages", "max_depth", "max_query_variants", "default_unit", "disclosures",
           "rule_overrides", "rule_packs", "list_engines", "render_js", "link_cache_days", "conditional",
           "network_allow", "ca_bundle")     # to_json keys kept as they are (not the proxy: its URL may hold a secret)

_KNOWN_TOP = {"site", "scope", "politeness", "network", "crawl", "columns", "disclosures", "rules", "list_engines",
              "schedule", "sites"}
# the keys each section accepts (list_engines and columns are keyed by the site's own prefixes and column names)
KNOWN_KEYS: dict[str, set[str]] = {
    "site": {"name", "start_urls", "start_url", "as_of", "unit"},
    "scope": {"prefixes", "extra_hosts", "excludes"},
    "politeness": {"concurrency", "rate", "adaptive", "timeout", "retries", "robots", "user_agent", "verify_tls"},
    "network": {"proxy", "allow", "ca_bundle"},
    "crawl": {"max_pages", "max_depth", "max_query_variants", "render_js", "link_cache_days", "conditional"},
    "column": {"category", "unit", "max_age_days"},
    "rules": {"packs", "overrides"},
    "disclosures": {"approvals"},
}
SCHEDULE_KEYS: dict[str, type | tuple[type, ...]] = {
    "enabled": bool, "timezone": str, "probe_every_minutes": (int, float), "probe_jitter_seconds": int,
    "probe_timeout": (int, float), "probe_urls": list, "link_scan": (str, bool), "monthly": (str, bool),
    "lookback_days": int, "report_dir": str, "keep_scans": int, "audit_link_cache": bool, "executor": str,
}
EXECUTORS = ("local", "celery")     # [schedule] executor: jobs run in the scheduler's process, or on fleet workers
MAX_TIMEOUT = 600.0      # seconds: a longer wait is a hang, not a measurement
MAX_CONCURRENCY = 256
MAX_LINK_CACHE_DAYS = 366  # a link result older than a year is no measurement of today's site


def check_keys(table: dict[str, Any], known: set[str] | dict[str, Any], where: str) -> None:
    """A ConfigError naming the first unknown key of ``table`` and the nearest known one."""
    for key in table:
        if key not in known:
            import difflib  # lazy: only a config error needs it

            near = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(sorted(known))})"
            raise ConfigError(f"{where}.{key}: unknown key{hint}")


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}: expected {names}, got {value!r}")
    return value


def load_config(path: str | Path) -> SiteConfig:
    """Read a site config (the first site of a ``[[sites]]`` file). Errors name the file and the key."""
    return load_site_configs(path)[0]


def load_site_configs(path: str | Path) -> list[SiteConfig]:
    """All sites of a config file: a single site, or an array of tables ``[[sites]]``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))     # a BOM (Windows Notepad) is fine
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if "sites" in data:
        sites = _expect(data["sites"], list, f"{path}: sites")
        if not sites:
            raise ConfigError(f"{path}: sites: empty list")
        return [config_from_dict(_expect(s, dict, f"{path}: sites[{i}]"), f"{path}: sites[{i}]")
                for i, s in enumerate(sites)]
    return [config_from_dict(data, str(path))]


def config_from_dict(data: dict[str, Any], source: str) -> SiteConfig:
    unknown = set(data) - _KNOWN_TOP
    if unknown:
        key = sorted(unknown)[0]
        import difflib  # lazy: only a config error needs it

        near = difflib.get_close_matches(key, list(_KNOWN_TOP), n=1, cutoff=0.6)
        hint = f"; did you mean [{near[0]}]?" if near else f" (known: {', '.join(sorted(_KNOWN_TOP))})"
        raise ConfigError(f"{source}: unknown section {key!r}{hint}")
    for section, known in KNOWN_KEYS.items():
        if section != "column" and section in data:
            check_keys(_expect(data[section], dict, f"{source}: [{section}]"), known, f"{source}: {section}")
    check_keys(_expect(data.get("schedule", {}), dict, f"{source}: [schedule]"), SCHEDULE_KEYS, f"{source}: schedule")
    for key, value in data.get("schedule", {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: schedule.{key}: expected a finite number, got {value!r}")
    cfg = SiteConfig(source=source, raw=copy.deepcopy(data))
    site = _expect(data.get("site", {}), dict, f"{source}: [site]")
    cfg.name = str(site.get("name", ""))
    urls = site.get("start_urls", site.get("start_url", []))
    if isinstance(urls, str):
        urls = [urls]
    for i, u in enumerate(_expect(urls, list, f"{source}: site.start_urls")):
        n = normalize(_expect(u, str, f"{source}: site.start_urls[{i}]"))
        if n is None:
            raise ConfigError(f"{source}: site.start_urls[{i}]: not an http(s) URL: {u!r}")
        cfg.start_urls.append(n)
    if "as_of" in site:
        cfg.as_of = parse_as_of(str(site["as_of"]), f"{source}: site.as_of")
    cfg.default_unit = _expect(site["unit"], str, f"{source}: site.unit") if "unit" in site else None
    scope = _expect(data.get("scope", {}), dict, f"{source}: [scope]")
    cfg.prefixes = [str(x) for x in _expect(scope.get("prefixes", []), list, f"{source}: scope.prefixes")]
    cfg.extra_hosts = [str(x) for x in _expect(scope.get("extra_hosts", []), list, f"{source}: scope.extra_hosts")]
    cfg.excludes = [str(x) for x in _expect(scope.get("excludes", []), list, f"{source}: scope.excludes")]
    for i, x in enumerate(cfg.excludes):
        try:
            re.compile(x)
        except re.error as exc:
            raise ConfigError(f"{source}: scope.excludes[{i}]: bad regular expression {x!r}: {exc}") from None
    pol = _expect(data.get("politeness", {}), dict, f"{source}: [politeness]")
    for key, kind in (("concurrency", int), ("rate", (int, float)), ("adaptive", bool), ("timeout", (int, float)),
                      ("retries", int), ("robots", bool), ("user_agent", str), ("verify_tls", bool)):
        if key in pol:
            val = _expect(pol[key], kind, f"{source}: politeness.{key}")
            setattr(cfg, "obey_robots" if key == "robots" else key, val)
    _network(cfg, _expect(data.get("network", {}), dict, f"{source}: [network]"), source)
    crawl = _expect(data.get("crawl", {}), dict, f"{source}: [crawl]")
    for key in ("max_pages", "max_depth", "max_query_variants", "link_cache_days"):
        if key in crawl:
            setattr(cfg, key, _expect(crawl[key], int, f"{source}: crawl.{key}"))
    for key in ("render_js", "conditional"):
        if key in crawl:
            setattr(cfg, key, _expect(crawl[key], bool, f"{source}: crawl.{key}"))
    for name, col in _expect(data.get("columns", {}), dict, f"{source}: [columns]").items():
        where = f"{source}: columns.{name}"
        col = _expect(col, dict, where)
        check_keys(col, KNOWN_KEYS["column"], where)
        for key in ("category", "unit"):
            if key in col:
                _expect(col[key], str, f"{where}.{key}")
        if "max_age_days" in col and _expect(col["max_age_days"], int, f"{where}.max_age_days") < 1:
            raise ConfigError(f"{where}.max_age_days: must be >= 1 day, got {col['max_age_days']}")
        cfg.columns[name] = ColumnConfig(category=col.get("category"), unit=col.get("unit"),
                                         max_age_days=col.get("max_age_days"))
    cfg.disclosures = _expect(data.get("disclosures", {}), dict, f"{source}: [disclosures]")
    cfg.disclosures = {**cfg.disclosures, "approvals": _approvals(cfg.disclosures.get("approvals", {}),
                                                                  f"{source}: disclosures.approvals")} \
        if "approvals" in cfg.disclosures else cfg.disclosures
    rules = _expect(data.get("rules", {}), dict, f"{source}: [rules]")
    cfg.rule_packs = [str(p) for p in _expect(rules.get("packs", []), list, f"{source}: rules.packs")]
    cfg.rule_overrides = _expect(rules.get("overrides", {}), dict, f"{source}: rules.overrides")
    cfg.list_engines = {str(k): str(v) for k, v in _expect(data.get("list_engines", {}), dict,
                                                            f"{source}: [list_engines]").items()}
    cfg.schedule = _expect(data.get("schedule", {}), dict, f"{source}: [schedule]")
    validate(cfg)
    return cfg


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _network(cfg: SiteConfig, net: dict[str, Any], source: str) -> None:
    """``[network]``: proxy URL, allowed internal networks/hosts, CA bundle; each checked now."""
    if "proxy" in net:
        proxy = _expect(net["proxy"], str, f"{source}: network.proxy").strip()
        try:
            parts = urlsplit(proxy)
            ok = parts.scheme in PROXY_SCHEMES and bool(parts.hostname) and (parts.port or 0) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"{source}: network.proxy: expected a URL such as http://proxy.example:3128 or "
                              f"socks5://127.0.0.1:1080 ({', '.join(PROXY_SCHEMES)}), got {proxy!r}")
        cfg.proxy = proxy
    if "allow" in net:
        allow = [_expect(x, str, f"{source}: network.allow[{i}]")
                 for i, x in enumerate(_expect(net["allow"], list, f"{source}: network.allow"))]
        try:
            parse_allow(allow)
        except ValueError as exc:
            raise ConfigError(f"{source}: network.allow: {exc}") from None
        cfg.network_allow = allow
    if "ca_bundle" in net:
        bundle = Path(_expect(net["ca_bundle"], str, f"{source}: network.ca_bundle")).expanduser()
        if not bundle.is_absolute() and not source.startswith("<"):
            bundle = Path(source.split(": ", 1)[0]).parent / bundle
        if not bundle.is_file():
            raise ConfigError(f"{source}: network.ca_bundle: no such file: {bundle}")
        cfg.ca_bundle = str(bundle)


def _approvals(value: Any, where: str) -> dict[str, dict[str, str]]:
    """``[disclosures.approvals.<item>]`` tables of year = 批复 date, checked now (an impossible date found only after
    the crawl would lose the scan). The item names are checked against the rule packs by ``scan.site_rules``."""
    out: dict[str, dict[str, str]] = {}
    for item, table in _expect(value, dict, where).items():
        out[item] = {}
        for year, day in _expect(table, dict, f"{where}.{item}").items():
            if not re.fullmatch(r"(19|20)\d\d", str(year)):
                raise ConfigError(f"{where}.{item}.{year}: expected a year such as 2026")
            if isinstance(day, dt.datetime):
                day = day.date()
            elif isinstance(day, str):
                day = parse_as_of(day, f"{where}.{item}.{year}")
            elif not isinstance(day, dt.date):
                raise ConfigError(f"{where}.{item}.{year}: expected a date YYYY-MM-DD, got {day!r}")
            out[item][str(year)] = day.isoformat()        # as a stored scan's config keeps it (JSON)
    return out


def validate(cfg: SiteConfig) -> None:
    """Range checks shared by the config file and the CLI flags."""
    where = cfg.source
    if not 1 <= cfg.concurrency <= MAX_CONCURRENCY:
        raise ConfigError(f"{where}: concurrency must be 1..{MAX_CONCURRENCY}, got {cfg.concurrency}")
    if not math.isfinite(cfg.rate) or cfg.rate < 0:
        raise ConfigError(f"{where}: rate must be a finite number >= 0 (0 = unlimited), got {cfg.rate}")
    if not math.isfinite(cfg.timeout) or not 0 < cfg.timeout <= MAX_TIMEOUT:
        raise ConfigError(f"{where}: timeout must be > 0 and <= {MAX_TIMEOUT:g} seconds, got {cfg.timeout}")
    if not cfg.user_agent.strip() or any(c in cfg.user_agent for c in "\r\n\x00"):
        raise ConfigError(f"{where}: user_agent must be one non-empty line, got {cfg.user_agent!r}")
    if cfg.max_query_variants < 1:
        raise ConfigError(f"{where}: max_query_variants must be >= 1, got {cfg.max_query_variants}")
    if cfg.retries < 0:
        raise ConfigError(f"{where}: retries must be >= 0, got {cfg.retries}")
    if cfg.max_pages < 1:
        raise ConfigError(f"{where}: max_pages must be >= 1, got {cfg.max_pages}")
    if cfg.max_depth < 0:
        raise ConfigError(f"{where}: max_depth must be >= 0, got {cfg.max_depth}")
    if not 0 <= cfg.link_cache_days <= MAX_LINK_CACHE_DAYS:
        raise ConfigError(f"{where}: link_cache_days must be 0..{MAX_LINK_CACHE_DAYS} (0 = off), "
                          f"got {cfg.link_cache_days}")


def parse_as_of(text: str, where: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {text!r}") from None
