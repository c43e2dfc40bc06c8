"""How fast the rollups are at scale, against a hand-written DuckDB query over the same data (a measurement).

    .venv/bin/python benchmarks/rollup_benchmark.py --events 10M      # ~1 min, generates its data first
    .venv/bin/python benchmarks/rollup_benchmark.py --events 100M     # the issue's target size (~10 min)

Steps, each timed in its own process so peak RSS is per step:
  load         the generated history (Parquet, usage_events layout) into the DuckDB warehouse file
  (a) project  the project's full rollup: user_daily_activity for every day (the SQL the asset runs), then the
               per-account rolling windows account_usage_rollup reads (1/7/28 days, prior 7/28)
  (b) raw      one hand-written DuckDB aggregation over the same table, straight to per-account windows
  incremental  one new day (1M events, Parquet landing file): validate + load it, recompute that day's
               user-days and the account windows and features - what the daily schedule does

Targets (this 2-core machine): (a) >= 10M events/s on 100M events, a/b <= 1.5, peak RSS < 2 GB;
incremental < 20 s. The script prints the figures and which targets are met; it does not fail.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_events import END_DAY, generate, parse_count

TARGET_RATE = 10_000_000
TARGET_RATIO = 1.5
TARGET_RSS_MB = 2_000
TARGET_INCREMENTAL_S = 20.0
# DuckDB would take 80% of RAM by default; the warehouse URL caps it like a deployment would.
MEMORY_LIMIT = "1500MB"


def _warehouse_url(data: Path) -> str:
    return f"duckdb:///{data / 'warehouse.duckdb'}?memory_limit={MEMORY_LIMIT}"


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across fork/exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_load(data: Path) -> dict:
    from pls_pipelines.resources.warehouse import Warehouse

    (data / "warehouse.duckdb").unlink(missing_ok=True)
    wh = Warehouse(_warehouse_url(data))
    started = time.monotonic()
    wh.execute(f"CREATE TABLE usage_events AS SELECT * FROM read_parquet('{data / 'history' / 'events.parquet'}')")
    # One account per workspace, except every 50th company with two workspaces (a consolidation).
    wh.execute(
        "CREATE TABLE account_map AS SELECT workspace_id, "
        "'acct_' || CAST(CAST(substr(workspace_id, 2) AS INTEGER) // 2 * 2 AS VARCHAR) AS account_id "
        f"FROM read_csv('{data / 'landing' / 'workspaces.csv'}', header = true)"
    )
    wh.execute(
        "CREATE TABLE product_workspaces AS SELECT * "
        f"FROM read_csv('{data / 'landing' / 'workspaces.csv'}', header = true, all_varchar = true)"
    )
    events = wh.scalar("SELECT COUNT(*) FROM usage_events")
    return {"seconds": time.monotonic() - started, "events": events, "peak_rss_mb": _peak_rss_mb()}


def step_project(data: Path) -> dict:
    from pls_pipelines.assets.rollups import account_windows, refresh_user_days
    from pls_pipelines.lib.event_catalog import load_event_catalog
    from pls_pipelines.resources.warehouse import Warehouse

    wh = Warehouse(_warehouse_url(data))
    catalog = load_event_catalog()
    start_day = wh.scalar("SELECT MIN(event_date) FROM usage_events")
    started = time.monotonic()
    user_days = refresh_user_days(wh, catalog, start_day, END_DAY)
    user_days_seconds = time.monotonic() - started
    windows = account_windows(wh, catalog, END_DAY)
    return {
        "seconds": time.monotonic() - started,
        "user_days_seconds": user_days_seconds,
        "user_days": user_days,
        "accounts": len(windows),
        "peak_rss_mb": _peak_rss_mb(),
    }


def step_raw(data: Path) -> dict:
    """The hand-written baseline: one pass over the events, straight to per-account windows."""
    import duckdb

    from pls_pipelines.lib.rollup_sql import window_bounds

    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True, config={"memory_limit": MEMORY_LIMIT})
    as_of = END_DAY
    bounds = window_bounds(as_of)  # the same window edges as the project's rollup
    d = {n: bounds[f"d{n}"].isoformat() for n in (1, 7, 28)}
    p7, p28 = bounds["prior7_start"].isoformat(), bounds["prior28_start"].isoformat()
    started = time.monotonic()
    rows = con.execute(
        f"""
        SELECT m.account_id,
            count(*) FILTER (WHERE e.event_date >= DATE '{d[1]}') AS events_1d,
            count(*) FILTER (WHERE e.event_date >= DATE '{d[7]}') AS events_7d,
            count(*) FILTER (WHERE e.event_date >= DATE '{d[28]}') AS events_28d,
            count(*) FILTER (WHERE e.event_date >= DATE '{p7}' AND e.event_date < DATE '{d[7]}') AS events_prior_7d,
            count(*) FILTER (WHERE e.event_date < DATE '{d[28]}') AS events_prior_28d,
            count(DISTINCT e.user_id) FILTER (WHERE e.event_date >= DATE '{d[28]}') AS active_users_28d,
            count(DISTINCT e.user_id) FILTER (WHERE e.event_date >= DATE '{d[7]}') AS active_users_7d,
            count(DISTINCT e.event) FILTER (WHERE e.event_date >= DATE '{d[28]}') AS distinct_events_28d,
            count(*) FILTER (WHERE e.event = 'Invite Sent' AND e.event_date >= DATE '{d[28]}') AS invites_28d,
            count(*) FILTER (WHERE e.page IN ('pricing', 'security', 'terms', 'privacy')
                             AND e.event_date >= DATE '{d[28]}') AS enterprise_page_views_28d,
            max(e.event_date) AS last_active_date
        FROM usage_events e JOIN account_map m USING (workspace_id)
        WHERE e.event_date BETWEEN DATE '{p28}' AND DATE '{as_of.isoformat()}'
        GROUP BY m.account_id
        """
    ).fetchall()
    return {"seconds": time.monotonic() - started, "accounts": len(rows), "peak_rss_mb": _peak_rss_mb()}


def step_incremental(data: Path) -> dict:
    """One new day, as the daily schedule runs it: ingest (validate), user-days for the day, account windows."""
    from pls_pipelines.assets.rollups import account_windows, refresh_user_days
    from pls_pipelines.lib.event_catalog import load_event_catalog
    from pls_pipelines.resources.event_loader import load_usage_events
    from pls_pipelines.resources.usage_source import LandingFiles
    from pls_pipelines.resources.warehouse import Warehouse

    wh = Warehouse(_warehouse_url(data))
    catalog = load_event_catalog()
    day = END_DAY + timedelta(days=1)
    history = wh.scalar("SELECT COUNT(*) FROM usage_events WHERE event_date < :d", {"d": day})
    started = time.monotonic()
    report = load_usage_events(wh, LandingFiles(data / "landing"), catalog, day, day, datetime(2026, 11, 24))
    ingest_seconds = time.monotonic() - started
    refresh_user_days(wh, catalog, day, day)
    user_days_seconds = time.monotonic() - started - ingest_seconds
    windows = account_windows(wh, catalog, day)
    return {
        "seconds": time.monotonic() - started,
        "ingest_seconds": ingest_seconds,
        "user_days_seconds": user_days_seconds,
        "windows_seconds": time.monotonic() - started - ingest_seconds - user_days_seconds,
        "day_events": report.read,
        "accepted": report.accepted,
        "history_events": history,
        "accounts": len(windows),
        "peak_rss_mb": _peak_rss_mb(),
    }


STEPS = {"load": step_load, "project": step_project, "raw": step_raw, "incremental": step_incremental}


def _run_step(step: str, data: Path) -> dict:
    """Run a step in a fresh interpreter so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, "--data", str(data)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="10M", help="history size (10M, 100M)")
    parser.add_argument("--data", type=Path, help="data folder (default /tmp/pls-bench-<events>)")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data or Path(f"/tmp/pls-bench-{args.events.lower()}")
    if args.step:
        print(json.dumps(STEPS[args.step](data), default=str))
        return

    events = parse_count(args.events)
    if not (data / "history" / "events.parquet").exists():
        print(f"generating {events:,} events into {data} ...", flush=True)
        info = generate(data, events, 1_000_000, 90, 100_000, 1_000_000)
        print(f"  {info['history_mb']:,} MB in {info['seconds']}s", flush=True)
    load = _run_step("load", data)
    print(f"load       {load['events']:,} events into DuckDB in {load['seconds']:.1f}s", flush=True)
    a = _run_step("project", data)
    b = _run_step("raw", data)
    inc = _run_step("incremental", data)
    rate = load["events"] / a["seconds"]
    ratio = a["seconds"] / b["seconds"]
    print(f"(a) project full rollup   {a['seconds']:6.2f}s  {rate / 1e6:6.1f}M events/s  "
          f"peak RSS {a['peak_rss_mb']:,.0f} MB"
          f"  ({a['user_days']:,} user-days in {a['user_days_seconds']:.2f}s, {a['accounts']:,} accounts)")
    print(f"(b) hand-written DuckDB   {b['seconds']:6.2f}s  {load['events'] / b['seconds'] / 1e6:6.1f}M events/s  "
          f"peak RSS {b['peak_rss_mb']:,.0f} MB  ({b['accounts']:,} accounts)")
    print(f"ratio a/b {ratio:.2f}")
    print(f"incremental day           {inc['seconds']:6.2f}s  ({inc['day_events']:,} events: ingest "
          f"{inc['ingest_seconds']:.1f}s, user-days {inc['user_days_seconds']:.1f}s, account windows "
          f"{inc['windows_seconds']:.1f}s; {inc['history_events']:,} events of history; peak RSS "
          f"{inc['peak_rss_mb']:,.0f} MB)")
    print("targets:")
    print(f"  full rollup >= 10M events/s: {_verdict(rate >= TARGET_RATE)} ({rate / 1e6:.1f}M)")
    print(f"  within 1.5x of hand-written: {_verdict(ratio <= TARGET_RATIO)} ({ratio:.2f}x)")
    peak = max(a["peak_rss_mb"], inc["peak_rss_mb"])
    print(f"  peak RSS < 2 GB:             {_verdict(peak < TARGET_RSS_MB)} ({peak:,.0f} MB)")
    print(f"  incremental day < 20 s:      {_verdict(inc['seconds'] < TARGET_INCREMENTAL_S)} ({inc['seconds']:.1f}s)")
    if events < 100_000_000:
        print("  (the targets are stated for --events 100M)")


if __name__ == "__main__":
    main()
