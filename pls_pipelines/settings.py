"""Environment settings of a pls-pipelines deployment, with the embedded defaults.

One table of environment variables (also in the README). Paths default under PLS_HOME (`.pls/`), so the
embedded setup needs no configuration at all, and a production deployment changes only variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VARS: dict[str, str] = {
    "PLS_HOME": "Folder for embedded state: warehouse file, local CRM, demo data, Dagster home (default .pls).",
    "PLS_WAREHOUSE_URL": "SQLAlchemy URL of the warehouse (default duckdb:///$PLS_HOME/warehouse.duckdb).",
    "PLS_CRM": "Which CRM to read and write: local (the embedded CRM, default), hubspot or salesforce.",
    "PLS_LOCAL_CRM_URL": "Database of the embedded CRM (default sqlite:///$PLS_HOME/crm.sqlite).",
    "PLS_USAGE_SOURCE": "Where usage comes from: files (a landing folder, default) or warehouse (existing tables).",
    "PLS_USAGE_PATH": "Landing folder: workspaces.csv, users.csv, events/<day>.jsonl|csv|parquet "
    "(default $PLS_HOME/demo/landing).",
    "PLS_USAGE_EVENTS_TABLE": "With PLS_USAGE_SOURCE=warehouse: the events table or view (schema.name).",
    "PLS_USAGE_WORKSPACES_TABLE": "With PLS_USAGE_SOURCE=warehouse: the workspaces table or view.",
    "PLS_USAGE_USERS_TABLE": "With PLS_USAGE_SOURCE=warehouse: the users table or view.",
    "PLS_SCORING_CONFIG": "Your scoring models YAML (default: the shipped pls_pipelines/config/scoring_models.yaml).",
    "PLS_PERSONAS_CONFIG": "Your title, persona and buyer-signal rules YAML (default: the shipped personas.yaml).",
    "PLS_ROUTING_CONFIG": "Your segments and motion decision table YAML (default: the shipped routing.yaml).",
    "PLS_CRM_FIELDS_CONFIG": "Your CRM field map YAML: the pls_* fields written and whether missing buyers are "
    "created as contacts (default: the shipped crm_fields.yaml).",
    "PLS_IDENTITY_OVERRIDES": "RevOps' identity overrides, CSV or YAML by extension: workspace pins (win over all "
    "other evidence) and domain aliases (default: none).",
    "PLS_REPORT_PATH": "Where the static HTML report is written on every run (default $PLS_HOME/report/index.html).",
    "PLS_FRESHNESS_USAGE_HOURS": "Hours after which usage and CRM ingest count as late (default 26).",
    "PLS_FRESHNESS_SCORES_HOURS": "Hours after which scores and routing count as late (default 26).",
    "PLS_FRESHNESS_SYNC_HOURS": "Hours after which the CRM sync counts as late (default 26).",
    "PLS_SOURCE_MAX_AGE_HOURS": "The source freshness check fails when the newest event is older (default 48).",
    "PLS_SCHEDULE_TIMEZONE": "IANA time zone of pls_daily_schedule and crm_sync_schedule, e.g. Europe/Berlin "
    "(default UTC). Read when the code location loads.",
    "PLS_SCHEDULE_HOUR": "Hour of the day (0-23, in PLS_SCHEDULE_TIMEZONE) pls_daily_schedule runs (default 6).",
    "PLS_SLACK_WEBHOOK_URL": "Slack incoming webhook for run-failure and freshness alerts (a secret; unset: the "
    "alerts are logged as warnings).",
    "PLS_UI_URL": "Dagster UI address the alerts link to (default http://127.0.0.1:3000).",
    "DAGSTER_HOME": "Dagster instance folder: run history, schedules (default $PLS_HOME/dagster_home).",
}

# The connection settings of the hosted CRMs: environment variable -> what it is.
CRM_ENV_VARS: dict[str, str] = {
    "HUBSPOT_ACCESS_TOKEN": "HubSpot private-app token (scopes: crm.objects.companies/contacts/deals.read and .write, "
    "crm.schemas.companies/contacts.read and .write, crm.objects.owners.read).",
    "HUBSPOT_BASE_URL": "HubSpot API base URL (default https://api.hubapi.com).",
    "SALESFORCE_INSTANCE_URL": "Salesforce instance, e.g. https://yourorg.my.salesforce.com (with an access token).",
    "SALESFORCE_ACCESS_TOKEN": "Salesforce OAuth access token (or use the username/password settings below).",
    "SALESFORCE_USERNAME": "Salesforce user for the OAuth username-password flow.",
    "SALESFORCE_PASSWORD": "That user's password.",
    "SALESFORCE_SECURITY_TOKEN": "That user's security token (appended to the password).",
    "SALESFORCE_CLIENT_ID": "Consumer key of the connected app used for the username-password flow.",
    "SALESFORCE_CLIENT_SECRET": "Consumer secret of that connected app.",
    "SALESFORCE_LOGIN_URL": "OAuth login URL (default https://login.salesforce.com; test.salesforce.com: sandbox).",
    "PLS_CRM_TIMEOUT_SECONDS": "Seconds to wait for one CRM API response before retrying it (default 30).",
    "SALESFORCE_BULK_THRESHOLD": "Updates above this many records go through Bulk API 2.0 (default 2000).",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str
    crm_kind: str
    local_crm_url: str
    usage_path: Path
    scoring_config: Path | None
    identity_overrides: Path | None = None
    report_file: Path | None = None  # PLS_REPORT_PATH; None: the default under home

    @property
    def report_path(self) -> Path:
        return self.report_file or default_report_path(self.home)

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"


def default_warehouse_url(home: Path) -> str:
    return f"duckdb:///{home / 'warehouse.duckdb'}"


def default_local_crm_url(home: Path) -> str:
    return f"sqlite:///{home / 'crm.sqlite'}"


def default_report_path(home: Path) -> Path:
    return home / "report" / "index.html"


def schedule_timezone(environ: Mapping[str, str] | None = None) -> str:
    """PLS_SCHEDULE_TIMEZONE (default UTC): an IANA zone name, or a ConfigError naming the variable."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from pls_pipelines.lib.errors import ConfigError

    env = os.environ if environ is None else environ
    name = (env.get("PLS_SCHEDULE_TIMEZONE") or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a zone folder such as 'America'
        raise ConfigError(
            f"PLS_SCHEDULE_TIMEZONE={name!r} is not a time zone. Use an IANA name such as UTC, Europe/Berlin or "
            f"America/New_York."
        ) from None
    return name


def schedule_hour(environ: Mapping[str, str] | None = None) -> int:
    """PLS_SCHEDULE_HOUR (default 6): the hour of the day pls_daily_schedule runs, or a ConfigError."""
    from pls_pipelines.lib.errors import ConfigError

    env = os.environ if environ is None else environ
    raw = (env.get("PLS_SCHEDULE_HOUR") or "6").strip()
    if not raw.isdigit() or not 0 <= int(raw) <= 23:
        raise ConfigError(f"PLS_SCHEDULE_HOUR={raw!r} must be an hour of the day, 0-23; e.g. PLS_SCHEDULE_HOUR=6")
    return int(raw)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("PLS_HOME") or ".pls")
    scoring = env.get("PLS_SCORING_CONFIG")
    overrides = env.get("PLS_IDENTITY_OVERRIDES")
    report = env.get("PLS_REPORT_PATH")
    return Settings(
        home=home,
        warehouse_url=env.get("PLS_WAREHOUSE_URL") or default_warehouse_url(home),
        crm_kind=env.get("PLS_CRM") or "local",
        local_crm_url=env.get("PLS_LOCAL_CRM_URL") or default_local_crm_url(home),
        usage_path=Path(env.get("PLS_USAGE_PATH") or home / "demo" / "landing"),
        scoring_config=Path(scoring) if scoring else None,
        identity_overrides=Path(overrides) if overrides else None,
        report_file=Path(report) if report else None,
    )


def _hours(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A positive number of hours from the environment, or a ConfigError naming the variable."""
    from pls_pipelines.lib.errors import ConfigError

    env = os.environ if environ is None else environ
    raw = env.get(name) or str(default)
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of hours; e.g. {name}={default:g}") from None
    if hours <= 1:
        raise ConfigError(f"{name}={raw!r} must be more than 1 hour; e.g. {name}={default:g}")
    return hours


def freshness_hours(kind: str, environ: Mapping[str, str] | None = None) -> float:
    """PLS_FRESHNESS_<KIND>_HOURS for kind usage, scores or sync (default 26)."""
    return _hours(f"PLS_FRESHNESS_{kind.upper()}_HOURS", 26, environ)


def source_max_age_hours(environ: Mapping[str, str] | None = None) -> float:
    return _hours("PLS_SOURCE_MAX_AGE_HOURS", 48, environ)
