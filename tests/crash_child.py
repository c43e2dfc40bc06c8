"""The child process of tests/test_crash_safety.py for ingest: loads one day of a landing folder into a warehouse
(the work of the usage_events asset for one partition), so the test can SIGKILL it at any point.

    python tests/crash_child.py ingest <landing folder> <warehouse url> <YYYY-MM-DD>
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.resources.event_loader import load_usage_events
from pls_pipelines.resources.usage_source import LandingFiles
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines


def ingest(landing: str, url: str, day: str) -> None:
    when = date.fromisoformat(day)
    wh, source = Warehouse(url), LandingFiles(landing)
    try:
        if not wh.table_exists("product_workspaces"):  # what the product_workspaces asset does before ingest
            wh.replace_table("product_workspaces", source.read_table("workspaces", wh))
        report = load_usage_events(wh, source, load_event_catalog(), when, when, datetime.now(UTC).replace(tzinfo=None))
        print(f"accepted {report.accepted} rejected {report.rejected}")
    finally:
        dispose_all_engines()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"ingest": ingest}[command](*args)
