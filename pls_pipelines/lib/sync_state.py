"""The sync state: what the pipeline last wrote *successfully* to each CRM record, one row per record.

A row holds the values of the owned fields as JSON and a hash of them, keyed by (object_type, record_id). The
next run compares hashes (cheap for 100,000 records), and only for records whose hash moved does it look at
fields. A record enters or moves in the state only after the CRM confirmed it, so a failure is retried on
the next run simply because its state never moved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

SYNC_STATE = "crm_sync_state"
STATE_COLUMNS = ["object_type", "record_id", "fields_hash", "field_values", "synced_at", "run_id"]

Values = Mapping[str, str | None]


def sync_state_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        SYNC_STATE,
        metadata,
        sa.Column("object_type", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("fields_hash", sa.Text, nullable=False),
        sa.Column("field_values", sa.Text, nullable=False),
        sa.Column("synced_at", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.Text),
    )


def fields_hash(values: Values) -> str:
    """A stable digest of a record's owned values: same values, same hash, whatever the key order."""
    canonical = json.dumps(dict(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def state_rows(
    records: Mapping[str, Values], object_type: str, synced_at: datetime, run_id: str | None
) -> pd.DataFrame:
    """STATE_COLUMNS rows for records the CRM confirmed, holding the values now in the CRM."""
    rows = [
        {
            "object_type": object_type,
            "record_id": record_id,
            "fields_hash": fields_hash(values),
            "field_values": json.dumps(dict(values), sort_keys=True, ensure_ascii=False),
            "synced_at": synced_at,
            "run_id": run_id,
        }
        for record_id, values in records.items()
    ]
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


def read_state(rows: pd.DataFrame) -> dict[str, dict[str, str | None]]:
    """{record_id: {field: value}} from state rows of one object type."""
    return {
        str(record_id): json.loads(values)
        for record_id, values in zip(rows["record_id"], rows["field_values"], strict=True)
    }


def unchanged_ids(desired: Mapping[str, Values], state_hashes: Mapping[str, str]) -> set[str]:
    """Records whose owned values hash the same as what was last written: nothing to send, nothing to diff."""
    return {record_id for record_id, values in desired.items() if state_hashes.get(record_id) == fields_hash(values)}


def upgrade_state(rows: pd.DataFrame) -> pd.DataFrame:
    """State written by releases before the per-record format (one row per field: record_id, field, value)
    as STATE_COLUMNS rows, so an existing installation keeps its diff instead of re-sending every record."""
    if "fields_hash" in rows.columns:
        return rows[STATE_COLUMNS]
    parts = []
    for object_type, group in rows.groupby("object_type", sort=True):
        values: dict[str, dict[str, str | None]] = {}
        for record_id, field, value in group[["record_id", "field", "value"]].itertuples(index=False):
            values.setdefault(str(record_id), {})[field] = None if pd.isna(value) else value
        latest = group.groupby("record_id")["synced_at"].max()
        part = state_rows(values, str(object_type), datetime.now(), None)
        part["synced_at"] = part["record_id"].map(latest).fillna(part["synced_at"])
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=STATE_COLUMNS)
