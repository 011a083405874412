"""What a host's answer says about its load: shared by the per-scan limiter (``crawl.politeness.HostLimiter``) and
the fleet's (``fleet.budget.SharedHostLimiter``), which differ in where they keep the interval, not in this."""

from __future__ import annotations

from abc import ABC, abstractmethod


class AnswerRecorder(ABC):
    """``record``: a 429/503/504 backs off, and so does a timeout that follows another timeout of the host (one slow
    page is that page's defect, not an overloaded server); a clean ``fast`` answer recovers a step; anything else
    (a 404, a slow answer) holds. Subclasses provide ``backoff`` and ``answered``."""

    requests: int = 0
    _timeouts: int = 0              # timeouts in a row

    @abstractmethod
    def backoff(self, sent: float) -> bool:
        """Double the interval after an overloaded answer; True when it changed."""

    @abstractmethod
    def answered(self, sent: float) -> None:
        """One step back towards the floor after a clean, fast answer."""

    def record(self, sent: float, *, overloaded: bool, fast: bool, timed_out: bool = False) -> None:
        """What a request sent at ``sent`` (this process's ``time.monotonic()``) answered."""
        self.requests += 1
        if timed_out:
            self._timeouts += 1
            overloaded = overloaded or self._timeouts >= 2
        else:
            self._timeouts = 0
        if overloaded:
            self.backoff(sent)
        elif fast:
            self.answered(sent)
