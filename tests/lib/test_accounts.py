from datetime import date

import numpy as np
import pandas as pd
import pytest

from pls_pipelines.lib.accounts import build_account_features, paying_company_ids, relative_change, won_between
from pls_pipelines.lib.event_catalog import load_event_catalog

CATALOG = load_event_catalog()
AS_OF = date(2026, 3, 31)

COMPANIES = pd.DataFrame({
    "company_id": ["won_early", "won_late", "billing_only", "marked_and_late", "lost", "prospect"],
    "lifecycle_stage": ["customer", "opportunity", "customer", "customer", "lead", "lead"],
})
DEALS = pd.DataFrame({
    "company_id": ["won_early", "won_late", "marked_and_late", "lost", "prospect"],
    "stage": ["closedwon", "closedwon", "closedwon", "closedlost", "appointmentscheduled"],
    "close_date": ["2026-01-15", "2026-03-10", "2026-03-20", "2026-01-01", "2026-02-01"],
})


# --- won_between ------------------------------------------------------------------------------------------


def test_won_between_is_strictly_after_and_up_to_including_until():
    deals = pd.DataFrame({
        "company_id": ["on_after", "next_day", "on_until", "after_until", "c_lost"],
        "stage": ["closedwon", "closedwon", "closedwon", "closedwon", "closedlost"],
        "close_date": ["2026-03-01", "2026-03-02", "2026-03-31", "2026-04-01", "2026-03-15"],
    })
    # a score given on 1 March is checked against wins after it: a deal closed that same day was known
    assert won_between(deals, date(2026, 3, 1), date(2026, 3, 31)) == {"next_day", "on_until"}


@pytest.mark.filterwarnings("ignore:Could not infer format")  # pandas, about the garbage date
def test_won_between_ignores_unparseable_and_missing_dates_and_companyless_deals():
    deals = pd.DataFrame({
        "company_id": ["garbage", "blank", "ok", None],
        "stage": ["closedwon"] * 4,
        "close_date": ["not a date", None, "2026-03-05", "2026-03-05"],
    })
    assert won_between(deals, date(2026, 3, 1), date(2026, 3, 31)) == {"ok"}
    # and when no won deal has a date at all (used to fail comparing datetime64 with a date)
    assert won_between(deals[deals["company_id"] != "ok"].iloc[:2], date(2026, 3, 1), date(2026, 3, 31)) == set()


def test_won_between_reads_crm_timestamps_by_their_date():
    deals = pd.DataFrame({"company_id": ["late_evening", "next_month"], "stage": ["closedwon", "closedwon"],
                          "close_date": ["2026-03-31T23:30:00Z", "2026-04-01T00:10:00Z"]})
    assert won_between(deals, date(2026, 3, 1), date(2026, 3, 31)) == {"late_evening"}


def test_won_between_reads_ids_as_text():
    deals = pd.DataFrame({"company_id": [101], "stage": ["closedwon"], "close_date": [date(2026, 3, 5)]})
    assert won_between(deals, date(2026, 3, 1), date(2026, 3, 31)) == {"101"}


# --- paying_company_ids -----------------------------------------------------------------------------------


def test_a_deal_won_after_the_day_does_not_make_the_company_paying_on_it():
    assert paying_company_ids(COMPANIES, DEALS, date(2026, 3, 1)) == {"won_early", "billing_only"}
    assert paying_company_ids(COMPANIES, DEALS, date(2026, 3, 10)) == {"won_early", "won_late", "billing_only"}
    # marked a customer in the CRM today, but its deal was won on 20 March: a prospect before that
    assert "marked_and_late" not in paying_company_ids(COMPANIES, DEALS, date(2026, 3, 19))
    assert "marked_and_late" in paying_company_ids(COMPANIES, DEALS, date(2026, 3, 20))


def test_a_crm_customer_with_no_won_deal_is_paying_throughout():
    for day in (date(2020, 1, 1), date(2026, 1, 1), None):
        assert "billing_only" in paying_company_ids(COMPANIES, DEALS, day)


def test_without_a_day_every_won_deal_counts():
    assert paying_company_ids(COMPANIES, DEALS) == {"won_early", "won_late", "billing_only", "marked_and_late"}
    assert paying_company_ids(COMPANIES, DEALS.drop(columns="close_date"), AS_OF) == paying_company_ids(
        COMPANIES, DEALS)  # no close dates at all: nothing to go by


def test_a_won_deal_without_a_readable_close_date_counts_as_paying_throughout():
    # like a CRM customer with no deal: no date to go by. Before the fix such a company was never paying on any
    # day - a paying customer scored by the prospect model and routed to sales.
    companies = pd.DataFrame({"company_id": ["undated", "garbled"], "lifecycle_stage": ["customer", "lead"]})
    deals = pd.DataFrame({"company_id": ["undated", "garbled"], "stage": ["closedwon", "closedwon"],
                          "close_date": [None, "someday"]})
    for day in (date(2026, 1, 1), AS_OF, None):
        assert paying_company_ids(companies, deals, day) == {"undated", "garbled"}


def test_lost_and_open_deals_never_make_a_company_paying():
    paying = paying_company_ids(COMPANIES, DEALS, AS_OF)
    assert "lost" not in paying and "prospect" not in paying


# --- relative_change --------------------------------------------------------------------------------------


