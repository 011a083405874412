"""The coverage ledger: every bound that cut a scan's work, counted, with examples.

A scan that did not read the whole site says where and why. The crawl records each cut here; the CLI summary,
the findings JSON (``scan.coverage``) and the report's 本次未覆盖 read the ledger from the scan's stats.
"""

from __future__ import annotations

from typing import Any

EXAMPLES = 5            # example URLs kept per kind of cut

# kind -> what was not covered, as the report says it. The order is the order of the report's list.
CUTS: dict[str, str] = {
    "unreachable_start": "起始地址无法访问，站点未能抓取",
    "max_pages": "达到页面数上限（max_pages）后已发现但未抓取的页面（其后链接的页面未能发现）",
    "max_depth": "超过链接层级上限（max_depth）已发现但未抓取的页面（其后链接的页面未能发现）",
    "trap": "疑似爬虫陷阱（重复路径、无尽参数、超长分页）未抓取的地址",
    "robots": "robots.txt 禁止抓取的地址",
    "blocked": "指向内网、本机或云平台元数据地址、按网络安全策略未访问的链接",
    "fetch_failed": "超时、连接失败或服务器错误、未能读取的站内页面",
    "body_cap": "页面过大（超过 4 MB 或 10 万个标签），只读取了前一部分",
    "link_cap": "单个页面链接过多（超过 1 万个）：其余链接未检查，该页未做栏目和页面检查",
    "list_window": "栏目列表只读取了部分条目",
    "analysis_error": "列表或页面检查无法解析的页面",
    "render_failed": "JavaScript 渲染失败、按静态内容检查的页面",
}


class Coverage:
    """Counts of work cut short, by kind, each with its first few examples."""

    def __init__(self, cuts: dict[str, Any] | None = None):
        self.cuts: dict[str, dict[str, Any]] = {k: {"count": int(v.get("count", 0)),
                                                    "examples": list(v.get("examples") or [])}
                                                for k, v in (cuts or {}).items()}

    def cut(self, kind: str, example: str, count: int = 1) -> None:
        """Record ``count`` items of work cut by ``kind`` (one of ``CUTS``); ``example`` names one of them."""
        entry = self.cuts.setdefault(kind, {"count": 0, "examples": []})
        entry["count"] += count
        if len(entry["examples"]) < EXAMPLES and example not in entry["examples"]:
            entry["examples"].append(example)

    def uncut(self, kind: str, example: str) -> None:
        """Take back one ``cut`` of ``kind`` (the work was done after all)."""
        entry = self.cuts.get(kind)
        if entry is None or entry["count"] <= 0:
            return
        entry["count"] -= 1
        if example in entry["examples"]:
            entry["examples"].remove(example)

    def count(self, kind: str) -> int:
        return int(self.cuts.get(kind, {}).get("count", 0))

    @property
    def complete(self) -> bool:
        return not any(v["count"] for v in self.cuts.values())

    def merged(self, other: Coverage) -> Coverage:
        """This ledger plus ``other`` (a resumed scan's earlier runs)."""
        out = Coverage(self.cuts)
        for kind, entry in other.cuts.items():
            out.cut(kind, entry["examples"][0] if entry["examples"] else "", entry["count"])
            for ex in entry["examples"][1:]:
                out.cut(kind, ex, 0)
        for entry in out.cuts.values():
            entry["examples"] = [e for e in entry["examples"] if e]
        return out

    def to_json(self) -> dict[str, dict[str, Any]]:
        order = list(CUTS)
        return {k: {"count": v["count"], "examples": list(v["examples"])}
                for k, v in sorted(self.cuts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                                      else len(order), kv[0])) if v["count"]}


def coverage_document(stats: dict[str, Any]) -> dict[str, Any]:
    """``scan.coverage`` of the findings JSON: whether nothing was cut (None for a scan stored before the ledger
    existed: unknown, not complete), and each cut with its label."""
    if "coverage" not in stats:
        return {"complete": None, "cuts": {}}
    cuts = Coverage(stats["coverage"]).to_json()
    return {"complete": not cuts,
            "cuts": {k: {"label": CUTS.get(k, k), **v} for k, v in cuts.items()}}
