"""Text from crawled pages made inert wherever a person reads it: terminals, logs, spreadsheets.

A crawled page is untrusted input. Its titles, link texts and URLs may carry terminal escape sequences, C0/C1
control characters (which also make a workbook unreadable) and Unicode bidi overrides (which reorder what a
reader sees). Each is shown as a visible escape (``\\x1b``, ``\\u202e``) instead.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# C0 and C1 controls, DEL, and the bidi embedding/override/isolate marks and directional marks
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_UNSAFE_INLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")   # keeps \t \n


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_text(text: str, keep_lines: bool = False) -> str:
    """``text`` with every control or bidi character shown as an escape; ``keep_lines`` keeps tabs and newlines."""
    return (_UNSAFE_INLINE if keep_lines else _UNSAFE).sub(_escape, text)


class InertWriter:
    """A text stream that writes through to ``stream`` with control and bidi characters escaped (newlines and
    tabs kept). ``raw`` is the stream itself, for the few writers that draw on a terminal on purpose."""

    def __init__(self, stream: TextIO):
        self.raw = stream

    def write(self, text: str) -> int:
        self.raw.write(safe_text(text, keep_lines=True))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def raw_stream(stream: TextIO) -> TextIO:
    """The terminal behind an ``InertWriter`` (for a progress line's carriage returns), else ``stream``."""
    return stream.raw if isinstance(stream, InertWriter) else stream
