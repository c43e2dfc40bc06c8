"""`pls sync --dry-run` and `--approve` on a warehouse and embedded CRM set up by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from pls_pipelines.cli import main
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from pls_pipelines.sync_engine import SYNC_LOG, guard_verdict, plan_sync, run_sync

N = 30


def routing_table(tiers: list[str]) -> pd.DataFrame:
    ids = [f"c{i:02d}" for i in range(N)]
    return pd.DataFrame({
        "crm_company_id": ids, "score": [50] * N, "tier": tiers, "is_pqa": False, "motion": "self_serve",
        "motion_reason": "r", "reasons": "x", "recommended_contacts": None, "active_users_28d": 3,
        "segment": "smb", "model_version": "v1", "as_of_date": "2026-12-01",
    })


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PLS_HOME", str(tmp_path))
    for name in ("PLS_WAREHOUSE_URL", "PLS_CRM", "PLS_LOCAL_CRM_URL", "PLS_CRM_FIELDS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    crm = LocalCrm(settings.local_crm_url)
    companies = pd.DataFrame({
        "company_id": [f"c{i:02d}" for i in range(N)], "name": "Co", "domain": [f"co{i}.com" for i in range(N)],
        "industry": None, "employee_count": 10, "country": "US", "owner_id": None, "lifecycle_stage": "lead",
        "created_at": "2026-01-01",
    })
    crm.seed(pd.DataFrame(columns=["owner_id", "name", "email", "team"]), companies,
             pd.DataFrame(columns=["contact_id", "company_id", "email", "first_name", "last_name", "title",
                                   "created_at"]),
             pd.DataFrame(columns=["deal_id", "company_id", "name", "stage", "amount", "deal_type", "created_at",
                                   "close_date"]))
    wh = Warehouse(settings.warehouse_url)
    wh.replace_table("account_routing", routing_table(["self_serve"] * N))
    from pls_pipelines.resources.rules import RulesResource

    fields = RulesResource().crm_fields()
    run_sync(wh, crm, fields, plan_sync(wh, crm, fields, "companies"), run_id="r1", log=lambda line: None)
    yield settings, wh, crm, fields
    crm.close()
    dispose_all_engines()


def test_dry_run_shows_before_and_after_and_writes_nothing(home):
    settings, wh, crm, _ = home
    wh.replace_table("account_routing", routing_table(["sales"] + ["self_serve"] * (N - 1)))
    log_rows = len(wh.read_table(SYNC_LOG))
    dispose_all_engines()
    result = CliRunner().invoke(main, ["sync", "--dry-run", "--object", "companies"])
    assert result.exit_code == 0, result.output
    assert "1 to update" in result.output and "pls_pqa_tier" in result.output
    assert "self_serve" in result.output and "sales" in result.output and "nothing was written" in result.output
    assert crm.read_properties("companies", ["c00"]).set_index("name")["value"]["pls_pqa_tier"] == "self_serve"
    assert len(Warehouse(settings.warehouse_url).read_table(SYNC_LOG)) == log_rows


def test_a_stopped_sync_is_approved_once_for_exactly_that_change(home):
    settings, wh, _, fields = home
    wh.replace_table("account_routing", routing_table(["sales"] * 10 + ["self_serve"] * (N - 10)))  # 33%
    assert not guard_verdict(wh, fields).passed
    dispose_all_engines()
    preview = CliRunner().invoke(main, ["sync", "--dry-run", "--object", "companies"])
    assert "change the tier of 10 of 30" in preview.output and "pls sync --approve" in preview.output
    approved = CliRunner().invoke(main, ["sync", "--approve"])
    assert approved.exit_code == 0 and "Approved change-" in approved.output
    assert guard_verdict(Warehouse(settings.warehouse_url), fields).passed
    again = CliRunner().invoke(main, ["sync", "--approve"])
    assert "Already approved" in again.output
