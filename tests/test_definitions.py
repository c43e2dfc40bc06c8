"""The code location loads and has the names users and schedules depend on."""

import dagster as dg
import pytest

from pls_pipelines.definitions import defs

EXPECTED_GROUPS = {
    "usage_events": "ingest",
    "product_users": "ingest",
    "product_workspaces": "ingest",
    "crm_companies": "ingest",
    "crm_contacts": "ingest",
    "crm_deals": "ingest",
    "account_map": "identity",
    "user_daily_activity": "rollups",
    "account_usage_rollup": "rollups",
    "pqa_scores": "scoring",
    "pqa_score_components": "scoring",
    "pqa_score_history": "scoring",
    "score_validation": "metrics",
    "buyer_candidates": "buyers",
    "account_buyers": "buyers",
    "buyers_missing_from_crm": "buyers",
    "pls_metrics": "metrics",
    "account_routing": "routing",
    "crm_company_sync": "crm_sync",
    "crm_contact_sync": "crm_sync",
    "pls_report": "metrics",
}


def test_assets_groups_and_owners():
    graph = defs.resolve_asset_graph()
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == set(EXPECTED_GROUPS)
    assert {key: spec.group_name for key, spec in specs.items()} == EXPECTED_GROUPS
    for key, spec in specs.items():
        assert spec.owners, f"{key} has no owner"
        assert spec.kinds, f"{key} has no kinds"
        assert spec.description and len(spec.description) > 80, f"{key} needs a business description"
    assert graph.get(dg.AssetKey("usage_events")).partitions_def is not None
    assert graph.get(dg.AssetKey("user_daily_activity")).partitions_def is not None
    assert graph.get(dg.AssetKey("pqa_score_history")).partitions_def is not None  # one snapshot per day


def test_lineage_runs_from_ingest_to_the_crm():
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("crm_company_sync")).parent_keys
    assert dg.AssetKey("account_routing") in upstream
    ancestors = graph.upstream_key_iterator(dg.AssetKey("crm_company_sync"))
    assert dg.AssetKey("usage_events") in set(ancestors)


def test_freshness_policies_on_ingest_scoring_and_sync():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for key in ("usage_events", "crm_companies", "pqa_scores", "account_routing", "crm_company_sync"):
        assert specs[key].freshness_policy is not None, key


def test_job_schedule_and_blocking_checks():
    job = defs.resolve_job_def("pls_daily_job")
    assert job.partitions_def is not None
    schedule = defs.resolve_schedule_def("pls_daily_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "pls_daily_job"
    checks = {key.name: key for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"pqa_scores_valid", "account_routing_valid"} <= set(checks)
    check_specs = {c.name: c for a in defs.resolve_asset_graph().assets_defs for c in a.check_specs}
    assert check_specs["pqa_scores_valid"].blocking and check_specs["account_routing_valid"].blocking
    # the guard in front of the CRM write sits on the table the sync writes from, and blocks
    assert check_specs["crm_sync_guard"].blocking
    assert check_specs["crm_sync_guard"].asset_key == dg.AssetKey("account_routing")
    assert not check_specs["sales_accounts_name_a_buyer"].blocking


@pytest.mark.parametrize(
    ("variable", "field"),
    [("PLS_PERSONAS_CONFIG", "personas_config"), ("PLS_ROUTING_CONFIG", "routing_config"),
     ("PLS_CRM_FIELDS_CONFIG", "crm_fields_config"), ("PLS_SCORING_CONFIG", "scoring_config")],
)
def test_each_rule_file_can_be_replaced_by_an_environment_variable(monkeypatch, variable, field):
    from pls_pipelines.definitions import build_resources
    from pls_pipelines.settings import ENV_VARS

    assert variable in ENV_VARS
    monkeypatch.setenv(variable, "/srv/revops/rules.yaml")
    value = getattr(build_resources()["rules"], field)
    assert isinstance(value, dg.EnvVar) and value.env_var_name == variable
    monkeypatch.delenv(variable)
    assert getattr(build_resources()["rules"], field) is None


def test_crm_secrets_reach_dagster_only_as_environment_variable_names(monkeypatch):
    from pls_pipelines.definitions import build_resources

    monkeypatch.setenv("PLS_CRM", "hubspot")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-secret-value")
    crm = build_resources()["crm"]
    assert isinstance(crm.hubspot_access_token, dg.EnvVar)
    assert crm.hubspot_access_token.env_var_name == "HUBSPOT_ACCESS_TOKEN"
    assert "pat-na1-secret-value" not in repr(crm)


def test_a_hosted_crm_without_credentials_names_the_variables(monkeypatch):
    from pls_pipelines.lib.errors import ConfigError
    from pls_pipelines.resources.crm import build_crm_client

    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        build_crm_client("hubspot", "sqlite://", {})
    with pytest.raises(ConfigError, match="SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN"):
        build_crm_client("salesforce", "sqlite://", {})
