"""One way for the end-to-end tests to wire the real definitions to a demo home and run every landing day."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml

from pls_pipelines.cli import run_daily_job
from pls_pipelines.definitions import build_definitions
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.report import ReportResource
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.usage_source import UsageSourceResource
from pls_pipelines.resources.warehouse import WarehouseResource
from pls_pipelines.settings import Settings


def demo_definitions(
    settings: Settings, crm: CrmResource | None = None, rules: RulesResource | None = None
) -> dg.Definitions:
    """The code location on `settings`' warehouse, landing folder and report path; the embedded CRM unless
    `crm` names another, the shipped rules unless `rules` says otherwise."""
    return build_definitions({
        "warehouse": WarehouseResource(url=settings.warehouse_url),
        "crm": crm or CrmResource(kind="local", local_url=settings.local_crm_url),
        "usage_source": UsageSourceResource(path=str(settings.usage_path)),
        "rules": rules or RulesResource(),
        "report": ReportResource(path=str(settings.report_path)),
    })


def landing_days(settings: Settings) -> list:
    """The days the landing folder has events for."""
    return UsageSourceResource(path=str(settings.usage_path)).get_source().available_days()


def run_all_days(settings: Settings, definitions: dg.Definitions, instance: dg.DagsterInstance,
                 expect_success: bool = True) -> dg.ExecuteInProcessResult:
    """pls_daily_job over every day of the landing folder as one run (what `make run` does)."""
    days = landing_days(settings)
    result = run_daily_job(days[0], days[-1], definitions=definitions, instance=instance)
    if expect_success:
        assert result.success
    return result


def crm_fields_config(path: Path, **overrides: object) -> Path:
    """The shipped crm_fields.yaml with top-level keys replaced (create_missing_contacts={"enabled": True},
    write_chunk_records=40, ...), written to `path` for PLS_CRM_FIELDS_CONFIG or RulesResource(crm_fields_config=)."""
    raw = yaml.safe_load(shipped_config("crm_fields.yaml").read_text())
    raw.update(overrides)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
