from pls_pipelines.lib.progress import Progress


def test_progress_reports_counts_rate_and_eta():
    clock = iter([0.0, 10.0, 20.0]).__next__
    lines: list[str] = []
    progress = Progress(4, "usage_events", "days", lines.append, every_seconds=5, clock=clock)
    progress.advance(2, items=1000)
    progress.advance(2, items=1000)
    assert lines[0] == "usage_events: 2/4 days (50%), 100 rows/s, elapsed 10.0s, ETA 10s"
    assert lines[1].startswith("usage_events: 4/4 days (100%)") and lines[1].endswith("ETA 0s")
