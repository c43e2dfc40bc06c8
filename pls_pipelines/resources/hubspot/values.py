"""Value conversions between the canonical strings of the sync and HubSpot's formats.

HubSpot stores dates as midnight-UTC epoch milliseconds, datetimes as epoch milliseconds and booleans as
"true"/"false", and reads give timestamps back in several shapes. Separate because these are pure functions of
one value (no HTTP) that the reads, the writes and the demo loader all need to agree on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

DAY_MS = 86_400_000


# -------------------------------------------------------------------------------------------------------- helpers
def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _instant_ms(text: str) -> int | None:
    """Epoch milliseconds from digits, "YYYY-MM-DD" or an ISO 8601 timestamp (naive = UTC)."""
    text = text.strip()
    # at most 20 digits (epoch ms of any datetime are fewer): int() of a 5,000-digit value raised ValueError
    if re.fullmatch(r"-?\d{1,20}", text):
        return int(text)
    try:
        if len(text) == 10:
            return (date.fromisoformat(text) - date(1970, 1, 1)).days * DAY_MS
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError):  # "0001-01-01T00:00:00+05:00" is in year 0 in UTC
        return None


def _date_ms(text: str) -> str:
    """A canonical date ("2026-12-02", or a timestamp: its UTC day) as HubSpot's midnight-UTC epoch ms."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return text
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return text  # HubSpot will say why it is not a date
    return str((day - date(1970, 1, 1)).days * DAY_MS)


def _iso_instant(value: Any, render: Callable[[datetime], str]) -> str | None:
    """A HubSpot instant (epoch ms, date or timestamp) rendered from its UTC datetime; unreadable text as it is,
    empty as None."""
    text = text_or_none(value)
    if text is None:
        return None
    ms = _instant_ms(text)
    if ms is None:
        return text
    try:
        instant = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        # epoch ms outside years 1-9999 (a typo'd close date, a sentinel like 99999999999999999999): one bad
        # value used to fail the whole CRM read; like any unreadable value it is kept as HubSpot has it
        return text
    return render(instant)


def iso_timestamp(value: Any) -> str | None:
    # isoformat, not strftime("%Y..."): glibc's %Y writes year 999 as "999", which is no ISO 8601 timestamp
    return _iso_instant(value, lambda instant: instant.replace(microsecond=0).isoformat().replace("+00:00", "Z"))


def iso_date(value: Any) -> str | None:
    return _iso_instant(value, lambda instant: instant.date().isoformat())


def normal_domain(value: Any) -> str | None:
    text = text_or_none(value)
    return text.lower().removeprefix("www.") if text else None


def to_canonical(kind: str, value: str) -> str:
    """HubSpot's stored format -> the canonical string the sync wrote (dates back to "YYYY-MM-DD")."""
    if kind == "date":
        return iso_date(value) or value
    if kind == "datetime":
        return iso_timestamp(value) or value
    return value


def to_hubspot(kinds: dict[str, str], properties: dict[str, str | None]) -> dict[str, str]:
    """Canonical strings -> HubSpot's formats: dates as midnight-UTC epoch ms, datetimes as epoch ms,
    booleans "true"/"false", None as "" (clears the property)."""
    out = {}
    for name, value in properties.items():
        if value is None:
            out[name] = ""
            continue
        text = str(value)
        kind = kinds.get(name)
        if kind == "date" and text:
            text = _date_ms(text)
        elif kind == "datetime" and text:
            ms = _instant_ms(text)
            text = str(ms) if ms is not None else text
        elif kind == "bool" and text.lower() in ("true", "false"):
            text = text.lower()
        out[name] = text
    return out
