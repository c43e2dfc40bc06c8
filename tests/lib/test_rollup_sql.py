"""The generated rollup SQL, executed in DuckDB: events -> user-days -> account windows."""

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from pls_pipelines.lib.accounts import build_account_features
from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.events import usage_event_tables
from pls_pipelines.lib.rollup_sql import (
    account_map_table,
    account_window_query,
    user_daily_activity_insert,
    user_daily_activity_table,
    window_bounds,
)

AS_OF = date(2026, 11, 20)
CATALOG = load_event_catalog()


def event(n, day_offset, user, workspace, name, page=None):
    day = AS_OF - timedelta(days=day_offset)
    return {
        "event_id": f"e{n}",
        "occurred_at": datetime.combine(day, datetime.min.time()),
        "event_date": day,
        "user_id": user,
        "workspace_id": workspace,
        "event": name,
        "page": page,
        "properties": "{}",
        "source_file": "x",
    }


@pytest.fixture
def engine():
    engine = sa.create_engine("duckdb:///:memory:")
    yield engine
    engine.dispose()


def test_windows_velocity_and_feature_breadth(engine):
    rows = [
        event(1, 0, "u1", "w1", "Report Created"),
        event(2, 1, "u2", "w1", "Invite Sent"),
        event(3, 3, "u1", "w1", "Integration Connected"),
        event(4, 8, "u1", "w1", "Query Run"),  # prior 7d window
        event(5, 20, "u3", "w1", "Page Viewed", page="pricing"),
        event(6, 40, "u3", "w1", "Report Created"),  # prior 28d only
        event(7, 0, "u9", "w2", "Report Created"),
    ]
    metadata = sa.MetaData()
    events, _ = usage_event_tables(metadata)
    activity = user_daily_activity_table(metadata, CATALOG)
    account_map = account_map_table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(events.insert(), rows)
        conn.execute(
            account_map.insert(),
            [{"workspace_id": "w1", "account_id": "c1"}, {"workspace_id": "w2", "account_id": "ws:w2"}],
        )
        conn.execute(
            user_daily_activity_insert(events, activity, CATALOG),
            {"start": AS_OF - timedelta(days=60), "end": AS_OF},
        )
        result = conn.execute(account_window_query(activity, account_map, CATALOG), window_bounds(AS_OF))
        windows = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    c1 = windows.set_index("account_id").loc["c1"]
    assert (c1["events_1d"], c1["events_7d"], c1["events_28d"]) == (1, 3, 5)
    assert (c1["events_prior_7d"], c1["events_prior_28d"]) == (1, 1)
    assert (c1["active_users_7d"], c1["active_users_28d"]) == (2, 3)
    assert (c1["invites_7d"], c1["enterprise_page_views_28d"], c1["pricing_page_views_28d"]) == (1, 1, 1)
    assert c1["used_reports"] == 1 and c1["used_integrations"] == 1 and c1["used_queries"] == 1

    workspaces = pd.DataFrame({"workspace_id": ["w1", "w2", "w3"], "name": ["Acme WS", "Solo", "Idle"]})
    amap = pd.DataFrame(
        {
            "workspace_id": ["w1", "w2", "w3"],
            "account_id": ["c1", "ws:w2", "ws:w3"],
            "crm_company_id": ["c1", None, None],
            "domain": ["acme.com", "solo.dev", None],
            "member_count": [3, 1, 2],
            "workspace_count": [1, 1, 1],
            "is_consolidation": [False, False, False],
        }
    )
    companies = pd.DataFrame(
        {
            "company_id": ["c1"],
            "name": ["Acme"],
            "domain": ["acme.com"],
            "employee_count": [350],
            "industry": ["Software"],
            "owner_id": ["o1"],
            "lifecycle_stage": ["lead"],
        }
    )
    deals = pd.DataFrame({"company_id": ["c1"], "stage": ["closedwon"]})
    features = build_account_features(windows, amap, workspaces, companies, deals, CATALOG, AS_OF)
    by_id = features.set_index("account_id")
    assert list(features["account_id"]) == ["c1", "ws:w2", "ws:w3"]  # idle workspace still has a row
    assert by_id.loc["c1", "account_name"] == "Acme" and by_id.loc["ws:w2", "account_name"] == "Solo"
    assert by_id.loc["c1", "features_used_28d"] == 3 and by_id.loc["c1", "advanced_features_used_28d"] == 1
    assert by_id.loc["c1", "velocity_7d"] == 2.0  # 3 events this week vs 1 the week before
    assert pd.isna(by_id.loc["ws:w3", "velocity_7d"]) and by_id.loc["ws:w3", "events_28d"] == 0
    assert bool(by_id.loc["c1", "is_customer"]) and not bool(by_id.loc["ws:w2", "is_customer"])
    assert by_id.loc["c1", "users_total"] == 3 and by_id.loc["c1", "days_since_last_active"] == 0
