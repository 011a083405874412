"""Reports rendered from the store: rectification report, leadership summary, look-back and spot-check.

The package imports nothing itself: a scan's findings JSON needs ``reporting.numbers`` and ``reporting.data``,
not the template and workbook stack (Jinja2, openpyxl) of ``render``, ``tables`` and ``write``.
"""
