import pandas as pd

from pls_pipelines.lib.events import reject_rate_summary


def test_reject_rate_summary_looks_at_the_newest_day_only():
    accepted = pd.DataFrame({"event_date": ["2026-11-19", "2026-11-20"], "n": [100, 90]})
    rejected = pd.DataFrame(
        {"event_date": ["2026-11-19", "2026-11-20", "2026-11-20"], "reason": ["bad_timestamp"] * 2 + ["x"],
         "n": [50, 6, 4]}
    )
    summary = reject_rate_summary(accepted, rejected)
    assert summary == {
        "day": "2026-11-20",
        "read": 100,
        "rejected": 10,
        "reject_rate": 0.1,
        "rejected_by_reason": {"bad_timestamp": 6, "x": 4},
    }


def test_reject_rate_summary_of_nothing():
    empty = pd.DataFrame({"event_date": [], "n": []})
    assert reject_rate_summary(empty, empty.assign(reason=[]))["reject_rate"] == 0.0
