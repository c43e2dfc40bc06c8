"""The sync engine end to end on the embedded CRM and a DuckDB warehouse: diff, reconcile, field modes,
outcome log, retries of rejected records, dry-run plan, and the guard with its approval."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pls_pipelines.lib.crm_fields import load_crm_fields
from pls_pipelines.lib.sync import RecordUpdate
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.sync_engine import SYNC_LOG, approve, guard_verdict, plan_sync, read_rejections, run_sync

FIELDS_YAML = """
property_group: {name: product_led_sales, label: Product-Led Sales}
guard: {max_tier_change_share: 0.2, max_rejected_share: 0.5, min_records: 5}
reconcile_every_days: 7
objects:
  companies:
    key: crm_company_id
    fields:
      pls_pqa_score: {label: Score, type: number, source: account_routing.score}
      pls_pqa_tier: {label: Tier, type: string, source: account_routing.tier}
      pls_note: {label: Note, type: string, source: account_routing.note, mode: if_empty}
"""
N = 20


@pytest.fixture
def setup(tmp_path):
    crm = LocalCrm(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    seed_companies(crm, [f"c{i:02d}" for i in range(N)])
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    routing(wh)
    path = tmp_path / "crm_fields.yaml"
    path.write_text(FIELDS_YAML)
    yield wh, crm, load_crm_fields(path)
    crm.close()
    dispose_all_engines()


def seed_companies(crm: LocalCrm, ids: list[str]) -> None:
    """The embedded CRM holding exactly these companies (and no contacts or deals)."""
    companies = pd.DataFrame({
        "company_id": ids, "name": [f"Co {i}" for i in ids], "domain": [f"{i}.example.com" for i in ids],
        "industry": None, "employee_count": 100, "country": "US", "owner_id": None, "lifecycle_stage": "lead",
        "created_at": "2026-01-01",
    })
    empty = {c: pd.DataFrame(columns=cols) for c, cols in {
        "owners": ["owner_id", "name", "email", "team"],
        "contacts": ["contact_id", "company_id", "email", "first_name", "last_name", "title", "created_at"],
        "deals": ["deal_id", "company_id", "name", "stage", "amount", "deal_type", "created_at", "close_date"],
    }.items()}
    crm.seed(empty["owners"], companies, empty["contacts"], empty["deals"])


def routing(wh: Warehouse, tiers: dict[int, str] | None = None, extra_ids: tuple[str, ...] = ()) -> None:
    ids = [f"c{i:02d}" for i in range(N)] + list(extra_ids)
    tier = ["self_serve"] * len(ids)
    for i, value in (tiers or {}).items():
        tier[i] = value
    wh.replace_table("account_routing", pd.DataFrame({
        "crm_company_id": ids, "score": [40 + i for i in range(len(ids))], "tier": tier, "note": "from pls",
    }))


def sync(wh, crm, fields, **kwargs):
    plan = plan_sync(wh, crm, fields, "companies", **kwargs)
    runs = len(wh.read_table(SYNC_LOG)) if wh.table_exists(SYNC_LOG) else 0
    now = kwargs.get("now")
    return plan, run_sync(wh, crm, fields, plan, run_id=f"run-{runs}", log=lambda line: None, now=now)


def test_first_sync_writes_everything_and_a_rerun_writes_nothing(setup):
    wh, crm, fields = setup
    plan, result = sync(wh, crm, fields)
    assert plan.first_sync and len(plan.updates) == N and result.counts["sent"] == N
    plan, result = sync(wh, crm, fields)
    assert plan.updates == [] and result.counts["unchanged"] == N and result.counts["sent"] == 0
    log = wh.read_table(SYNC_LOG)
    assert set(log["status"]) == {"sent", "unchanged"} and len(log) == 2 * N  # every record's outcome, each run


def test_only_changed_fields_go_out_and_the_dry_run_shows_before_and_after(setup):
    wh, crm, fields = setup
    sync(wh, crm, fields)
    routing(wh, tiers={3: "sales"})
    plan = plan_sync(wh, crm, fields, "companies")
    assert [(u.record_id, u.properties) for u in plan.updates] == [("c03", {"pls_pqa_tier": "sales"})]
    assert plan.changes().to_dict("records") == [
        {"record_id": "c03", "field": "pls_pqa_tier", "before": "self_serve", "after": "sales"}
    ]
    assert crm.read_properties("companies", ["c03"]).set_index("name")["value"]["pls_pqa_tier"] == "self_serve"


def test_a_rejected_record_is_logged_with_the_reason_then_held_until_its_values_change(setup):
    wh, crm, fields = setup
    routing(wh, extra_ids=("c_missing",))
    _, result = sync(wh, crm, fields)
    assert result.counts["rejected"] == 1 and result.counts["sent"] == N
    log = wh.read_table(SYNC_LOG)
    row = log[log["record_id"] == "c_missing"].iloc[0]
    assert row["status"] == "rejected" and row["error"].startswith("OBJECT_NOT_FOUND")

    # the same values would fail the same way: the next run holds the record back and says why
    plan, result = sync(wh, crm, fields)
    assert plan.updates == [] and list(plan.held) == ["c_missing"] and result.counts["held"] == 1
    held = wh.read_table(SYNC_LOG).query("status == 'held'")
    assert held["error"].iloc[0].startswith("not re-sent") and "OBJECT_NOT_FOUND" in held["error"].iloc[0]
    rejections = read_rejections(wh, "companies")
    assert rejections[["record_id", "attempts"]].to_dict("records") == [{"record_id": "c_missing", "attempts": 1}]

    # asked for, or with new values, it is sent again
    assert [u.record_id for u in plan_sync(wh, crm, fields, "companies", retry_rejected=True).updates] == [
        "c_missing"
    ]
    wh.execute("UPDATE account_routing SET score = 1 WHERE crm_company_id = 'c_missing'")
    assert [u.record_id for u in plan_sync(wh, crm, fields, "companies").updates] == ["c_missing"]
    _, result = sync(wh, crm, fields)
    assert result.counts["rejected"] == 1
    assert read_rejections(wh, "companies")["attempts"].tolist() == [1]  # new values: a new problem


def test_a_held_record_is_retried_after_the_configured_days_and_forgotten_once_accepted(setup):
    wh, crm, fields = setup
    routing(wh, extra_ids=("c_late",))
    sync(wh, crm, fields, now=datetime(2026, 11, 1, 9, tzinfo=UTC))
    assert list(plan_sync(wh, crm, fields, "companies", now=datetime(2026, 11, 7, 9, tzinfo=UTC)).held) == ["c_late"]
    seed_companies(crm, [f"c{i:02d}" for i in range(N)] + ["c_late"])  # an admin restores the record in the CRM
    # 7 days later it is tried again (reconcile=False: the reseed cleared the others' fields; not the point here)
    plan, result = sync(wh, crm, fields, now=datetime(2026, 11, 8, 10, tzinfo=UTC), reconcile=False)
    assert [u.record_id for u in plan.updates] == ["c_late"] and result.counts["sent"] == 1
    assert read_rejections(wh, "companies").empty


def test_reconcile_puts_right_an_edit_made_in_the_crm_but_leaves_if_empty_fields_to_the_seller(setup):
    wh, crm, fields = setup
    sync(wh, crm, fields)
    crm.update_records("companies", [RecordUpdate("c05", {"pls_pqa_score": "99", "pls_note": "seller's note"})])
    assert plan_sync(wh, crm, fields, "companies").updates == []  # the state alone cannot see CRM edits
    plan, _ = sync(wh, crm, fields, reconcile=True)
    assert plan.reconcile
    assert [(u.record_id, u.properties) for u in plan.updates] == [("c05", {"pls_pqa_score": "45"})]
    values = crm.read_properties("companies", ["c05"]).set_index("name")["value"]
    assert values["pls_pqa_score"] == "45" and values["pls_note"] == "seller's note"
    assert plan_sync(wh, crm, fields, "companies", reconcile=True).updates == []


def test_the_guard_stops_a_mass_tier_change_until_it_is_approved(setup):
    wh, crm, fields = setup
    sync(wh, crm, fields)
    routing(wh, tiers={i: "sales" for i in range(5)})  # 5 of 20 = 25% > 20%
    verdict = guard_verdict(wh, fields)
    assert not verdict.passed and "5 of 20" in verdict.message and "pls sync --approve" in verdict.message
    approve(wh, verdict)
    assert guard_verdict(wh, fields).passed
    routing(wh, tiers={i: "sales" for i in range(6)})  # a different change needs its own approval
    assert not guard_verdict(wh, fields).passed


def test_unmapping_a_field_stops_its_writes_but_never_deletes_crm_data(setup, tmp_path):
    from pls_pipelines.lib.crm_fields import load_crm_fields as load

    wh, crm, fields = setup
    sync(wh, crm, fields)
    path = tmp_path / "fewer_fields.yaml"
    tier_line = "      pls_pqa_tier: {label: Tier, type: string, source: account_routing.tier}\n"
    assert tier_line in FIELDS_YAML
    path.write_text(FIELDS_YAML.replace(tier_line, ""))
    fewer = load(path)
    routing(wh, tiers={1: "sales"})
    plan, result = sync(wh, crm, fewer)
    assert all("pls_pqa_tier" not in u.properties for u in plan.updates)
    held = crm.read_properties("companies", ["c01"]).set_index("name")["value"]
    assert held["pls_pqa_tier"] == "self_serve"  # still there, no longer updated
    assert result.counts["rejected"] == 0
