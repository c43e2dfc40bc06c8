"""The per-record sync state: hashes, round trips, merging, and upgrading the older per-field format."""

from datetime import datetime

import pandas as pd

from pls_pipelines.lib.sync_state import (
    STATE_COLUMNS,
    fields_hash,
    read_state,
    state_rows,
    unchanged_ids,
    upgrade_state,
)

NOW = datetime(2026, 12, 1, 6, 0)


def test_hash_ignores_key_order_and_sees_every_value():
    assert fields_hash({"a": "1", "b": None}) == fields_hash({"b": None, "a": "1"})
    assert fields_hash({"a": "1", "b": None}) != fields_hash({"a": "1", "b": ""})
    assert fields_hash({"a": "1"}) != fields_hash({"a": "1", "b": None})


def test_state_round_trip_and_unchanged_records():
    records = {"c1": {"pls_score": "80", "pls_tier": "sales"}, "c2": {"pls_score": None}}
    rows = state_rows(records, "companies", NOW, "run-1")
    assert list(rows.columns) == STATE_COLUMNS
    assert read_state(rows) == records
    hashes = dict(zip(rows["record_id"], rows["fields_hash"], strict=True))
    desired = {"c1": {"pls_tier": "sales", "pls_score": "80"}, "c2": {"pls_score": "5"}, "c3": {"pls_score": "1"}}
    assert unchanged_ids(desired, hashes) == {"c1"}


def test_the_older_one_row_per_field_state_is_upgraded_without_losing_the_diff():
    legacy = pd.DataFrame({
        "object_type": ["companies", "companies", "contacts"],
        "record_id": ["c1", "c1", "k1"],
        "field": ["pls_score", "pls_tier", "pls_persona"],
        "value": ["80", None, "champion"],
        "synced_at": [NOW, NOW, NOW],
        "run_id": ["r", "r", "r"],
    })
    upgraded = upgrade_state(legacy)
    assert list(upgraded.columns) == STATE_COLUMNS
    companies = upgraded[upgraded["object_type"] == "companies"]
    assert read_state(companies) == {"c1": {"pls_score": "80", "pls_tier": None}}
    assert upgrade_state(upgraded).equals(upgraded)
