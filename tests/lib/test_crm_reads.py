"""Incremental CRM reads: when a full read is due, and changed rows replacing the held ones."""

from datetime import datetime, timedelta

import pandas as pd

from pls_pipelines.lib.crm_reads import full_read_due, replace_changed_rows

NOW = datetime(2026, 12, 3, 6, 0)


def test_full_read_when_never_done_when_old_enough_or_always_asked():
    assert full_read_due(None, NOW, 7)
    assert not full_read_due(NOW - timedelta(days=6, hours=23), NOW, 7)
    assert full_read_due(NOW - timedelta(days=7), NOW, 7)
    assert full_read_due(NOW - timedelta(minutes=1), NOW, 0)


def test_changed_rows_replace_held_ones_and_new_ones_are_added_in_key_order():
    held = pd.DataFrame({"company_id": ["1", "2", "3"], "name": ["A", "B", "C"], "extra": [1, 2, 3]})
    changed = pd.DataFrame({"company_id": ["2", "9"], "name": ["B renamed", "New"]})
    merged = replace_changed_rows(held, changed, "company_id")
    assert merged.to_dict("records") == [
        {"company_id": "1", "name": "A"}, {"company_id": "2", "name": "B renamed"},
        {"company_id": "3", "name": "C"}, {"company_id": "9", "name": "New"},
    ]
    assert replace_changed_rows(held, changed.iloc[0:0], "company_id")["name"].tolist() == ["A", "B", "C"]
