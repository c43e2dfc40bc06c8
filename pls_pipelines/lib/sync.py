"""Diff-based CRM sync: decide which records and fields to write, and what counts as synced afterwards.

The contract (DESIGN.md, "CRM sync contract"): compare the desired values against the values we last wrote
*successfully*, send only changed records and only their changed fields, and advance the synced state only for
records the CRM accepted. A re-run with nothing changed therefore makes zero write calls, and a record that
failed is retried on the next run because its state never moved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd


@dataclass(frozen=True)
class FieldSpec:
    """One CRM property the pipeline owns, and the warehouse column it comes from."""

    name: str
    label: str
    type: str
    source_table: str
    source_column: str

    @property
    def description(self) -> str:
        return (
            f"Set by pls-pipelines from the warehouse table {self.source_table}, column {self.source_column} "
            f"(Dagster asset '{self.source_table}'). Do not edit: the next sync overwrites it."
        )


@dataclass(frozen=True)
class RecordUpdate:
    """The changed fields of one CRM record, with their previously synced values for the dry-run view."""

    record_id: str
    properties: dict[str, str | None]
    previous: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordOutcome:
    """What the CRM did with one RecordUpdate. ok only when the CRM confirmed the write. error carries the CRM's
    own reason ("INVALID_OPTION: ..."); retryable marks a transient failure (rate limit, 5xx, timeout, row lock)
    that outlasted the retries, as opposed to a rejection that would fail again unchanged. merged_into: the
    record was merged into this one in the CRM, and the write went there."""

    record_id: str
    ok: bool
    error: str | None = None
    retryable: bool = False
    merged_into: str | None = None


@dataclass(frozen=True)
class NewContact:
    """A contact to create in the CRM, associated with its company. `key` is ours (the person_id): the
    outcome of a create that failed has no CRM id to name it by."""

    key: str
    email: str
    company_id: str
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class CreateOutcome:
    """What the CRM did with one NewContact: created it, found it already there (`created` False: creates are
    upserts by email, so a retried run never makes a duplicate), or refused it with a reason."""

    key: str
    record_id: str | None
    ok: bool
    created: bool = False
    error: str | None = None


def to_crm_value(value: object) -> str | None:
    """Render a warehouse value the way CRMs store properties: strings, with numbers and booleans canonical.

    Canonical forms matter for the diff: 42.0 and 42 must not look like a change on every run.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        return to_crm_value(value.item())
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def desired_values(frame: pd.DataFrame, key_column: str, fields: Iterable[FieldSpec]) -> dict[str, dict]:
    """Map record id -> {crm field: crm string value} from a source table holding the key and source columns."""
    specs = list(fields)
    missing = [s.source_column for s in specs if s.source_column not in frame.columns]
    if key_column not in frame.columns or missing:
        raise KeyError(f"sync source is missing columns: {[key_column, *missing]}")
    rows = frame[frame[key_column].notna()]
    out: dict[str, dict] = {}
    for record in rows.to_dict("records"):
        out[str(record[key_column])] = {s.name: to_crm_value(record[s.source_column]) for s in specs}
    return out


def diff_records(
    desired: Mapping[str, Mapping[str, str | None]],
    synced: Mapping[str, Mapping[str, str | None]],
) -> list[RecordUpdate]:
    """Changed records with only their changed fields, sorted by record id for deterministic batches."""
    updates = []
    for record_id in sorted(desired):
        before = synced.get(record_id, {})
        changed = {k: v for k, v in desired[record_id].items() if before.get(k) != v}
        if record_id not in synced:
            # A record never synced gets every field, even empty ones, so the CRM view is complete.
            changed = dict(desired[record_id])
        if changed:
            updates.append(RecordUpdate(record_id, changed, {k: before.get(k) for k in changed}))
    return updates


def synced_state_frame(rows: pd.DataFrame) -> dict[str, dict[str, str | None]]:
    """Rebuild {record id: {field: value}} from the long sync-state table (record_id, field, value)."""
    state: dict[str, dict[str, str | None]] = {}
    for record_id, field_name, value in rows[["record_id", "field", "value"]].itertuples(index=False):
        state.setdefault(str(record_id), {})[field_name] = None if pd.isna(value) else value
    return state


def accepted_state_rows(updates: Iterable[RecordUpdate], outcomes: Iterable[RecordOutcome]) -> pd.DataFrame:
    """The (record_id, field, value) rows to store as synced: only fields of records the CRM accepted."""
    ok_ids = {o.record_id for o in outcomes if o.ok}
    rows = [
        (u.record_id, name, value)
        for u in updates
        if u.record_id in ok_ids
        for name, value in u.properties.items()
    ]
    return pd.DataFrame(rows, columns=["record_id", "field", "value"], dtype=object)
