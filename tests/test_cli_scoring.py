"""`pls score`, `pls backtest --features` and `pls fit --features`: the scorer on a table someone else built."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from pls_pipelines.cli import main
from pls_pipelines.lib.scoring_config import load_scoring_config


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("PLS_WAREHOUSE_URL", "PLS_SCORING_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLS_HOME", str(tmp_path / "pls"))
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def dbt_table(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """A team's own rollup: the required columns and a few optional ones; bigger teams win more often."""
    rng = np.random.default_rng(seed)
    active = rng.poisson(4, n)
    return pd.DataFrame({
        "account_id": [f"acct-{i:04d}" for i in range(n)],
        "active_users_28d": active,
        "events_28d": active * rng.integers(20, 200, n),
        "velocity_7d": rng.normal(0, 0.3, n).round(3),
        "employee_count": rng.choice([20, 400, 5000], n),
        "as_of_date": "2026-09-01",
        "won": rng.random(n) < 0.02 + 0.05 * np.minimum(active, 8),
    })


def test_pls_score_scores_a_table_without_dagster_and_reports_what_it_lacks(env):
    features = env / "accounts.csv"
    dbt_table().to_csv(features, index=False)
    out = env / "scores.parquet"
    code = (
        "import sys; from click.testing import CliRunner; from pls_pipelines.cli import main; "
        f"r = CliRunner().invoke(main, ['score', '--features', {str(features)!r}, '--out', {str(out)!r}]); "
        "print(r.output); assert r.exit_code == 0; assert 'dagster' not in sys.modules, 'imported dagster'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={
        "PLS_HOME": str(env / "pls"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Scored 400 of 400 accounts (pqa " in done.stdout
    assert "no invites_28d column: scored as no data by pqa.invites (up to 10 points)" in done.stdout
    assert "segment derived from employee_count" in done.stdout
    scores = pd.read_parquet(out)
    assert list(scores.columns[:8]) == ["account_id", "model", "model_version", "segment", "score", "tier", "is_pqa",
                                        "reasons"]
    assert len(scores) == 400 and scores["score"].between(1, 100).all() and set(scores["model"]) == {"pqa"}
    assert set(scores["segment"]) == {"smb", "mid_market", "enterprise"}


def test_pls_score_with_a_model_adds_the_points_of_each_component(env):
    features = env / "accounts.csv"
    dbt_table(50).to_csv(features, index=False)
    result = run("score", "--features", features, "--model", "worked_example", "--out", env / "scores.csv")
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(env / "scores.csv")
    assert {"points_usage", "points_team_size", "points_feature_adoption", "points_velocity"} <= set(scores.columns)


def test_pls_score_fails_with_every_missing_required_column(env):
    features = env / "accounts.csv"
    dbt_table(10).drop(columns=["events_28d", "account_id"]).to_csv(features, index=False)
    result = run("score", "--features", features, "--out", env / "scores.csv")
    assert result.exit_code == 2
    assert "lacks required columns ['account_id', 'events_28d']" in result.output
    assert "active_users_28d" in result.output  # the columns it has, since a rename is the usual fix
    assert not (env / "scores.csv").exists()


def test_pls_score_refuses_unknown_formats_and_models(env):
    assert "use a .csv or .parquet file" in run("score", "--features", env / "a.xlsx", "--out", env / "o.csv").output
    features = env / "accounts.csv"
    dbt_table(10).to_csv(features, index=False)
    result = run("score", "--features", features, "--model", "pqs", "--out", env / "o.csv")
    assert result.exit_code == 2 and "no scoring model 'pqs' -- did you mean 'pqa'?" in result.output


def test_pls_backtest_on_a_features_file_with_an_outcome_column(env):
    features = env / "history.csv"
    table = dbt_table(1500)
    pd.concat([table, table.assign(as_of_date="2026-10-01", won=False)]).to_csv(features, index=False)
    result = run("backtest", "--features", features, "--outcome", "won", "--as-of", "2026-09-01")
    assert result.exit_code == 0, result.output
    assert "outcome column from the features file" in result.output
    assert "The score predicts closed-won deals" in result.output and "team_size" in result.output

    shuffled = table.assign(won=np.random.default_rng(0).permutation(table["won"]))
    shuffled.to_csv(features, index=False)
    result = run("backtest", "--features", features, "--outcome", "won")
    assert result.exit_code == 0, result.output
    assert "The score shows no lift" in result.output


def test_pls_backtest_explains_a_wrong_outcome_column_or_day(env):
    features = env / "history.csv"
    dbt_table(20).to_csv(features, index=False)
    assert "--outcome 'closed' is not a column" in run("backtest", "--features", features, "--outcome",
                                                       "closed").output
    assert "has no rows with as_of_date 2026-01-01" in run("backtest", "--features", features, "--outcome", "won",
                                                           "--as-of", "2026-01-01").output
    assert "needs --outcome COLUMN" in run("backtest", "--features", features).output


def test_pls_fit_writes_a_loadable_candidate_and_never_the_active_rules(env):
    features = env / "history.csv"
    dbt_table(1500).to_csv(features, index=False)
    active = env / "scoring.yaml"
    shipped = load_scoring_config().path.read_text(encoding="utf-8")
    active.write_text(shipped, encoding="utf-8")
    refused = run("fit", "--features", features, "--outcome", "won", "--config", active, "--out", active)
    assert refused.exit_code == 2 and "is the active scoring file" in refused.output
    assert active.read_text(encoding="utf-8") == shipped

    candidate = env / "candidate.yaml"
    result = run("fit", "--features", features, "--outcome", "won", "--config", active, "--out", candidate)
    assert result.exit_code == 0, result.output
    assert "Cross-validated ROC AUC (5 folds)" in result.output and "the active rules are unchanged" in result.output
    text = candidate.read_text(encoding="utf-8")
    assert text.startswith("# Candidate scoring weights for model 'pqa'") and "Learned from 1,500 accounts" in text
    fitted = load_scoring_config(candidate).models["pqa"]
    assert fitted.components and fitted.version != load_scoring_config(active).models["pqa"].version
    weights = yaml.safe_load(text)["models"]["pqa"]["components"]
    assert weights["team_size"]["weight"] > 0  # the signal the outcome depends on keeps a weight
    assert active.read_text(encoding="utf-8") == shipped
