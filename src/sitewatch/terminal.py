"""Text from crawled pages made inert for a terminal or a log line: control characters and bidi overrides escaped."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode bidi embedding/override/isolate marks (they can reorder what a person reads)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: str) -> str:
    """``text`` with every control or bidi character shown as a visible escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       text)
