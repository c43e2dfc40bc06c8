"""The CRM sync's own records, written as the sync goes, so a run killed at any point loses nothing.

Four tables, all in the warehouse:
- crm_sync_log: one row per record and run saying what happened (sent, unchanged, rejected, failed, held, ...);
- crm_sync_state: what the CRM confirmed holding, per record (lib/sync_state.py);
- crm_sync_rejections: records the CRM refused, held back until their values change (lib/sync_rejections.py);
- crm_sync_runs: one row per sync attempt: running, then finished, failed or (found later) interrupted.

Each batch the CRM answered is recorded in one transaction - its log rows, the state of the records it
confirmed, the rejections - right after the answer. A SIGKILL can therefore cost at most the batch in flight:
the CRM may hold it while the warehouse does not know, and the next run sends it again. That re-send is
harmless because updates set values (idempotent) and creates are upserts by email. The next run also marks the
killed attempt `interrupted` in crm_sync_runs and logs how far it got, so the log tells the whole story.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from pls_pipelines.lib.sync import CreateOutcome, NewContact, RecordOutcome
from pls_pipelines.lib.sync_rejections import (
    REJECTION_COLUMNS,
    SYNC_REJECTIONS,
    rejection_rows,
    rejections_table,
)
from pls_pipelines.lib.sync_state import (
    STATE_COLUMNS,
    SYNC_STATE,
    Values,
    fields_hash,
    state_rows,
    sync_state_table,
    upgrade_state,
)
from pls_pipelines.resources.warehouse import Warehouse

SYNC_LOG = "crm_sync_log"
SYNC_RUNS = "crm_sync_runs"
LOG_COLUMNS = ["run_id", "synced_at", "object_type", "record_id", "status", "error", "fields"]
# crm_sync_log statuses: what happened to each record in scope
SENT, UNCHANGED, REJECTED, FAILED, SKIPPED, CREATED, EXISTS, HELD = (
    "sent", "unchanged", "rejected", "failed", "skipped", "created", "exists", "held",
)
STATUSES = (SENT, UNCHANGED, REJECTED, FAILED, SKIPPED, CREATED, EXISTS, HELD)
# crm_sync_runs statuses
RUNNING, FINISHED, RUN_FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"
CREATE_FIELDS = "email,first_name,last_name,title,company"
KEYS_PER_DELETE = 5_000  # bind parameters per DELETE ... IN (PostgreSQL allows 65,535 a statement)


def sync_runs_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        SYNC_RUNS, metadata,
        sa.Column("run_id", sa.Text), sa.Column("object_type", sa.Text), sa.Column("finished_at", sa.DateTime),
        sa.Column("reconciled", sa.Boolean), sa.Column("sent", sa.BigInteger), sa.Column("rejected", sa.BigInteger),
        sa.Column("failed", sa.BigInteger), sa.Column("unchanged", sa.BigInteger),
        # added with crash-safe recording; rows of older releases have them empty (and count as finished)
        sa.Column("started_at", sa.DateTime), sa.Column("status", sa.Text), sa.Column("held", sa.BigInteger),
    )


def person_key(contact_key: str) -> str:
    """The log's and the rejections' name for a contact that could not be created (it has no CRM id)."""
    return f"person:{contact_key}"


def new_contact_hash(contact: NewContact) -> str:
    """The hash of what a create sends, so a refused create is held until the person's details change."""
    return fields_hash({
        "email": contact.email, "company": contact.company_id, "first_name": contact.first_name,
        "last_name": contact.last_name, "title": contact.title,
    })


