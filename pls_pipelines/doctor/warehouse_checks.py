"""2. Warehouse and 3. usage data: the warehouse connection and the right to create and drop tables there, then
the configured usage source (landing files or warehouse tables) and how fresh its newest day is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from pls_pipelines.doctor.report import FAIL, OK, SKIP, WARN, Check, first_line
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sql_identifiers import quote_identifier
from pls_pipelines.settings import Settings


def check_warehouse(settings: Settings, env: Mapping[str, str]) -> tuple[Check, Any]:
    """Connect, then create and drop a scratch table (the pipeline replaces tables on every run, so a read-only
    user fails on the first asset). Returns the check and the Warehouse (None when it cannot be used)."""
    from pls_pipelines.resources.warehouse import EXAMPLE_URLS, Warehouse, safe_url

    own = bool(env.get("PLS_WAREHOUSE_URL"))
    where = safe_url(settings.warehouse_url)
    setting_fix = ("check host, port, database, user and password in PLS_WAREHOUSE_URL, or unset it to use the "
                   "embedded DuckDB file" if own else
                   "the embedded DuckDB file lives under PLS_HOME: check that folder is writable, or set "
                   "PLS_WAREHOUSE_URL")
    try:
        wh = Warehouse(settings.warehouse_url)
    except ConfigError as exc:
        return Check("warehouse", FAIL, str(exc),
                     f"set PLS_WAREHOUSE_URL to a SQLAlchemy URL, e.g. {EXAMPLE_URLS}"), None
    except Exception as exc:
        return Check("warehouse", FAIL, f"cannot open {where}: {first_line(exc)}", setting_fix), None
    try:
        with wh.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).fetchall()
            schema = _current_schema(conn)
    except Exception as exc:
        cause = first_line(exc)
        fix = setting_fix
        if wh.dialect == "duckdb" and "lock" in cause.lower():
            fix = ("another process has the DuckDB file open (a running `make run`/`pls run`, or a run started from "
                   "`make ui`): wait for it to finish, then run `pls doctor` again")
        setting = "PLS_WAREHOUSE_URL" if own else "the embedded warehouse (PLS_WAREHOUSE_URL unset)"
        return Check("warehouse", FAIL, f"{setting}: cannot connect to {where}: {cause}", fix), None
    scratch = f"pls_doctor_{uuid.uuid4().hex[:10]}"
    try:
        wh.execute(f"CREATE TABLE {quote_identifier(scratch)} (probe INTEGER)")
    except Exception as exc:
        grant = (f"GRANT CREATE ON SCHEMA {schema} TO <the user in PLS_WAREHOUSE_URL>" if wh.dialect == "postgresql"
                 else "give the user in PLS_WAREHOUSE_URL the right to create tables")
        return Check("warehouse", FAIL, f"connected to {where}, but cannot create a table in schema "
                     f"{schema or '(default)'}: {first_line(exc)}",
                     f"the pipeline writes its tables there: {grant}, or point PLS_WAREHOUSE_URL at a schema "
                     f"it owns (PostgreSQL: ?options=-csearch_path%3D<schema>)"), None
    try:
        wh.execute(f"DROP TABLE {quote_identifier(scratch)}")
    except Exception as exc:
        # the pipeline replaces its tables (DROP, then CREATE) on every run: no DROP, no run
        return Check("warehouse", FAIL, f"connected to {where} and created a table, but could not drop it "
                     f"again: {first_line(exc)}",
                     f"give the user in PLS_WAREHOUSE_URL DROP on the tables it creates, then drop {scratch} by "
                     f"hand"), wh
    in_schema = f", schema {schema}" if schema else ""
    return Check("warehouse", OK, f"{wh.dialect} at {where}{in_schema}: connected, can create and drop tables"), wh


def _current_schema(conn: sa.Connection) -> str | None:
    try:
        return conn.execute(sa.text("SELECT current_schema()")).fetchall()[0][0]
    except Exception:
        return None



def check_usage_source(settings: Settings, env: Mapping[str, str], wh: Any, today: date | None = None) -> Check:
    """The configured usage source has days of events, and the newest is recent enough for the daily schedule.
    Empty is a warning, not a failure: a new deployment has no data yet and `pls demo-data` makes some."""
    from pls_pipelines.settings import source_max_age_hours

    source = (env.get("PLS_USAGE_SOURCE") or "files").strip()
    today = today or datetime.now(UTC).date()
    if source == "warehouse":
        return _check_warehouse_events(env, wh, today)
    if source != "files":
        return Check("usage data", SKIP, "needs a valid PLS_USAGE_SOURCE (see settings above)")
    from pls_pipelines.resources.usage_source import LandingFiles

    landing = LandingFiles(settings.usage_path)
    demo = ("`pls demo-data` writes the demo data set there" if settings.crm_kind in ("", "local") else
            f"`pls demo-data --crm {settings.crm_kind}` loads the demo into an EMPTY sandbox and writes its files")
    fix = f"point PLS_USAGE_PATH at your landing folder (workspaces.csv, users.csv, events/<day>.jsonl), or {demo}"
    try:
        landing.check()
    except ConfigError:
        return Check("usage data", WARN, f"PLS_USAGE_PATH={settings.usage_path}: no landing files yet "
                     f"(workspaces.csv, users.csv)", fix)
    days = landing.available_days()
    if not days:
        return Check("usage data", WARN, f"PLS_USAGE_PATH={settings.usage_path}: workspaces and users, but no "
                     f"events/<day> files", fix)
    detail = f"landing files in {settings.usage_path}: {len(days)} days, {days[0]} .. {days[-1]}"
    try:
        max_age = source_max_age_hours(env)
    except ConfigError:
        return Check("usage data", OK, detail)
    return _freshness(detail, days[-1], today, max_age,
                      "deliver the missing days to PLS_USAGE_PATH/events, or regenerate the demo with "
                      "`pls demo-data` (it ends yesterday)")


def _freshness(detail: str, newest: date, today: date, max_age_hours: float, fix: str) -> Check:
    """Warn when the newest day ended more than PLS_SOURCE_MAX_AGE_HOURS before today began: the daily schedule
    would process days without data, and usage_events_source_fresh would say so after the fact."""
    hours = ((today - newest).days - 1) * 24
    if hours > max_age_hours:
        return Check("usage data", WARN, f"{detail}; the newest day is {(today - newest).days} days old (more than "
                     f"PLS_SOURCE_MAX_AGE_HOURS={max_age_hours:g} h): usage_events_source_fresh will warn", fix)
    return Check("usage data", OK, detail)


def _check_warehouse_events(env: Mapping[str, str], wh: Any, today: date) -> Check:
    from pls_pipelines.resources.usage_source import WarehouseEvents
    from pls_pipelines.settings import source_max_age_hours

    if wh is None:
        return Check("usage data", SKIP, "needs the warehouse (see above)")
    try:
        source = WarehouseEvents(env.get("PLS_USAGE_EVENTS_TABLE", ""), env.get("PLS_USAGE_WORKSPACES_TABLE", ""),
                                 env.get("PLS_USAGE_USERS_TABLE", ""))
    except ConfigError as exc:  # a table name that is no SQL name: the message says which setting and the rule
        return Check("usage data", FAIL, str(exc), "fix the PLS_USAGE_*_TABLE setting it names")
    for variable, table in (("PLS_USAGE_EVENTS_TABLE", source.events_table),
                            ("PLS_USAGE_WORKSPACES_TABLE", source.workspaces_table),
                            ("PLS_USAGE_USERS_TABLE", source.users_table)):
        try:
            with wh.engine.connect() as conn:
                result = conn.execute(sa.select(sa.text("*")).select_from(WarehouseEvents.table(table)).limit(0))
                columns = {str(c).lower() for c in result.keys()}  # noqa: SIM118 (a Result, not a dict)
        except Exception as exc:
            return Check("usage data", FAIL, f"{variable}={table}: cannot read it: {first_line(exc)}",
                         f"set {variable} to an existing table or view (schema.name) the warehouse user may SELECT")
        if variable == "PLS_USAGE_EVENTS_TABLE":
            missing = [c for c in WarehouseEvents.REQUIRED if c not in columns]
            if missing:
                return Check("usage data", FAIL, f"{variable}={table} lacks the columns {', '.join(missing)}",
                             f"expose them in a view (README, Usage sources): {', '.join(WarehouseEvents.REQUIRED)}")
    try:
        events = WarehouseEvents.table(source.events_table, "occurred_at")
        with wh.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(events.c.occurred_at))).fetchall()[0][0]
    except Exception as exc:
        return Check("usage data", FAIL, f"PLS_USAGE_EVENTS_TABLE={source.events_table}: {first_line(exc)}",
                     "check the table's occurred_at column is a timestamp")
    if newest is None:
        return Check("usage data", WARN, f"PLS_USAGE_EVENTS_TABLE={source.events_table} is empty",
                     "load events into it (or use PLS_USAGE_SOURCE=files with `pls demo-data` to try the demo)")
    newest_day = newest.date() if isinstance(newest, datetime) else date.fromisoformat(str(newest)[:10])
    detail = f"warehouse table {source.events_table}: newest event on {newest_day}"
    try:
        return _freshness(detail, newest_day, today, source_max_age_hours(env),
                          f"check the export feeding {source.events_table} is still running")
    except ConfigError:
        return Check("usage data", OK, detail)
