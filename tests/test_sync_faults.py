"""The whole pipeline against HubSpot failing one write call in five: 429s with and without Retry-After, 5xx
before and after the write was applied, and timeouts after it was applied. Buyer creation is on, and HubSpot
refuses two companies outright. The sync must converge - every other record holds exactly the warehouse's
values - create no contact twice, log the two refusals with HubSpot's reason, surface them in the
crm_rejections check, and stop sending them instead of retrying them forever."""

from __future__ import annotations

from collections import Counter
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from pls_pipelines.cli import generate_demo
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.hubspot import HubSpotCrm
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from pls_pipelines.sync_engine import SYNC_LOG, plan_sync
from tests.fakes.hubspot_fake import HubSpotFake
from tests.pipeline_helpers import crm_fields_config, demo_definitions, run_all_days

pytestmark = [pytest.mark.slow, pytest.mark.long]

TOKEN = "pat-fault-test-token"
FAULTS = ("429", "500", "502", "503", "504", "timeout", "502-applied", "503-applied")


def table(settings, name: str):
    wh = Warehouse(settings.warehouse_url)
    try:
        return wh.read_table(name)
    finally:
        dispose_all_engines()


def rejections_check(result: dg.ExecuteInProcessResult, asset: str) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations()
                if e.check_name == "crm_rejections" and e.asset_key.path[-1] == asset)


def test_one_write_in_five_failing_converges_without_duplicates_and_holds_what_hubspot_refuses(tmp_path, monkeypatch):
    with HubSpotFake(token=TOKEN) as fake:
        for name, value in {"PLS_HOME": str(tmp_path), "PLS_CRM": "hubspot", "HUBSPOT_ACCESS_TOKEN": TOKEN,
                            "HUBSPOT_BASE_URL": fake.base_url}.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        generate_demo(settings, 120, seed=7, days=21, end=date(2026, 10, 31), crm_kind="hubspot")
        contacts_before = len(fake.records("contacts"))
        rules = RulesResource(crm_fields_config=str(crm_fields_config(
            tmp_path / "crm_fields.yaml", create_missing_contacts={"enabled": True})))
        crm = CrmResource(kind="hubspot", hubspot_access_token=TOKEN, hubspot_base_url=fake.base_url,
                          pls_crm_timeout_seconds="2")
        definitions = demo_definitions(settings, crm=crm, rules=rules)
        linked = pd.read_csv(settings.usage_path / "workspaces.csv", dtype=str)["crm_company_id"].dropna()
        doomed = sorted(set(linked))[:2]  # companies a workspace links to by id: surely in the sync's scope
        fake.reject_ids = set(doomed)  # a validation rule in the portal refuses these two, every time
        fake.set_fault_rate(0.20, kinds=FAULTS, seed=5, timeout_delay=3.0)

        with dg.DagsterInstance.ephemeral() as instance:
            first = run_all_days(settings, definitions, instance)
            created = table(settings, "buyers_missing_from_crm")["email"].str.lower()  # what run 1 had to create
            faults = {status: fake.responses[status] for status in (429, 500, 502, 503, 504)}
            assert faults[429] > 0 and faults[500] + faults[502] + faults[503] + faults[504] > 0, faults
            check = rejections_check(first, "crm_company_sync")
            assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
            assert check.metadata["records_refused"].value == 2, check.metadata["oldest"].value
            assert "VALIDATION_ERROR" in check.metadata["by_reason"].value

            # the next run holds the refused two back (with the reason) instead of sending them again
            sent_to_doomed = {i: fake.write_counts[("companies", i)] for i in doomed}
            second = run_all_days(settings, definitions, instance)
            assert {i: fake.write_counts[("companies", i)] for i in doomed} == sent_to_doomed

            fake.clear_faults()
            fake.reset_counters()
            third = run_all_days(settings, definitions, instance)
            assert fake.write_calls == 0  # converged: nothing left to write, nothing retried forever

        wh = Warehouse(settings.warehouse_url)
        client = HubSpotCrm(TOKEN, base_url=fake.base_url)
        try:
            log = wh.read_table(SYNC_LOG)
            refused = log[(log["run_id"] == first.run_id) & log["record_id"].isin(doomed)]
            assert set(refused["status"]) == {"rejected"} and refused["error"].str.contains("VALIDATION_ERROR").all()
            for run in (second, third):
                held = log[(log["run_id"] == run.run_id) & log["record_id"].isin(doomed)]
                assert set(held["status"]) == {"held"} and held["error"].str.contains("VALIDATION_ERROR").all()

            field_map = rules.crm_fields()
            for object_type in ("companies", "contacts"):
                plan = plan_sync(wh, client, field_map, object_type, reconcile=True)
                assert plan.updates == [], f"{object_type}: {plan.updates[:3]}"  # HubSpot holds our values
            assert set(plan_sync(wh, client, field_map, "companies").held) == set(doomed)

            # creates were upserts: timeouts and 5xx after HubSpot applied one never made a second contact
            emails = Counter(str(r["properties"].get("email")).lower() for r in fake.records("contacts"))
            assert max(emails.values()) == 1
            assert len(created) > 0 and all(emails[e] == 1 for e in created)
            assert len(fake.records("contacts")) == contacts_before + created.nunique()
        finally:
            client.close()
            dispose_all_engines()
