"""Render the PLS report in headless Chromium, print what the browser saw, save a full-page screenshot.

    .venv/bin/python scripts/report_screenshot.py                       # .pls/report/index.html -> docs/report.png
    .venv/bin/python scripts/report_screenshot.py REPORT.html --out shot.png

Needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver) and selenium (the test
extra). Exits 1 when the page logs a console error, a chart has no data or the page reaches for the network;
2 when the report or the browser is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pls_pipelines.report.browser_check import CHROMEDRIVER, CHROMIUM, check_report, chromium_missing
from pls_pipelines.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=load_settings().report_path,
                        help="the report file (default: PLS_REPORT_PATH or $PLS_HOME/report/index.html)")
    parser.add_argument("--out", type=Path, default=Path("docs/report.png"), help="screenshot PNG (docs/report.png)")
    parser.add_argument("--width", type=int, default=1440, help="browser width in pixels (1440)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help=f"browser binary ({CHROMIUM})")
    parser.add_argument("--chromedriver", type=Path, default=CHROMEDRIVER, help=f"driver binary ({CHROMEDRIVER})")
    args = parser.parse_args(argv)

    if not args.report.exists():
        print(f"{args.report}: no such report; `make run` writes one", file=sys.stderr)
        return 2
    why_not = chromium_missing(args.chromium, args.chromedriver)
    if why_not:
        print(f"cannot render the report: {why_not}", file=sys.stderr)
        return 2

    result = check_report(args.report, args.out, width=args.width, browser=args.chromium, driver=args.chromedriver)
    print(f"report:     {args.report}")
    for chart in result.charts:
        state = "ok" if chart.has_data else "EMPTY"
        print(f"  chart {chart.chart:<22} {chart.traces:>2} traces {chart.points:>6,} points  {state}")
    print(f"table rows: {result.table_rows}")
    print(f"console errors: {len(result.console_errors)}")
    for error in result.console_errors:
        print(f"  {error}")
    if result.network_requests:
        print(f"network requests: {', '.join(result.network_requests)}")
    print(f"screenshot: {result.screenshot}")
    for problem in result.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
