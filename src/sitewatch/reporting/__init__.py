"""Reports rendered from the store: rectification report, leadership summary, look-back and spot-check."""

from sitewatch.reporting.data import ReportData, build_report, problem_rows
from sitewatch.reporting.render import render_html, write_html
from sitewatch.reporting.tables import write_csv, write_xlsx

__all__ = ["ReportData", "build_report", "problem_rows", "render_html", "write_html", "write_csv", "write_xlsx"]
