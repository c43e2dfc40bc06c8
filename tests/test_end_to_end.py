"""The whole pipeline on small demo data: embedded DuckDB + local CRM, and PostgreSQL as the warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pls_pipelines.cli import generate_demo
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from tests.pipeline_helpers import demo_definitions, landing_days, run_all_days

END = date(2026, 10, 31)
ACCOUNTS = 160


def make_home(home: Path, warehouse_url: str | None = None):
    env = {"PLS_HOME": str(home)}
    if warehouse_url:
        env["PLS_WAREHOUSE_URL"] = warehouse_url
    settings = load_settings(env)
    generate_demo(settings, ACCOUNTS, seed=11, days=35, end=END)
    return settings, demo_definitions(settings)




def sync_writes(settings, run_id) -> int:
    wh = Warehouse(settings.warehouse_url)
    try:
        return int(wh.scalar(
            "SELECT COUNT(*) FROM crm_sync_log WHERE run_id = :r AND status IN ('sent', 'created')", {"r": run_id}
        ))
    finally:
        dispose_all_engines()


def read(settings, table) -> pd.DataFrame:
    wh = Warehouse(settings.warehouse_url)
    try:
        return wh.read_table(table)
    finally:
        dispose_all_engines()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    home = tmp_path_factory.mktemp("pls_home")
    settings, definitions = make_home(home)
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_all_days(settings, definitions, instance)
        second = run_all_days(settings, definitions, instance)
    return settings, first, second


@pytest.mark.slow
def test_every_stage_produces_real_output(embedded):
    settings, _, _ = embedded
    scores = read(settings, "pqa_scores")
    routing = read(settings, "account_routing")
    assert scores["score"].between(1, 100).all()
    assert set(routing["motion"]) <= {"sales", "success", "abm", "self_serve", "expansion", "churn_risk"}
    assert routing["account_id"].is_unique
    assert {"sales", "self_serve"} <= set(routing["tier"].dropna())
    assert (routing["is_customer"] & routing["motion"].isin(["expansion", "churn_risk"])).any()
    buyers = read(settings, "buyer_candidates")
    assert {"economic_buyer", "champion"} <= set(buyers["persona"])
    assert not buyers.loc[buyers["is_free_mail"], "is_buyer"].any()


@pytest.mark.slow
def test_every_account_routed_to_sales_names_a_buyer_contact(embedded):
    settings, first, _ = embedded
    routing = read(settings, "account_routing")
    sales = routing[routing["motion"] == "sales"]
    assert len(sales) > 0 and sales["is_pqa"].all()
    assert sales["economic_buyer_name"].notna().all()
    assert sales["recommended_contacts"].str.contains("buyer").all()
    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert checks["sales_accounts_name_a_buyer"].passed
    # the buyers the product knows and the CRM does not are listed (creating them is off by default)
    missing = read(settings, "buyers_missing_from_crm")
    assert len(missing) > 0 and missing["email"].str.contains("@").all()
    assert not missing["person_id"].isin(read(settings, "crm_contacts")["contact_id"]).any()


@pytest.mark.slow
def test_score_history_has_a_snapshot_per_day_and_validation_ran(embedded):
    settings, first, _ = embedded
    history = read(settings, "pqa_score_history")
    days = landing_days(settings)
    assert sorted(set(history["snapshot_date"].astype(str))) == [str(d) for d in days]
    assert not history.duplicated(["snapshot_date", "account_id", "model"]).any()
    last = history[history["snapshot_date"].astype(str) == str(days[-1])]
    scores = read(settings, "pqa_scores")
    merged = last.merge(scores, on=["account_id", "model"], suffixes=("_history", ""))
    assert len(merged) == len(scores)  # the newest snapshot is today's scores
    assert (merged["score_history"] == merged["score"]).all()
    components = read(settings, "pqa_score_components")
    # the contributions add up to the score (before rounding to whole points and keeping it within 1-100)
    totals = components.groupby(["account_id", "model"])["contribution"].sum().clip(1, 100)
    keys = pd.MultiIndex.from_frame(scores[["account_id", "model"]])
    assert (abs(totals.reindex(keys).to_numpy() - scores["score"].to_numpy()) <= 0.55).all()
    validation = read(settings, "score_validation")
    assert set(validation["kind"]) >= {"score", "tier", "signal"}
    assert first.asset_materializations_for_node("score_validation")


@pytest.mark.slow
def test_malformed_events_are_quarantined_and_counted(embedded):
    settings, first, _ = embedded
    rejected = read(settings, "usage_events_rejected")
    assert len(rejected) > 0 and rejected["reason"].notna().all()
    materializations = first.asset_materializations_for_node("usage_events")
    metadata = materializations[0].metadata
    assert metadata["rejected"].value == len(rejected)
    assert metadata["rows_read"].value == metadata["accepted"].value + metadata["rejected"].value


@pytest.mark.slow
def test_crm_gets_pls_fields_and_a_rerun_writes_nothing(embedded):
    settings, first, second = embedded
    assert sync_writes(settings, first.run_id) > 0
    assert sync_writes(settings, second.run_id) == 0
    routing = read(settings, "account_routing")
    top = routing[routing["crm_company_id"].notna()].sort_values("score", ascending=False).iloc[0]
    crm = LocalCrm(settings.local_crm_url)
    try:
        props = crm.read_properties("companies", [top["crm_company_id"]]).set_index("name")["value"]
    finally:
        crm.close()
    assert props["pls_pqa_score"] == str(int(top["score"]))
    assert props["pls_motion"] == top["motion"]
    assert props["pls_score_reasons"]


@pytest.mark.slow
def test_same_demo_data_gives_the_same_scores(embedded, tmp_path):
    settings, _, _ = embedded
    other, definitions = make_home(tmp_path / "again")
    with dg.DagsterInstance.ephemeral() as instance:
        run_all_days(other, definitions, instance)
    columns = ["account_id", "model", "score", "tier", "reasons"]
    a = read(settings, "pqa_scores")[columns].sort_values(columns[:2]).reset_index(drop=True)
    b = read(other, "pqa_scores")[columns].sort_values(columns[:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
@pytest.mark.postgres
def test_whole_pipeline_on_postgres_matches_duckdb(postgres_url, embedded, tmp_path):
    settings, definitions = make_home(tmp_path / "pg", warehouse_url=postgres_url)
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_all_days(settings, definitions, instance)
        second = run_all_days(settings, definitions, instance)
    routing = read(settings, "account_routing")
    assert len(routing) > 0 and routing["account_id"].is_unique
    assert sync_writes(settings, first.run_id) > 0
    assert sync_writes(settings, second.run_id) == 0

    # Same demo data, same SQL, two warehouses: the ingest verdicts and the rollups must be identical.
    duck_settings, _, _ = embedded
    for table, key in (
        ("usage_events_rejected", ["event_date", "source_file", "line_number"]),
        ("user_daily_activity", ["activity_date", "workspace_id", "user_id"]),
        ("account_usage_rollup", ["account_id"]),
    ):
        on_postgres = read(settings, table).sort_values(key).reset_index(drop=True)
        on_duckdb = read(duck_settings, table).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(on_postgres, on_duckdb, check_dtype=False, obj=table)
    assert read(settings, "usage_events")["event_id"].sort_values().tolist() == (
        read(duck_settings, "usage_events")["event_id"].sort_values().tolist()
    )


@pytest.mark.slow
def test_summary_shows_counts_per_motion_and_buyers(embedded):
    from rich.console import Console

    from pls_pipelines.summary import print_run_summary

    settings, first, _ = embedded
    console = Console(record=True, width=200)
    print_run_summary(settings, first.run_id, 12.0, console=console)
    text = console.export_text()
    motions = read(settings, "account_routing")["motion"].value_counts()
    line = next(row for row in text.splitlines() if row.startswith("Motions: "))
    for motion, count in motions.items():
        assert f"{motion} {count:,}" in line
    assert "Buyers: " in text and "buyers not yet CRM contacts" in text
    assert "Top 10 product-qualified accounts" in text
    assert settings.report_path.exists() and f"Report: {settings.report_path.resolve().as_uri()}" in text


@pytest.mark.slow
def test_a_rescoring_that_moves_many_tiers_is_stopped_until_approved(tmp_path, monkeypatch):
    """A scoring change gone wrong (tiers lowered to 30/10) must not reach sellers unreviewed."""
    from pls_pipelines.lib.rules_config import shipped_config
    from pls_pipelines.sync_engine import approve, guard_verdict

    settings, _ = make_home(tmp_path)
    text = shipped_config("scoring_models.yaml").read_text(encoding="utf-8")
    lowered = text.replace("      - {name: sales, min_score: 80}\n      - {name: success, min_score: 60}",
                           "      - {name: sales, min_score: 30}\n      - {name: success, min_score: 10}", 1)
    assert lowered != text
    scoring = tmp_path / "scoring.yaml"
    scoring.write_text(lowered, encoding="utf-8")

    def definitions(scoring_config=None):
        return demo_definitions(settings, rules=RulesResource(scoring_config=scoring_config))

    with dg.DagsterInstance.ephemeral() as instance:
        run_all_days(settings, definitions(), instance)
        crm = LocalCrm(settings.local_crm_url)
        before = crm.read_properties("companies").query("name == 'pls_pqa_tier'")
        crm.close()

        stopped = run_all_days(settings, definitions(str(scoring)), instance, expect_success=False)
        guard = {e.check_name: e for e in stopped.get_asset_check_evaluations()}["crm_sync_guard"]
        assert not guard.passed and "pls sync --approve" in guard.description
        assert not stopped.asset_materializations_for_node("crm_company_sync")  # the write never ran
        # stopped by the blocking check (its step fails, so the sync step never starts), not by anything else
        failed_steps = {e.step_key for e in stopped.all_events if e.is_step_failure}
        assert failed_steps == {"account_routing_crm_sync_guard"}
        crm = LocalCrm(settings.local_crm_url)
        unchanged = crm.read_properties("companies").query("name == 'pls_pqa_tier'")
        crm.close()
        assert unchanged.equals(before)

        from pls_pipelines.resources.rules import RulesResource as Rules

        wh = Warehouse(settings.warehouse_url)
        approve(wh, guard_verdict(wh, Rules().crm_fields()))
        dispose_all_engines()
        approved = run_all_days(settings, definitions(str(scoring)), instance)
        assert approved.asset_materializations_for_node("crm_company_sync")
        assert sync_writes(settings, approved.run_id) > 0


@pytest.mark.slow
def test_declared_column_schemas_match_the_tables_written(embedded):
    from pls_pipelines.assets.schemas import CATALOG_COLUMN_PREFIXES, declared_columns

    settings, _, _ = embedded
    wh = Warehouse(settings.warehouse_url)
    try:
        for asset in ("usage_events", "product_users", "product_workspaces", "crm_companies", "crm_contacts",
                      "crm_deals", "account_map", "user_daily_activity", "account_usage_rollup", "pqa_scores",
                      "pqa_score_components", "pqa_score_history", "buyer_candidates", "account_buyers",
                      "buyers_missing_from_crm", "account_routing", "score_validation", "pls_metrics"):
            written = [c for c in wh.read_sql(f'SELECT * FROM "{asset}" LIMIT 1').columns
                       if not c.startswith(CATALOG_COLUMN_PREFIXES)]
            assert written == declared_columns(asset), asset
        log = wh.read_sql("SELECT * FROM crm_sync_log LIMIT 1").columns.tolist()
        assert log == declared_columns("crm_company_sync")
    finally:
        dispose_all_engines()


@pytest.mark.slow
def test_data_checks_pass_on_the_demo(embedded):
    _, _, second = embedded
    results = {e.check_name: e.passed for e in second.get_asset_check_evaluations()}
    for name in ("account_map_keys", "account_usage_rollup_keys", "pqa_scores_tiers_consistent",
                 "buyer_candidates_valid", "buyers_missing_from_crm_valid", "account_routing_row_count_change"):
        assert results.get(name) is True, name
