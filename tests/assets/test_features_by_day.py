"""Features and scores of many days at once equal those of each day on its own, on DuckDB and PostgreSQL.

The score history computes a chunk of days with one warehouse query (account_window_query_by_day), one
feature build and one scoring pass. What it writes must be exactly what computing each day alone gives
(account_features_as_of + score_all), so the data here is made of the cases that could tell them apart: a user
in two workspaces of one account on the same day, users seen only in the prior 28 days, long gaps, idle
accounts, a deal won in the middle of the days and a won deal without a readable close date.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pls_pipelines.assets import scoring as scoring_assets
from pls_pipelines.assets.rollups import AccountFacts, account_features_as_of, account_features_for_days
from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.rollup_sql import user_daily_activity_table
from pls_pipelines.lib.score_history import HISTORY_COLUMNS
from pls_pipelines.lib.scoring import combine_scores, score_all
from pls_pipelines.lib.scoring_config import load_scoring_config
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines

CATALOG = load_event_catalog()
CONFIG = load_scoring_config()
SEGMENTS = RulesResource().routing().segments
COUNTERS = [c.name for c in user_daily_activity_table(sa.MetaData(), CATALOG).c][3:]  # after day, workspace, user
FIRST_ACTIVITY = date(2026, 8, 1)
ACTIVITY_DAYS = 100
# every 6th day from before any activity to the last day with some, plus a few days in a row
DAYS = sorted({FIRST_ACTIVITY + timedelta(days=d) for d in [-3, 0, 1, 2, 3, *range(5, ACTIVITY_DAYS, 6)]})


def workspaces_and_accounts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """30 workspaces: c0..c19 CRM companies (c0 consolidates w0 and w1), the rest unmatched (ws:<id>)."""
    rows = []
    for i in range(30):
        workspace = f"w{i}"
        company = "c0" if i == 1 else (f"c{i}" if i < 20 else None)
        rows.append({
            "workspace_id": workspace,
            "account_id": company or f"ws:{workspace}",
            "crm_company_id": company,
            "domain": f"d{i}.com" if i % 3 else None,
            "member_count": 3 + i % 5,
            "workspace_count": 2 if company == "c0" else 1,
            "is_consolidation": company == "c0",
        })
    account_map = pd.DataFrame(rows)
    workspaces = pd.DataFrame({"workspace_id": account_map["workspace_id"],
                               "name": [f"Workspace {i}" for i in range(30)]})
    return account_map, workspaces


def user_days(seed: int = 7) -> pd.DataFrame:
    """~4,000 user-days: daily users, weekly users, users who stop, users who come back after 40 days."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(120):
        workspace = f"w{u % 28}"  # w28 and w29 stay idle
        pattern = u % 4
        for d in range(ACTIVITY_DAYS):
            active = {
                0: rng.random() < 0.8,  # nearly daily
                1: d % 7 == u % 7,  # weekly
                2: d < 30 and rng.random() < 0.5,  # stops after a month: later seen only in prior windows
                3: (d < 10 or d > 50) and rng.random() < 0.3,  # a 40-day gap
            }[pattern]
            if not active:
                continue
            counts = rng.poisson(3, size=len(COUNTERS))
            counts[1:6] = rng.random(5) < 0.15  # invites and page views are rare
            rows.append({"activity_date": FIRST_ACTIVITY + timedelta(days=d), "workspace_id": workspace,
                         "user_id": f"u{u}", **dict(zip(COUNTERS, counts.tolist(), strict=True))})
            if u == 0 and d % 3 == 0:  # the same person in c0's second workspace on the same day
                rows.append({**rows[-1], "workspace_id": "w1"})
    frame = pd.DataFrame(rows)
    features = [c for c in COUNTERS if c.startswith("f_")]
    return frame.assign(**{c: rng.poisson(0.5, size=len(frame)) for c in features})


