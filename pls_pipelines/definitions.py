"""The Dagster code location: assets, checks, the daily job and schedule, and the configured resources.

Resources read their settings from environment variables through `dg.EnvVar` when the variable is set (so
values such as a warehouse URL with a password never appear in the UI, only the variable's name), and fall back
to the embedded defaults under `.pls/` when it is not. Nothing here touches the network or the disk at import.
"""

from __future__ import annotations

import os

import dagster as dg

from pls_pipelines.assets import (
    buyers,
    checks,
    crm_sync,
    identity,
    ingest,
    metrics,
    report,
    rollups,
    routing,
    scoring,
    validation,
)
from pls_pipelines.assets.external import external_assets
from pls_pipelines.automation import SCHEDULES, SENSORS
from pls_pipelines.resources.alerts import build_slack_notifier
from pls_pipelines.resources.crm import CrmResource, crm_resource_settings
from pls_pipelines.resources.report import ReportResource
from pls_pipelines.resources.rules import RULE_FILE_VARIABLES, RulesResource
from pls_pipelines.resources.usage_source import UsageSourceResource
from pls_pipelines.resources.warehouse import WarehouseResource
from pls_pipelines.settings import load_settings

ASSET_MODULES = [ingest, identity, rollups, scoring, buyers, routing, crm_sync, validation, metrics, report, checks]

all_assets = [*dg.load_assets_from_modules(ASSET_MODULES), *external_assets]
all_checks = dg.load_asset_checks_from_modules(ASSET_MODULES)

pls_daily_job = dg.define_asset_job(
    name="pls_daily_job",
    selection=dg.AssetSelection.all(),
    description="The whole Product-Led Sales flow for a day: ingest, identity, rollups, scores, buyers, "
    "routing and the CRM sync (which waits for the blocking data checks).",
    # One process runs the steps in order: the embedded DuckDB file takes a single writer at a time.
    executor_def=dg.in_process_executor,
)

crm_sync_job = dg.define_asset_job(
    name="crm_sync_job",
    selection=dg.AssetSelection.groups("crm_sync"),
    description="Only the CRM sync, from the tables the last daily run left (what `pls sync` runs): writes "
    "what changed since the last successful sync; stopped by the guard when the change looks wrong.",
    executor_def=dg.in_process_executor,
)

# pls_daily_schedule (PLS_SCHEDULE_HOUR / PLS_SCHEDULE_TIMEZONE), crm_sync_schedule and the sensors live in
# automation.py; importing it reads the schedule settings, which a code-location reload picks up.


def _setting(name: str, default: str) -> str | dg.EnvVar:
    """dg.EnvVar when the variable is set (the UI shows its name, never its value), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    defaults = load_settings({"PLS_HOME": os.environ.get("PLS_HOME", "")})
    return {
        "warehouse": WarehouseResource(url=_setting("PLS_WAREHOUSE_URL", defaults.warehouse_url)),
        "crm": CrmResource(
            kind=_setting("PLS_CRM", defaults.crm_kind),
            local_url=_setting("PLS_LOCAL_CRM_URL", defaults.local_crm_url),
            **crm_resource_settings(_setting),
        ),
        "usage_source": UsageSourceResource(
            kind=_setting("PLS_USAGE_SOURCE", "files"),
            path=_setting("PLS_USAGE_PATH", str(defaults.usage_path)),
            events_table=_setting("PLS_USAGE_EVENTS_TABLE", ""),
            workspaces_table=_setting("PLS_USAGE_WORKSPACES_TABLE", ""),
            users_table=_setting("PLS_USAGE_USERS_TABLE", ""),
        ),
        "rules": RulesResource(
            **{field: _setting(variable, "") or None for field, variable in RULE_FILE_VARIABLES.items()}
        ),
        "report": _report_resource(),
    }


def _report_resource() -> ReportResource:
    defaults = load_settings({"PLS_HOME": os.environ.get("PLS_HOME", "")})
    return ReportResource(path=_setting("PLS_REPORT_PATH", str(defaults.report_path)))


def build_definitions(resources: dict[str, dg.ConfigurableResource]) -> dg.Definitions:
    """The code location with the given resources (tests pass their own warehouse and CRM)."""
    return dg.Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[pls_daily_job, crm_sync_job],
        schedules=SCHEDULES,
        sensors=[checks.freshness_checks_sensor, *SENSORS],
        # the report has a default (PLS_REPORT_PATH, else $PLS_HOME/report/index.html) and the alerts sensors' Slack
        # notifier one (PLS_SLACK_WEBHOOK_URL as an EnvVar when set, else log only): callers may leave them out
        resources={"report": _report_resource(), "alerts": build_slack_notifier(_setting), **resources},
    )


defs = build_definitions(build_resources())
