"""A bad setting fails `pls run` fast, naming the setting and the fix, before any work starts."""

import json

import pytest
from click.testing import CliRunner

from pls_pipelines.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("PLS_WAREHOUSE_URL", "PLS_CRM", "PLS_LOCAL_CRM_URL", "PLS_USAGE_PATH", "PLS_SCORING_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLS_HOME", str(tmp_path / "pls"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return monkeypatch


def run(*args):
    return CliRunner().invoke(main, list(args))


def assert_fails_fast(result, *fragments):
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output
    assert "Running pls_daily_job" not in result.output and "generating" not in result.output


def test_unknown_crm_kind(env):
    env.setenv("PLS_CRM", "pipedrive")
    assert_fails_fast(run("run"), "PLS_CRM='pipedrive'", "Set PLS_CRM to one of: local")


def test_unreadable_warehouse_url(env):
    env.setenv("PLS_WAREHOUSE_URL", "warehouse-on-my-laptop")
    assert_fails_fast(run("run"), "PLS_WAREHOUSE_URL is not a valid SQLAlchemy URL", "duckdb:///")


def test_scoring_model_with_a_missing_weight(env, tmp_path):
    from pls_pipelines.lib.rules_config import shipped_config

    text = shipped_config("scoring_models.yaml").read_text()
    broken = text.replace("weight: 0.30", "", 1)
    assert broken != text
    path = tmp_path / "models.yaml"
    path.write_text(broken)
    env.setenv("PLS_SCORING_CONFIG", str(path))
    assert_fails_fast(run("run"), str(path), "missing 'weight'", "add e.g. weight")


def test_missing_landing_files_name_the_setting(env, tmp_path):
    env.setenv("PLS_USAGE_PATH", str(tmp_path / "nowhere"))
    result = run("run")
    assert result.exit_code == 2 and "PLS_USAGE_PATH=" in result.output


def test_classify_title_prints_json():
    result = run("classify-title", "Sr. Dir., IT")
    parsed = json.loads(result.output)
    assert parsed["seniority"] == "director" and parsed["department"] == "it"
