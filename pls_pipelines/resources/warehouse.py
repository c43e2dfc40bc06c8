"""The warehouse: any SQLAlchemy URL, with fast bulk paths for the two we test (DuckDB and PostgreSQL).

Heavy work (events -> user-days -> account rollups) runs as SQL inside the warehouse; this module only moves
account- and contact-sized frames in and out, plus the day's events at ingest. DuckDB gets its frames through
`register` (zero-copy from Arrow) and PostgreSQL through COPY, because row-by-row `executemany` inserts are
100x slower and were the bottleneck of the first ingest prototype. Any other dialect falls back to pandas'
multi-row INSERTs, which is slower but portable.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sql_identifiers import quote_identifier
from pls_pipelines.private_files import (
    PRIVATE_FILE,
    is_pls_home,
    private_dir,
    shared_with_others,
    tighten,
    tighten_side_files,
)

logger = logging.getLogger(__name__)

_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()

EXAMPLE_URLS = "duckdb:///.pls/warehouse.duckdb or postgresql://user@host:5432/dbname"


def safe_url(url: str) -> str:
    """The URL as it may appear in logs and errors: the password, if any, replaced by ***."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def parse_warehouse_url(url: str, setting: str = "PLS_WAREHOUSE_URL") -> sa.URL:
    """Parse and sanity-check a warehouse URL, failing with the setting's name and an example of a good one."""
    if not url or not url.strip():
        raise ConfigError(f"{setting} is empty. Set it to a SQLAlchemy URL, e.g. {EXAMPLE_URLS}.")
    try:
        parsed = sa.make_url(url.strip())
    except Exception:
        raise ConfigError(
            f"{setting} is not a valid SQLAlchemy URL. Use the form dialect://user@host/db, e.g. {EXAMPLE_URLS}."
        ) from None
    try:
        parsed.get_dialect()
    except Exception:
        raise ConfigError(
            f"{setting} uses the database kind '{parsed.drivername}', which has no SQLAlchemy dialect installed. "
            f"Use duckdb:/// or postgresql://, or install that database's SQLAlchemy driver."
        ) from None
    return parsed


def _engine_for(url: str) -> Engine:
    """One engine per URL per process: DuckDB allows a single writer per file, so every caller shares it."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            parsed = parse_warehouse_url(url)
            database = parsed.database or ""
            # a file, not ":memory:" nor a service DuckDB reaches by prefix ("md:" MotherDuck, "s3://")
            if (parsed.get_backend_name() == "duckdb" and database not in ("", ":memory:")
                    and not re.match(r"[A-Za-z][\w+.-]*:", database)):
                _private_duckdb_file(Path(database))
            engine = sa.create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "duckdb")
            _ENGINES[url] = engine
        return engine


_WARNED_SHARED: set[Path] = set()


def _private_duckdb_file(path: Path) -> None:
    """The warehouse file user-only (0600) in a user-only folder when we create the folder (see private_files.py).

    DuckDB refuses an empty file as a database, so a new one cannot be opened 0600 in place first: DuckDB creates
    it in a fresh 0700 staging folder beside it, it is set to 0600 there and hard-linked into place. A chmod after
    DuckDB created it in place would leave a moment in which another user could open it and keep reading the
    data written later through that handle.
    """
    folder = private_dir(path.parent, ours=is_pls_home(path.parent))
    if path.exists():
        tighten(path, PRIVATE_FILE)
        tighten_side_files(path, (".wal",))
    else:
        with tempfile.TemporaryDirectory(prefix=".pls-new-", dir=folder) as staging:
            fresh = Path(staging) / path.name
            duckdb.connect(str(fresh)).close()
            os.chmod(fresh, PRIVATE_FILE)
            try:
                os.link(fresh, path)  # never replaces a file another process created meanwhile
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links
                if not path.exists():
                    os.rename(fresh, path)
    # DuckDB writes its .wal (and spills to .tmp/) beside the file with the umask's mode: only the folder keeps
    # them private, and a folder the user chose is theirs to set.
    if shared_with_others(folder) and folder.resolve() not in _WARNED_SHARED:
        _WARNED_SHARED.add(folder.resolve())
        logger.warning("%s: other users may enter this folder, so the .wal and .tmp files DuckDB writes beside %s "
                       "are readable by them; chmod 700 %s, or keep the warehouse in a private folder", folder,
                       path.name, folder)


def dispose_all_engines() -> None:
    """Close every pooled connection, releasing DuckDB's file lock for other processes (the UI, the CLI)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


