"""Where product usage comes from: landing files (JSON Lines, CSV, Parquet) or tables already in the warehouse.

Landing folder layout (the `files` source):

    workspaces.csv, users.csv                     (or .parquet)
    events/2025-03-01.jsonl                       one file per day, named by the day its events occurred
    events/2025-03-01/part-0001.parquet           ... or a folder per day, for several or late files
    events/date=2025-03-01/late-2025-03-04.csv    ... Hive-style folder names work too

Events are not parsed here: the files are handed to DuckDB (`lib/event_files_sql.py`), which reads them in
parallel; a line that does not parse still reaches the quarantine table verbatim. The `warehouse` source reads
an existing table or view with the flat columns instead, for teams whose events already land in the warehouse.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.event_catalog import EventCatalog
from pls_pipelines.lib.event_files_sql import EXTENSIONS, EventFile
from pls_pipelines.lib.sql_identifiers import check_identifier, split_qualified
from pls_pipelines.resources.warehouse import Warehouse

_DAY = re.compile(r"^(?:date=)?(\d{4}-\d{2}-\d{2})(?:\.[^/]*)?$")
SOURCE_KINDS = ("files", "warehouse")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype("string").astype(object).where(frame.notna(), None)


def _day_of(name: str) -> date | None:
    match = _DAY.match(name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


class LandingFiles:
    """A landing folder of workspaces, users and daily event files."""

    kind = "files"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._sanitized_dir: tempfile.TemporaryDirectory | None = None

    def check(self) -> None:
        for table in ("workspaces", "users"):
            if self._table_file(table) is None:
                raise ConfigError(
                    f"PLS_USAGE_PATH={self.path}: no {table}.csv or {table}.parquet there. Point PLS_USAGE_PATH "
                    f"at your landing folder, or run `pls demo-data` to generate the demo data set."
                )

    def _table_file(self, table: str) -> Path | None:
        return next((p for p in (self.path / f"{table}.csv", self.path / f"{table}.parquet") if p.exists()), None)

    def read_table(self, table: str, wh: Warehouse | None = None) -> pd.DataFrame:
        """workspaces or users, as strings (ids are never numbers to us)."""
        self.check()
        file = self._table_file(table)
        if file.suffix == ".parquet":
            return _as_text(pd.read_parquet(file))
        return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])

    def event_files(self, start: date, end: date) -> list[EventFile]:
        """Every event file for the days in [start, end], in a stable order (day, then name)."""
        folder = self.path / "events"
        if not folder.is_dir():
            return []
        found: list[EventFile] = []
        for entry in sorted(folder.iterdir()):
            day = _day_of(entry.name)
            if day is None or not start <= day <= end:
                continue
            candidates = sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry]
            for file in candidates:
                fmt = EXTENSIONS.get(file.suffix.lower())
                if fmt is not None:
                    found.append(EventFile(str(file), day, file.relative_to(folder).as_posix(), fmt))
        return [self._readable(f) for f in found]

    def available_days(self) -> list[date]:
        folder = self.path / "events"
        if not folder.is_dir():
            return []
        return sorted({d for entry in folder.iterdir() if (d := _day_of(entry.name)) is not None})

    def _readable(self, file: EventFile) -> EventFile:
        """JSON Lines with bytes that are not UTF-8: a copy with U+FFFD in their place, so the bad lines are
        quarantined as invalid_utf8 instead of failing the whole day (DuckDB's text reader refuses such files).
        CSV with mixed line endings: see `_uniform_newlines`."""
        if file.format == "csv":
            return self._uniform_newlines(file)
        if file.format != "jsonl":
            return file
        data = Path(file.path).read_bytes()
        try:
            data.decode("utf-8")
            return file
        except UnicodeDecodeError:
            pass
        copy = self._copy_path(".jsonl")
        copy.write_text(data.decode("utf-8", errors="replace"), encoding="utf-8")
        return EventFile(str(copy), file.day, file.label, file.format, sanitized=True)

    def _uniform_newlines(self, file: EventFile) -> EventFile:
        """A CSV file whose lines end in more than one way ("\r\n" and "\n", as when a Windows export and a Unix
        one are concatenated): a copy ending every line in "\n". DuckDB's CSV sniffer refuses such a file
        outright ("Error when sniffing file"), which failed the whole day's load instead of reading its rows."""
        data = Path(file.path).read_bytes()
        crlf = data.count(b"\r\n")
        endings = (crlf, data.count(b"\n") - crlf, data.count(b"\r") - crlf)
        if sum(1 for n in endings if n) <= 1:
            return file
        copy = self._copy_path(".csv")
        copy.write_bytes(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        return EventFile(str(copy), file.day, file.label, file.format)

    def _copy_path(self, suffix: str) -> Path:
        """A fresh path for a readable copy of a landing file, in a folder that lives as long as this source."""
        if self._sanitized_dir is None:
            self._sanitized_dir = tempfile.TemporaryDirectory(prefix="pls-sanitized-")
        folder = Path(self._sanitized_dir.name)
        return folder / f"{len(list(folder.iterdir()))}{suffix}"

    def describe(self) -> str:
        return f"landing files in {self.path}"


class WarehouseEvents:
    """Events (and users, workspaces) that already land in a warehouse table or view with the flat columns:
    event_id, occurred_at (TIMESTAMP, UTC), user_id, workspace_id, event, properties (JSON text or JSON)."""

    kind = "warehouse"
    REQUIRED = ("event_id", "occurred_at", "user_id", "workspace_id", "event", "properties")

    def __init__(self, events_table: str, workspaces_table: str, users_table: str):
        for setting, value in (
            ("PLS_USAGE_EVENTS_TABLE", events_table),
            ("PLS_USAGE_WORKSPACES_TABLE", workspaces_table),
            ("PLS_USAGE_USERS_TABLE", users_table),
        ):
            if not value:
                raise ConfigError(
                    f"PLS_USAGE_SOURCE=warehouse needs {setting}: the table or view (schema.name) to read."
                )
            # checked here, when the setting is read, not first when a query is built from it
            check_identifier(value, setting, qualified=True, example="analytics.product_events")
        self.events_table, self.workspaces_table, self.users_table = events_table, workspaces_table, users_table

    @staticmethod
    def table(qualified_name: str, *columns: str) -> sa.TableClause:
        schema, name = split_qualified(qualified_name)
        return sa.table(name, *(sa.column(c) for c in columns), schema=schema)

    def staged_select(self, catalog: EventCatalog, start: date, end_exclusive: date) -> sa.Select:
        """The table's rows for the window in the staged shape (the same shape the file readers produce)."""
        t = self.table(self.events_table, *self.REQUIRED).c
        properties = sa.cast(t.properties, sa.Text)
        page_name = sa.cast(t.properties, sa.JSON)[catalog.page_name_property].as_string()
        text = {name: sa.func.nullif(sa.func.trim(sa.cast(t[name], sa.String)), "") for name in self.REQUIRED}
        return sa.select(
            sa.cast(t.occurred_at, sa.Date).label("file_day"),
            sa.literal(self.events_table).label("source_file"),
            sa.cast(sa.null(), sa.BigInteger).label("line_number"),
            sa.cast(sa.null(), sa.Text).label("raw_line"),
            sa.cast(sa.null(), sa.String).label("parse_error"),
            text["event_id"].label("event_id"),
            sa.cast(t.occurred_at, sa.DateTime).label("occurred_at"),
            text["user_id"].label("user_id"),
            text["workspace_id"].label("workspace_id"),
            text["event"].label("event"),
            sa.case((t.event == catalog.page_view_event, sa.func.lower(sa.func.trim(page_name)))).label("page"),
            sa.func.coalesce(properties, "{}").label("properties"),
        ).where(t.occurred_at >= start, t.occurred_at < end_exclusive)

    def read_table(self, table: str, wh: Warehouse) -> pd.DataFrame:
        """workspaces or users, read from their warehouse table."""
        name = {"workspaces": self.workspaces_table, "users": self.users_table}[table]
        frame = wh.read_sql(sa.select(sa.text("*")).select_from(self.table(name)))
        return _as_text(frame)

    def describe(self) -> str:
        return f"warehouse table {self.events_table}"


UsageSource = LandingFiles | WarehouseEvents


class UsageSourceResource(dg.ConfigurableResource):
    """Where product usage lands: a folder of landing files (default) or tables already in the warehouse."""

    kind: str = Field(  # str, not Literal: an EnvVar must be resolvable into it; checked in get_source
        default="files", description="files (a landing folder) or warehouse (existing tables) (env PLS_USAGE_SOURCE)."
    )
    path: str = Field(
        default=".pls/demo/landing",
        description="Landing folder with workspaces.csv, users.csv and events/<day>.<jsonl|csv|parquet> "
        "(env PLS_USAGE_PATH).",
    )
    events_table: str = Field(default="", description="Events table or view (env PLS_USAGE_EVENTS_TABLE).")
    workspaces_table: str = Field(default="", description="Workspaces table (env PLS_USAGE_WORKSPACES_TABLE).")
    users_table: str = Field(default="", description="Users table (env PLS_USAGE_USERS_TABLE).")

    def get_source(self) -> UsageSource:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(
                f"PLS_USAGE_SOURCE={self.kind!r} is not a usage source. Use 'files' (a landing folder, "
                f"PLS_USAGE_PATH) or 'warehouse' (existing tables, PLS_USAGE_EVENTS_TABLE and friends)."
            )
        if self.kind == "warehouse":
            return WarehouseEvents(self.events_table, self.workspaces_table, self.users_table)
        return LandingFiles(self.path)

