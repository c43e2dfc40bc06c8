"""Records the CRM refused: held back instead of re-sent every run, until their values change.

A permanent per-record error (an option the picklist lacks, a value the field's validation rule refuses, a
deleted record) fails the same way on every retry: re-sending it each hour spends the rate limit and buries
new problems in the log. So a rejection is remembered with a hash of the values the CRM refused; the next runs
hold the record back (log status `held`, with the CRM's reason) while its values are still the refused ones,
and send it again when they change, when `retry_rejected_after_days` have passed (an admin may have fixed
the CRM side meanwhile) or on request (`pls sync --retry-rejected`). The `crm_rejections` asset check
surfaces what is held, so it is fixed rather than forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

SYNC_REJECTIONS = "crm_sync_rejections"
REJECTION_COLUMNS = [
    "object_type", "record_id", "fields_hash", "error", "first_rejected_at", "last_rejected_at", "attempts",
]


def rejections_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        SYNC_REJECTIONS,
        metadata,
        sa.Column("object_type", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("fields_hash", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("first_rejected_at", sa.DateTime, nullable=False),
        sa.Column("last_rejected_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.BigInteger, nullable=False),
    )


def held_records(
    value_hashes: Mapping[str, str],
    rejections: pd.DataFrame,
    now: datetime,
    retry_after_days: int,
) -> dict[str, str]:
    """{record_id: why it is not sent} for records whose values are the ones the CRM last refused, refused less
    than `retry_after_days` ago. `value_hashes` maps each record in scope to the hash of its desired values."""
    if rejections.empty or retry_after_days <= 0:
        return {}
    cutoff = now - timedelta(days=retry_after_days)
    held = {}
    for row in rejections.itertuples(index=False):
        record_id = str(row.record_id)
        last = pd.Timestamp(row.last_rejected_at).to_pydatetime()
        if value_hashes.get(record_id) == row.fields_hash and last > cutoff:
            held[record_id] = hold_reason(row.error, last, int(row.attempts), retry_after_days)
    return held


def hold_reason(error: str | None, last_rejected_at: datetime, attempts: int, retry_after_days: int) -> str:
    """The log's explanation of a held record: the CRM's reason, when, and what sends it again."""
    times = "once" if attempts == 1 else f"{attempts} times"
    return (
        f"not re-sent: the CRM refused these values {times}, last on {last_rejected_at:%Y-%m-%d} "
        f"({error or 'no reason given'}); sent again when they change, after {retry_after_days} days, "
        "or with `pls sync --retry-rejected`"
    )


def rejection_rows(
    refused: Mapping[str, tuple[str, str | None]],
    previous: pd.DataFrame,
    object_type: str,
    now: datetime,
) -> pd.DataFrame:
    """REJECTION_COLUMNS rows for records just refused ({record_id: (values hash, CRM error)}), carrying the
    first refusal date and the attempt count over from `previous` rows of the same records."""
    before = {str(r.record_id): r for r in previous.itertuples(index=False)} if not previous.empty else {}
    rows = []
    for record_id, (values_hash, error) in refused.items():
        earlier = before.get(record_id)
        if earlier is not None and earlier.fields_hash != values_hash:
            earlier = None  # other values refused now: a new problem, counted from one
        rows.append({
            "object_type": object_type,
            "record_id": record_id,
            "fields_hash": values_hash,
            "error": error,
            "first_rejected_at": earlier.first_rejected_at if earlier is not None else now,
            "last_rejected_at": now,
            "attempts": int(earlier.attempts) + 1 if earlier is not None else 1,
        })
    return pd.DataFrame(rows, columns=REJECTION_COLUMNS)


def error_category(error: str | None) -> str:
    """The CRM's error code at the start of a reason ("INVALID_OPTION: ..." -> "INVALID_OPTION"), for counts
    that group the same problem across records."""
    if not error:
        return "unknown"
    head = error.split(":", 1)[0].strip()
    return head if head and len(head) <= 60 and " " not in head else error[:60]


def rejection_summary(rejections: pd.DataFrame, examples: int = 10) -> tuple[dict[str, int], pd.DataFrame]:
    """Counts of held records by the CRM's error code, most common first, and the oldest `examples` rows."""
    if rejections.empty:
        return {}, pd.DataFrame(columns=["record_id", "error", "first_rejected_at", "attempts"])
    counts = rejections["error"].map(error_category).value_counts()
    oldest = rejections.sort_values(["first_rejected_at", "record_id"]).head(examples)
    return {str(k): int(v) for k, v in counts.items()}, oldest[["record_id", "error", "first_rejected_at", "attempts"]]