class Warehouse:
    """Reads and writes warehouse tables by name; knows the dialect's fast bulk path."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine_for(url)
        self.dialect = self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Warehouse({safe_url(self.url)})"

    def check_connection(self) -> None:
        """Open a connection now, so a wrong URL fails before any work starts, with a message saying which."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            raise ConfigError(
                f"PLS_WAREHOUSE_URL: cannot connect to {safe_url(self.url)} ({type(exc).__name__}). Check the "
                f"host, database and credentials, or unset it to use the embedded DuckDB file."
            ) from None

    # -- reading ---------------------------------------------------------------------------------------------
    def table_exists(self, table: str, conn: sa.Connection | None = None) -> bool:
        # information_schema rather than SQLAlchemy's inspector: duckdb-engine's reflection leaves a result
        # open on the connection, which DuckDB 2 refuses to reuse inside the same transaction.
        query = sa.text(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_name = :t AND table_schema = current_schema()"
        )
        if conn is not None:  # fetchall, not scalar: DuckDB 2 wants the result drained before the next call
            return bool(conn.execute(query, {"t": table}).fetchall()[0][0])
        with self.engine.connect() as own:
            return bool(own.execute(query, {"t": table}).fetchall()[0][0])

    def columns(self, table: str) -> list[str]:
        """Column names of a table (via an empty SELECT: duckdb-engine's catalog reflection is incomplete)."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(f"SELECT * FROM {_quote(table)} WHERE 1 = 0")).keys())

    def read_sql(self, query: str | sa.Executable, params: dict[str, Any] | None = None) -> pd.DataFrame:
        statement = sa.text(query) if isinstance(query, str) else query
        with self.engine.connect() as conn:
            result = conn.execute(statement, params or {})
            # Plain tuples, not SQLAlchemy Rows: pandas 3 probes each non-tuple row for a `dtype` attribute, and a
            # Row answers a missing attribute by raising through its key lookup (~20 us a row, 1 s per 50k rows).
            return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=list(result.keys()))

    def read_table(self, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        cols = ", ".join(_quote(c) for c in columns) if columns else "*"
        return self.read_sql(f"SELECT {cols} FROM {_quote(table)}")

    def scalar(self, query: str, params: dict[str, Any] | None = None) -> Any:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(query), params or {}).fetchall()
            return rows[0][0] if rows else None

    # -- writing ---------------------------------------------------------------------------------------------
    def execute(self, statement: str | sa.Executable, params: dict[str, Any] | None = None) -> int:
        statement = sa.text(statement) if isinstance(statement, str) else statement
        with self.engine.begin() as conn:
            return conn.execute(statement, params or {}).rowcount

    def replace_table(self, table: str, frame: pd.DataFrame) -> int:
        """Full refresh: the table afterwards holds exactly `frame` (atomically where the dialect allows)."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {_quote(table)}"))
            self._create_from_frame(conn, table, frame)
            self._insert_frame(conn, table, frame)
        return len(frame)

    def replace_window(
        self, table: str, frame: pd.DataFrame, date_column: str, start: date, end: date
    ) -> int:
        """Delete-insert the rows whose `date_column` lies in [start, end] in one transaction.

        This is what makes partition runs idempotent: re-running a day (a backfill, a late file) replaces that
        day instead of appending a second copy.
        """
        return self.replace_windows([(table, frame)], date_column, start, end)[0]

    def replace_windows(
        self, frames: Sequence[tuple[str, pd.DataFrame]], date_column: str, start: date, end: date
    ) -> list[int]:
        """`replace_window` for several tables in one transaction (events and their quarantine together)."""
        with self.engine.begin() as conn:
            for table, frame in frames:
                if not self.table_exists(table, conn):
                    self._create_from_frame(conn, table, frame)
                else:
                    conn.execute(
                        sa.text(f"DELETE FROM {_quote(table)} WHERE {_quote(date_column)} BETWEEN :s AND :e"),
                        {"s": start, "e": end},
                    )
                self._insert_frame(conn, table, frame)
        return [len(frame) for _, frame in frames]

    def ensure_tables(self, tables: Sequence[sa.Table]) -> None:
        """Create tables that do not exist yet; add columns a newer release introduced (nullable, so old rows
        stay valid). Columns are never dropped here: a table's history is not ours to lose."""
        for table in tables:
            if not self.table_exists(table.name):
                table.create(self.engine)
                continue
            existing = set(self.columns(table.name))
            for column in table.columns:
                if column.name not in existing:
                    ddl = column.type.compile(dialect=self.engine.dialect)
                    self.execute(f"ALTER TABLE {_quote(table.name)} ADD COLUMN {_quote(column.name)} {ddl}")

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction for several writes (pass the connection as `conn`): all of them land, or none does,
        even when the process is killed between two of them."""
        with self.engine.begin() as conn:
            yield conn

    def append(self, table: str, frame: pd.DataFrame, conn: sa.Connection | None = None) -> int:
        if conn is None:
            with self.engine.begin() as own:
                return self.append(table, frame, own)
        if not self.table_exists(table, conn):
            self._create_from_frame(conn, table, frame)
        self._insert_frame(conn, table, frame)
        return len(frame)

    def run_in_transaction(self, statements: Iterable[tuple[sa.Executable, dict[str, Any]]]) -> list[int]:
        """Execute several statements atomically (a window delete followed by an INSERT ... SELECT)."""
        with self.engine.begin() as conn:
            return [conn.execute(stmt, params).rowcount for stmt, params in statements]

    # -- internals -------------------------------------------------------------------------------------------
    def _create_from_frame(self, conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
        # Our own DDL rather than pandas': every name quoted (DuckDB reserves words like "at" that pandas
        # leaves bare) and dates kept as DATE instead of TEXT.
        columns = [sa.Column(str(c), _sql_type(frame[c]), quote=True) for c in frame.columns]
        sa.Table(table, sa.MetaData(), *columns, quote=True).create(conn)

    def _insert_frame(self, conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        columns = ", ".join(_quote(c) for c in frame.columns)
        if self.dialect == "duckdb":
            duck = conn.connection.dbapi_connection
            view = f"_pls_frame_{id(frame)}"
            duck.register(view, frame)
            try:
                duck.execute(f"INSERT INTO {_quote(table)} ({columns}) SELECT {columns} FROM {view}")
            finally:
                duck.unregister(view)
        elif self.dialect == "postgresql":
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_MINIMAL, na_rep="\\N")
            buffer.seek(0)
            copy_sql = f"COPY {_quote(table)} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            with conn.connection.dbapi_connection.cursor() as cursor:
                if hasattr(cursor, "copy_expert"):  # psycopg2 (postgresql+psycopg2:// URLs)
                    cursor.copy_expert(copy_sql, buffer)
                else:  # psycopg 3, SQLAlchemy 2.1's default driver
                    with cursor.copy(copy_sql) as copy:
                        copy.write(buffer.getvalue())
        else:
            frame.to_sql(table, conn, index=False, if_exists="append", method="multi", chunksize=500)


def _sql_type(series: pd.Series) -> sa.types.TypeEngine:
    """The SQL type for a frame column; object columns are typed by their first non-null value."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Float()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return sa.DateTime()
    sample = series.dropna()
    first = sample.iloc[0] if not sample.empty else None
    if isinstance(first, bool):
        return sa.Boolean()
    if isinstance(first, datetime):
        return sa.DateTime()
    if isinstance(first, date):
        return sa.Date()
    if isinstance(first, int):
        return sa.BigInteger()
    if isinstance(first, float):
        return sa.Float()
    return sa.Text()


def _quote(identifier: str) -> str:
    """Quote a table/column name for SQL text; ValueError for a name outside lib/sql_identifiers.py's rule (the
    one the configuration loaders check names from settings and YAML against)."""
    return quote_identifier(identifier)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse all assets read and write. Any SQLAlchemy URL; DuckDB file by default."""

    url: str = Field(
        default="duckdb:///.pls/warehouse.duckdb",
        description="SQLAlchemy URL of the warehouse (env PLS_WAREHOUSE_URL), e.g. "
        "duckdb:///.pls/warehouse.duckdb or postgresql://user@host:5432/db.",
    )

    def get_warehouse(self) -> Warehouse:
        return Warehouse(self.url)
