"""The whole pipeline against the Salesforce contract fake (TLS): demo loaded through the API, the pls_*__c
fields synced (contacts through Bulk API 2.0 above the threshold), and a second run that writes nothing."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from pls_pipelines.cli import generate_demo
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from tests.fakes.salesforce_fake import SalesforceFake
from tests.pipeline_helpers import demo_definitions, run_all_days

END = date(2026, 10, 31)
TOKEN = "00Dfake!salesforce-test-token"
BULK_THRESHOLD = "300"  # the demo's ~1,000 contacts go through a Bulk API 2.0 job, companies through Collections


@pytest.mark.slow
def test_salesforce_sync_end_to_end_and_a_rerun_that_writes_nothing(tmp_path, monkeypatch):
    with SalesforceFake(access_token=TOKEN) as fake:
        env = {"PLS_HOME": str(tmp_path), "PLS_CRM": "salesforce", "SALESFORCE_INSTANCE_URL": fake.instance_url,
               "SALESFORCE_ACCESS_TOKEN": TOKEN, "SALESFORCE_BULK_THRESHOLD": BULK_THRESHOLD,
               # the client checks the fake's certificate against the test CA, as it would a real one
               "REQUESTS_CA_BUNDLE": str(fake.ca_path)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        generate_demo(settings, 120, seed=5, days=30, end=END, crm_kind="salesforce")
        assert len(fake.records("Account")) > 50 and len(fake.records("Contact")) > 300
        definitions = demo_definitions(settings, crm=CrmResource(
            kind="salesforce", salesforce_instance_url=fake.instance_url, salesforce_access_token=TOKEN,
            salesforce_bulk_threshold=BULK_THRESHOLD,
        ))
        with dg.DagsterInstance.ephemeral() as instance:
            run_all_days(settings, definitions, instance)
            wh = Warehouse(settings.warehouse_url)
            routing = wh.read_table("account_routing")
            dispose_all_engines()
            companies = routing[routing["crm_company_id"].notna()]
            assert len(companies) > 50
            for row in companies.itertuples(index=False):
                account = fake.get("Account", row.crm_company_id)
                assert account["pls_pqa_tier__c"] == row.tier and account["pls_motion__c"] == row.motion
                assert float(account["pls_pqa_score__c"]) == float(row.score)
            assert sum(1 for c in fake.records("Contact") if c.get("pls_persona__c")) > 300
            assert fake.jobs  # the contacts went through Bulk API 2.0

            fake.requests.clear()
            run_all_days(settings, definitions, instance)
            assert fake.write_calls == 0
