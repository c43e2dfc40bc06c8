"""Validate raw usage event lines into accepted events and quarantined rejects, each reject with a reason.

Nothing is dropped silently: every line read ends up either accepted or rejected (duplicates included, with
the reason `duplicate_event_id`), so `accepted + rejected == read` holds for every partition and a data
engineer can always answer "where did my event go?".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from pls_pipelines.lib.event_catalog import EventCatalog

MAX_PROPERTIES_BYTES = 32_768
MAX_RAW_LINE_CHARS = 2_000
# Clock skew between a customer's browser and us is normal; an event further in the future is bad data.
FUTURE_TOLERANCE = timedelta(hours=1)

ACCEPTED_COLUMNS = [
    "event_id",
    "occurred_at",
    "event_date",
    "user_id",
    "workspace_id",
    "event",
    "page",
    "properties",
    "source_file",
]
REJECTED_COLUMNS = ["event_date", "source_file", "line_number", "reason", "raw_line"]

REJECT_REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_event_id",
    "missing_user_id",
    "missing_workspace_id",
    "missing_event_name",
    "bad_timestamp",
    "future_timestamp",
    "outside_partition",
    "oversized_properties",
    "duplicate_event_id",
)


@dataclass(frozen=True)
class ParsedEvents:
    accepted: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def read(self) -> int:
        return len(self.accepted) + len(self.rejected)

    def reject_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.rejected["reason"].value_counts().sort_index().items()}


def parse_timestamp(value: object) -> datetime | None:
    """ISO-8601 (with Z or an offset) or epoch milliseconds -> naive UTC datetime; None if unparseable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_event_lines(
    lines: list[str],
    day: date,
    source_file: str,
    catalog: EventCatalog,
    now: datetime,
    seen_event_ids: set[str] | None = None,
) -> ParsedEvents:
    """Validate one day's raw JSON lines (the flat schema: event_id, occurred_at, user_id, workspace_id,
    event, properties). `now` is naive UTC; `seen_event_ids` carries ids across files of one run."""
    seen = seen_event_ids if seen_event_ids is not None else set()
    accepted: list[tuple] = []
    rejected: list[tuple] = []

    def reject(number: int, reason: str, raw: str) -> None:
        rejected.append((day, source_file, number, reason, raw[:MAX_RAW_LINE_CHARS]))

    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            reject(number, "invalid_json", raw)
            continue
        if not isinstance(record, dict):
            reject(number, "not_an_object", raw)
            continue
        event_id, user_id = _text(record, "event_id"), _text(record, "user_id")
        workspace_id, name = _text(record, "workspace_id"), _text(record, "event")
        missing = next(
            (
                reason
                for reason, value in (
                    ("missing_event_id", event_id),
                    ("missing_user_id", user_id),
                    ("missing_workspace_id", workspace_id),
                    ("missing_event_name", name),
                )
                if value is None
            ),
            None,
        )
        if missing:
            reject(number, missing, raw)
            continue
        occurred_at = parse_timestamp(record.get("occurred_at"))
        if occurred_at is None:
            reject(number, "bad_timestamp", raw)
            continue
        if occurred_at > now + FUTURE_TOLERANCE:
            reject(number, "future_timestamp", raw)
            continue
        if occurred_at.date() != day:
            reject(number, "outside_partition", raw)
            continue
        properties = record.get("properties") or {}
        if not isinstance(properties, dict):
            properties = {"value": properties}
        properties_json = json.dumps(properties, sort_keys=True, separators=(",", ":"))
        if len(properties_json) > MAX_PROPERTIES_BYTES:
            reject(number, "oversized_properties", raw)
            continue
        if event_id in seen:
            reject(number, "duplicate_event_id", raw)
            continue
        seen.add(event_id)
        accepted.append(
            (
                event_id,
                occurred_at,
                occurred_at.date(),
                user_id,
                workspace_id,
                name,
                catalog.page_name(name, properties),
                properties_json,
                source_file,
            )
        )

    accepted_frame = pd.DataFrame(accepted, columns=ACCEPTED_COLUMNS, dtype=object)
    if not accepted_frame.empty:
        accepted_frame["occurred_at"] = pd.to_datetime(accepted_frame["occurred_at"])
    rejected_frame = pd.DataFrame(rejected, columns=REJECTED_COLUMNS, dtype=object)
    rejected_frame["line_number"] = rejected_frame["line_number"].astype("int64")
    return ParsedEvents(accepted_frame, rejected_frame)
