"""`pls doctor`: every setting, connection and credential a deployment needs, checked in one go, each answered
with ok / warn / FAIL and, when not ok, the variable, YAML key or command that fixes it.

Why a separate command when `pls run` already checks its settings first: `pls run` stops at the first problem
and then does the work, and its check only sees that a credential is set, not that the CRM accepts it - so a
data engineer setting up a deployment fixes one thing per attempt and learns about a revoked token only once a
run reaches the CRM. The doctor reports everything at once, touches nothing that
matters (its only write is a scratch table it drops again, to prove the warehouse user may create tables) and
never changes anything in the CRM: the field check reads property definitions, it does not provision them.

The checks are plain functions from the environment to `Check` rows; cli_doctor.py prints them. Secrets never
reach the output: messages are built from variable names and `safe_url`, and `redact` replaces any secret value
that might still slip in (a driver echoing a password) before anything is returned.

The package, one job a module, in the order the checks run: report (the statuses, Check, Report, the redaction
of secrets), config_checks (settings, rule files, identity overrides), warehouse_checks (the warehouse, the usage
source and its freshness), crm_checks (the CRM connection and the credential or base URL that fixes it),
crm_field_checks (the pls_* fields, read-only) and dagster_checks (DAGSTER_HOME). run_doctor, below, runs them all.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from pls_pipelines.doctor.config_checks import check_rules, check_settings
from pls_pipelines.doctor.crm_checks import CRM_CHECK, check_crm
from pls_pipelines.doctor.crm_field_checks import check_crm_fields
from pls_pipelines.doctor.dagster_checks import check_dagster_home
from pls_pipelines.doctor.report import FAIL, OK, SKIP, WARN, Check, Report, redact, secret_values
from pls_pipelines.doctor.warehouse_checks import check_usage_source, check_warehouse
from pls_pipelines.settings import load_settings

__all__ = [
    "FAIL",
    "OK",
    "SKIP",
    "WARN",
    "Check",
    "Report",
    "check_crm",
    "check_crm_fields",
    "check_dagster_home",
    "check_rules",
    "check_settings",
    "check_usage_source",
    "check_warehouse",
    "redact",
    "run_doctor",
    "secret_values",
]


def run_doctor(environ: Mapping[str, str] | None = None, today: date | None = None) -> Report:
    """Every check, in the order a setup goes: configuration, warehouse, usage data, CRM, CRM fields, Dagster.
    A check that depends on a failed one is skipped rather than failing twice. Never raises: an unexpected error
    becomes a FAIL line, because a doctor that crashes tells nobody what to fix."""
    from pls_pipelines.resources.warehouse import dispose_all_engines

    env = dict(os.environ if environ is None else environ)
    report = Report()
    client = None
    try:
        settings, checks = _guard("settings", lambda: check_settings(env), lambda failed: (None, [failed]))
        report.checks += checks
        rule_checks, field_map = _guard("rules", lambda: check_rules(env), lambda failed: ([failed], None))
        report.checks += rule_checks
        settings = settings or load_settings({})
        wh_check, wh = _guard("warehouse", lambda: check_warehouse(settings, env), lambda failed: (failed, None))
        report.checks.append(wh_check)
        report.checks.append(_guard("usage data", lambda: check_usage_source(settings, env, wh, today), _alone))
        crm_check, client = _guard(CRM_CHECK, lambda: check_crm(settings, env), lambda failed: (failed, None))
        report.checks.append(crm_check)
        report.checks.append(_guard("crm fields", lambda: check_crm_fields(client, field_map), _alone))
        report.checks.append(_guard("dagster home", lambda: check_dagster_home(settings, env), _alone))
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        dispose_all_engines()  # release the DuckDB file for the runs that come next
    secrets = secret_values(env)
    report.checks = [Check(c.name, c.status, redact(c.detail, secrets), redact(c.fix, secrets))
                     for c in report.checks]
    return report


def _alone(failed: Check) -> Check:
    return failed


def _guard(name: str, check: Callable[[], Any], on_error: Callable[[Check], Any]) -> Any:
    """Run one check; an unexpected exception becomes its FAIL line, in the shape `on_error` gives it."""
    try:
        return check()
    except Exception as exc:
        message = " ".join(str(exc).split())[:300]
        return on_error(Check(name, FAIL, f"unexpected error: {type(exc).__name__}: {message}",
                              "a bug in `pls doctor` or an unusual setup: please report it with `pls doctor --json`"))
