"""Properties of the account features table over whatever the CRM holds about a company.

Employee counts arrive as the CRM stores them: "12.5", "1e400", "lots", -3, a number past int64, nothing.
Names and domains are any text; deals carry any stage and any close date. Every account of the account map
still gets exactly one row per day, the employee count is a whole number or missing, and the segment is
known or missing - never an exception halfway through the rollup.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.lib.accounts import build_account_features, paying_company_ids, won_between
from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.routing import load_routing_rules
from pls_pipelines.lib.segments import assign_segments
from tests.hypothesis_settings import NASTY_TEXT, OPTIONAL_TEXT, SLOW

CATALOG = load_event_catalog()
SEGMENTS = load_routing_rules().segments
AS_OF = date(2026, 3, 31)

EMPLOYEE_COUNT = st.one_of(
    st.none(), st.integers(-10, 10**6), st.integers(10**18, 10**30), st.floats(), NASTY_TEXT,
    st.sampled_from(["12.5", "1e400", "-inf", "Infinity", "lots", " 250 ", "1,000", "250.0", "NaN"]),
)
COMPANY = st.fixed_dictionaries({
    "name": OPTIONAL_TEXT, "domain": OPTIONAL_TEXT, "employee_count": EMPLOYEE_COUNT,
    "industry": OPTIONAL_TEXT, "owner_id": OPTIONAL_TEXT,
    "lifecycle_stage": st.one_of(OPTIONAL_TEXT, st.just("customer")),
})
DEAL = st.fixed_dictionaries({
    "company": st.integers(0, 5), "stage": st.one_of(OPTIONAL_TEXT, st.just("closedwon")),
    "close_date": st.one_of(OPTIONAL_TEXT, st.dates().map(str), st.just("2026-03-05T23:30:00Z")),
})


@SLOW
@given(companies=st.lists(COMPANY, min_size=1, max_size=5), deals=st.lists(DEAL, max_size=6),
       workspace_names=st.lists(OPTIONAL_TEXT, min_size=1, max_size=5))
@example(companies=[{"name": "Acme", "domain": "acme.com", "employee_count": "12.5", "industry": None,
                     "owner_id": None, "lifecycle_stage": None}], deals=[], workspace_names=["Acme"])
@example(companies=[{"name": None, "domain": None, "employee_count": None, "industry": None, "owner_id": None,
                     "lifecycle_stage": None}], deals=[{"company": 0, "stage": "closedwon", "close_date": "-1"}],
         workspace_names=[None])  # a won deal closed on "-1": year -1, ValueError in .dt.date
def test_every_account_gets_one_row_with_a_whole_or_missing_employee_count(
    companies: list[dict], deals: list[dict], workspace_names: list
) -> None:
    crm = pd.DataFrame([{"company_id": f"c{i}", **c} for i, c in enumerate(companies)])
    n = len(workspace_names)
    # workspace i belongs to company i when there is one, else it is a product-only account
    account_map = pd.DataFrame({
        "workspace_id": [f"w{i}" for i in range(n)],
        "account_id": [f"c{i}" if i < len(companies) else f"ws:w{i}" for i in range(n)],
        "crm_company_id": [f"c{i}" if i < len(companies) else None for i in range(n)],
        "domain": [None] * n, "member_count": [1] * n, "workspace_count": [1] * n, "is_consolidation": [False] * n,
    })
    workspaces = pd.DataFrame({"workspace_id": account_map["workspace_id"], "name": workspace_names})
    crm_deals = pd.DataFrame(
        [{"company_id": f"c{d['company']}", "stage": d["stage"], "close_date": d["close_date"]} for d in deals],
        columns=["company_id", "stage", "close_date"],
    )
    windows = pd.DataFrame({"account_id": account_map["account_id"], "events_28d": range(n)})

    features = build_account_features(windows, account_map, workspaces, crm, crm_deals, CATALOG, AS_OF)

    assert sorted(features["account_id"]) == sorted(account_map["account_id"])  # every account, once
    counts = features["employee_count"]
    assert str(counts.dtype) == "Int64"
    assert all(value is pd.NA or (value == int(value)) for value in counts.tolist())
    segments = assign_segments(counts, SEGMENTS)
    assert segments.isna().eq(counts.isna() | counts.lt(0).fillna(False)).all()
    paying = paying_company_ids(crm, crm_deals, AS_OF)
    assert set(features.loc[features["is_customer"], "crm_company_id"]) == paying & set(account_map["crm_company_id"])


@SLOW
@given(counts=st.lists(EMPLOYEE_COUNT, max_size=8))
def test_a_segment_is_known_or_missing_for_any_employee_count(counts: list) -> None:
    segments = assign_segments(pd.Series(counts, dtype=object), SEGMENTS)
    assert len(segments) == len(counts)
    assert segments.dropna().isin(list(SEGMENTS)).all()
    for value, segment in zip(counts, segments, strict=True):
        number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").astype(float).iloc[0]
        if math.isnan(number) or number < 0:
            assert segment is pd.NA


CLOSE_DATE = st.one_of(
    OPTIONAL_TEXT,
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 6, 30)).map(str),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 6, 30)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
    st.sampled_from(["-1", "0", "-0001-01-01", "10000-01-01"]),
)


@SLOW
@given(close_dates=st.lists(CLOSE_DATE, min_size=1, max_size=6))
@example(close_dates=["2026-03-05", "2026-03-20T10:00:00Z"])  # the second was dropped: format guessed from the first
def test_a_deal_counts_as_won_whatever_the_other_deals_look_like(close_dates: list) -> None:
    deals = pd.DataFrame({"company_id": [f"c{i}" for i in range(len(close_dates))], "stage": "closedwon",
                          "close_date": close_dates})
    after, until = date(2026, 3, 1), date(2026, 3, 31)
    alone = set().union(*(won_between(deals.iloc[[i]], after, until) for i in range(len(deals))))
    assert won_between(deals, after, until) == alone
