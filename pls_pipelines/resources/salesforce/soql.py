"""Building SOQL text safely: string literals, LIKE patterns and datetime literals, and the chunks that keep an
`IN (...)` list (or a collection call) within what Salesforce accepts.

Separate because every query the connector sends is assembled from data (emails, names, domains, ids), and the
quoting rules are easiest to check in one small place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

QUERY_IN_CHUNK = 200  # ids / emails per `IN (...)` list: keeps the query URL far below Salesforce's 16k limit


def soql_quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'").replace("%", "\\%").replace("_", "\\_")


def soql_datetime(value: datetime | str) -> str:
    when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
