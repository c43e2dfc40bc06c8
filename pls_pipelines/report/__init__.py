"""The static HTML report RevOps opens instead of reading tables: headline figures, charts, the top PQAs.

charts.py turns warehouse tables (DataFrames) into plotly figures, one function per question; page.py reads the
tables, assembles one self-contained HTML file (plotly.js inlined, no network at view time) and writes it
atomically; browser_check.py opens a report in headless Chromium to prove it renders (the test and
scripts/report_screenshot.py share it).
"""

from pls_pipelines.report.page import ReportInputs, ReportResult, build_report, read_inputs, render_report

__all__ = ["ReportInputs", "ReportResult", "build_report", "read_inputs", "render_report"]
