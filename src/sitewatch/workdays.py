"""Working days (工作日) in mainland China: the State Council's holiday arrangement for each year (法定节假日, and the
weekend days worked instead, 调休), as the ``chinesecalendar`` package carries the yearly 国务院办公厅 notices;
Monday to Friday for a year the package does not cover yet."""

from __future__ import annotations

import datetime as dt


def working_days_between(start: dt.date, end: dt.date) -> tuple[int, list[int]]:
    """Working days after ``start`` up to and including ``end``, and the years counted Monday to Friday because no
    holiday arrangement is known for them (empty when every day was on the official calendar)."""
    import chinese_calendar  # imported when a reply is judged, not by every scan (~0.7 MB of dates)

    days = 0
    unknown: set[int] = set()
    d = start
    while d < end:
        d += dt.timedelta(days=1)
        try:
            days += chinese_calendar.is_workday(d)
        except NotImplementedError:
            unknown.add(d.year)
            days += d.weekday() < 5
    return days, sorted(unknown)
