"""The whole pipeline against the HubSpot contract fake: demo data loaded through the API, every pls_* field
synced, a second run that writes nothing, and a run under 10% injected faults where every record ends synced
or logged as rejected with the CRM's reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pls_pipelines.cli import generate_demo
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from tests.fakes.hubspot_fake import HubSpotFake
from tests.pipeline_helpers import demo_definitions, run_all_days

END = date(2026, 10, 31)
ACCOUNTS = 120
TOKEN = "pat-test-hubspot-token"
TIMEOUT = "2"  # the fake holds "timed out" responses for 3 s: longer than the client waits


def pipeline(home: Path, fake: HubSpotFake, monkeypatch) -> tuple:
    for name, value in {"PLS_HOME": str(home), "PLS_CRM": "hubspot", "HUBSPOT_ACCESS_TOKEN": TOKEN,
                        "HUBSPOT_BASE_URL": fake.base_url, "PLS_CRM_TIMEOUT_SECONDS": TIMEOUT}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    generate_demo(settings, ACCOUNTS, seed=5, days=30, end=END, crm_kind="hubspot")
    crm = CrmResource(kind="hubspot", hubspot_access_token=TOKEN, hubspot_base_url=fake.base_url,
                      pls_crm_timeout_seconds=TIMEOUT)
    return settings, demo_definitions(settings, crm=crm)




def table(settings, name: str) -> pd.DataFrame:
    wh = Warehouse(settings.warehouse_url)
    try:
        return wh.read_table(name)
    finally:
        dispose_all_engines()


def crm_values(fake: HubSpotFake, object_type: str) -> dict[str, dict[str, str]]:
    return {r["id"]: r["properties"] for r in fake.records(object_type)}


def expected_companies(settings) -> pd.DataFrame:
    routing = table(settings, "account_routing")
    return routing[routing["crm_company_id"].notna()]


@pytest.mark.slow
def test_demo_through_the_api_then_sync_then_a_rerun_that_writes_nothing(tmp_path, monkeypatch):
    with HubSpotFake(token=TOKEN, rate_limit=(190, 10.0)) as fake:
        settings, definitions = pipeline(tmp_path, fake, monkeypatch)
        assert len(fake.records("companies")) > 0 and len(fake.records("contacts")) > 0
        with dg.DagsterInstance.ephemeral() as instance:
            run_all_days(settings, definitions, instance)
            companies = expected_companies(settings)
            assert len(companies) > 50  # identity matched workspaces to HubSpot's own company ids
            held = crm_values(fake, "companies")
            for row in companies.itertuples(index=False):
                values = held[row.crm_company_id]
                assert values["pls_pqa_score"] == str(int(row.score))
                assert values["pls_pqa_tier"] == row.tier and values["pls_motion"] == row.motion
            contacts = crm_values(fake, "contacts")
            assert sum(1 for v in contacts.values() if v.get("pls_persona")) > 100
            definitions_seen = fake.property_definitions("companies")
            assert "account_routing" in definitions_seen["pls_pqa_score"]["description"]
            assert fake.rate_limited == 0

            fake.reset_counters()
            second = run_all_days(settings, definitions, instance)
            assert fake.write_calls == 0  # nothing changed: not one write call
            log = table(settings, "crm_sync_log")
            assert set(log.loc[log["run_id"] == second.run_id, "status"]) == {"unchanged"}
            read = second.asset_materializations_for_node("crm_companies")[0].metadata
            assert read["read_mode"].value == "incremental"

            # a seller renames a company in HubSpot: the next run reads just that record (without the reads'
            # safety overlap, which in a test minutes long would also re-read the first run's own writes)
            from datetime import timedelta

            from pls_pipelines.assets import ingest

            monkeypatch.setattr(ingest, "READ_OVERLAP", timedelta(0))
            renamed = companies["crm_company_id"].iloc[0]
            fake.set_property("companies", renamed, "name", "Renamed In HubSpot")
            third = run_all_days(settings, definitions, instance)
            read = third.asset_materializations_for_node("crm_companies")[0].metadata
            assert read["read_mode"].value == "incremental" and read["records_read"].value == 1
            held_companies = table(settings, "crm_companies").set_index("company_id")
            assert held_companies.loc[renamed, "name"] == "Renamed In HubSpot"
            assert len(held_companies) == len(fake.records("companies"))


@pytest.mark.slow
def test_under_ten_percent_faults_every_record_ends_synced_or_rejected_with_a_reason(tmp_path, monkeypatch):
    with HubSpotFake(token=TOKEN, rate_limit=(190, 10.0)) as fake:
        settings, definitions = pipeline(tmp_path, fake, monkeypatch)
        doomed = sorted(r["id"] for r in fake.records("companies"))[:2]
        fake.reject_ids = set(doomed)  # the CRM refuses these two (a validation rule in the portal)
        fake.set_fault_rate(0.10, seed=3, timeout_delay=3.0)
        with dg.DagsterInstance.ephemeral() as instance:
            result = run_all_days(settings, definitions, instance)
        assert fake.responses[429] + fake.responses[502] + fake.responses[503] + fake.responses[504] > 0
        held = crm_values(fake, "companies")
        log = table(settings, "crm_sync_log")
        log = log[(log["run_id"] == result.run_id) & (log["object_type"] == "companies")]
        status = dict(zip(log["record_id"], log["status"], strict=True))
        companies = expected_companies(settings)
        for row in companies.itertuples(index=False):
            synced = held.get(row.crm_company_id, {}).get("pls_pqa_score") == str(int(row.score))
            if row.crm_company_id in doomed:
                assert status[row.crm_company_id] == "rejected" and not synced
            else:
                assert synced and status[row.crm_company_id] == "sent", row.crm_company_id
        reasons = log.loc[log["status"] == "rejected", "error"]
        assert len(reasons) == 2 and reasons.str.contains("VALIDATION_ERROR").all()
        assert max(fake.write_counts[("companies", i)] for i in held) >= 1


def test_demo_data_refuses_a_crm_with_records_and_loads_again_without_duplicates(tmp_path, monkeypatch):
    from pls_pipelines.lib.errors import ConfigError

    with HubSpotFake(token=TOKEN, rate_limit=(190, 10.0)) as fake:
        for name, value in {"PLS_HOME": str(tmp_path), "PLS_CRM": "hubspot", "HUBSPOT_ACCESS_TOKEN": TOKEN,
                            "HUBSPOT_BASE_URL": fake.base_url}.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        generate_demo(settings, 40, seed=2, days=7, end=END, crm_kind="hubspot")
        counts = {t: len(fake.records(t)) for t in ("companies", "contacts", "deals")}
        assert all(counts.values())
        with pytest.raises(ConfigError, match=r"already holds records.*--allow-nonempty"):
            generate_demo(settings, 40, seed=2, days=7, end=END, crm_kind="hubspot")
        generate_demo(settings, 40, seed=2, days=7, end=END, crm_kind="hubspot", allow_nonempty=True)
        assert {t: len(fake.records(t)) for t in counts} == counts  # upserts by domain/email: no duplicates
        workspaces = pd.read_csv(settings.usage_path / "workspaces.csv", dtype=str)
        linked = workspaces["crm_company_id"].dropna()
        assert len(linked) > 0 and set(linked) <= {r["id"] for r in fake.records("companies")}


@pytest.mark.slow
def test_no_token_or_raw_email_in_the_event_log_of_a_full_run(tmp_path, monkeypatch):
    """Secrets only through the environment, emails masked: nothing a run records may hold either."""
    from tests.secret_scan import assert_clean, event_log_text

    with HubSpotFake(token=TOKEN, rate_limit=(190, 10.0)) as fake:
        settings, definitions = pipeline(tmp_path, fake, monkeypatch)
        fake.fail_next(2, status=401)  # an auth error on the way: its text must not carry the token either
        with dg.DagsterInstance.ephemeral() as instance:
            result = run_all_days(settings, definitions, instance)
            text = event_log_text(instance, result.run_id)
    assert "***@" in text  # the previews that would show emails are in the scanned text, masked
    emails = set(table(settings, "product_users")["email"].dropna())
    assert_clean("the event log", text, {"HUBSPOT_ACCESS_TOKEN": TOKEN}, emails)
