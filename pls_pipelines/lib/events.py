"""Validate raw usage events into accepted events and quarantined rejects, each reject with a reason - in SQL.

Every source (landing files in any format, or a warehouse table) is first read into one *staged* shape
(`staged_events_table`): one row per line or row read, with the fields extracted but not yet judged. This
module turns that into a verdict per row with SQLAlchemy Core, so the same rules run inside DuckDB or
PostgreSQL and a 1M-event day never passes through Python.

Nothing is dropped silently: every staged row is either accepted or rejected (duplicates included, with the
reason `duplicate_event_id`), so `accepted + rejected == read` holds for every partition and a data engineer
can always answer "where did my event go?".
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

# Properties beyond this are almost always a client bug (a whole DOM or a base64 image in a property).
MAX_PROPERTIES_BYTES = 32_768
# Rejected rows keep this much of the original line: enough to debug, not enough to bloat the quarantine.
MAX_RAW_LINE_CHARS = 2_000
# Clock skew between a customer's browser and us is normal; an event further in the future is bad data.
FUTURE_TOLERANCE = timedelta(hours=1)

# Segment's identify and group calls carry traits, not usage: they are kept as events under these names but
# never count as activity.
TRAIT_CALL_EVENTS = ("$identify", "$group")

# In the order they are checked: a row gets the first reason that applies.
REJECT_REASONS = (
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "malformed_row",
    "missing_event_id",
    "missing_user_id",
    "missing_workspace_id",
    "missing_event_name",
    "bad_timestamp",
    "future_timestamp",
    "outside_partition",
    "oversized_properties",
    "unknown_workspace",
    "duplicate_event_id",
)
# Reasons a source reader decides (it is the one that sees the bytes); the rest are decided here.
PARSE_ERRORS = REJECT_REASONS[:4]

USAGE_EVENTS = "usage_events"
USAGE_EVENTS_REJECTED = "usage_events_rejected"
STAGED_EVENTS = "_pls_staged_events"
VALIDATED_EVENTS = "_pls_validated_events"


def staged_events_table(metadata: sa.MetaData, name: str = STAGED_EVENTS) -> sa.Table:
    """The shape every source reader produces: a row per line/row read, fields extracted, nothing judged.

    `file_day` is the partition the row was read for (the day of its file, or of its timestamp for a table
    source); `parse_error` is set by the reader when the row could not be read at all (then the fields are NULL);
    `occurred_at` is naive UTC and NULL when the timestamp was missing or unparseable.
    """
    return sa.Table(
        name,
        metadata,
        sa.Column("file_day", sa.Date),
        sa.Column("source_file", sa.String),
        sa.Column("line_number", sa.BigInteger),
        sa.Column("raw_line", sa.Text),
        sa.Column("parse_error", sa.String),
        sa.Column("event_id", sa.String),
        sa.Column("occurred_at", sa.DateTime),
        sa.Column("user_id", sa.String),
        sa.Column("workspace_id", sa.String),
        sa.Column("event", sa.String),
        sa.Column("page", sa.String),
        sa.Column("properties", sa.Text),
    )


def validated_events_query(staged: sa.Table, workspaces: sa.Table, future_cutoff: datetime) -> sa.Select:
    """Every staged row with `reason` (NULL when accepted) and `event_date` (the partition it is filed under).

    Duplicates are judged last and only among otherwise valid rows, so a valid event is never rejected as a
    duplicate of an invalid one; the first copy (by file, then line) is kept.
    """
    s = staged.c
    known = sa.select(workspaces.c.workspace_id).distinct().subquery("known_workspaces")
    checks: list[tuple[str, sa.ColumnElement[bool]]] = [
        ("missing_event_id", s.event_id.is_(None)),
        ("missing_user_id", s.user_id.is_(None)),
        ("missing_workspace_id", s.workspace_id.is_(None)),
        ("missing_event_name", s.event.is_(None)),
        ("bad_timestamp", s.occurred_at.is_(None)),
        ("future_timestamp", s.occurred_at > sa.literal(future_cutoff, sa.DateTime)),
        ("outside_partition", sa.cast(s.occurred_at, sa.Date) != s.file_day),
        ("oversized_properties", sa.func.length(s.properties) > MAX_PROPERTIES_BYTES),
        ("unknown_workspace", known.c.workspace_id.is_(None)),
    ]
    first_reason = sa.case(
        (s.parse_error.is_not(None), s.parse_error),
        *((condition, sa.literal(reason)) for reason, condition in checks),
        else_=sa.null(),
    ).label("first_reason")
    judged = (
        sa.select(staged, first_reason)
        .select_from(staged.outerjoin(known, known.c.workspace_id == s.workspace_id))
        .subquery("judged")
    )
    j = judged.c
    copy_number = sa.func.row_number().over(
        partition_by=sa.case((j.first_reason.is_(None), j.event_id)),
        order_by=(j.source_file, j.line_number),
    )
    reason = sa.case(
        (j.first_reason.is_not(None), j.first_reason),
        (copy_number > 1, sa.literal("duplicate_event_id")),
        else_=sa.null(),
    )
    return sa.select(
        *(j[c.name] for c in staged.columns),
        j.file_day.label("event_date"),  # accepted rows fall on their file's day (else: outside_partition)
        reason.label("reason"),
    )


def validated_events_table(metadata: sa.MetaData, name: str = VALIDATED_EVENTS) -> sa.Table:
    """The staged columns plus the verdict, as materialised from `validated_events_query`."""
    staged = staged_events_table(sa.MetaData(), name)
    return sa.Table(
        name,
        metadata,
        *(sa.Column(c.name, c.type) for c in staged.columns),
        sa.Column("event_date", sa.Date),
        sa.Column("reason", sa.String),
    )


USAGE_EVENTS_COLUMNS = {
    "event_id": "Unique id of the event (Segment: messageId); a second copy is quarantined as duplicate_event_id.",
    "occurred_at": "When it happened, UTC.",
    "event_date": "The UTC day of occurred_at: the partition.",
    "user_id": "Product user (Segment: userId).",
    "workspace_id": "Product workspace (Segment: context.groupId); must exist in product_workspaces.",
    "event": "Event name; Segment identify/group calls are kept as $identify/$group and never count as activity.",
    "page": "Normalised page name of a page view (pricing, security, ...), else empty.",
    "properties": "Event properties as JSON (Segment traits for identify/group calls).",
    "source_file": "Landing file (relative to events/) or table the event was read from.",
}


def usage_event_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The accepted-events table and its quarantine, with explicit types (not inferred from a frame)."""
    events = sa.Table(
        USAGE_EVENTS,
        metadata,
        sa.Column("event_id", sa.String, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("user_id", sa.String, nullable=False),
        sa.Column("workspace_id", sa.String, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("page", sa.String),
        sa.Column("properties", sa.Text),
        sa.Column("source_file", sa.String),
    )
    rejected = sa.Table(
        USAGE_EVENTS_REJECTED,
        metadata,
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("source_file", sa.String),
        sa.Column("line_number", sa.BigInteger),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("event_id", sa.String),
        sa.Column("raw_line", sa.Text),
    )
    return events, rejected


def accepted_events_select(validated: sa.Table | sa.Subquery, events: sa.Table) -> sa.Select:
    """The accepted rows in the column order of `usage_events`."""
    v = validated.c
    return sa.select(*(v[c.name] for c in events.columns)).where(v.reason.is_(None))


def rejected_events_select(validated: sa.Table | sa.Subquery, rejected: sa.Table) -> sa.Select:
    """The rejected rows in the column order of `usage_events_rejected`, the raw line cut to a sane length."""
    v = validated.c
    columns = {c.name: v[c.name] for c in rejected.columns if c.name != "raw_line"}
    columns["raw_line"] = sa.func.substr(v.raw_line, 1, MAX_RAW_LINE_CHARS)
    return sa.select(*(columns[c.name].label(c.name) for c in rejected.columns)).where(v.reason.is_not(None))


def verdict_counts_query(validated: sa.Table) -> sa.Select:
    """Rows per partition day and reason ('accepted' for accepted rows): the run's report in one query."""
    v = validated.c
    verdict = sa.func.coalesce(v.reason, "accepted").label("verdict")
    return (
        sa.select(v.event_date, verdict, sa.func.count().label("n"))
        .group_by(v.event_date, verdict)
        .order_by(v.event_date, verdict)
    )


def reject_rate_summary(accepted: pd.DataFrame, rejected: pd.DataFrame, newest_days: int = 1) -> dict:
    """Reject rate over the newest `newest_days` days that have rows.

    accepted: event_date, n; rejected: event_date, reason, n (per-day counts from the two tables).
    """
    days = sorted(set(accepted["event_date"]) | set(rejected["event_date"]))
    recent = set(days[-newest_days:]) if days else set()
    ok = int(accepted.loc[accepted["event_date"].isin(recent), "n"].sum())
    bad = rejected[rejected["event_date"].isin(recent)]
    by_reason = {str(k): int(v) for k, v in bad.groupby("reason")["n"].sum().sort_index().items()}
    read = ok + int(bad["n"].sum())
    return {
        "day": str(max(recent)) if recent else "none",
        "read": read,
        "rejected": read - ok,
        "reject_rate": round((read - ok) / read, 6) if read else 0.0,
        "rejected_by_reason": by_reason,
    }


def future_cutoff(now: datetime) -> datetime:
    """Timestamps after this (naive UTC) are rejected as future_timestamp."""
    return now + FUTURE_TOLERANCE
