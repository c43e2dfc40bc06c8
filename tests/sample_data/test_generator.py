"""The demo data contract: deterministic, shaped as documented, realistic and dirty in every promised way."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.identity import company_domain_of, email_domain, is_personal_domain
from pls_pipelines.resources.event_loader import load_usage_events
from pls_pipelines.resources.usage_source import LandingFiles
from pls_pipelines.resources.warehouse import Warehouse
from pls_pipelines.sample_data import names
from pls_pipelines.sample_data.generator import (
    DemoData,
    generate_demo_data,
    write_landing_files,
)
from pls_pipelines.sample_data.jsonl import event_line, render_event_lines

END = dt.date(2026, 11, 22)
DAYS = 30
ACCOUNTS = 120
WINDOW_START = END - dt.timedelta(days=DAYS - 1)
FREE_MAIL = set(names.FREE_MAIL_DOMAINS)
EXTRA_EVENTS = {"Signed In", "Signed Out", "Page Viewed"}
ISO_SECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
ISO_MILLIS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate_demo_data(accounts=ACCOUNTS, seed=7, days=DAYS, end_date=END)


@pytest.fixture(scope="module")
def landing(data: DemoData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("landing")
    return folder, write_landing_files(data, folder)


@pytest.fixture(scope="module")
def larger() -> DemoData:
    """Enough accounts for statistics about intent and outcomes to be stable."""
    return generate_demo_data(accounts=500, seed=11, days=DAYS, end_date=END)


def _events_per_workspace(data: DemoData) -> pd.Series:
    counts = data.events.groupby("workspace_id").size()
    return counts.reindex(data.truth["workspace_id"], fill_value=0)


# -- determinism ---------------------------------------------------------------------------------------------

def test_same_inputs_give_equal_data_and_byte_identical_files(data, landing, tmp_path):
    again = generate_demo_data(accounts=ACCOUNTS, seed=7, days=DAYS, end_date=END)
    for field in ("workspaces", "users", "events", "crm_owners", "crm_companies", "crm_contacts", "crm_deals",
                  "truth"):
        pd.testing.assert_frame_equal(getattr(again, field), getattr(data, field))
    assert again.malformed_lines == data.malformed_lines

    folder, _ = landing
    write_landing_files(again, tmp_path)
    first = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second
    assert all((folder / f).read_bytes() == (tmp_path / f).read_bytes() for f in first)


def test_another_seed_gives_other_data(data):
    other = generate_demo_data(accounts=ACCOUNTS, seed=8, days=DAYS, end_date=END)
    assert not other.users["email"].equals(data.users["email"])


def test_a_later_end_date_shifts_the_same_data_in_time(data):
    week_later = generate_demo_data(accounts=ACCOUNTS, seed=7, days=DAYS, end_date=END + dt.timedelta(days=7))

    def shifted(values: pd.Series) -> pd.Series:
        return pd.to_datetime(values) + pd.Timedelta(days=7)

    assert week_later.events["event_id"].equals(data.events["event_id"])
    assert (pd.to_datetime(week_later.events["occurred_at"]) == shifted(data.events["occurred_at"])).all()
    assert (pd.to_datetime(week_later.users["signed_up_at"]) == shifted(data.users["signed_up_at"])).all()
    assert week_later.users.drop(columns="signed_up_at").equals(data.users.drop(columns="signed_up_at"))
    assert week_later.crm_deals["amount"].equals(data.crm_deals["amount"])

    # Any shift keeps the population; only the weekend dip follows the calendar.
    next_day = generate_demo_data(accounts=ACCOUNTS, seed=7, days=DAYS, end_date=END + dt.timedelta(days=1))
    undated = ["created_at"]
    assert next_day.crm_companies.drop(columns=undated).equals(data.crm_companies.drop(columns=undated))
    assert next_day.truth.equals(data.truth)


def test_default_end_date_is_yesterday_in_utc():
    demo = generate_demo_data(accounts=20, seed=1, days=7)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = demo.events["occurred_at"].str.slice(0, 10)
    assert (yesterday - dt.timedelta(days=6)).isoformat() <= days.min() <= days.max() <= yesterday.isoformat()


@pytest.mark.parametrize(("kwargs", "message"), [({"accounts": 5}, "accounts=5"), ({"days": 3}, "days=3")])
def test_too_small_a_demo_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_demo_data(**{"accounts": 40, "days": 14, "end_date": END, **kwargs})


# -- column contracts ----------------------------------------------------------------------------------------

def test_frames_have_the_documented_columns(data):
    assert list(data.workspaces.columns) == ["workspace_id", "name", "created_at", "plan", "crm_company_id"]
    assert list(data.users.columns) == [
        "user_id", "workspace_id", "email", "name", "title", "role", "signed_up_at",
    ]
    assert list(data.events.columns) == [
        "event_id", "occurred_at", "user_id", "workspace_id", "event", "properties",
    ]
    assert list(data.crm_owners.columns) == ["owner_id", "name", "email", "team"]
    assert list(data.crm_companies.columns) == [
        "company_id", "name", "domain", "industry", "employee_count", "country", "owner_id",
        "lifecycle_stage", "created_at",
    ]
    assert list(data.crm_contacts.columns) == [
        "contact_id", "company_id", "email", "first_name", "last_name", "title", "created_at",
    ]
    assert list(data.crm_deals.columns) == [
        "deal_id", "company_id", "name", "stage", "amount", "deal_type", "created_at", "close_date",
    ]
    assert {"workspace_id", "company_id", "intent", "will_win", "is_customer"} <= set(data.truth.columns)


def test_ids_timestamps_and_enumerations_follow_the_contract(data):
    ws, users, events = data.workspaces, data.users, data.events
    assert len(ws) == ACCOUNTS and ws["workspace_id"].is_unique
    assert ws["workspace_id"].str.fullmatch(r"w_\d{5}").all()
    assert ws["created_at"].str.fullmatch(ISO_SECONDS).all()
    assert set(ws["plan"]) <= {"free", "trial", "team", "business"}
    assert users["user_id"].str.fullmatch(r"u_\d{6}").all() and users["user_id"].is_unique
    assert users["email"].is_unique and users["email"].str.fullmatch(r"[a-z0-9.]+@[a-z0-9.-]+").all()
    assert set(users["role"]) == {"owner", "admin", "member"}
    assert (users.groupby("workspace_id")["role"].apply(lambda r: (r == "owner").sum()) == 1).all()
    assert users["signed_up_at"].str.fullmatch(ISO_SECONDS).all()
    assert set(users["workspace_id"]) == set(ws["workspace_id"])

    assert events["event_id"].str.fullmatch(r"evt_[0-9a-f]{16}").all()
    assert events["occurred_at"].str.fullmatch(ISO_MILLIS).all()
    assert events["properties"].map(lambda p: isinstance(p, dict)).all()
    owner_of = users.set_index("user_id")["workspace_id"]
    assert (events["workspace_id"] == events["user_id"].map(owner_of)).all()

    companies, deals, contacts = data.crm_companies, data.crm_deals, data.crm_contacts
    assert companies["company_id"].str.fullmatch(r"c_\d{5}").all() and companies["domain"].is_unique
    assert (companies["domain"] == companies["domain"].str.lower()).all()
    assert companies["employee_count"].dtype.kind == "i"
    assert set(companies["lifecycle_stage"]) == {"lead", "opportunity", "customer"}
    assert set(companies["owner_id"]) <= set(data.crm_owners["owner_id"])
    assert set(data.crm_owners["team"]) == {"sales", "success"}
    assert contacts["contact_id"].str.fullmatch(r"k_\d{5}").all()
    assert set(contacts["company_id"]) <= set(companies["company_id"])
    assert deals["deal_id"].str.fullmatch(r"d_\d{5}").all() and deals["amount"].dtype.kind == "f"
    assert set(deals["stage"]) <= {"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                                   "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}
    assert set(deals["deal_type"]) == {"newbusiness", "existingbusiness"}
    assert deals["close_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(deals["company_id"]) <= set(companies["company_id"])


def test_event_names_come_from_the_catalog_or_the_documented_extras(data):
    catalog = load_event_catalog()
    allowed = {e for f in catalog.features for e in f.events} | EXTRA_EVENTS | {catalog.page_view_event}
    allowed |= {e for events in catalog.signals.values() for e in events}
    names_seen = set(data.events["event"])
    assert names_seen <= allowed
    signals = {"Invite Sent", "Account Added User", "User Role Changed", "Trial Started", "Signed Up"}
    assert signals <= names_seen
    core = {e for f in catalog.features if f.tier == "core" for e in f.events}
    assert core <= names_seen


def test_properties_follow_the_event(data):
    events = data.events
    pages = events.loc[events["event"] == "Page Viewed", "properties"]
    assert {"name": "Pricing", "path": "/pricing"} in pages.tolist()
    assert set(pages.map(lambda p: p["name"])) >= {"Pricing", "Docs", "Blog", "Changelog"}
    roles = events.loc[events["event"] == "User Role Changed", "properties"]
    assert (roles.map(lambda p: p == {"new_role": "admin"})).all()
    invites = events.loc[events["event"] == "Invite Sent", "properties"]
    assert invites.map(lambda p: "." in p["invitee_email_domain"]).all()
    catalog = load_event_catalog()
    feature_of = {e: f.key for f in catalog.features for e in f.events}
    features = events[events["event"].isin(list(feature_of))]
    assert (features["properties"].map(lambda p: p["feature"]) == features["event"].map(feature_of)).all()


def test_a_feature_added_to_the_catalog_is_generated(tmp_path):
    shipped = Path(__file__).parents[2] / "pls_pipelines" / "config" / "product_events.yaml"
    raw = yaml.safe_load(shipped.read_text())
    raw["features"]["notebooks"] = {"events": ["Notebook Created"], "tier": "core"}
    catalog = tmp_path / "product_events.yaml"
    catalog.write_text(yaml.safe_dump(raw))
    demo = generate_demo_data(accounts=40, seed=3, days=14, end_date=END, event_catalog=catalog)
    notebooks = demo.events[demo.events["event"] == "Notebook Created"]
    assert len(notebooks) > 0
    assert (notebooks["properties"].map(lambda p: p == {"feature": "notebooks"})).all()


def test_events_are_sorted_inside_the_window_and_after_their_users_signed_up(data):
    events = data.events
    assert events["occurred_at"].is_monotonic_increasing
    days = events["occurred_at"].str.slice(0, 10)
    assert days.min() == WINDOW_START.isoformat() and days.max() == END.isoformat()
    signed_up = events["user_id"].map(data.users.set_index("user_id")["signed_up_at"])
    assert (pd.to_datetime(events["occurred_at"]) >= pd.to_datetime(signed_up)).all()


# -- realism -------------------------------------------------------------------------------------------------

def test_team_sizes_are_heavy_tailed_and_employee_counts_too(larger):
    sizes = larger.users.groupby("workspace_id").size()
    assert (sizes <= 5).mean() > 0.5
    assert sizes.max() >= 50
    assert len(larger.users) / len(larger.workspaces) >= 12  # ~17 users per workspace -> 30k+ at default size
    employees = larger.crm_companies["employee_count"]
    assert ((employees >= 10) & (employees <= 200)).mean() > 0.5
    assert ((employees > 200) & (employees <= 1000)).any() and (employees > 1000).any()
    assert employees.max() <= 20000


def test_usage_has_a_weekday_rhythm_and_accounts_that_accelerate_or_decline(larger):
    days = pd.to_datetime(larger.events["occurred_at"].str.slice(0, 10))
    per_day = days.value_counts()
    weekend = per_day.index.day_of_week >= 5
    assert per_day[~weekend].mean() > 2.5 * per_day[weekend].mean()

    truth = larger.truth.set_index("workspace_id")
    created = pd.to_datetime(larger.workspaces.set_index("workspace_id")["created_at"]).dt.date
    established = truth[(created < WINDOW_START).to_numpy()].index
    last_third = larger.events[days >= pd.Timestamp(END) - pd.Timedelta(days=DAYS // 3 - 1)]
    first_third = larger.events[days < pd.Timestamp(WINDOW_START) + pd.Timedelta(days=DAYS // 3)]
    ratio = (last_third.groupby("workspace_id").size().reindex(established, fill_value=0) + 1) / (
        first_third.groupby("workspace_id").size().reindex(established, fill_value=0) + 1
    )
    by_trajectory = ratio.groupby(truth.loc[established, "trajectory"]).median()
    assert by_trajectory["growing"] > 1.5 * by_trajectory["steady"] > 2.25 * by_trajectory["declining"]


def test_workspaces_are_created_during_the_window_too(data):
    created = pd.to_datetime(data.workspaces.set_index("workspace_id")["created_at"])
    in_window = created[created.dt.date >= WINDOW_START]
    assert 0.1 < len(in_window) / len(created) < 0.5
    first_event = pd.to_datetime(data.events.groupby("workspace_id")["occurred_at"].min())
    assert first_event.reindex(in_window.index).notna().all()
    assert (first_event.reindex(in_window.index) >= in_window).all()


def test_high_intent_workspaces_use_more_but_intent_is_not_everything(larger):
    truth = larger.truth.set_index("workspace_id")
    usage = _events_per_workspace(larger)
    tercile = pd.qcut(truth["intent"], 3, labels=["low", "mid", "high"])
    mean_usage = usage.groupby(tercile, observed=True).mean()
    assert mean_usage["high"] > 2 * mean_usage["low"]
    correlation = np.corrcoef(truth["intent"], np.log1p(usage))[0, 1]
    assert 0.1 < correlation < 0.8


def test_outcomes_follow_intent_and_size_but_usage_does_not_decide_them(larger):
    truth = larger.truth[larger.truth["company_id"] != ""].set_index("workspace_id")
    prospects = truth[~truth["is_customer"]]
    usage = _events_per_workspace(larger).reindex(prospects.index)
    won = prospects["will_win"]
    assert prospects.loc[won, "intent"].mean() > prospects.loc[~won, "intent"].mean()
    assert prospects.loc[won, "employee_count"].median() > prospects.loc[~won, "employee_count"].median()
    # Some heavy users never buy, some light users do.
    heavy = usage >= usage.quantile(0.8)
    assert (heavy & ~won).any() and (~heavy & won).any()
    ranks = usage.rank()
    auc = (ranks[won].mean() - (won.sum() + 1) / 2) / (~won).sum()
    assert 0.55 < auc < 0.95


def test_won_deals_are_recent_or_open_and_match_the_truth(data):
    deals = data.crm_deals
    close = pd.to_datetime(deals["close_date"]).dt.date
    new = deals["deal_type"] == "newbusiness"
    recent_win = new & (deals["stage"] == "closedwon") & (close > END - dt.timedelta(days=61))
    is_open = ~deals["stage"].isin(["closedwon", "closedlost"])
    open_soon = new & is_open & (close <= END + dt.timedelta(days=30))
    winners = set(data.truth.loc[data.truth["will_win"], "company_id"])
    assert winners and winners <= set(deals.loc[recent_win | open_soon, "company_id"])
    assert (close[new & (deals["stage"] == "closedwon")] <= END).all()
    assert (close[~deals["stage"].isin(["closedwon", "closedlost"])] > END).all()


def test_existing_customers_pay_and_some_decline_while_others_grow(data):
    companies, deals, truth = data.crm_companies, data.crm_deals, data.truth
    old_win = deals[(deals["deal_type"] == "newbusiness") & (deals["stage"] == "closedwon")
                    & (pd.to_datetime(deals["close_date"]).dt.date < END - dt.timedelta(days=90))]
    customers = set(truth.loc[truth["is_customer"], "company_id"])
    assert customers <= set(old_win["company_id"])
    assert customers <= set(companies.loc[companies["lifecycle_stage"] == "customer", "company_id"])
    share = len(set(old_win["company_id"])) / len(companies)
    assert 0.05 < share < 0.11
    customer_ws = truth[truth["is_customer"]]
    assert set(customer_ws["plan"]) <= {"team", "business"}
    assert {"declining", "growing"} <= set(customer_ws["trajectory"])


def test_accounts_cover_consolidation_unknown_domains_and_companies_without_workspaces(data):
    truth, companies = data.truth, data.crm_companies
    per_company = truth.loc[truth["company_id"] != ""].groupby("company_id").size()
    assert per_company.max() >= 3 and (per_company == 2).sum() >= 2
    assert (~companies["company_id"].isin(truth["company_id"])).any()

    users = data.users.assign(domain=data.users["email"].map(company_domain_of))
    by_workspace = users.dropna(subset=["domain"]).groupby("workspace_id")["domain"]
    dominant = by_workspace.agg(lambda d: d.mode().iloc[0])
    unknown = dominant[~dominant.isin(set(companies["domain"]))]
    assert 0.05 <= len(unknown) / len(data.workspaces) <= 0.15
    linked = data.workspaces.set_index("workspace_id").loc[unknown.index, "crm_company_id"]
    assert (linked == "").all()
    assert not any(is_personal_domain(d) for d in companies["domain"])


def test_about_30_percent_of_workspaces_carry_an_explicit_crm_id(data):
    explicit = data.workspaces["crm_company_id"]
    assert 0.25 <= (explicit != "").mean() <= 0.35
    assert set(explicit[explicit != ""]) <= set(data.crm_companies["company_id"])
    truth = data.truth.set_index("workspace_id")
    linked = data.workspaces[explicit != ""].set_index("workspace_id")
    assert (linked["crm_company_id"] == truth.loc[linked.index, "company_id"]).all()


def test_about_15_percent_of_users_are_on_free_mail(larger):
    domains = larger.users["email"].map(email_domain)
    assert 0.11 <= domains.isin(FREE_MAIL).mean() <= 0.19
    assert set(domains[domains.isin(FREE_MAIL)]) == FREE_MAIL


def test_crm_contacts_cover_a_third_of_company_users_with_case_quirks_and_non_users(larger):
    users, contacts = larger.users, larger.crm_contacts
    at_company = users[users["email"].map(company_domain_of).isin(set(larger.crm_companies["domain"]))]
    contact_emails = contacts["email"].str.lower()
    assert 0.25 <= at_company["email"].isin(set(contact_emails)).mean() <= 0.45
    is_user = contact_emails.isin(set(users["email"]))
    assert (is_user & ~contacts["email"].isin(set(users["email"]))).any()  # same address, other letter case
    assert (~is_user).sum() > 0.1 * len(contacts)


def test_titles_are_varied_and_often_missing(larger):
    titles = larger.users["title"]
    assert 0.3 <= (titles == "").mean() <= 0.5
    every_title = set(titles) | set(larger.crm_contacts["title"])
    assert len(every_title) > 50
    assert every_title & {"VP Engineering", "Head of Data", "Sr. Director, IT", "CTO", "Founder & CEO"}
    local = {t for by_persona in names.LOCAL_TITLES.values() for group in by_persona.values() for t in group}
    assert every_title & local
    assert any(t and t == t.lower() and t != t.upper() for t in every_title)


def test_buyers_rarely_use_the_product_and_champions_invite(larger):
    users, events = larger.users, larger.events
    usage = events.groupby("user_id").size().reindex(users["user_id"], fill_value=0).to_numpy()
    buyer = users["title"].isin(names.BUYER_TITLES).to_numpy()
    practitioner = users["title"].isin(names.PRACTITIONER_TITLES).to_numpy()
    assert buyer.sum() > 0
    assert np.median(usage[buyer]) < np.median(usage[practitioner])

    actors = events.loc[events["event"].isin(["Invite Sent", "User Role Changed"]), "user_id"]
    actor_roles = actors.map(users.set_index("user_id")["role"])
    assert (actor_roles != "member").mean() > 0.8


def test_enterprise_pages_are_visited_more_by_high_intent_accounts(larger):
    truth = larger.truth.set_index("workspace_id")
    views = larger.events[larger.events["event"] == "Page Viewed"]
    enterprise = views[views["properties"].map(lambda p: p["name"].lower() in {"pricing", "security", "terms",
                                                                               "privacy"})]
    visited = truth.index.isin(enterprise["workspace_id"])
    high = (truth["intent"] >= truth["intent"].quantile(2 / 3)).to_numpy()
    low = (truth["intent"] <= truth["intent"].quantile(1 / 3)).to_numpy()
    assert visited[high].mean() > 2 * visited[low].mean()


# -- dirt ----------------------------------------------------------------------------------------------------

def _defect(line: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return "broken_json"
    for key in ("event_id", "user_id", "workspace_id"):
        if key not in record:
            return f"missing_{key}"
    if record["occurred_at"] == "not-a-date":
        return "bad_timestamp"
    if record["occurred_at"].startswith("2099"):
        return "future_timestamp"
    return "none"


def test_duplicates_are_identical_extra_rows(data):
    duplicated = data.events["event_id"].duplicated(keep=False)
    share = data.events["event_id"].duplicated().mean()
    assert 0.002 < share < 0.01
    copies = data.events[duplicated].astype({"properties": "str"})
    assert copies.groupby("event_id").nunique().eq(1).all().all()


def test_malformed_lines_cover_every_defect_on_some_days(data):
    lines = [line for day_lines in data.malformed_lines.values() for line in day_lines]
    assert len(lines) >= 20
    assert {_defect(line) for line in lines} == {
        "broken_json", "missing_user_id", "missing_event_id", "bad_timestamp", "future_timestamp",
        "missing_workspace_id",
    }
    days = [dt.date.fromisoformat(d) for d in data.malformed_lines]
    assert all(WINDOW_START <= d <= END for d in days) and len(days) < DAYS
    ids = {json.loads(line).get("event_id") for line in lines if _defect(line) != "broken_json"}
    assert not ids & set(data.events["event_id"])


def test_rendered_lines_are_the_single_line_format(data):
    sample = data.events.iloc[::997]
    rendered = render_event_lines(sample)
    assert rendered.tolist() == [event_line(r) for r in sample.to_dict("records")]
    assert [json.loads(line)["event_id"] for line in rendered] == sample["event_id"].tolist()


def test_landing_files_hold_every_event_and_malformed_line(data, landing):
    folder, counts = landing
    malformed = sum(len(v) for v in data.malformed_lines.values())
    assert counts == {"workspaces": ACCOUNTS, "users": len(data.users), "events": len(data.events),
                      "malformed": malformed, "files": DAYS}
    files = sorted((folder / "events").glob("*.jsonl"))
    assert [f.stem for f in files] == [(WINDOW_START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    total = 0
    for file in files:
        lines = file.read_text(encoding="utf-8").splitlines()
        total += len(lines)
        good = [json.loads(line) for line in lines if _defect(line) == "none"]
        assert all(r["occurred_at"].startswith(file.stem) for r in good)
        assert len(lines) - len(good) == len(data.malformed_lines.get(file.stem, []))
    assert total == counts["events"] + counts["malformed"]
    workspaces = pd.read_csv(folder / "workspaces.csv", dtype=str, keep_default_na=False)
    users = pd.read_csv(folder / "users.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(workspaces, data.workspaces, check_dtype=False)
    pd.testing.assert_frame_equal(users, data.users, check_dtype=False)


def test_pipeline_ingestion_accepts_the_good_lines_and_quarantines_the_rest(data, landing, tmp_path):
    folder, counts = landing
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    source = LandingFiles(folder)
    wh.replace_table("product_workspaces", source.read_table("workspaces"))
    days = source.available_days()
    now = dt.datetime.combine(END + dt.timedelta(days=1), dt.time())
    report = load_usage_events(wh, source, load_event_catalog(), days[0], days[-1], now)
    reasons = report.reject_counts()
    duplicates = int(data.events["event_id"].duplicated().sum())
    assert report.accepted == data.events["event_id"].nunique()
    assert reasons.pop("duplicate_event_id") == duplicates
    assert set(reasons) == {"invalid_json", "missing_event_id", "missing_user_id", "missing_workspace_id",
                            "bad_timestamp", "future_timestamp"}
    assert report.rejected == duplicates + counts["malformed"]


def test_writing_again_replaces_day_files_of_an_earlier_demo(tmp_path):
    stale = tmp_path / "events" / "2001-01-01.jsonl"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    keep = tmp_path / "events" / "README.txt"
    keep.write_text("not a day file")
    write_landing_files(generate_demo_data(accounts=20, seed=2, days=7, end_date=END), tmp_path)
    assert not stale.exists() and keep.exists()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", min(p.stem for p in (tmp_path / "events").glob("*.jsonl")))