class SyncLedger:
    """Records one sync attempt of one object type: `begin`, then `record_creates` / `record_batch` after each
    answer of the CRM, then `finish` (or `fail`). The counts it returns are those of crm_sync_log."""

    def __init__(self, wh: Warehouse, object_type: str, run_id: str | None, now: datetime):
        self.wh = wh
        self.object_type = object_type
        self.run_id = run_id
        self.now = now
        self.counts = dict.fromkeys(STATUSES, 0)
        self._tables = sa.MetaData()
        self._state = sync_state_table(self._tables)
        self._rejections = rejections_table(self._tables)
        self._runs = sync_runs_table(self._tables)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def begin(self, log: Callable[[str], None]) -> None:
        """Create or upgrade the tables, report attempts that never finished, and open this one."""
        upgrade_state_table(self.wh)
        self.wh.ensure_tables([self._state, self._rejections, self._runs])
        for run_id, confirmed in self._mark_interrupted():
            log(f"{self.object_type}: sync attempt {run_id} was interrupted before it finished ({confirmed:,} "
                "records confirmed and recorded); this run sends what it had not confirmed")
        with self.wh.transaction() as conn:
            conn.execute(self._runs.insert().values(
                run_id=self.run_id, object_type=self.object_type, started_at=self.now, status=RUNNING,
                reconciled=False, sent=0, rejected=0, failed=0, unchanged=0, held=0,
            ))

    def finish(self, reconciled: bool) -> dict[str, int]:
        self._close(FINISHED, finished_at=self.now, reconciled=reconciled)
        return dict(self.counts)

    def fail(self) -> None:
        """The attempt raised: keep what it recorded, and say it did not finish."""
        self._close(RUN_FAILED, finished_at=None, reconciled=False)

    # -- what the CRM answered -------------------------------------------------------------------------------
    def record_creates(self, created: Sequence[CreateOutcome], contacts: Sequence[NewContact]) -> None:
        """Contacts created (or found: creates are upserts), or refused - refused ones are held as rejections."""
        by_key = {c.key: c for c in contacts}
        rows = [
            (c.record_id if c.ok else person_key(c.key),
             (CREATED if c.created else EXISTS) if c.ok else (FAILED if c.retryable else REJECTED), c.error,
             CREATE_FIELDS)
            for c in created
        ]
        refused = {
            person_key(c.key): (new_contact_hash(by_key[c.key]), c.error)
            for c in created if not c.ok and not c.retryable and c.key in by_key
        }
        accepted = [person_key(c.key) for c in created if c.ok]
        with self.wh.transaction() as conn:
            self._append_log(rows, conn)
            self._delete(self._rejections, accepted, conn)
            self._hold(refused, conn)

    def record_batch(
        self,
        outcomes: Sequence[RecordOutcome],
        desired: Mapping[str, Values],
        fields_of: Mapping[str, Iterable[str]],
    ) -> None:
        """One batch's outcomes, in one transaction: log rows, the state of confirmed records, rejections."""
        rows = []
        for outcome in outcomes:
            status = SENT if outcome.ok else (FAILED if outcome.retryable else REJECTED)
            error = outcome.error
            if outcome.merged_into:
                error = f"merged into {outcome.merged_into} in the CRM; written there"
            rows.append((outcome.record_id, status, error, ",".join(sorted(fields_of.get(outcome.record_id, ())))))
        confirmed = {o.record_id: desired[o.record_id] for o in outcomes if o.ok and o.record_id in desired}
        refused = {
            o.record_id: (fields_hash(desired[o.record_id]), o.error)
            for o in outcomes if not o.ok and not o.retryable and o.record_id in desired
        }
        with self.wh.transaction() as conn:
            self._append_log(rows, conn)
            self._settle(confirmed, conn)
            self._delete(self._rejections, list(confirmed), conn)
            self._hold(refused, conn)

    def record_rest(
        self,
        unchanged: Sequence[str],
        skipped: Mapping[str, Sequence[str]],
        held: Mapping[str, str],
        settled: Mapping[str, Values],
        in_scope: set[str],
    ) -> None:
        """What was not sent (unchanged, skipped if_empty fields, held rejections), and the state of records
        settled without a write (the CRM already held our values). Rejections of records no longer in scope
        (deleted or merged away) are dropped: there is nothing left to fix."""
        rows = [(r, UNCHANGED, None, "") for r in unchanged]
        rows += [(r, SKIPPED, f"kept the CRM's own value of {', '.join(f)} (mode if_empty)", ",".join(f))
                 for r, f in skipped.items()]
        rows += [(r, HELD, reason, "") for r, reason in held.items()]
        with self.wh.transaction() as conn:
            self._append_log(rows, conn)
            self._settle(settled, conn)
            refused = conn.execute(sa.select(self._rejections.c.record_id).where(
                self._rejections.c.object_type == self.object_type
            )).fetchall()
            self._delete(self._rejections, [r for (r,) in refused if r not in in_scope], conn)

    # -- internals -------------------------------------------------------------------------------------------
    def _append_log(self, rows: list[tuple], conn: sa.Connection) -> None:
        if not rows:
            return
        frame = pd.DataFrame(rows, columns=["record_id", "status", "error", "fields"])
        for status, n in frame["status"].value_counts().items():
            self.counts[str(status)] += int(n)
        frame.insert(0, "object_type", self.object_type)
        frame.insert(0, "synced_at", self.now)
        frame.insert(0, "run_id", self.run_id)
        self.wh.append(SYNC_LOG, frame[LOG_COLUMNS].astype({"error": object, "record_id": object}), conn)

    def _settle(self, records: Mapping[str, Values], conn: sa.Connection) -> None:
        """Replace the state rows of `records` with the values the CRM now holds."""
        if not records:
            return
        self._delete(self._state, list(records), conn)
        self.wh.append(SYNC_STATE, state_rows(records, self.object_type, self.now, self.run_id), conn)

    def _hold(self, refused: Mapping[str, tuple[str, str | None]], conn: sa.Connection) -> None:
        if not refused:
            return
        previous = _select_frame(conn, self._rejections, self.object_type, list(refused), REJECTION_COLUMNS)
        self._delete(self._rejections, list(refused), conn)
        self.wh.append(SYNC_REJECTIONS, rejection_rows(refused, previous, self.object_type, self.now), conn)

    def _delete(self, table: sa.Table, record_ids: Sequence[str], conn: sa.Connection) -> None:
        for start in range(0, len(record_ids), KEYS_PER_DELETE):
            chunk = record_ids[start : start + KEYS_PER_DELETE]
            conn.execute(table.delete().where(
                table.c.object_type == self.object_type, table.c.record_id.in_(chunk)
            ))

    def _mark_interrupted(self) -> list[tuple[str, int]]:
        """Attempts of this object type still marked running: killed, since a running attempt holds the
        crm_api pool. Returns (run_id, records it confirmed) each, and marks them interrupted."""
        runs = self._runs
        with self.wh.transaction() as conn:
            stale = conn.execute(sa.select(runs.c.run_id).where(
                runs.c.object_type == self.object_type, runs.c.status == RUNNING
            )).fetchall()
            if not stale:
                return []
            conn.execute(runs.update().where(
                runs.c.object_type == self.object_type, runs.c.status == RUNNING
            ).values(status=INTERRUPTED))
        found = []
        for (run_id,) in stale:
            confirmed = self.wh.scalar(
                f"SELECT COUNT(*) FROM {SYNC_LOG} WHERE run_id = :r AND object_type = :o AND status = :s",
                {"r": run_id, "o": self.object_type, "s": SENT},
            ) if self.wh.table_exists(SYNC_LOG) else 0
            found.append((str(run_id), int(confirmed or 0)))
        return found

    def _close(self, status: str, finished_at: datetime | None, reconciled: bool) -> None:
        runs = self._runs
        with self.wh.transaction() as conn:
            conn.execute(runs.update().where(
                runs.c.object_type == self.object_type, runs.c.status == RUNNING, runs.c.started_at == self.now,
                runs.c.run_id == self.run_id if self.run_id is not None else runs.c.run_id.is_(None),
            ).values(
                status=status, finished_at=finished_at, reconciled=reconciled, sent=self.counts[SENT],
                rejected=self.counts[REJECTED], failed=self.counts[FAILED], unchanged=self.counts[UNCHANGED],
                held=self.counts[HELD],
            ))