def test_relative_change_is_nan_without_a_prior_to_compare_with():
    change = relative_change(pd.Series([150, 50, 0, 7, 3]), pd.Series([100, 100, 0, 0, None]))
    assert change.tolist()[:2] == [0.5, -0.5]
    assert change.iloc[2:].isna().all()  # 0 -> 0, 7 from nothing, unknown prior: no trend, not +inf


def test_relative_change_rounds_to_four_places():
    assert relative_change(pd.Series([2]), pd.Series([3])).iloc[0] == -0.3333


# --- build_account_features -------------------------------------------------------------------------------


def features(windows: pd.DataFrame, deals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Three single-workspace accounts; c1 is a CRM company, the others are product-only."""
    account_map = pd.DataFrame({
        "workspace_id": ["w1", "w2", "w3"],
        "account_id": ["c1", "ws:w2", "ws:w3"],
        "crm_company_id": ["c1", None, None],
        "domain": ["acme.com", "solo.dev", None],
        "member_count": [5, 2, 1],
        "workspace_count": [1, 1, 1],
        "is_consolidation": [False, False, False],
    })
    workspaces = pd.DataFrame({"workspace_id": ["w1", "w2", "w3"], "name": ["Acme", "Solo", "Idle"]})
    companies = pd.DataFrame({"company_id": ["c1"], "name": ["Acme Inc"], "domain": ["acme.com"],
                              "employee_count": [350], "industry": ["Software"], "owner_id": ["o1"],
                              "lifecycle_stage": ["lead"]})
    deals = deals if deals is not None else pd.DataFrame(columns=["company_id", "stage", "close_date"])
    return build_account_features(windows, account_map, workspaces, companies, deals, CATALOG,
                                  AS_OF).set_index("account_id")


WINDOWS = pd.DataFrame({
    "account_id": ["c1", "ws:w2"],
    "events_7d": [30, 5],
    "events_prior_7d": [20, 0],
    "events_28d": [120, 5],
    "events_prior_28d": [200, 0],
    "active_users_28d": [6, 1],
    "active_users_prior_28d": [4, 0],
    "last_active_date": [date(2026, 3, 31), date(2026, 3, 21)],
    "last_invite_date": [date(2026, 3, 24), None],
    "last_enterprise_page_view_date": [date(2026, 2, 10), None],
})


def test_usage_and_active_user_trends_over_28_days():
    f = features(WINDOWS)
    assert f.loc["c1", "usage_trend_28d"] == -0.4  # 120 events against 200 the 28 days before
    assert f.loc["c1", "active_user_trend_28d"] == 0.5  # 6 people against 4
    assert f.loc["c1", "velocity_7d"] == 0.5
    for column in ("usage_trend_28d", "active_user_trend_28d", "velocity_7d"):
        assert np.isnan(f.loc["ws:w2", column])  # new account: nothing before to compare with
        assert np.isnan(f.loc["ws:w3", column])  # idle account: no rows in the windows at all


def test_days_since_last_invite_and_enterprise_page_view():
    f = features(WINDOWS)
    assert f.loc["c1", "days_since_last_invite"] == 7
    assert f.loc["c1", "days_since_last_enterprise_page_view"] == 49
    assert f.loc["c1", "days_since_last_active"] == 0 and f.loc["ws:w2", "days_since_last_active"] == 10
    for column in ("days_since_last_invite", "days_since_last_enterprise_page_view"):
        assert pd.isna(f.loc["ws:w2", column]) and pd.isna(f.loc["ws:w3", column])  # never happened: unknown
        assert str(f[column].dtype) == "Int64"


def test_days_since_accepts_timestamps_and_text_dates():
    windows = WINDOWS.assign(last_invite_date=pd.to_datetime(["2026-03-30 18:00", None]),
                             last_enterprise_page_view_date=["2026-03-01", "bad"])
    f = features(windows)
    assert f.loc["c1", "days_since_last_invite"] == 0  # the evening before midnight is still day 0
    assert f.loc["c1", "days_since_last_enterprise_page_view"] == 30
    assert pd.isna(f.loc["ws:w2", "days_since_last_enterprise_page_view"])


def test_windows_without_the_last_dates_leave_the_days_since_columns_empty():
    f = features(WINDOWS.drop(columns=["last_invite_date", "last_enterprise_page_view_date"]))
    assert f["days_since_last_invite"].isna().all()
    assert f["days_since_last_enterprise_page_view"].isna().all()
    assert f.loc["c1", "days_since_last_active"] == 0


def test_the_new_columns_sit_with_the_other_derived_measures():
    columns = list(features(WINDOWS).reset_index().columns)
    assert columns[columns.index("velocity_7d"):columns.index("as_of_date")] == [
        "velocity_7d", "usage_trend_28d", "active_user_trend_28d", "days_since_last_active",
        "days_since_last_invite", "days_since_last_enterprise_page_view",
    ]


def test_is_customer_goes_by_deals_won_by_the_features_day():
    deals = pd.DataFrame({"company_id": ["c1"], "stage": ["closedwon"], "close_date": ["2026-04-15"]})
    assert not features(WINDOWS, deals).loc["c1", "is_customer"]  # won after 31 March: still a prospect then
    deals["close_date"] = ["2026-03-31"]
    assert features(WINDOWS, deals).loc["c1", "is_customer"]
