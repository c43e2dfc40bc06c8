"""The shipped production instance config (deploy/dagster.yaml) on the local PostgreSQL server.

The file is copied unchanged into a temporary DAGSTER_HOME, its DAGSTER_PG_* variables point at a fresh database
on the test server, and a real pls_daily_job run over small demo data (warehouse on PostgreSQL too) must leave
its run, events, materializations and the crm_api pool limit in that database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from pls_pipelines.cli import generate_demo
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import CRM_ENV_VARS, ENV_VARS, load_settings
from tests.pipeline_helpers import demo_definitions, landing_days, run_all_days

DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
END = date(2026, 10, 31)
ACCOUNTS = 120
DAYS = 30


@pytest.fixture
def dagster_database(postgres_url) -> Iterator[sa.URL]:
    """A fresh database for Dagster's storage on the PLS_TEST_POSTGRES_URL server, dropped afterwards.

    `postgres_url` (conftest) does the skip-or-fail without a server; its schema is the warehouse.
    """
    server = sa.make_url(os.environ["PLS_TEST_POSTGRES_URL"])
    name = f"pls_dagster_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as conn:
            # FORCE: a connection Dagster left open must not leak the database
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _deploy_env(tmp_path: Path, database: sa.URL) -> dict[str, str]:
    """DAGSTER_HOME holding the shipped dagster.yaml, unchanged, and the variables it reads."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": database.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(database.port or 5432),
        "DAGSTER_PG_USERNAME": database.username or "postgres",
        "DAGSTER_PG_PASSWORD": database.password or "",
        "DAGSTER_PG_DB": str(database.database),
        "DAGSTER_COMPUTE_LOGS_DIR": str(tmp_path / "compute_logs"),
    }


@pytest.fixture
def deploy_env(dagster_database, tmp_path, monkeypatch) -> dict[str, str]:
    env = _deploy_env(tmp_path, dagster_database)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_deploy_readme_lists_every_variable_in_one_table():
    # The operator's single list: every variable of settings.py and every `env:` of dagster.yaml is a row.
    readme = (DEPLOY_CONFIG.parent / "README.md").read_text()
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    config_vars = set(re.findall(r"\{env: ([A-Z0-9_]+)\}", DEPLOY_CONFIG.read_text()))
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"} <= config_vars
    missing = (set(ENV_VARS) | set(CRM_ENV_VARS) | config_vars) - rows
    assert not missing, f"deploy/README.md's variable table lacks {sorted(missing)}"


def test_a_missing_connection_variable_fails_loudly(tmp_path, monkeypatch):
    # A host where DAGSTER_PG_HOST was forgotten must not fall back to SQLite files in DAGSTER_HOME: the
    # webserver would start on an empty history and the daemon would run the schedule twice.
    env = _deploy_env(tmp_path, sa.make_url("postgresql://postgres@127.0.0.1:5432/unused"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PG_HOST"):
        dg.DagsterInstance.get()


@pytest.mark.postgres
def test_shipped_config_opens_a_postgres_instance(deploy_env):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert sa.make_url(instance.run_storage.postgres_url).database == deploy_env["DAGSTER_PG_DB"]
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 1
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity.value == "op"
        assert instance.event_log_storage.supports_global_concurrency_limits
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 300
        assert not instance.telemetry_enabled
        assert isinstance(instance.compute_log_manager, LocalComputeLogManager)
        assert instance.compute_log_manager._base_dir == deploy_env["DAGSTER_COMPUTE_LOGS_DIR"]

    # The upgrade step of deploy/README.md, as an operator runs it: the CLI on the same environment.
    migrate = subprocess.run(
        [sys.executable, "-m", "dagster", "instance", "migrate"],
        env={**os.environ, **deploy_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    for storage in ("run", "event", "schedule"):
        assert f"Updating {storage} storage" in migrate.stdout, migrate.stdout


def _demo_definitions(home: Path, warehouse_url: str):
    settings = load_settings({"PLS_HOME": str(home), "PLS_WAREHOUSE_URL": warehouse_url})
    generate_demo(settings, ACCOUNTS, seed=11, days=DAYS, end=END)
    return settings, demo_definitions(settings)


@pytest.mark.slow
@pytest.mark.postgres
def test_daily_job_runs_on_the_production_instance(deploy_env, dagster_database, postgres_url, tmp_path):
    settings, definitions = _demo_definitions(tmp_path / "pls_home", postgres_url)
    days = landing_days(settings)
    assert len(days) == DAYS

    with dg.DagsterInstance.get() as instance:
        result = run_all_days(settings, definitions, instance)
        run_id = result.run_id

        # the run, as the webserver lists it
        (record,) = instance.get_run_records(filters=dg.RunsFilter(run_ids=[run_id]))
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert record.dagster_run.job_name == "pls_daily_job"
        assert record.dagster_run.tags["dagster/asset_partition_range_end"] == days[-1].isoformat()

        # its event log
        events = instance.get_records_for_run(run_id).records
        types = [r.event_log_entry.dagster_event_type for r in events]
        assert dg.DagsterEventType.RUN_SUCCESS in types
        assert dg.DagsterEventType.STEP_FAILURE not in types
        assert types.count(dg.DagsterEventType.STEP_SUCCESS) == len(result.get_step_success_events())
        assert dg.DagsterEventType.ASSET_CHECK_EVALUATION in types

        # asset materializations, including every daily partition of the partitioned ingest
        scores = instance.get_latest_materialization_event(dg.AssetKey("pqa_scores"))
        assert scores is not None and scores.run_id == run_id
        materialization = scores.asset_materialization
        assert materialization is not None
        row_count = materialization.metadata["dagster/row_count"].value
        wh = Warehouse(postgres_url)
        try:
            assert row_count == wh.scalar("SELECT COUNT(*) FROM pqa_scores") > 0
        finally:
            dispose_all_engines()
        assert instance.get_materialized_partitions(dg.AssetKey("usage_events")) == {d.isoformat() for d in days}
        sync = instance.get_latest_materialization_event(dg.AssetKey("crm_company_sync"))
        assert sync is not None and sync.run_id == run_id

        # The sync steps claimed the crm_api pool: its limit came from dagster.yaml's pools.default_limit and
        # lives in PostgreSQL (every process of the deployment sees it); the slot was given back at the end.
        pools = {pool.name: pool for pool in instance.event_log_storage.get_pool_limits()}
        assert pools["crm_api"].limit == 1 and pools["crm_api"].from_default
        info = instance.event_log_storage.get_concurrency_info("crm_api")
        assert info.slot_count == 1 and not info.claimed_slots
        expected_events = len(events)

    # Everything above is in the Dagster database on the server, not in files under DAGSTER_HOME: read it
    # with plain SQL, as a second host (the webserver, the daemon) would find it.
    engine = sa.create_engine(dagster_database)
    try:
        with engine.connect() as conn:
            status = conn.execute(sa.text("SELECT status FROM runs WHERE run_id = :r"), {"r": run_id}).scalar_one()
            logged = conn.execute(
                sa.text("SELECT COUNT(*) FROM event_logs WHERE run_id = :r"), {"r": run_id}
            ).scalar_one()
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert status == "SUCCESS"
    assert logged == expected_events
    assert {"runs", "event_logs", "asset_keys", "concurrency_limits", "instigators", "job_ticks"} <= tables
    assert not list(Path(deploy_env["DAGSTER_HOME"]).glob("**/*.db"))  # no SQLite fallback
