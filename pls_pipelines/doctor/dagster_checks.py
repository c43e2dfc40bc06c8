"""6. Dagster home: DAGSTER_HOME set, absolute, with a dagster.yaml that limits concurrency."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from pls_pipelines.doctor.report import FAIL, OK, WARN, Check, first_line
from pls_pipelines.settings import Settings


def check_dagster_home(settings: Settings, env: Mapping[str, str]) -> Check:
    """DAGSTER_HOME set, absolute, with a dagster.yaml: without it `pls run` still works (it falls back to
    $PLS_HOME/dagster_home), but a daemon or webserver started by hand keeps schedules and run history in a
    temporary instance, so the schedule silently never runs."""
    from pls_pipelines.dagster_instance import INSTANCE_YAML, MARKER

    suggested = settings.dagster_home.resolve()
    command = '.venv/bin/python -m pls_pipelines.dagster_instance "$DAGSTER_HOME"'
    write = f"{command} (make run and make ui do it too)"
    home = env.get("DAGSTER_HOME")
    if not home:
        return Check("dagster home", WARN, f"DAGSTER_HOME is not set: `pls run` falls back to {suggested}, but "
                     "dagster-daemon and dagster-webserver would keep schedules and runs in a throwaway instance",
                     f"export DAGSTER_HOME={suggested}, then {write}")
    if not os.path.isabs(home):
        return Check("dagster home", FAIL, f"DAGSTER_HOME={home} is relative: Dagster requires an absolute path",
                     f"export DAGSTER_HOME={Path(home).resolve()}")
    config = Path(home) / "dagster.yaml"
    if not config.exists():
        what = "has no dagster.yaml" if Path(home).is_dir() else "does not exist yet"
        return Check("dagster home", WARN, f"DAGSTER_HOME={home} {what}: no run queue or crm_api pool limit, so "
                     "two runs can collide on the warehouse and the CRM rate limit", f"write it: {write}")
    text = config.read_text(encoding="utf-8")
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return Check("dagster home", FAIL, f"{config} is not valid YAML: {first_line(exc)}",
                     f"fix it (deploy/dagster.yaml is a complete example), or delete it and run {command}")
    if text.startswith(MARKER):
        if text != INSTANCE_YAML:
            return Check("dagster home", WARN, f"{config} was written by an older pls-pipelines",
                         f"refresh it: {write}")
        return Check("dagster home", OK, f"{config} (written by pls-pipelines: one run at a time, crm_api pool 1)")
    if not isinstance(parsed, dict) or "concurrency" not in parsed:
        return Check("dagster home", WARN, f"{config} is your own and sets no concurrency limits",
                     "add the concurrency block of deploy/dagster.yaml (runs.max_concurrent_runs, pools.default_limit:"
                     " 1), or run `dagster instance concurrency set crm_api 1`")
    storage = next((k for k in ("storage", "run_storage") if k in parsed), None)
    kind = next(iter(parsed[storage]), "custom") if storage and isinstance(parsed[storage], dict) else "sqlite"
    return Check("dagster home", OK, f"{config} (your own; {kind} storage, with concurrency limits)")