def upgrade_state_table(wh: Warehouse) -> None:
    """State written before the per-record format becomes per-record rows once, so batches can replace rows."""
    if wh.table_exists(SYNC_STATE) and "fields_hash" not in wh.columns(SYNC_STATE):
        wh.replace_table(SYNC_STATE, upgrade_state(wh.read_table(SYNC_STATE))[STATE_COLUMNS])


def read_rejections(wh: Warehouse, object_type: str | None = None) -> pd.DataFrame:
    """The records the CRM refused and that were not confirmed since (all object types unless one is named)."""
    if not wh.table_exists(SYNC_REJECTIONS):
        return pd.DataFrame(columns=REJECTION_COLUMNS)
    rows = wh.read_table(SYNC_REJECTIONS, REJECTION_COLUMNS)
    return rows[rows["object_type"] == object_type] if object_type else rows


def finished_runs(wh: Warehouse) -> pd.DataFrame:
    """crm_sync_runs rows of attempts that finished (rows of older releases, with no status, did)."""
    if not wh.table_exists(SYNC_RUNS):
        return pd.DataFrame(columns=[c.name for c in sync_runs_table(sa.MetaData()).columns])
    runs = wh.read_table(SYNC_RUNS)
    if "status" not in runs.columns:
        return runs
    return runs[runs["status"].isna() | (runs["status"] == FINISHED)]


def _select_frame(
    conn: sa.Connection, table: sa.Table, object_type: str, record_ids: list[str], columns: list[str]
) -> pd.DataFrame:
    rows = []
    for start in range(0, len(record_ids), KEYS_PER_DELETE):
        chunk = record_ids[start : start + KEYS_PER_DELETE]
        result = conn.execute(sa.select(*[table.c[c] for c in columns]).where(
            table.c.object_type == object_type, table.c.record_id.in_(chunk)
        ))
        rows += [tuple(r) for r in result.fetchall()]
    return pd.DataFrame(rows, columns=columns)
