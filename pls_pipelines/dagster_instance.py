"""The local Dagster instance's dagster.yaml (the one `make run`, `pls run` and `make ui` share).

One place for its content: the Makefile runs `python -m pls_pipelines.dagster_instance $DAGSTER_HOME` and
`pls run` calls `ensure_dagster_home`. Production instances use deploy/dagster.yaml instead, which carries
the same run and pool limits on PostgreSQL storage.

The format was checked against Dagster 1.13's instance schema (dagster/_core/instance/config.py,
`get_concurrency_config`): under `concurrency.pools` only `default_limit`, `granularity` and
`op_granularity_run_buffer` exist - a limit for one named pool cannot be written in dagster.yaml (it lives in the
instance database: `dagster instance concurrency set crm_api 1`, or the UI). `default_limit` applies to every
pool without an explicit limit, and `crm_api` is the project's only pool.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from pls_pipelines.private_files import is_pls_home, private_dir, private_file

MARKER = "# Written by pls-pipelines (pls_pipelines/dagster_instance.py)."

INSTANCE_YAML = f"""{MARKER} Remove this line to keep your own edits: with it, the
# file is rewritten when the project's version changes. Storage is the default: SQLite files in this folder.

concurrency:
  # One run at a time: the embedded warehouse is a DuckDB file, which takes a single writing process, so runs
  # the schedule, the landing-files sensor or a backfill queue up behind each other instead of failing on its lock.
  runs:
    max_concurrent_runs: 1
  # The CRM sync steps share the pool `crm_api` (assets/crm_sync.py): the CRM's rate limit is per portal/org, so
  # one step at a time may spend it, across all runs - also `pls run` and `pls sync`, which run in-process and
  # claim the slot from this instance. `op` holds back only that step, not the rest of its run.
  pools:
    default_limit: 1
    granularity: op

# A run that ended without giving its pool slot back (its process was killed mid-step) would hold `crm_api` and
# stall every later sync: the daemon (`make ui`) frees the slots of finished runs after 5 minutes. A run left
# STARTED by a killed `pls run` or `pls sync` is failed, and its slot freed, by the next of them
# (pls_pipelines/dagster_instance.py, reap_killed_cli_runs).
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 300
"""


def ensure_dagster_home(dagster_home: Path) -> Path:
    """Create DAGSTER_HOME and its dagster.yaml when missing, empty or an older version written by us; a file
    you wrote yourself (no marker line) is left alone. Returns the dagster.yaml path.

    The folder is user-only (0700), and so is PLS_HOME when it holds it: run history and event logs are in
    there, in SQLite files Dagster creates with the umask's mode (see private_files.py)."""
    if is_pls_home(dagster_home.parent):
        private_dir(dagster_home.parent, ours=True)
    private_dir(dagster_home, ours=True)
    config = dagster_home / "dagster.yaml"
    current = config.read_text(encoding="utf-8") if config.exists() else ""
    if current != INSTANCE_YAML and (not current.strip() or current.startswith(MARKER)):
        private_file(config)
        config.write_text(INSTANCE_YAML, encoding="utf-8")
    return config


PID_TAG, HOST_TAG = "pls/pid", "pls/host"


def cli_run_tags() -> dict[str, str]:
    """Tags of a run the CLI executes in its own process, so that a later CLI call can tell it was killed."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def reap_killed_cli_runs(instance, log: Callable[[str], None] = print) -> list[str]:
    """Fail the runs `pls run` / `pls sync` executed in a process that no longer exists, and free their pool slots.

    Such a run (its process got SIGKILL, the OOM killer, a reboot) stays STARTED forever and keeps the `crm_api`
    slot it held, so every later sync would wait for it without a word. Only runs tagged with this host and a
    process id (cli_run_tags) are considered, so runs the daemon launched are left to its run monitoring."""
    import dagster as dg

    active = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]
    runs = instance.get_runs(dg.RunsFilter(statuses=active, tags={HOST_TAG: socket.gethostname()}))
    reaped = []
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid <= 0 or _process_alive(pid):
            continue
        instance.report_run_failed(run, message=f"The process running it (pid {pid}) ended without finishing "
                                   "the run: killed or crashed. Marked failed by the next pls command.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log(f"Run {run.run_id[:8]} ({run.tags.get('pls/trigger', run.job_name)}) was killed before it finished: "
            "marked failed and freed its crm_api slot. What it synced is recorded; this run does the rest.")
        reaped.append(run.run_id)
    return reaped


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process holds the id now: not ours to judge
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m pls_pipelines.dagster_instance DAGSTER_HOME")
    ensure_dagster_home(Path(sys.argv[1]))
