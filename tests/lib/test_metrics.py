"""PLS metric definitions on small hand-built data with answers worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from pls_pipelines.lib.metrics import (
    feature_adoption,
    format_value,
    product_metrics,
    revenue_metrics,
    sales_metrics,
    signup_dates,
    tier_breakdowns,
)
from pls_pipelines.lib.score_history import pqa_milestones

AS_OF = date(2026, 11, 30)


def history(rows: list[tuple[str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"snapshot_date": pd.Timestamp(day).date(), "account_id": account, "model": "pqa", "model_version": "v",
         "segment": "smb", "score": 90 if pqa else 40, "tier": "sales" if pqa else "self_serve", "is_pqa": pqa,
         "reasons": ""}
        for account, day, pqa in rows
    ])


# a: PQA from day 2 (signed up 10 days before); b: PQA on the first snapshot (time unknown); c: never a PQA;
# d: PQA from day 3 (signed up 30 days before)
HISTORY = history([
    ("a", "2026-10-01", False), ("a", "2026-10-02", True), ("a", "2026-11-03", True),
    ("b", "2026-10-01", True), ("b", "2026-10-02", True),
    ("c", "2026-10-01", False), ("c", "2026-10-02", False),
    ("d", "2026-10-01", False), ("d", "2026-11-03", True),
])
SIGNUPS = pd.Series(pd.to_datetime(["2026-09-22", "2025-01-01", "2026-09-01", "2026-10-04"]),
                    index=["a", "b", "c", "d"])


def by_id(metrics) -> dict:
    return {m.metric: m for m in metrics}


def test_product_metrics_count_pqas_and_time_to_pqa_without_guessing_censored_accounts():
    milestones = pqa_milestones(HISTORY, "pqa", SIGNUPS)
    metrics, breakdowns = product_metrics(milestones, current_pqas=3)
    m = by_id(metrics)
    assert m["accounts"].value == 4 and m["pqas_current"].value == 3
    assert m["pqa_share"].value == 0.75  # a, b, d of 4
    # a: 2026-09-22 -> 10-02 = 10 days; d: 10-04 -> 11-03 = 30 days; b's time is unknown, not zero
    assert m["time_to_pqa_days_median"].value == 20.0
    assert m["time_to_pqa_days_p75"].value == 25.0
    assert "1 were PQAs before it began" in m["time_to_pqa_days_median"].detail
    created = breakdowns[breakdowns["metric"] == "pqas_created"].set_index("key")["value"].to_dict()
    assert created == {"2026-10": 1.0, "2026-11": 1.0}  # b existed before the history: not created in it
    per_account = breakdowns[breakdowns["metric"] == "time_to_pqa_days"].set_index("key")["value"].to_dict()
    assert per_account == {"a": 10.0, "d": 30.0}


def test_sales_metrics_only_count_deals_after_the_account_became_a_pqa():
    milestones = pqa_milestones(HISTORY, "pqa", SIGNUPS)
    deals = pd.DataFrame([
        # a: won 8 days after its PQA day (counts), plus an older win before it (does not)
        {"deal_id": "1", "company_id": "a", "stage": "closedwon", "amount": 1000, "deal_type": "newbusiness",
         "created_at": "2026-10-03T00:00:00Z", "close_date": "2026-10-10"},
        {"deal_id": "2", "company_id": "a", "stage": "closedwon", "amount": 9999, "deal_type": "newbusiness",
         "created_at": "2026-01-01T00:00:00Z", "close_date": "2026-02-01"},
        # d: an open deal created after its PQA day (pipeline) and one created before (not product-led)
        {"deal_id": "3", "company_id": "d", "stage": "contractsent", "amount": 500, "deal_type": "newbusiness",
         "created_at": "2026-11-05T10:00:00Z", "close_date": "2026-12-20"},
        {"deal_id": "4", "company_id": "d", "stage": "qualifiedtobuy", "amount": 700, "deal_type": "newbusiness",
         "created_at": "2026-10-20T10:00:00Z", "close_date": "2026-12-20"},
        # c never was a PQA: its win is not product-qualified revenue
        {"deal_id": "5", "company_id": "c", "stage": "closedwon", "amount": 400, "deal_type": "newbusiness",
         "created_at": "2026-10-05T00:00:00Z", "close_date": "2026-10-20"},
    ])
    m = by_id(sales_metrics(milestones, deals, AS_OF))
    assert m["pqa_to_won_conversion"].value == pytest.approx(1 / 3)  # a of a, b, d
    assert m["pqa_to_close_days_median"].value == 8.0
    assert m["pq_won_amount"].value == 1000.0 and m["pq_pipeline_amount"].value == 500.0


def test_revenue_retention_from_deals_and_churn_records():
    columns = ["company_id", "name", "stage", "amount", "deal_type", "close_date"]
    deals = pd.DataFrame([
        # x: 1,000 a year ago, renewed (no new ARR), +500 expansion this year; y: 2,000 a year ago, lost its
        # renewal (HubSpot style: existing business named Renewal); z: new this year (not in the cohort)
        ("x", "X - New Business", "closedwon", 1000, "newbusiness", "2025-06-01"),
        ("x", "X - Renewal", "closedwon", 1000, "existingbusiness", "2026-06-01"),
        ("x", "X - Expansion", "closedwon", 500, "existingbusiness", "2026-05-01"),
        ("y", "Y - New Business", "closedwon", 2000, "newbusiness", "2025-03-01"),
        ("y", "Y - Renewal", "closedlost", 2000, "existingbusiness", "2026-03-01"),
        ("z", "Z - New Business", "closedwon", 800, "newbusiness", "2026-02-01"),
    ], columns=columns)
    companies = pd.DataFrame({"company_id": ["x", "y", "z"], "lifecycle_stage": ["customer"] * 3})
    m = by_id(revenue_metrics(deals, companies, AS_OF))
    assert m["expansion_arr"].value == 500.0
    assert m["net_revenue_retention"].value == pytest.approx(1500 / 3000)  # x 1,500 + y 0 over 3,000
    assert m["logo_retention"].value == 0.5 and "1 of them churned" in m["logo_retention"].detail


def test_without_churn_records_retention_says_it_reflects_expansion_only():
    deals = pd.DataFrame([{"company_id": "x", "name": "X", "stage": "closedwon", "amount": 100,
                           "deal_type": "newbusiness", "close_date": "2025-01-01"}])
    m = by_id(revenue_metrics(deals, pd.DataFrame({"company_id": ["x"], "lifecycle_stage": ["customer"]}), AS_OF))
    assert m["net_revenue_retention"].value == 1.0 and "no churn recorded" in m["net_revenue_retention"].detail
    empty = by_id(revenue_metrics(deals.iloc[0:0], pd.DataFrame(columns=["company_id", "lifecycle_stage"]), AS_OF))
    assert math.isnan(empty["net_revenue_retention"].value) and empty["expansion_arr"].value == 0.0


def test_feature_adoption_by_segment_and_tier_rows_and_formats():
    features = pd.DataFrame({"segment": ["smb", "smb", "enterprise", None], "used_sso": [1, 0, 1, 0],
                             "used_api": [1, 1, 0, 0]})
    rows = feature_adoption(features, ["sso", "api", "not_in_table"])
    table = rows.set_index(["dimension", "key"])["value"]
    assert table[("smb", "sso")] == 0.5 and table[("enterprise", "sso")] == 1.0 and table[("all", "api")] == 0.5
    assert table[("unknown", "api")] == 0.0
    validation = pd.DataFrame({"kind": ["score", "tier", "tier"], "name": ["pqa", "sales", "self_serve"],
                               "conversion_rate": [None, 0.2, 0.05], "lift": [None, 2.5, 0.6]})
    tiers = tier_breakdowns(validation).set_index(["metric", "key"])["value"]
    assert tiers[("conversion_by_tier", "sales")] == 0.2 and tiers[("lift_by_tier", "self_serve")] == 0.6
    assert [format_value(0.345, "share"), format_value(1.084, "ratio"), format_value(12.4, "days"),
            format_value(1204500.0, "currency"), format_value(float("nan"), "share")] == [
        "34%", "1.08x", "12 days", "1,204,500", "n/a"]


def test_signup_is_the_first_workspace_of_the_account():
    account_map = pd.DataFrame({"workspace_id": ["w1", "w2", "w3"], "account_id": ["a", "a", "b"]})
    workspaces = pd.DataFrame({"workspace_id": ["w1", "w2", "w3"],
                               "created_at": ["2026-05-02T10:00:00Z", "2026-03-01T09:00:00Z", "bad"]})
    signups = signup_dates(account_map, workspaces)
    assert signups["a"] == pd.Timestamp("2026-03-01") and pd.isna(signups["b"])
