"""The `pls` command: the domain tasks around the pipeline (demo data, a full run, CRM views, title parsing).

`make run` is `pls run`: generate the demo data if absent, check the configuration before any work, run the
daily job over the landing data's days as one Dagster run on the persistent instance (so `make ui` shows it),
and print a summary a RevOps person understands.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import click

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.sample_data import MIN_ACCOUNTS, MIN_DAYS
from pls_pipelines.settings import CRM_ENV_VARS, ENV_VARS, Settings, load_settings

DEFAULT_ACCOUNTS = 2000
DEFAULT_SEED = 7
MANIFEST = "manifest.json"


def _fail(message: str) -> None:
    click.secho(f"Configuration error: {message}", fg="red", err=True)
    sys.exit(2)


@click.group(
    help="pls-pipelines: Product-Led Sales on Dagster. Environment variables:\n\n"
    + "\n\n".join(f"{k}: {v}" for k, v in {**ENV_VARS, **CRM_ENV_VARS}.items())
)
def main() -> None:
    pass


# -- demo data ---------------------------------------------------------------------------------------------
def generate_demo(
    settings: Settings,
    accounts: int,
    seed: int,
    days: int,
    end: date | None,
    crm_kind: str = "local",
    allow_nonempty: bool = False,
) -> dict:
    """Write the demo landing files and load the demo CRM records into `crm_kind` (the embedded CRM by
    default; HubSpot or Salesforce through their APIs); returns the manifest it wrote.

    A hosted CRM assigns its own record ids: the workspaces' crm_company_id (the id a billing integration
    stores) is rewritten to them, so identity resolution matches as it does on the embedded CRM.
    """
    from pls_pipelines.private_files import private_dir
    from pls_pipelines.resources.crm import build_crm_client
    from pls_pipelines.sample_data.generator import generate_demo_data, write_landing_files

    started = time.monotonic()
    data = generate_demo_data(accounts=accounts, seed=seed, days=days, end_date=end)
    crm = build_crm_client(crm_kind, settings.local_crm_url)
    try:
        if crm_kind != "local" and not allow_nonempty:
            held = {name: crm.count_records(name) for name in ("companies", "contacts", "deals")}
            if any(held.values()):
                raise ConfigError(
                    f"the {crm_kind} CRM already holds records ({', '.join(f'{n:,} {k}' for k, n in held.items())}); "
                    "demo data is meant for an empty sandbox. Pass --allow-nonempty to load it anyway "
                    "(companies are upserted by domain, contacts by email: nothing is duplicated)."
                )
        ids = crm.load_demo(data.crm_owners, data.crm_companies, data.crm_contacts, data.crm_deals)
    finally:
        crm.close()
    workspaces = data.workspaces
    if crm_kind != "local":
        company_ids = ids.get("companies", {})
        workspaces = workspaces.assign(crm_company_id=workspaces["crm_company_id"].map(
            lambda demo_id: company_ids.get(demo_id, "") if demo_id else ""
        ))
        data = replace(data, workspaces=workspaces)
    private_dir(settings.usage_path)  # a new landing folder (and PLS_HOME above it) user-only: emails and names
    counts = write_landing_files(data, settings.usage_path)
    manifest = {
        "accounts": accounts,
        "seed": seed,
        "days": days,
        "end_date": str(data.events["occurred_at"].max())[:10],
        "files": counts,
        "crm": {
            "companies": len(data.crm_companies),
            "contacts": len(data.crm_contacts),
            "deals": len(data.crm_deals),
            "owners": len(data.crm_owners),
        },
        "crm_kind": crm_kind,
        "seconds": round(time.monotonic() - started, 1),
    }
    (settings.usage_path / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


@main.command("demo-data")
@click.option("--accounts", default=DEFAULT_ACCOUNTS, show_default=True, type=click.IntRange(min=MIN_ACCOUNTS),
              help="Number of product workspaces.")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Random seed (same seed, same data).")
@click.option("--days", default=90, show_default=True, type=click.IntRange(min=MIN_DAYS),
              help="Days of usage history (at least a week: the window needs weekdays and weekends).")
@click.option(
    "--end-date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day with events (default: yesterday, UTC).",
)
@click.option(
    "--crm", "crm_kind", type=click.Choice(["local", "hubspot", "salesforce"]), default=None,
    help="Where the demo CRM records go (default: PLS_CRM, else the embedded CRM). HubSpot and Salesforce are "
    "loaded through their APIs with the credentials in the environment.",
)
@click.option("--allow-nonempty", is_flag=True, help="Load into a hosted CRM that already holds records.")
def demo_data(accounts: int, seed: int, days: int, end_date, crm_kind: str | None, allow_nonempty: bool) -> None:
    """Generate deterministic demo data: landing files under PLS_USAGE_PATH and the CRM's companies, contacts
    (with their company associations) and deals. Idempotent: companies upserted by domain, contacts by email."""
    settings = load_settings()
    kind = crm_kind or settings.crm_kind
    if kind != settings.crm_kind:
        _fail(f"--crm {kind} but PLS_CRM={settings.crm_kind}: the pipeline would read another CRM. "
              f"Export PLS_CRM={kind} (and its credentials) first.")
    try:
        manifest = generate_demo(
            settings, accounts, seed, days, end_date.date() if end_date else None, kind, allow_nonempty
        )
    except ConfigError as exc:
        _fail(str(exc))
    files = manifest["files"]
    click.echo(
        f"Demo data in {settings.usage_path} ({manifest['seconds']}s): {files['workspaces']:,} workspaces, "
        f"{files['users']:,} users, {files['events']:,} events ({files['malformed']} malformed lines) over "
        f"{days} days to {manifest['end_date']}; CRM ({kind}): {manifest['crm']['companies']:,} companies, "
        f"{manifest['crm']['contacts']:,} contacts, {manifest['crm']['deals']:,} deals."
    )


# -- the full run ------------------------------------------------------------------------------------------
def preflight(settings: Settings, check_landing: bool = True) -> None:
    """Check every setting before any work, so a bad one fails in a second with its name and the fix."""
    from pls_pipelines.resources.crm import build_crm_client
    from pls_pipelines.resources.rules import RulesResource
    from pls_pipelines.resources.usage_source import LandingFiles
    from pls_pipelines.resources.warehouse import Warehouse

    Warehouse(settings.warehouse_url).check_connection()
    build_crm_client(settings.crm_kind, settings.local_crm_url).close()  # credentials present and usable
    if check_landing:
        LandingFiles(settings.usage_path).check()
    rules = RulesResource.from_environment()
    rules.scoring()
    rules.personas()
    rules.routing()
    rules.crm_fields()
    rules.catalog()


def run_daily_job(start: date, end: date, definitions=None, instance=None, job_name: str = "pls_daily_job"):
    """Run pls_daily_job (or another job of `definitions`) over [start, end] as one run, by default on the
    persistent instance (so `make ui` shows it) with the resources configured from the environment."""
    import contextlib

    import dagster as dg

    from pls_pipelines.dagster_instance import cli_run_tags, reap_killed_cli_runs
    from pls_pipelines.resources.warehouse import dispose_all_engines

    if definitions is None:
        from pls_pipelines.definitions import defs as definitions
    job = definitions.resolve_job_def(job_name)
    owned = dg.DagsterInstance.get() if instance is None else contextlib.nullcontext(instance)
    with owned as instance:
        reap_killed_cli_runs(instance)
        try:
            return job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": start.isoformat(),
                    "dagster/asset_partition_range_end": end.isoformat(),
                    "pls/trigger": "make run",
                    **cli_run_tags(),
                },
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                raise_on_error=False,
            )
        finally:
            dispose_all_engines()


@main.command("run")
@click.option(
    "--accounts", default=DEFAULT_ACCOUNTS, show_default=True, help="Demo size if demo data is absent."
)
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Demo seed if demo data is absent.")
def run(accounts: int, seed: int) -> None:
    """Generate demo data if absent, run the whole pipeline on the configured warehouse and CRM, summarise."""
    from pls_pipelines.dagster_instance import ensure_dagster_home
    from pls_pipelines.resources.usage_source import LandingFiles
    from pls_pipelines.summary import print_run_summary

    settings = load_settings()
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home.resolve()))
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    # dagster.yaml with the run and crm_api pool limits (the same file `make ui` uses; unless you wrote your own)
    ensure_dagster_home(dagster_home)
    started = time.monotonic()
    try:
        preflight(settings, check_landing=False)
    except ConfigError as exc:
        _fail(str(exc))
    source = LandingFiles(settings.usage_path)
    if not (settings.usage_path / "workspaces.csv").exists():
        if settings.usage_path != load_settings({"PLS_HOME": str(settings.home)}).usage_path:
            _fail(
                f"PLS_USAGE_PATH={settings.usage_path} has no landing files (workspaces.csv, users.csv, events/)."
            )
        if settings.crm_kind != "local":
            _fail(
                f"no landing data yet. With PLS_CRM={settings.crm_kind}, load the demo into your sandbox first: "
                f"`pls demo-data --crm {settings.crm_kind}` (it refuses a CRM that already holds records)."
            )
        click.echo(f"No demo data yet: generating {accounts:,} workspaces (seed {seed}) ...")
        manifest = generate_demo(settings, accounts, seed, 90, None)
        click.echo(f"  done in {manifest['seconds']}s: {manifest['files']['events']:,} events.")
    try:
        source.check()
    except ConfigError as exc:
        _fail(str(exc))
    days = source.available_days()
    if not days:
        _fail(f"PLS_USAGE_PATH={settings.usage_path} has no events/YYYY-MM-DD.jsonl files.")
    click.echo(f"Running pls_daily_job for {days[0]} .. {days[-1]} ({len(days)} days) ...")
    result = run_daily_job(days[0], days[-1])
    print_run_summary(settings, result.run_id, time.monotonic() - started)
    if not result.success:
        stopped = [e for e in result.get_asset_check_evaluations() if not e.passed and e.check_name == "crm_sync_guard"]
        if stopped:
            click.secho(f"CRM sync stopped by crm_sync_guard: {stopped[0].description}", fg="yellow", err=True)
        else:
            click.secho("The run failed; see the errors above or open the run in `make ui`.", fg="red", err=True)
        sys.exit(1)


@main.command("summary")
def summary() -> None:
    """Print the summary of the latest run again."""
    from pls_pipelines.summary import print_run_summary

    print_run_summary(load_settings(), None, None)


# -- CRM views ---------------------------------------------------------------------------------------------
@main.group("crm")
def crm() -> None:
    """Look at the CRM the way a seller does."""


@crm.command("show")
@click.argument("company")
def crm_show(company: str) -> None:
    """Show a CRM company (by domain, id or name) with its Product-Led Sales fields and contacts."""
    from pls_pipelines.summary import print_company

    settings = load_settings()
    try:
        found = print_company(settings, company)
    except ConfigError as exc:
        _fail(str(exc))
    if not found:
        click.secho(
            f"No CRM company matches {company!r} (try its domain, e.g. acme.com).", fg="yellow", err=True
        )
        sys.exit(1)


@main.command("classify-title")
@click.argument("title")
@click.option(
    "--config", "config_path", type=click.Path(exists=True, dir_okay=False), envvar="PLS_PERSONAS_CONFIG",
    help="Persona and title rules YAML (default: $PLS_PERSONAS_CONFIG, else the shipped personas.yaml).",
)
def classify_title_command(title: str, config_path: str | None) -> None:
    """Print the seniority and department parsed from a job title, and the rules that matched, as JSON."""
    from dataclasses import asdict

    from pls_pipelines.lib.titles import classify_title, load_title_rules

    try:
        rules = load_title_rules(config_path)
    except ConfigError as exc:
        _fail(str(exc))
    click.echo(json.dumps(asdict(classify_title(title, rules)), ensure_ascii=False))


def _register_scoring_commands() -> None:
    from pls_pipelines.cli_doctor import doctor_command
    from pls_pipelines.cli_scoring import backtest_command, explain_command, fit_command, score_command
    from pls_pipelines.cli_sync import sync_command

    for command in (explain_command, score_command, backtest_command, fit_command, sync_command, doctor_command):
        main.add_command(command)


_register_scoring_commands()

if __name__ == "__main__":
    main()
