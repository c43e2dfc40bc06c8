"""`pls sync`: write the pls_* fields to the CRM now, preview what a sync would do, or approve a change the
guard stopped.

`--dry-run` and `--approve` need no Dagster: they call sync_engine, the same code the crm_sync assets run, so the
preview is what the run would write. A real sync runs `crm_sync_job` through Dagster on the persistent instance,
so it shows in the UI's run history with every other run.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from pls_pipelines.cli_scoring import fail
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.settings import load_settings

OBJECTS = ("companies", "contacts")


@click.command("sync")
@click.option("--dry-run", is_flag=True, help="Show the creates and updates with field-level before -> after; "
              "write nothing.")
@click.option("--reconcile", is_flag=True, help="Compare with the CRM's current values now (catches edits made "
              "in the CRM) instead of when due.")
@click.option("--retry-rejected", is_flag=True, help="Send again the records the CRM refused (held back until "
              "their values change); use after fixing the cause in the CRM.")
@click.option("--approve", is_flag=True, help="Approve the pending change the guard stopped (exactly that "
              "change), so the next sync writes it.")
@click.option("--object", "objects", type=click.Choice(OBJECTS), multiple=True, help="Only these objects "
              "(repeatable; default: both).")
@click.option("--limit", default=15, show_default=True, help="Records shown per object in a dry run.")
def sync_command(
    dry_run: bool, reconcile: bool, retry_rejected: bool, approve: bool, objects: tuple[str, ...], limit: int
) -> None:
    """Sync the pls_* fields to the CRM (PLS_CRM), preview it, or approve a stopped sync."""
    from pls_pipelines.resources.crm import build_crm_client
    from pls_pipelines.resources.rules import RulesResource
    from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
    from pls_pipelines.sync_engine import approve as record_approval
    from pls_pipelines.sync_engine import guard_verdict, plan_sync

    settings = load_settings()
    console = Console()
    chosen = objects or OBJECTS
    try:
        field_map = RulesResource.from_environment().crm_fields()
        wh = Warehouse(settings.warehouse_url)
        if not wh.table_exists("account_routing"):
            fail("nothing to sync yet: run the pipeline first (`make run`).")
        if approve:
            verdict = guard_verdict(wh, field_map)
            if not verdict.problems:
                console.print("Nothing to approve: the pending sync passes the guard.")
            elif verdict.approved:
                console.print(f"Already approved ({verdict.fingerprint}).")
            else:
                record_approval(wh, verdict)
                console.print(f"Approved {verdict.fingerprint}: {' '.join(verdict.problems)}", highlight=False)
                console.print("Run `pls sync` (or `make run`) to write it.")
            return
        if dry_run:
            client = build_crm_client(settings.crm_kind, settings.local_crm_url)
            try:
                for object_type in chosen:
                    plan = plan_sync(wh, client, field_map, object_type, reconcile=True if reconcile else None,
                                     retry_rejected=retry_rejected)
                    _print_plan(console, plan, limit)
                    if object_type == "companies":
                        verdict = guard_verdict(wh, field_map, plan)
                        style = "green" if verdict.passed else "red"
                        console.print(f"[{style}]Guard:[/] {verdict.message}", highlight=False)
            finally:
                client.close()
                dispose_all_engines()
            console.print("[bold]Dry run:[/] nothing was written.")
            return
    except ConfigError as exc:
        fail(str(exc))
    _run_sync_job(console, chosen, reconcile, retry_rejected)


def _print_plan(console: Console, plan, limit: int) -> None:
    console.rule(f"[bold]{plan.object_type}")
    console.print(plan.summary(), highlight=False)
    changes = plan.changes(limit)
    if not changes.empty:
        table = Table(title=f"First {min(limit, len(plan.updates))} of {len(plan.updates):,} records to update")
        for column in ("record", "field", "before", "after"):
            table.add_column(column)
        for row in changes.itertuples(index=False):
            table.add_row(row.record_id, row.field, _cell(row.before), _cell(row.after))
        console.print(table)
    if plan.creates:
        table = Table(title=f"{len(plan.creates):,} contacts to create (first {min(limit, len(plan.creates))})")
        for column in ("company", "name", "title"):
            table.add_column(column)
        for contact in plan.creates[:limit]:
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
            table.add_row(contact.company_id, name, contact.title or "")
        console.print(table)
    if plan.held:
        console.print(f"{len(plan.held):,} records held back: the CRM refused these values before "
                      "(reasons: crm_sync_rejections; `--retry-rejected` sends them).")
    if plan.skipped:
        console.print(f"{len(plan.skipped):,} records keep a value a CRM user typed (if_empty fields).")


def _cell(value: object) -> str:
    return "[dim]empty[/]" if value is None else str(value)


def _run_sync_job(console: Console, objects: tuple[str, ...], reconcile: bool, retry_rejected: bool) -> None:
    """crm_sync_job on the persistent instance (visible in `make ui`), then the outcome counts."""
    import os

    import dagster as dg

    from pls_pipelines.dagster_instance import cli_run_tags, ensure_dagster_home, reap_killed_cli_runs
    from pls_pipelines.definitions import defs
    from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
    from pls_pipelines.summary import crm_outcomes_line

    settings = load_settings()
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home.resolve()))
    ensure_dagster_home(settings.dagster_home)
    assets = {"companies": "crm_company_sync", "contacts": "crm_contact_sync"}
    job = defs.resolve_job_def("crm_sync_job")
    selection = [dg.AssetKey(assets[o]) for o in objects]
    with dg.DagsterInstance.get() as instance:
        reap_killed_cli_runs(instance, console.print)
        try:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=selection,
                tags={"pls/trigger": "pls sync", **cli_run_tags()},
                run_config={
                    "ops": {assets[o]: {"config": {"reconcile": reconcile, "retry_rejected": retry_rejected}}
                            for o in objects},
                    "loggers": {"console": {"config": {"log_level": "INFO"}}},
                },
                raise_on_error=False,
            )
        finally:
            dispose_all_engines()
    wh = Warehouse(settings.warehouse_url)
    try:
        console.print(crm_outcomes_line(wh, settings.crm_kind, result.run_id), highlight=False)
    finally:
        dispose_all_engines()
    if not result.success:
        click.secho("The sync did not finish; see the messages above (a stopped guard says how to approve).",
                    fg="red", err=True)
        sys.exit(1)
