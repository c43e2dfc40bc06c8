"""Data-sales fit on the real demo data: the score predicts who buys, and a shuffled outcome shows no lift.

This is the acceptance test of the backtest: it needs the demo at its `make run` size (2,000 workspaces over
90 days), so only the assets the backtest reads are materialised (ingest, identity, user-days, scores).
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import numpy as np
import pytest
from click.testing import CliRunner

from pls_pipelines.assets.validation import OUTCOME, validation_sample
from pls_pipelines.cli import DEFAULT_ACCOUNTS, DEFAULT_SEED, generate_demo, main, run_daily_job
from pls_pipelines.definitions import all_assets, all_checks
from pls_pipelines.lib.validation import backtest
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.report import ReportResource
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.usage_source import UsageSourceResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource, dispose_all_engines
from pls_pipelines.settings import load_settings

END = date(2026, 11, 30)
DAYS = 90


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("pls_demo")
    settings = load_settings({"PLS_HOME": str(home)})
    generate_demo(settings, DEFAULT_ACCOUNTS, DEFAULT_SEED, DAYS, END)
    inputs = dg.define_asset_job(
        "backtest_inputs",
        selection=(
            dg.AssetSelection.assets("user_daily_activity", "pqa_scores").upstream().required_multi_asset_neighbors()
        ),
        executor_def=dg.in_process_executor,
    )
    definitions = dg.Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[inputs],
        resources={
            "warehouse": WarehouseResource(url=settings.warehouse_url),
            "crm": CrmResource(kind="local", local_url=settings.local_crm_url),
            "usage_source": UsageSourceResource(path=str(settings.usage_path)),
            "rules": RulesResource(),
            "report": ReportResource(path=str(settings.report_path)),
        },
    )
    days = UsageSourceResource(path=str(settings.usage_path)).get_source().available_days()
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_daily_job(days[0], days[-1], definitions=definitions, instance=instance, job_name=inputs.name)
        assert result.success
    return settings


@pytest.mark.slow
def test_on_the_demo_data_the_top_tier_converts_better_and_a_shuffled_outcome_shows_no_lift(demo):
    wh = Warehouse(demo.warehouse_url)
    try:
        sample = validation_sample(wh, RulesResource(), None, None, horizon_days=60)
    finally:
        dispose_all_engines()
    assert sample.as_of == date(2026, 10, 1) and sample.model.name == "pqa"
    report = sample.run_backtest()
    top = report.tiers[0]
    assert top.tier == "sales" and top.lift > 1 and top.lift_ci_low > 1, report.to_text()
    assert report.auc_ci_low > 0.5 and "predicts closed-won deals" in report.verdict

    shuffled = sample.table.assign(**{OUTCOME: np.random.default_rng(1).permutation(sample.table[OUTCOME])})
    blind = backtest(shuffled, tiers=[t.name for t in sample.model.tiers], pqa_threshold=80,
                     signal_columns=sample.signal_columns)
    assert blind.auc_ci_low <= 0.5 <= blind.auc_ci_high
    assert "shows no lift" in blind.verdict, blind.to_text()


@pytest.mark.slow
def test_pls_backtest_and_fit_read_the_warehouse(demo, monkeypatch):
    monkeypatch.setenv("PLS_HOME", str(demo.home))
    for name in ("PLS_WAREHOUSE_URL", "PLS_SCORING_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["backtest"])
    assert result.exit_code == 0, result.output
    assert "as of 2026-10-01, outcome: closed-won within 60 days" in result.output
    assert "The score predicts closed-won deals" in result.output and "sales  " in result.output

    candidate = demo.home / "candidate.yaml"
    result = CliRunner().invoke(main, ["fit", "--out", str(candidate)])
    assert result.exit_code == 0, result.output
    assert "the active rules are unchanged" in result.output
    assert candidate.read_text().startswith("# Candidate scoring weights for model 'pqa'")
    result = CliRunner().invoke(main, ["backtest", "--config", str(candidate), "--json"])
    assert result.exit_code == 0, result.output
    assert '"model": "pqa"' in result.output


@pytest.mark.slow
def test_pls_explain_shows_every_component_of_the_top_account(demo, monkeypatch):
    monkeypatch.setenv("PLS_HOME", str(demo.home))
    wh = Warehouse(demo.warehouse_url)
    try:
        top = wh.read_sql("SELECT s.account_id, s.score, r.domain FROM pqa_scores s JOIN account_usage_rollup r "
                          "USING (account_id) WHERE s.model = 'pqa' AND r.domain IS NOT NULL "
                          "ORDER BY s.score DESC, s.account_id LIMIT 1").iloc[0]
    finally:
        dispose_all_engines()
    result = CliRunner().invoke(main, ["explain", top["domain"].upper()], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"pqa (primary: routing and the CRM use it): score {top['score']}" in result.output
    for component in ("team_size", "usage_volume", "feature_breadth", "velocity", "invites", "evaluation_pages"):
        assert component in result.output
    assert "worked_example (for comparison)" in result.output
    assert CliRunner().invoke(main, ["explain", "no-such-company.example"]).exit_code == 1
