"""Site configuration (TOML) and the effective scan settings after CLI flags are applied."""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitewatch.crawl.fetch import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT
from sitewatch.crawl.politeness import DEFAULT_CONCURRENCY, DEFAULT_RATE
from sitewatch.errors import ConfigError
from sitewatch.urls import normalize

DEFAULT_MAX_PAGES = 20000
DEFAULT_MAX_DEPTH = 30


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
    user_agent: str = DEFAULT_USER_AGENT
    verify_tls: bool = True
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
    schedule: dict[str, Any] = field(default_factory=dict)
    source: str = "<flags>"

    def to_json(self) -> dict[str, Any]:
        """Every setting that shapes a scan, as stored with it (``from_json`` reads it back for ``--resume``).
        ``as_of`` is stored apart (``scans.as_of``); ``schedule`` and ``source`` do not shape a scan."""
        return {"name": self.name, "start_urls": self.start_urls, "prefixes": self.prefixes,
                "extra_hosts": self.extra_hosts, "excludes": self.excludes, "concurrency": self.concurrency,
                "rate": self.rate, "timeout": self.timeout, "retries": self.retries, "robots": self.obey_robots,
                "user_agent": self.user_agent, "verify_tls": self.verify_tls,
                "max_pages": self.max_pages, "max_depth": self.max_depth, "max_query_variants": self.max_query_variants,
                "columns": {k: vars(v) for k, v in self.columns.items()}, "default_unit": self.default_unit,
                "disclosures": self.disclosures, "rule_overrides": self.rule_overrides,
                "rule_packs": self.rule_packs, "list_engines": self.list_engines, "render_js": self.render_js}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "<stored>") -> "SiteConfig":
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
           "user_agent", "verify_tls", "max_pages", "max_depth", "max_query_variants", "default_unit", "disclosures",
           "rule_overrides", "rule_packs", "list_engines", "render_js")     # to_json keys kept as they are

_KNOWN_TOP = {"site", "scope", "politeness", "crawl", "columns", "disclosures", "rules", "list_engines", "schedule",
              "sites"}


def _expect(value: Any, kind: type | tuple, where: str) -> Any:
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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
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
        raise ConfigError(f"{source}: unknown section {sorted(unknown)[0]!r} (known: {', '.join(sorted(_KNOWN_TOP))})")
    cfg = SiteConfig(source=source)
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
    cfg.default_unit = site.get("unit")
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
    for key, kind in (("concurrency", int), ("rate", (int, float)), ("timeout", (int, float)), ("retries", int),
                      ("robots", bool), ("user_agent", str), ("verify_tls", bool)):
        if key in pol:
            val = _expect(pol[key], kind, f"{source}: politeness.{key}")
            setattr(cfg, "obey_robots" if key == "robots" else key, val)
    crawl = _expect(data.get("crawl", {}), dict, f"{source}: [crawl]")
    for key in ("max_pages", "max_depth", "max_query_variants"):
        if key in crawl:
            setattr(cfg, key, _expect(crawl[key], int, f"{source}: crawl.{key}"))
    if "render_js" in crawl:
        cfg.render_js = _expect(crawl["render_js"], bool, f"{source}: crawl.render_js")
    for name, col in _expect(data.get("columns", {}), dict, f"{source}: [columns]").items():
        col = _expect(col, dict, f"{source}: columns.{name}")
        cfg.columns[name] = ColumnConfig(category=col.get("category"), unit=col.get("unit"),
                                         max_age_days=col.get("max_age_days"))
    cfg.disclosures = _expect(data.get("disclosures", {}), dict, f"{source}: [disclosures]")
    rules = _expect(data.get("rules", {}), dict, f"{source}: [rules]")
    cfg.rule_packs = [str(p) for p in _expect(rules.get("packs", []), list, f"{source}: rules.packs")]
    cfg.rule_overrides = _expect(rules.get("overrides", {}), dict, f"{source}: rules.overrides")
    cfg.list_engines = {str(k): str(v) for k, v in _expect(data.get("list_engines", {}), dict,
                                                            f"{source}: [list_engines]").items()}
    cfg.schedule = _expect(data.get("schedule", {}), dict, f"{source}: [schedule]")
    validate(cfg)
    return cfg


def validate(cfg: SiteConfig) -> None:
    """Range checks shared by the config file and the CLI flags."""
    where = cfg.source
    if cfg.concurrency < 1:
        raise ConfigError(f"{where}: concurrency must be >= 1, got {cfg.concurrency}")
    if cfg.rate < 0:
        raise ConfigError(f"{where}: rate must be >= 0 (0 = unlimited), got {cfg.rate}")
    if cfg.timeout <= 0:
        raise ConfigError(f"{where}: timeout must be > 0 seconds, got {cfg.timeout}")
    if cfg.retries < 0:
        raise ConfigError(f"{where}: retries must be >= 0, got {cfg.retries}")
    if cfg.max_pages < 1:
        raise ConfigError(f"{where}: max_pages must be >= 1, got {cfg.max_pages}")
    if cfg.max_depth < 0:
        raise ConfigError(f"{where}: max_depth must be >= 0, got {cfg.max_depth}")


def parse_as_of(text: str, where: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {text!r}") from None
