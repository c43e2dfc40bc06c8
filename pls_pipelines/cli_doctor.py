"""`pls doctor`: check the configuration, the warehouse, the usage data, the CRM credentials and fields and the
Dagster home, and print what to fix - the command to run after setting the environment, before the first schedule.

The checks live in the pls_pipelines.doctor package; this module only prints them, one aligned line each (status,
name, what was found) with the fix underneath when a check is not ok, then a summary. `--json` prints the same
report for scripts and CI; the exit code is 1 when any check failed, so a deploy pipeline can gate on it.
"""

from __future__ import annotations

import json
import sys

import click

from pls_pipelines.doctor import FAIL, OK, SKIP, WARN, Report, run_doctor

STATUS_STYLE = {
    OK: ("ok", {"fg": "green"}),
    WARN: ("warn", {"fg": "yellow"}),
    FAIL: ("FAIL", {"fg": "red", "bold": True}),
    SKIP: ("skip", {"dim": True}),
}


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (checks, statuses, fixes, summary).")
def doctor_command(as_json: bool) -> None:
    """Check settings, rule files, warehouse, usage data, CRM credentials and fields, and the Dagster home; print
    what to fix. Read-only except a scratch table it creates and drops in the warehouse. Exit code 1 on a FAIL."""
    report = run_doctor()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report)
    sys.exit(report.exit_code)


def print_report(report: Report) -> None:
    """The report as aligned lines: `  ok    warehouse   duckdb at ...`, the fix indented underneath."""
    width = max((len(c.name) for c in report.checks), default=0)
    indent = " " * (2 + 6 + width + 2)
    for check in report.checks:
        label, style = STATUS_STYLE.get(check.status, (check.status, {}))
        first, *rest = check.detail.splitlines() or [""]
        click.echo("  " + click.style(f"{label:<6}", **style) + f"{check.name:<{width}}  {first}")
        for line in rest:  # a rule file with several problems lists them one per line
            click.echo(f"{indent}{line.strip()}")
        if check.fix and check.status != OK:
            click.echo(f"{indent}" + click.style("fix: ", bold=True) + check.fix)
    click.echo()
    problems, warnings = report.count(FAIL), report.count(WARN)
    colour = "red" if problems else "yellow" if warnings else "green"
    click.secho(report.summary(), fg=colour, bold=True)
    if problems:
        click.echo("Fix the FAIL lines, then run `pls doctor` again.")
    elif not warnings:
        click.echo("Ready: `make run`, or let pls_daily_schedule take it from here.")
