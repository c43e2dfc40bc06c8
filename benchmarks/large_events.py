"""Generate large synthetic usage data for the rollup benchmark: 10M or 100M events, 100k workspaces, 1M users.

    .venv/bin/python benchmarks/large_events.py --events 10M --out /tmp/pls-bench

Written by DuckDB straight to Parquet (no Python loop), deterministic for a given size:
- history/events.parquet: N events over `--days` days, already in the `usage_events` layout (what ingest
  stores after validation), sorted by day as a warehouse would cluster them;
- landing/events/<new day>/part-0.parquet: one more day of `--day-events` events in the *landing* layout
  (flat schema, properties as JSON text), which the incremental benchmark ingests and validates;
- landing/workspaces.csv: the 100k workspaces, so the new day's events pass the unknown-workspace check.
Event names follow the shipped catalog, with page views of the pricing/security pages among them. Events come
in sessions of 16 per user and day (an active user does ~10-50 things a day; uniform random events would
give one event per user-day, which no product has).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pls_pipelines.lib.event_catalog import load_event_catalog

END_DAY = date(2026, 11, 21)
SESSION_EVENTS = 16  # the newest day of history; the incremental day is the one after


def parse_count(text: str) -> int:
    """'10M' -> 10_000_000, '250k' -> 250_000, '1234' -> 1234."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _event_names() -> list[str]:
    catalog = load_event_catalog()
    names = [name for f in catalog.features for name in f.events]
    names += [name for events in catalog.signals.values() for name in events]
    return names + [catalog.page_view_event] * 4  # page views are common


def _events_sql(count: int, days: int, first_day: date, workspaces: int, users: int, offset: int) -> str:
    names = _event_names()
    name_list = "[" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + "]"
    # Events come in sessions: a block of SESSION_EVENTS consecutive events shares one user and one day (a
    # product's active user does ~10-50 things a day). Users are skewed towards low numbers (heavy users).
    return f"""
    SELECT
        'e' || CAST(i + {offset} AS VARCHAR) AS event_id,
        TIMESTAMP '{first_day.isoformat()}' + to_days(CAST(hash(i // {SESSION_EVENTS}, 1) % {days} AS INTEGER))
            + to_microseconds(CAST(hash(i, 2) % 86400000000 AS BIGINT)) AS occurred_at,
        CAST(user_n // {users // workspaces} AS BIGINT) AS workspace_n,
        user_n,
        {name_list}[1 + CAST(hash(i, 3) % {len(names)} AS INTEGER)] AS event,
        ['pricing', 'security', 'docs', 'home', 'terms'][1 + CAST(hash(i, 4) % 5 AS INTEGER)] AS page_name
    FROM (
        SELECT i, CAST(least(hash(i // {SESSION_EVENTS}, 5) % {users}, hash(i // {SESSION_EVENTS}, 6) % {users})
            AS BIGINT) AS user_n
        FROM range({count}) t(i)
    )
    """


def generate(out: Path, events: int, day_events: int, days: int, workspaces: int, users: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / "history").mkdir(exist_ok=True)
    new_day = END_DAY + timedelta(days=1)
    landing_day = out / "landing" / "events" / new_day.isoformat()
    landing_day.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = '4GB'")  # the sort by day spills to disk instead of taking all RAM
    page_view = load_event_catalog().page_view_event.replace("'", "''")
    started = time.monotonic()
    first_day = END_DAY - timedelta(days=days - 1)
    con.execute(
        f"""COPY (
            SELECT event_id, occurred_at, CAST(occurred_at AS DATE) AS event_date,
                printf('u%07d', user_n) AS user_id, printf('w%06d', workspace_n) AS workspace_id, event,
                CASE WHEN event = '{page_view}' THEN page_name END AS page, '{{}}' AS properties,
                'benchmark' AS source_file
            FROM ({_events_sql(events, days, first_day, workspaces, users, 0)})
            ORDER BY event_date
        ) TO '{out / "history" / "events.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
    )
    history_seconds = time.monotonic() - started
    con.execute(
        f"""COPY (
            SELECT event_id, strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS occurred_at,
                printf('u%07d', user_n) AS user_id, printf('w%06d', workspace_n) AS workspace_id, event,
                CASE WHEN event = '{page_view}' THEN '{{"name": "' || page_name || '"}}' ELSE '{{}}' END
                    AS properties
            FROM ({_events_sql(day_events, 1, new_day, workspaces, users, events)})
        ) TO '{landing_day / "part-0.parquet"}' (FORMAT parquet)"""
    )
    con.execute(
        f"""COPY (SELECT printf('w%06d', i) AS workspace_id, 'Workspace ' || i AS name, CAST(NULL AS VARCHAR)
            AS crm_company_id FROM range({workspaces}) t(i)) TO '{out / "landing" / "workspaces.csv"}' (HEADER)"""
    )
    return {
        "events": events,
        "history_file": str(out / "history" / "events.parquet"),
        "history_mb": round((out / "history" / "events.parquet").stat().st_size / 1e6, 1),
        "seconds": round(time.monotonic() - started, 1),
        "history_seconds": round(history_seconds, 1),
        "new_day": new_day.isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="10M", help="history size: 10M, 100M, ... (default 10M)")
    parser.add_argument("--day-events", default="1M", help="events on the new day (default 1M)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workspaces", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pls-bench"))
    args = parser.parse_args()
    info = generate(
        args.out, parse_count(args.events), parse_count(args.day_events), args.days, args.workspaces, args.users
    )
    print(f"wrote {info['events']:,} events ({info['history_mb']:,} MB) in {info['seconds']}s to {args.out}")


if __name__ == "__main__":
    main()
