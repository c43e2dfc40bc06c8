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

import sys
from pathlib import Path

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
# STARTED by a killed `pls run` first needs Terminate in the UI.
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 300
"""


def ensure_dagster_home(dagster_home: Path) -> Path:
    """Create DAGSTER_HOME and its dagster.yaml when missing, empty or an older version written by us; a file
    you wrote yourself (no marker line) is left alone. Returns the dagster.yaml path."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    current = config.read_text(encoding="utf-8") if config.exists() else ""
    if current != INSTANCE_YAML and (not current.strip() or current.startswith(MARKER)):
        config.write_text(INSTANCE_YAML, encoding="utf-8")
    return config


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m pls_pipelines.dagster_instance DAGSTER_HOME")
    ensure_dagster_home(Path(sys.argv[1]))
