"""Data checks: keys, tier order, row-count change and source staleness, on small hand-built tables."""

from datetime import datetime, timedelta

import pandas as pd

from pls_pipelines.lib.data_checks import key_problems, row_count_change, source_staleness, tier_order_problems


def test_keys_must_be_present_and_unique():
    ok = key_problems(pd.DataFrame({"a": ["1", "2"], "b": ["x", "x"]}), ["a", "b"], "t")
    assert ok.passed and ok.counts == {"rows": 2, "null_keys": 0, "duplicate_keys": 0}
    bad = key_problems(pd.DataFrame({"a": ["1", "1", None], "b": ["x", "x", "y"]}), ["a", "b"], "t")
    assert not bad.passed
    assert "1 rows of t lack a key (a, b)" in bad.description and "1 keys of t appear more than once" in bad.description
    assert "1/x" in bad.description
    assert not key_problems(pd.DataFrame({"a": [1]}), ["missing"], "t").passed


def test_tiers_must_not_overlap_within_a_model_and_segment():
    order = {"pqa": ["sales", "success", "self_serve"]}
    fine = pd.DataFrame({"model": "pqa", "segment": ["smb", "smb", "smb", "enterprise", "enterprise"],
                         "score": [85, 65, 20, 72, 55], "tier": ["sales", "success", "self_serve", "sales", "success"]})
    assert tier_order_problems(fine, order).passed  # enterprise cuts at 70/50: different segment, own order
    mixed = pd.concat([fine, pd.DataFrame({"model": ["pqa"], "segment": ["smb"], "score": [90],
                                           "tier": ["success"]})])
    outcome = tier_order_problems(mixed, order)
    assert not outcome.passed and "pqa/smb: tier sales starts at 85 but success reaches 90" in outcome.description
    unknown = fine.assign(tier=["gold", "success", "self_serve", "sales", "success"])
    assert "unknown tier 'gold'" in tier_order_problems(unknown, order).description


def test_row_count_change_against_the_previous_run():
    assert row_count_change(None, 100, 0.5, "t").passed  # first run: nothing to compare with
    assert row_count_change(100, 149, 0.5, "t").passed
    outcome = row_count_change(100, 40, 0.5, "t")
    assert not outcome.passed and "t has 40 rows, -60% against 100" in outcome.description


def test_a_stale_source_fails_even_if_the_asset_ran():
    now = datetime(2026, 12, 3, 8, 0)
    assert source_staleness(now - timedelta(hours=30), now, timedelta(hours=48)).passed
    stale = source_staleness(now - timedelta(days=4), now, timedelta(hours=48))
    assert not stale.passed and "96.0 hours ago" in stale.description and "stale" in stale.description
    assert not source_staleness(None, now, timedelta(hours=48)).passed
