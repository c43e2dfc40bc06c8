"""What HubSpot's answers mean: which failures are worth a retry, the per-record errors of a batch answer (207
Multi-Status) as readable reasons, the properties a whole-batch 400 names, and which input a result belongs to.

Separate because it is parsing only - no requests - shared by the batch calls (api.py), the client and the demo
loader, and the place to read when HubSpot answers something unexpected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 527, 530})
TRANSIENT_CATEGORIES = frozenset({"RATE_LIMIT", "RATE_LIMITS", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT",
                                  "LOCKED"})
_PROPERTY_ERRORS = ("PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE")


@dataclass(frozen=True)
class BatchResult:
    """What HubSpot said about one batch input."""

    ok: bool
    error: str | None = None
    retryable: bool = False
    not_found: bool = False
    body: dict | None = None


def json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def is_transient(response: requests.Response) -> bool:
    if response.status_code in TRANSIENT_STATUSES:
        return True
    if response.status_code == 429:
        body = json_body(response)
        # the daily limit resets at midnight: retrying within this run cannot help
        return not (isinstance(body, dict) and body.get("policyName") == "DAILY")
    return False


def error_reason(error: dict) -> tuple[str, bool]:
    """A per-record error of a batch response as "CATEGORY: CODE (property): message", and whether a retry
    may succeed."""
    category = str(error.get("category") or "ERROR")
    details = []
    for detail in error.get("errors") or []:
        if not isinstance(detail, dict) or not detail.get("message"):
            continue
        names = ((detail.get("context") or {}).get("propertyName") or [])
        where = f" ({names[0]})" if names else ""
        details.append(f"{detail.get('code') or 'ERROR'}{where}: {detail['message']}")
    if not details:
        details = validation_details(str(error.get("message") or ""))
    reason = f"{category}: " + ("; ".join(details) if details else str(error.get("message") or "no message"))
    return reason, category in TRANSIENT_CATEGORIES


def validation_details(message: str) -> list[str]:
    """HubSpot's "Property values were not valid: [{...}]" message as "CODE (name): message" items."""
    start = message.find("[")
    if not message.startswith("Property values were not valid") or start < 0:
        return []
    try:
        items = json.loads(message[start:])
    except ValueError:
        return []
    return [f"{i.get('error')} ({i.get('name')}): {i.get('message')}" for i in items if isinstance(i, dict)]


def bad_properties(body: Any) -> set[str]:
    """Properties a whole-batch 400 names as non-existent or read-only: every record writing one fails."""
    if not isinstance(body, dict):
        return set()
    message = str(body.get("message") or "")
    start = message.find("[")
    names: set[str] = set()
    if message.startswith("Property values were not valid") and start >= 0:
        try:
            items = json.loads(message[start:])
        except ValueError:
            items = []
        names |= {str(i.get("name")) for i in items if isinstance(i, dict) and i.get("error") in _PROPERTY_ERRORS}
    return names


def upsert_key(result: dict) -> str | None:
    trace = result.get("objectWriteTraceId")
    if trace:
        return str(trace)
    email = (result.get("properties") or {}).get("email")
    return str(email).lower() if email else None
