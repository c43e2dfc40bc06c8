"""Load a window of days into usage_events / usage_events_rejected: read, judge, delete-insert, all in SQL.

Where the work runs:
- landing files + DuckDB warehouse: everything inside the warehouse connection (DuckDB reads the files),
- landing files + another warehouse: DuckDB in memory reads and judges the files; the verdicts are copied
  into the warehouse (COPY for PostgreSQL) in one transaction,
- warehouse source: the warehouse itself stages its table and judges it (portable SQL).
Either way the window is replaced in one transaction, so a re-run or a backfill never duplicates a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from pls_pipelines.lib.event_catalog import EventCatalog
from pls_pipelines.lib.event_files_sql import EventFile, staged_csv_rejects_sql, staged_events_sql
from pls_pipelines.lib.events import (
    STAGED_EVENTS,
    VALIDATED_EVENTS,
    accepted_events_select,
    future_cutoff,
    rejected_events_select,
    staged_events_table,
    usage_event_tables,
    validated_events_query,
    validated_events_table,
    verdict_counts_query,
)
from pls_pipelines.lib.sql_identifiers import quote_identifier
from pls_pipelines.resources.usage_source import LandingFiles, UsageSource
from pls_pipelines.resources.warehouse import Warehouse

PRODUCT_WORKSPACES = "product_workspaces"
_SCRATCH_WORKSPACES = "_pls_known_workspaces"


@dataclass
class LoadReport:
    """What a load did: rows per day and verdict ('accepted' or a reject reason), and the files read."""

    counts: pd.DataFrame  # event_date, verdict, n
    files: list[EventFile] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return int(self.counts.loc[self.counts["verdict"] == "accepted", "n"].sum())

    @property
    def read(self) -> int:
        return int(self.counts["n"].sum())

    @property
    def rejected(self) -> int:
        return self.read - self.accepted

    def reject_counts(self) -> dict[str, int]:
        rejects = self.counts[self.counts["verdict"] != "accepted"]
        return {str(k): int(v) for k, v in rejects.groupby("verdict")["n"].sum().sort_index().items()}

    def per_day(self) -> pd.DataFrame:
        """Day x (read, accepted, rejected), for logs and metadata."""
        if self.counts.empty:
            return pd.DataFrame(columns=["event_date", "read", "accepted", "rejected"])
        frame = self.counts.assign(accepted=lambda f: f["n"].where(f["verdict"] == "accepted", 0))
        days = frame.groupby("event_date").agg(read=("n", "sum"), accepted=("accepted", "sum")).reset_index()
        days["rejected"] = days["read"] - days["accepted"]
        return days


def load_usage_events(
    wh: Warehouse, source: UsageSource, catalog: EventCatalog, start: date, end: date, now: datetime
) -> LoadReport:
    """Replace [start, end] of usage_events and usage_events_rejected with the source's rows for those days."""
    events, rejected = usage_event_tables(sa.MetaData())
    wh.ensure_tables([events, rejected])
    if isinstance(source, LandingFiles):
        files = source.event_files(start, end)
        if wh.dialect == "duckdb":
            with wh.engine.begin() as conn:
                _stage_files(conn, files, catalog)
                return LoadReport(_judge_and_write(conn, events, rejected, start, end, now), files)
        return LoadReport(_load_files_via_scratch(wh, files, catalog, start, end, now), files)
    with wh.engine.begin() as conn:
        _set_utc(conn)
        staged = _create_temp(conn, staged_events_table(sa.MetaData()))
        conn.execute(staged.insert().from_select(
            [c.name for c in staged.columns], source.staged_select(catalog, start, end + timedelta(days=1))
        ))
        return LoadReport(_judge_and_write(conn, events, rejected, start, end, now))


def _set_utc(conn: sa.Connection) -> None:
    """Naive timestamps are UTC: the session's time zone must not shift them (or the day they fall on)."""
    conn.execute(sa.text("SET TimeZone = 'UTC'" if conn.dialect.name == "duckdb" else "SET LOCAL TIME ZONE 'UTC'"))


def _create_temp(conn: sa.Connection, table: sa.Table) -> sa.Table:
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {quote_identifier(table.name)}"))
    columns = (sa.Column(c.name, c.type) for c in table.columns)
    temp = sa.Table(table.name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])
    temp.create(conn)
    return temp


