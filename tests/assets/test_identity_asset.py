"""The account_map asset and its match-rate check on a real (DuckDB) warehouse."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pls_pipelines.assets.identity import MIN_WORKSPACE_MATCH_RATE, account_map, account_map_match_rate
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource, dispose_all_engines


@pytest.fixture
def warehouse_url(tmp_path) -> str:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    wh = Warehouse(url)
    wh.replace_table(
        "product_workspaces",
        pd.DataFrame({"workspace_id": ["w1", "w2", "w3", "w4"], "crm_company_id": [None, None, None, "c2"]}),
    )
    wh.replace_table(
        "product_users",
        pd.DataFrame(
            {
                "user_id": ["u1", "u2", "u3", "u4", "u5"],
                "workspace_id": ["w1", "w1", "w2", "w3", "w4"],
                "email": ["a@eng.acme.com", "b@gmail.com", "c@acme.de", "d@beta.io", "e@globex.com"],
            }
        ),
    )
    wh.replace_table(
        "crm_companies",
        pd.DataFrame(
            {"company_id": ["c1", "c2"], "domain": ["acme.com", "globex.com"], "additional_domains": ["acme.de", None]}
        ),
    )
    yield url
    dispose_all_engines()


def materialize(url: str, overrides: Path | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [account_map, account_map_match_rate],
        resources={
            "warehouse": WarehouseResource(url=url),
            "rules": RulesResource(identity_overrides=str(overrides) if overrides else None),
        },
    )


def check_result(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_account_map_reports_match_rates_and_the_check_passes(warehouse_url):
    result = materialize(warehouse_url)
    assert result.success
    metadata = result.asset_materializations_for_node("account_map")[0].metadata
    assert metadata["matched_by_email_domain"].value == 2  # w1 via the eng. subdomain, w2 via additional_domains
    assert metadata["matched_by_crm_id"].value == 1 and metadata["unmatched_workspaces"].value == 1
    assert metadata["workspace_match_rate"].value == 0.75 and metadata["user_match_rate"].value == 0.8
    assert "event_match_rate" not in metadata  # no user_daily_activity yet
    assert metadata["consolidation_accounts"].value == 1
    evaluation = check_result(result)
    assert evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    table = Warehouse(warehouse_url).read_table("account_map").set_index("workspace_id")
    assert table.loc["w1", "account_id"] == "c1" and table.loc["w3", "account_id"] == "ws:w3"


def test_event_match_rate_comes_from_user_daily_activity_when_it_exists(warehouse_url):
    Warehouse(warehouse_url).replace_table(
        "user_daily_activity",
        pd.DataFrame({"workspace_id": ["w1", "w3", "w3"], "user_id": ["u1", "u4", "u4"], "events": [30, 5, 5]}),
    )
    result = materialize(warehouse_url)
    metadata = result.asset_materializations_for_node("account_map")[0].metadata
    assert metadata["event_match_rate"].value == 0.75
    assert check_result(result).metadata["event_match_rate"].value == 0.75


def test_the_check_warns_below_the_threshold_and_overrides_apply(warehouse_url, tmp_path):
    Warehouse(warehouse_url).replace_table(
        "crm_companies", pd.DataFrame({"company_id": ["c9"], "domain": ["nobody.org"]})
    )
    result = materialize(warehouse_url)
    evaluation = check_result(result)
    assert result.success  # a warning, not a failed run
    assert not evaluation.passed and evaluation.metadata["workspace_match_rate"].value < MIN_WORKSPACE_MATCH_RATE

    overrides = tmp_path / "overrides.csv"
    overrides.write_text("workspace_id,domain,crm_company_id\nw1,,c9\n,beta.io,c9\n,acme.com,c9\n")
    result = materialize(warehouse_url, overrides)
    metadata = result.asset_materializations_for_node("account_map")[0].metadata
    assert metadata["matched_by_override"].value == 1 and metadata["matched_by_override_domain"].value == 1
    assert metadata["overrides_rows"].value == 3 and metadata["overrides_unused"].value == 1
    assert check_result(result).passed


def test_an_override_naming_an_unknown_company_fails_the_asset_with_the_file_and_line(warehouse_url, tmp_path):
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("overrides:\n  - workspace_id: w1\n    crm_company_id: c404\n")
    with pytest.raises(Exception, match=r"overrides\.yaml, line 2: overrides\[0\]\.crm_company_id: 'c404'"):
        materialize(warehouse_url, overrides)


def test_the_check_is_registered_non_blocking_and_the_env_var_is_wired(monkeypatch):
    from pls_pipelines.definitions import build_resources, defs
    from pls_pipelines.settings import ENV_VARS, load_settings

    specs = {c.name: c for a in defs.resolve_asset_graph().assets_defs for c in a.check_specs}
    assert specs["account_map_match_rate"].asset_key == dg.AssetKey("account_map")
    assert not specs["account_map_match_rate"].blocking
    assert "PLS_IDENTITY_OVERRIDES" in ENV_VARS
    monkeypatch.setenv("PLS_IDENTITY_OVERRIDES", "/srv/revops/overrides.csv")
    assert load_settings().identity_overrides == Path("/srv/revops/overrides.csv")
    rules = build_resources()["rules"]
    assert isinstance(rules.identity_overrides, dg.EnvVar) and rules.identity_overrides.env_var_name == (
        "PLS_IDENTITY_OVERRIDES"
    )
    monkeypatch.delenv("PLS_IDENTITY_OVERRIDES")
    assert build_resources()["rules"].identity_overrides is None