def crm() -> tuple[pd.DataFrame, pd.DataFrame]:
    companies = pd.DataFrame({
        "company_id": [f"c{i}" for i in range(20)],
        "name": [f"Company {i}" for i in range(20)],
        "domain": [f"d{i}.com" for i in range(20)],
        "employee_count": [[15, 250, 5000, None][i % 4] for i in range(20)],
        "industry": ["Software"] * 20,
        "owner_id": ["o1"] * 20,
        "lifecycle_stage": ["customer" if i in (3, 4) else "lead" for i in range(20)],
    })
    won_mid_range = str(FIRST_ACTIVITY + timedelta(days=40))
    deals = pd.DataFrame({
        "deal_id": ["d1", "d2", "d3", "d4", "d5"],
        "company_id": ["c1", "c2", "c3", "c5", "c6"],
        "stage": ["closedwon", "closedwon", "closedwon", "open", "closedwon"],
        # c1 becomes a customer mid-range; c2 paid before; c3 is marked and won later; c6's date is unreadable
        "close_date": [won_mid_range, "2026-01-15", str(FIRST_ACTIVITY + timedelta(days=70)), None, "someday"],
    })
    return companies, deals


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh(request, tmp_path):
    duckdb_url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    url = duckdb_url if request.param == "duckdb" else request.getfixturevalue("postgres_url")
    warehouse = Warehouse(url)
    account_map, workspaces = workspaces_and_accounts()
    companies, deals = crm()
    warehouse.replace_table("account_map", account_map)
    warehouse.replace_table("product_workspaces", workspaces)
    warehouse.replace_table("crm_companies", companies)
    warehouse.replace_table("crm_deals", deals)
    warehouse.ensure_tables([user_daily_activity_table(sa.MetaData(), CATALOG)])
    warehouse.append("user_daily_activity", user_days())
    yield warehouse
    dispose_all_engines()


def test_features_of_many_days_equal_each_day_on_its_own(wh):
    facts = AccountFacts.read(wh)
    many = account_features_for_days(wh, facts, CATALOG, SEGMENTS, DAYS)
    assert list(many["as_of_date"].drop_duplicates()) == DAYS
    assert len(many) == len(DAYS) * facts.account_map["account_id"].nunique()  # idle accounts every day too
    for day in DAYS:
        one = account_features_as_of(wh, facts, CATALOG, SEGMENTS, day)
        of_day = many[many["as_of_date"] == day].reset_index(drop=True)
        pd.testing.assert_frame_equal(of_day, one, check_exact=True, obj=str(day))
    # the data reaches the cases it was made for
    by_day = many.set_index(["as_of_date", "account_id"])
    won = FIRST_ACTIVITY + timedelta(days=40)
    c1_paying = many[many["account_id"] == "c1"].set_index("as_of_date")["is_customer"]
    assert not c1_paying[c1_paying.index < won].any() and c1_paying[c1_paying.index >= won].all()
    assert by_day["active_users_prior_28d"].gt(by_day["active_users_28d"]).any()
    assert by_day.loc[(DAYS[0], "c0"), "events_28d"] == 0 and by_day["events_28d"].gt(0).any()


def test_scores_of_many_days_equal_each_day_scored_on_its_own(wh):
    facts = AccountFacts.read(wh)
    many = combine_scores(score_all(account_features_for_days(wh, facts, CATALOG, SEGMENTS, DAYS), CONFIG,
                                    by="as_of_date"))
    for day in DAYS:
        one = combine_scores(score_all(account_features_as_of(wh, facts, CATALOG, SEGMENTS, day), CONFIG))
        of_day = many[many["as_of_date"] == day].drop(columns="as_of_date").reset_index(drop=True)
        pd.testing.assert_frame_equal(of_day, one, check_exact=True, obj=str(day))


def test_history_in_chunks_gives_the_rows_of_the_day_by_day_loop(wh, monkeypatch):
    monkeypatch.setattr(scoring_assets, "HISTORY_CHUNK_DAYS", 4)  # 11 days: chunks of 4, 4 and 3
    days = [FIRST_ACTIVITY + timedelta(days=25 + i) for i in range(11)]
    facts = AccountFacts.read(wh)
    history = scoring_assets.score_history_for_days(wh, facts, CONFIG, CATALOG, SEGMENTS, days)
    expected = pd.concat(
        [
            combine_scores(score_all(account_features_as_of(wh, facts, CATALOG, SEGMENTS, day), CONFIG))
            .assign(snapshot_date=day)[HISTORY_COLUMNS]
            for day in days
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(history, expected, check_exact=True)


def test_history_chunks_shrink_when_there_are_many_accounts():
    assert scoring_assets.history_chunk_days(2_000) == scoring_assets.HISTORY_CHUNK_DAYS
    assert scoring_assets.history_chunk_days(100_000) == scoring_assets.HISTORY_CHUNK_ROWS // 100_000
    assert scoring_assets.history_chunk_days(50_000_000) == 1