def _stage_files(conn: sa.Connection, files: list[EventFile], catalog: EventCatalog) -> None:
    """Fill the staged table from the files (a DuckDB connection: DuckDB is what reads them)."""
    _set_utc(conn)
    staged = _create_temp(conn, staged_events_table(sa.MetaData()))
    if not files:
        return
    duck = conn.connection.dbapi_connection
    columns = ", ".join(quote_identifier(c.name) for c in staged.columns)
    insert = f"INSERT INTO {quote_identifier(STAGED_EVENTS)} ({columns})"
    query = staged_events_sql(files, catalog)  # paths, days and catalog names travel as parameters
    duck.execute(f"{insert} {query.sql}", dict(query.params))
    csv_files = [f for f in files if f.format == "csv"]
    if csv_files:  # DuckDB fills its rejects table while reading, so the malformed rows come second
        rejects = staged_csv_rejects_sql(csv_files, catalog)
        duck.execute(f"{insert} {rejects.sql}", dict(rejects.params))


def _judge(conn: sa.Connection, workspaces_table: str, now: datetime) -> sa.Table:
    """Materialise the verdict of every staged row in a temp table."""
    staged = staged_events_table(sa.MetaData())
    workspaces = sa.Table(workspaces_table, sa.MetaData(), sa.Column("workspace_id", sa.String))
    validated = _create_temp(conn, validated_events_table(sa.MetaData()))
    query = validated_events_query(staged, workspaces, future_cutoff(now))
    conn.execute(validated.insert().from_select([c.name for c in validated.columns], query))
    return validated


def _judge_and_write(
    conn: sa.Connection, events: sa.Table, rejected: sa.Table, start: date, end: date, now: datetime
) -> pd.DataFrame:
    validated = _judge(conn, PRODUCT_WORKSPACES, now)
    window = {"start": start, "end": end}
    for table, select in (
        (events, accepted_events_select(validated, events)),
        (rejected, rejected_events_select(validated, rejected)),
    ):
        in_window = table.c.event_date.between(sa.bindparam("start"), sa.bindparam("end"))
        conn.execute(table.delete().where(in_window), window)
        conn.execute(table.insert().from_select([c.name for c in table.columns], select))
    counts = _fetch_frame(conn, verdict_counts_query(validated))
    _drop_temps(conn)
    return counts


def _load_files_via_scratch(
    wh: Warehouse, files: list[EventFile], catalog: EventCatalog, start: date, end: date, now: datetime
) -> pd.DataFrame:
    """Files into a non-DuckDB warehouse: judge in an in-memory DuckDB, then copy both tables in one go."""
    events, rejected = usage_event_tables(sa.MetaData())
    known = wh.read_table(PRODUCT_WORKSPACES, ["workspace_id"])
    scratch = sa.create_engine("duckdb:///:memory:")
    try:
        with scratch.begin() as conn:
            duck = conn.connection.dbapi_connection
            duck.register("_pls_known_frame", known)
            duck.execute(f"CREATE TEMP TABLE {quote_identifier(_SCRATCH_WORKSPACES)} AS SELECT * FROM _pls_known_frame")
            _stage_files(conn, files, catalog)
            validated = _judge(conn, _SCRATCH_WORKSPACES, now)
            accepted_frame = _duck_frame(conn, accepted_events_select(validated, events))
            rejected_frame = _duck_frame(conn, rejected_events_select(validated, rejected))
            counts = _fetch_frame(conn, verdict_counts_query(validated))
    finally:
        scratch.dispose()
    wh.replace_windows([(events.name, accepted_frame), (rejected.name, rejected_frame)], "event_date", start, end)
    return counts


def _fetch_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _duck_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """A large result from DuckDB as a frame, columnar (fetchall would build a Python tuple per event).

    Executed by SQLAlchemy, so its values (the future-timestamp cutoff, the reject reasons) stay bind
    parameters; the frame comes from DuckDB's cursor behind the result, which has not fetched a row yet."""
    return conn.execute(query).cursor.df()


def _drop_temps(conn: sa.Connection) -> None:
    for name in (VALIDATED_EVENTS, STAGED_EVENTS):
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {quote_identifier(name)}"))
