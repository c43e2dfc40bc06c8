"""Diff-based CRM sync: decide which records and fields to write, and what counts as synced afterwards.

The contract (DESIGN.md, "CRM sync contract"): compare the desired values against the values we last wrote
*successfully*, send only changed records and only their changed fields, and advance the synced state only for
records the CRM accepted. A re-run with nothing changed therefore makes zero write calls, and a record that
failed is retried on the next run because its state never moved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

DEFAULT_TEXT_LENGTH = 255
ELLIPSIS = "…"

# Field ownership (crm_fields.yaml `mode`): who wins when the pipeline and a CRM user both have a value.
ALWAYS = "always"      # the pipeline's value, every time it changes (and the full reconcile undoes CRM edits)
IF_EMPTY = "if_empty"  # only while the CRM field is empty, or still holds what the pipeline last wrote
NEVER = "never"        # mapped (provisioned, documented) but not written: a field being retired or handed over
FIELD_MODES = (ALWAYS, IF_EMPTY, NEVER)


@dataclass(frozen=True)
class FieldSpec:
    """One CRM property the pipeline owns, the warehouse column it comes from, and who wins (`mode`).
    skip_nulls: a missing value leaves the CRM field as it is instead of clearing it."""

    name: str
    label: str
    type: str
    source_table: str
    source_column: str
    mode: str = ALWAYS
    skip_nulls: bool = False
    # text longer than this is cut at a word boundary with an ellipsis: a Salesforce Text(255) field rejects
    # the whole record otherwise, and the same value then goes to every CRM (so read-backs compare equal)
    max_length: int = DEFAULT_TEXT_LENGTH

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
    retryable: bool = False  # a transient failure (rate limit, 5xx, timeout) that outlasted the retries


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
    """Map record id -> {crm field: crm string value} from a source table holding the key and source columns.

    `never` fields are left out (mapped, not written); a null of a `skip_nulls` field is left out too, so it
    never clears what is in the CRM. Rows without a CRM id (accounts no CRM company matches) are not records.
    """
    specs = [s for s in fields if s.mode != NEVER]
    missing = [s.source_column for s in specs if s.source_column not in frame.columns]
    if key_column not in frame.columns or missing:
        raise KeyError(f"sync source is missing columns: {[key_column, *missing]}")
    rows = frame[frame[key_column].notna()]
    keys = rows[key_column].astype(str).tolist()
    columns = {
        s.name: [fit_text(to_crm_value(v), s.max_length) if s.type == "string" else to_crm_value(v)
                 for v in rows[s.source_column].tolist()]
        for s in specs
    }
    skip_nulls = {s.name for s in specs if s.skip_nulls}
    out: dict[str, dict] = {}
    for i, key in enumerate(keys):
        out[key] = {
            name: values[i] for name, values in columns.items() if not (values[i] is None and name in skip_nulls)
        }
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


def fit_text(value: str | None, max_length: int) -> str | None:
    """`value` within `max_length` characters: cut at the last word boundary that fits, with an ellipsis."""
    if value is None or len(value) <= max_length:
        return value
    cut = value[: max_length - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > max_length // 2:
        cut = cut[:space]
    return cut.rstrip(" ;,.") + ELLIPSIS


def keep_if_empty_fields(
    updates: Sequence[RecordUpdate],
    fields: Iterable[FieldSpec],
    crm_current: Mapping[str, Mapping[str, str | None]],
    last_written: Mapping[str, Mapping[str, str | None]] | None = None,
) -> tuple[list[RecordUpdate], dict[str, list[str]]]:
    """Drop `if_empty` fields the CRM already holds a value of its own in: the value a CRM user typed wins.

    A value is the pipeline's own when it equals what the pipeline last wrote (`last_written`, by default each
    update's `previous`; a full reconcile diffs against the CRM, so it passes the sync state), so the pipeline
    keeps updating a field it filled. Returns the updates still to send (records left with nothing to write
    are dropped) and, per record, the fields skipped.
    """
    if_empty = {s.name for s in fields if s.mode == IF_EMPTY}
    kept: list[RecordUpdate] = []
    skipped: dict[str, list[str]] = {}
    for update in updates:
        current = crm_current.get(update.record_id, {})
        ours = update.previous if last_written is None else last_written.get(update.record_id, {})
        drop = [
            name for name in update.properties
            if name in if_empty and current.get(name) not in (None, "") and current.get(name) != ours.get(name)
        ]
        if drop:
            skipped[update.record_id] = sorted(drop)
        properties = {k: v for k, v in update.properties.items() if k not in drop}
        if properties:
            kept.append(RecordUpdate(update.record_id, properties, {k: update.previous.get(k) for k in properties}))
    return kept, skipped
