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
    # the systems outside: product and CRM sources, and the CRM fields the sync writes
    "product/events": "sources",
    "product/users": "sources",
    "product/workspaces": "sources",
    "crm/companies": "sources",
    "crm/contacts": "sources",
    "crm/deals": "sources",
    "crm/companies_pls_fields": "crm_fields",
    "crm/contacts_pls_fields": "crm_fields",
}
EXTERNAL = {key for key, group in EXPECTED_GROUPS.items() if group in ("sources", "crm_fields")}


def test_assets_groups_and_owners():
    graph = defs.resolve_asset_graph()
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == set(EXPECTED_GROUPS)
    assert {key: spec.group_name for key, spec in specs.items()} == EXPECTED_GROUPS
    for key, spec in specs.items():
        assert spec.owners, f"{key} has no owner"
        assert spec.kinds, f"{key} has no kinds"
        assert spec.description and len(spec.description) > 50, f"{key} needs a business description"
        if key not in EXTERNAL:  # every table the pipeline writes declares its columns
            schema = spec.metadata.get("dagster/column_schema")
            assert isinstance(schema, dg.TableSchema) and len(schema.columns) >= 5, f"{key} has no column schema"
    assert graph.get(dg.AssetKey("usage_events")).partitions_def is not None
    assert graph.get(dg.AssetKey("user_daily_activity")).partitions_def is not None
    assert graph.get(dg.AssetKey("pqa_score_history")).partitions_def is not None  # one snapshot per day


def test_lineage_runs_from_the_product_source_to_the_crm_fields():
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("crm_company_sync")).parent_keys
    assert dg.AssetKey("account_routing") in upstream
    for sink in ("companies_pls_fields", "contacts_pls_fields"):
        ancestors = set(graph.upstream_key_iterator(dg.AssetKey(["crm", sink])))
        assert {dg.AssetKey(["product", "events"]), dg.AssetKey("usage_events"), dg.AssetKey(["crm", "companies"]),
                dg.AssetKey("pqa_scores")} <= ancestors, sink


def test_groups_form_a_chain_without_loops():
    """The UI lays groups out top to bottom only when no group feeds back into an earlier one."""
    graph = defs.resolve_asset_graph()
    edges = {(graph.get(parent).group_name, node.group_name) for node in graph.asset_nodes
             for parent in node.parent_keys if graph.get(parent).group_name != node.group_name}
    order: list[str] = []
    remaining = {g for edge in edges for g in edge}
    while remaining:
        roots = sorted(g for g in remaining if not any(a in remaining and b == g for a, b in edges))
        assert roots, f"the groups loop: {sorted(e for e in edges if set(e) <= remaining)}"
        order += roots
        remaining -= set(roots)
    assert order[0] == "sources" and order[-1] == "crm_fields"


def test_every_table_the_crm_sync_writes_from_has_a_blocking_check():
    graph = defs.resolve_asset_graph()
    blocking = {spec.asset_key for a in graph.assets_defs for spec in a.check_specs if spec.blocking}
    for sync in ("crm_company_sync", "crm_contact_sync"):
        sources = {k for k in graph.get(dg.AssetKey(sync)).parent_keys if not k.to_user_string().startswith("crm_")}
        assert sources, sync
        unguarded = sorted(k.to_user_string() for k in sources - blocking)
        assert not unguarded, f"{sync} reads {unguarded} without a blocking check"
    # and further up: the scores the routing comes from
    assert dg.AssetKey("pqa_scores") in blocking and dg.AssetKey("account_usage_rollup") in blocking


def test_data_and_freshness_checks_are_defined():
    graph = defs.resolve_asset_graph()
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    for expected in [("account_map", "account_map_keys"), ("pqa_scores", "pqa_scores_tiers_consistent"),
                     ("usage_events", "usage_events_reject_rate"), ("account_map", "account_map_match_rate"),
                     ("account_routing", "account_routing_row_count_change"),
                     ("usage_events", "usage_events_source_fresh"), ("usage_events", "freshness_check"),
                     ("user_daily_activity", "freshness_check"), ("pqa_score_history", "freshness_check")]:
        assert expected in checks, expected
    assert defs.resolve_sensor_def("freshness_checks_sensor") is not None


def test_freshness_policies_on_ingest_scoring_and_sync():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for key in ("usage_events", "crm_companies", "pqa_scores", "account_routing", "crm_company_sync"):
        assert specs[key].freshness_policy is not None, key
    policy = specs["usage_events"].freshness_policy
    assert policy.fail_window.to_timedelta().total_seconds() == 26 * 3600


def test_freshness_windows_are_configurable(monkeypatch):
    from pls_pipelines.lib.errors import ConfigError
    from pls_pipelines.settings import freshness_hours

    assert freshness_hours("sync", {}) == 26
    assert freshness_hours("sync", {"PLS_FRESHNESS_SYNC_HOURS": "50"}) == 50
    with pytest.raises(ConfigError, match="PLS_FRESHNESS_SCORES_HOURS='soon' is not a number"):
        freshness_hours("scores", {"PLS_FRESHNESS_SCORES_HOURS": "soon"})


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
