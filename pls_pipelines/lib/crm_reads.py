"""Incremental CRM reads: when to read everything, and how the changed records replace the ones held.

A full read of a large CRM is slow over an API (1M HubSpot contacts are 10,000 paged calls), so most runs read
only the records modified since the last read and replace those rows. Deletions, merges and archived records
do not show up as "modified", so a full read still runs every `full_read_every_days` (crm_fields.yaml) and on
demand, and it resets the table to exactly what the CRM holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

# Read a little before the last read started: records written while it ran, and clock skew between us and
# the CRM, must not fall between two reads.
READ_OVERLAP = timedelta(minutes=15)


def full_read_due(last_full_read: datetime | None, now: datetime, every_days: int) -> bool:
    """A full read is due when there was none yet or the last is at least `every_days` old (0: every run)."""
    if last_full_read is None or every_days == 0:
        return True
    return now - last_full_read >= timedelta(days=every_days)


def replace_changed_rows(held: pd.DataFrame, changed: pd.DataFrame, key: str) -> pd.DataFrame:
    """`held` with every row whose `key` is in `changed` replaced by the changed row, new keys added, sorted by
    key like a full read; columns as in `changed` (the client's canonical columns)."""
    if changed.empty:
        return held[list(changed.columns)] if set(changed.columns) <= set(held.columns) else held
    keys = set(changed[key].astype(str))
    kept = held[~held[key].astype(str).isin(keys)]
    # reindex, not kept[columns]: a table written by an older release lacks a column the client now reads, and
    # the KeyError failed every incremental read until the next full read; the column stays empty until then
    merged = pd.concat([kept.reindex(columns=changed.columns), changed], ignore_index=True)
    return merged.sort_values(key, kind="stable").reset_index(drop=True)
