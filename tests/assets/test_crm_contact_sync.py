"""The contact sync creating the buyers missing from the CRM, when (and only when) the configuration allows."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from pls_pipelines.assets.buyers import BUYERS_MISSING_FROM_CRM
from pls_pipelines.assets.crm_sync import crm_contact_sync
from pls_pipelines.lib.missing_contacts import MISSING_CONTACT_COLUMNS
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.lib.sync_state import SYNC_STATE
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource, dispose_all_engines
from pls_pipelines.sync_engine import SYNC_LOG

CANDIDATE = {
    "account_id": "c1", "person_id": "u1", "user_id": "u1", "contact_id": None, "email": "lee@acme.com",
    "persona": "economic_buyer", "buying_power": 62, "is_pql": True, "evidence": "VP in engineering",
}
MISSING = {
    "account_id": "c1", "crm_company_id": "c1", "person_id": "u1", "user_id": "u1", "email": "lee@acme.com",
    "first_name": "Lee", "last_name": "Wong", "title": "VP Engineering", "persona": "economic_buyer",
    "buying_power": 62, "is_pql": True, "evidence": "VP in engineering", "why": "economic buyer",
}


@pytest.fixture
def setup(tmp_path):
    wh_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    crm_url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    crm = LocalCrm(crm_url)
    company = {"company_id": "c1", "name": "Acme", "domain": "acme.com", "industry": None, "employee_count": 300,
               "country": "US", "owner_id": None, "lifecycle_stage": "lead", "created_at": "2026-01-01"}
    crm.seed(
        pd.DataFrame(columns=["owner_id", "name", "email", "team"]),
        pd.DataFrame([company]),
        pd.DataFrame(columns=["contact_id", "company_id", "email", "first_name", "last_name", "title", "created_at"]),
        pd.DataFrame(columns=["deal_id", "company_id", "name", "stage", "amount", "deal_type", "created_at",
                              "close_date"]),
    )
    crm.close()
    wh = Warehouse(wh_url)
    wh.replace_table("buyer_candidates", pd.DataFrame([CANDIDATE]))
    wh.replace_table(BUYERS_MISSING_FROM_CRM, pd.DataFrame([MISSING], columns=MISSING_CONTACT_COLUMNS))
    enabled = tmp_path / "crm_fields.yaml"
    text = shipped_config("crm_fields.yaml").read_text(encoding="utf-8")
    on = text.replace("create_missing_contacts:\n  enabled: false", "create_missing_contacts:\n  enabled: true")
    assert on != text
    enabled.write_text(on)
    yield wh, wh_url, crm_url, enabled
    dispose_all_engines()


def sync(wh_url: str, crm_url: str, fields_config=None) -> dict:
    result = dg.materialize(
        [crm_contact_sync],
        resources={
            "warehouse": WarehouseResource(url=wh_url),
            "crm": CrmResource(kind="local", local_url=crm_url),
            "rules": RulesResource(crm_fields_config=str(fields_config) if fields_config else None),
        },
    )
    assert result.success
    return {k: v.value for k, v in result.asset_materializations_for_node("crm_contact_sync")[0].metadata.items()}


def test_missing_buyers_are_created_with_their_fields_and_a_rerun_writes_nothing(setup):
    wh, wh_url, crm_url, enabled = setup
    first = sync(wh_url, crm_url, enabled)
    assert (first["contacts_created"], first["contacts_create_failed"], first["records_written"]) == (1, 0, 1)

    crm = LocalCrm(crm_url)
    (contact,) = crm.read("contacts").to_dict("records")
    assert (contact["company_id"], contact["email"], contact["first_name"], contact["last_name"]) == (
        "c1", "lee@acme.com", "Lee", "Wong")
    fields = dict(crm.read_properties("contacts", [contact["contact_id"]])[["name", "value"]].values)
    assert fields == {"pls_persona": "economic_buyer", "pls_buying_power": "62", "pls_is_pql": "true",
                      "pls_evidence": "VP in engineering"}
    crm.close()
    log = wh.read_table(SYNC_LOG)
    assert sorted(log["status"]) == ["created", "sent"]
    assert set(log["record_id"]) == {contact["contact_id"]}
    assert set(wh.read_table(SYNC_STATE)["record_id"]) == {contact["contact_id"]}

    # the next run: the CRM ingest now knows the contact, so the person is linked and no longer missing
    wh.replace_table("buyer_candidates", pd.DataFrame([{**CANDIDATE, "contact_id": contact["contact_id"]}]))
    wh.replace_table(BUYERS_MISSING_FROM_CRM, pd.DataFrame(columns=MISSING_CONTACT_COLUMNS))
    second = sync(wh_url, crm_url, enabled)
    assert (second["contacts_created"], second["records_changed"]) == (0, 0)


def test_a_run_that_created_but_did_not_record_does_not_duplicate(setup):
    wh, wh_url, crm_url, enabled = setup
    sync(wh_url, crm_url, enabled)
    wh.replace_table(SYNC_STATE, wh.read_table(SYNC_STATE).iloc[0:0])  # as if the run died before its state
    again = sync(wh_url, crm_url, enabled)
    assert again["contacts_created"] == 0
    crm = LocalCrm(crm_url)
    assert len(crm.read("contacts")) == 1
    crm.close()
    assert "exists" in set(wh.read_table(SYNC_LOG)["status"])


def test_nothing_is_created_unless_enabled(setup):
    _, wh_url, crm_url, _ = setup
    metadata = sync(wh_url, crm_url)
    assert "contacts_created" not in metadata and metadata["records_in_scope"] == 0
    crm = LocalCrm(crm_url)
    assert crm.read("contacts").empty
    crm.close()


def test_a_dry_run_of_the_asset_reports_the_plan_and_writes_nothing(setup):
    wh, wh_url, crm_url, enabled = setup
    result = dg.materialize(
        [crm_contact_sync],
        resources={
            "warehouse": WarehouseResource(url=wh_url),
            "crm": CrmResource(kind="local", local_url=crm_url),
            "rules": RulesResource(crm_fields_config=str(enabled)),
        },
        run_config={"ops": {"crm_contact_sync": {"config": {"dry_run": True}}}},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("crm_contact_sync")[0].metadata
    assert metadata["dry_run"].value is True and metadata["contacts_to_create"].value == 1
    crm = LocalCrm(crm_url)
    assert crm.read("contacts").empty
    crm.close()
    assert not wh.table_exists(SYNC_LOG) and not wh.table_exists(SYNC_STATE)
