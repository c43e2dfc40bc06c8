"""The HubSpot connector: CRM v3 objects, properties and owners, v4 associations, through the shared HTTP layer.

Reads page with `after` (100 records a page, properties listed explicitly; contacts and deals ask for their
company associations). Writes are batch updates by record id (100 inputs a call, an objectWriteTraceId on each
so HubSpot answers 207 with per-record errors instead of failing the batch) and upserts by email for contacts,
so a call that timed out after HubSpot applied it can be sent again without duplicating anything.

What HubSpot answers is checked record by record: an id missing from a batch's results is not a success (a
merged-away record is left out silently - the write is then sent to the record it was merged into and
reported with merged_into); a batch rejected as a whole (400) is split in halves until the bad records stand
alone, so one bad value never fails its 99 neighbours.

Rate limits: the client-side throttle (HubSpotThrottle) keeps a rolling window of the ten-secondly burst limit
(190 requests / 10 s by default) and learns the account's real budget from the X-HubSpot-RateLimit-* headers,
so a large sync runs at the limit without bouncing off 429s; 429s and 5xx are still retried by crm_http,
honouring Retry-After or, without it, waiting for the window (TEN_SECONDLY_ROLLING) or a second (SECONDLY).

The access token lives in the HTTP session only: it is never logged, never stored on this object and never
put into an error message.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import requests

from pls_pipelines.lib.crm_fields import FIELD_PREFIX
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import CreateOutcome, FieldSpec, NewContact, RecordOutcome, RecordUpdate, to_crm_value
from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS
from pls_pipelines.resources.crm_http import CrmApiError, CrmHttp, error_text

DEFAULT_BASE_URL = "https://api.hubapi.com"
OBJECT_TYPES = ("companies", "contacts", "deals")
BATCH_LIMIT = 100  # inputs per batch/read|update|upsert|create call
PAGE_LIMIT = 100  # records per list page
SEARCH_LIMIT = 200  # records per search page
ASSOCIATION_READ_LIMIT = 1000  # ids per v4 association batch/read
MERGE_LOOKUPS_PER_SEARCH = 5  # filter groups per search request
DAY_MS = 86_400_000
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 527, 530})
TRANSIENT_CATEGORIES = frozenset({"RATE_LIMIT", "RATE_LIMITS", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT",
                                  "LOCKED"})

# HubSpot properties read for each object type, and the canonical column each one fills.
READ_PROPERTIES: dict[str, dict[str, str]] = {
    "companies": {"name": "name", "domain": "domain", "industry": "industry", "numberofemployees": "employee_count",
                  "country": "country", "hubspot_owner_id": "owner_id", "lifecyclestage": "lifecycle_stage",
                  "createdate": "created_at"},
    "contacts": {"email": "email", "firstname": "first_name", "lastname": "last_name", "jobtitle": "title",
                 "createdate": "created_at"},
    "deals": {"dealname": "name", "dealstage": "stage", "amount": "amount", "dealtype": "deal_type",
              "createdate": "created_at", "closedate": "close_date"},
}
ID_COLUMN = {"owners": "owner_id", "companies": "company_id", "contacts": "contact_id", "deals": "deal_id"}
LAST_MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
# v3 `associations=companies` type name and v4 type id of the primary company of a contact / deal
PRIMARY_COMPANY = {"contacts": ("contact_to_company", 1), "deals": ("deal_to_company", 5)}
PRIMARY_DEAL_TO_COMPANY = 5
NUMERIC_COLUMNS = {"companies": ("employee_count",), "deals": ("amount",)}

# FieldSpec.type -> HubSpot (type, fieldType)
FIELD_TYPES = {
    "string": ("string", "textarea"),
    "number": ("number", "number"),
    "bool": ("enumeration", "booleancheckbox"),
    "date": ("date", "date"),
}
BOOL_OPTIONS = [
    {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
    {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
]
_PROPERTY_ERRORS = ("PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE")


# -------------------------------------------------------------------------------------------------------- throttle
class HubSpotThrottle:
    """Client-side limiter for HubSpot's burst limit: a rolling window of `max_requests` per `window_seconds`
    (the ten-secondly limit), plus the search endpoints' own per-second limit (search and v4 association batch
    calls are exempt from the ten-secondly window, contract 1.12).

    It learns from every response: X-HubSpot-RateLimit-Max / -Interval-Milliseconds lower the budget when the
    account's is smaller than configured, and X-HubSpot-RateLimit-Remaining below what this client expects
    (other apps share the account's budget, or a 429) fills the window so the next request waits. A request is
    counted from the moment its response arrived, which is never earlier than HubSpot counted it, so the window
    never frees a slot before HubSpot does. One throttle per client; calls from several threads are serialised
    by a lock but the window then only approximates HubSpot's."""

    def __init__(
        self,
        max_requests: int = 190,
        window_seconds: float = 10.0,
        *,
        search_per_second: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = 0.005,
    ):
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("rate_limit needs at least 1 request per a positive number of seconds")
        self.configured = (max_requests, window_seconds)
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.search_per_second = search_per_second
        self.clock = clock
        self.sleep = sleep
        self.margin = margin_seconds
        self._sent: deque[float] = deque()
        self._search: deque[float] = deque()
        self._lock = threading.Lock()
        self.waits = 0  # times a request had to wait
        self.waited_seconds = 0.0

    @staticmethod
    def _kind(path: str) -> str:
        bare = path.split("?", 1)[0]
        if bare.endswith("/search"):
            return "search"
        if "/crm/v4/associations/" in bare:
            return "exempt"
        return "burst"

    def _window(self, kind: str) -> tuple[deque[float], int, float]:
        if kind == "search":
            return self._search, self.search_per_second, 1.0
        return self._sent, self.max_requests, self.window_seconds

    def before_request(self, method: str, path: str) -> None:
        kind = self._kind(path)
        if kind == "exempt":
            return
        while True:
            with self._lock:
                window, limit, seconds = self._window(kind)
                now = self.clock()
                _prune(window, now - seconds)
                if len(window) < limit:
                    window.append(now)
                    return
                wait = window[0] + seconds - now + self.margin
            self.waits += 1
            self.waited_seconds += wait
            self.sleep(wait)

    def after_response(self, response: requests.Response) -> None:
        request = getattr(response, "request", None)
        kind = self._kind(getattr(request, "path_url", "") or "") if request is not None else "burst"
        if kind == "exempt":
            return
        with self._lock:
            window = self._window(kind)[0]
            now = self.clock()
            if window:
                window[-1] = max(window[-1], now)  # counted from the response: never earlier than HubSpot did
            if kind == "search":
                return
            headers = response.headers
            server_max = _int_header(headers, "X-HubSpot-RateLimit-Max")
            interval_ms = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
            remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
            if server_max:
                self.max_requests = min(self.configured[0], server_max)
            if interval_ms:
                self.window_seconds = max(self.configured[1], interval_ms / 1000)
            if remaining is not None:
                _prune(window, now - self.window_seconds)
                expected = self.max_requests - len(window)
                for _ in range(max(0, expected - remaining)):  # budget used elsewhere: wait for it too
                    window.append(now)

    def time_until_free(self) -> float:
        """Seconds until the burst window has room for one more request (0 when it has room now)."""
        with self._lock:
            now = self.clock()
            _prune(self._sent, now - self.window_seconds)
            if len(self._sent) < self.max_requests:
                return 0.0
            return max(0.0, self._sent[0] + self.window_seconds - now + self.margin)


def _prune(window: deque[float], cutoff: float) -> None:
    while window and window[0] <= cutoff:
        window.popleft()


def _int_header(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# -------------------------------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Result:
    """What HubSpot said about one batch input."""

    ok: bool
    error: str | None = None
    retryable: bool = False
    not_found: bool = False
    body: dict | None = None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _is_transient(response: requests.Response) -> bool:
    if response.status_code in TRANSIENT_STATUSES:
        return True
    if response.status_code == 429:
        body = _json(response)
        # the daily limit resets at midnight: retrying within this run cannot help
        return not (isinstance(body, dict) and body.get("policyName") == "DAILY")
    return False


def _error_reason(error: dict) -> tuple[str, bool]:
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
        details = _validation_details(str(error.get("message") or ""))
    reason = f"{category}: " + ("; ".join(details) if details else str(error.get("message") or "no message"))
    return reason, category in TRANSIENT_CATEGORIES


def _validation_details(message: str) -> list[str]:
    """HubSpot's "Property values were not valid: [{...}]" message as "CODE (name): message" items."""
    start = message.find("[")
    if not message.startswith("Property values were not valid") or start < 0:
        return []
    try:
        items = json.loads(message[start:])
    except ValueError:
        return []
    return [f"{i.get('error')} ({i.get('name')}): {i.get('message')}" for i in items if isinstance(i, dict)]


def _bad_properties(body: Any) -> set[str]:
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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _instant_ms(text: str) -> int | None:
    """Epoch milliseconds from digits, "YYYY-MM-DD" or an ISO 8601 timestamp (naive = UTC)."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if len(text) == 10:
            return (date.fromisoformat(text) - date(1970, 1, 1)).days * DAY_MS
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


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


def _iso_timestamp(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    ms = _instant_ms(text)
    if ms is None:
        return text
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_date(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    ms = _instant_ms(text)
    if ms is None:
        return text
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def _normal_domain(value: Any) -> str | None:
    text = _text(value)
    return text.lower().removeprefix("www.") if text else None


def _unique_chunks(items: Sequence[Any], key: Callable[[Any], str], size: int = BATCH_LIMIT) -> Iterator[list]:
    """Consecutive chunks of at most `size` items whose keys are unique within the chunk (HubSpot rejects a
    batch naming one record twice)."""
    chunk: list = []
    keys: set[str] = set()
    for item in items:
        k = key(item)
        if len(chunk) == size or k in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append(item)
        keys.add(k)
    if chunk:
        yield chunk


# -------------------------------------------------------------------------------------------------------- client
class HubSpotCrm:
    """CrmClient for HubSpot (kind "hubspot"). `sleep` is used for the retry waits (inject a no-op in tests);
    the throttle waits in real time. `rate_limit`: the ten-secondly budget to stay under, (requests, seconds)."""

    kind = "hubspot"
    batch_size = BATCH_LIMIT

    def __init__(
        self,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        max_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit: tuple[int, float] = (190, 10.0),
    ):
        if not access_token:
            raise ConfigError("HUBSPOT_ACCESS_TOKEN is empty: export the token of a HubSpot private app")
        self.throttle = HubSpotThrottle(rate_limit[0], rate_limit[1])
        self.http = CrmHttp(
            base_url,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            is_transient=_is_transient,
            transient_wait=self._transient_wait,
            throttle=self.throttle,
            timeout=timeout,
            max_attempts=max_attempts,
            sleep=sleep,
        )
        # Set on the session only, after CrmHttp's construction, so that not even CrmHttp's repr shows it.
        self.http.session.headers["Authorization"] = f"Bearer {access_token}"
        self._definitions: dict[str, dict[str, dict]] = {}

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"HubSpotCrm(base_url={self.http.base_url!r})"

    # ---------------------------------------------------------------------------------------------------- http
    def _transient_wait(self, response: requests.Response) -> float | None:
        """Wait before retrying a transient answer without Retry-After (crm_http prefers Retry-After)."""
        if response.status_code != 429:
            return None  # 5xx: exponential backoff with jitter
        body = _json(response)
        policy = body.get("policyName") if isinstance(body, dict) else None
        if policy == "SECONDLY":
            return 1.0
        # TEN_SECONDLY_ROLLING (or unnamed): until the window has room again
        return self.throttle.time_until_free() or min(1.0, self.throttle.window_seconds)

    def _call(self, method: str, path: str, *, label: str | None = None, **kwargs: Any) -> requests.Response:
        """One request through crm_http; auth and scope failures raise with HubSpot's reason (never the token).
        Everything else is returned for the caller to interpret."""
        response = self.http.request(method, path, label=label or path, **kwargs)
        if response.status_code == 401:
            raise CrmApiError(
                f"HubSpot rejected the access token ({method} {label or path}: HTTP 401 {error_text(response)}). "
                f"Check HUBSPOT_ACCESS_TOKEN: it must be the access token of an active private app.",
                status=401,
            )
        if response.status_code == 403:
            raise CrmApiError(
                f"HubSpot refused {method} {label or path} (HTTP 403 {error_text(response)}): give the private app "
                f"the scopes listed for HUBSPOT_ACCESS_TOKEN in the README.",
                status=403, body=_json(response),
            )
        return response

    def _get_json(self, path: str, params: dict | None = None, *, label: str | None = None) -> dict:
        response = self._call("GET", path, params=params, label=label)
        if response.status_code != 200:
            raise CrmApiError(f"GET {label or path}: HTTP {response.status_code}: {error_text(response)}",
                              status=response.status_code, body=_json(response))
        return _json(response)

    def _post_json(self, path: str, body: dict, *, ok: Iterable[int] = (200, 207)) -> dict:
        response = self._call("POST", path, json=body)
        if response.status_code not in set(ok):
            raise CrmApiError(f"POST {path}: HTTP {response.status_code}: {error_text(response)}",
                              status=response.status_code, body=_json(response))
        return _json(response)

    def _send_batch(
        self, path: str, inputs: list[dict], result_key: Callable[[dict], str | None]
    ) -> dict[str, _Result]:
        """POST {"inputs": inputs} and say per input (keyed by its objectWriteTraceId) what HubSpot did. A
        whole-batch 400 is split in halves until each bad input stands alone; inputs neither in the results nor
        in the errors are absent from the answer (the caller decides what that means)."""
        out: dict[str, _Result] = {}
        if not inputs:
            return out
        try:
            response = self._call("POST", path, json={"inputs": inputs})
        except CrmApiError as exc:
            if not exc.retryable:
                raise
            for item in inputs:
                out[item["objectWriteTraceId"]] = _Result(False, str(exc), retryable=True)
            return out
        status = response.status_code
        body = _json(response)
        if status in (200, 201, 207) and isinstance(body, dict):
            traces = {item["objectWriteTraceId"] for item in inputs}
            for result in body.get("results") or []:
                key = result_key(result)
                if key in traces:
                    out[key] = _Result(True, body=result)
            for error in body.get("errors") or []:
                if not isinstance(error, dict):
                    continue
                reason, retryable = _error_reason(error)
                context = error.get("context") or {}
                keys = context.get("objectWriteTraceId") or context.get("ids") or []
                for key in keys:
                    if str(key) in traces:
                        out[str(key)] = _Result(False, reason, retryable,
                                                not_found=error.get("category") == "OBJECT_NOT_FOUND")
            return out
        if isinstance(body, dict) and (body.get("category") or body.get("message")):
            reason = f"{body.get('category') or f'HTTP {status}'}: {body.get('message') or error_text(response)}"
        else:
            reason = f"HTTP {status}: {error_text(response)}"
        if status == 400:
            details = _validation_details(str(body.get("message") or "")) if isinstance(body, dict) else []
            if details:
                reason = f"{body.get('category') or 'VALIDATION_ERROR'}: " + "; ".join(details)
            if len(inputs) == 1:
                out[inputs[0]["objectWriteTraceId"]] = _Result(False, reason)
                return out
            bad = _bad_properties(body)
            failing = [i for i in inputs if bad & set(i.get("properties") or {})]
            if failing:  # a property every record writing it fails with: no need to split those further
                for item in failing:
                    out[item["objectWriteTraceId"]] = _Result(False, reason)
                rest = [i for i in inputs if not bad & set(i.get("properties") or {})]
                out.update(self._send_batch(path, rest, result_key))
                return out
            middle = len(inputs) // 2
            out.update(self._send_batch(path, inputs[:middle], result_key))
            out.update(self._send_batch(path, inputs[middle:], result_key))
            return out
        for item in inputs:
            out[item["objectWriteTraceId"]] = _Result(False, reason, not_found=status == 404)
        return out

    # ---------------------------------------------------------------------------------------------------- schema
    def _check_type(self, object_type: str) -> None:
        if object_type not in OBJECT_TYPES:
            raise ValueError(f"unknown CRM object type {object_type!r}; expected one of {OBJECT_TYPES}")

    def _property_definitions(self, object_type: str, *, refresh: bool = False) -> dict[str, dict]:
        if refresh or object_type not in self._definitions:
            body = self._get_json(f"/crm/v3/properties/{object_type}")
            self._definitions[object_type] = {d["name"]: d for d in body.get("results") or [] if d.get("name")}
        return self._definitions[object_type]

    def _value_kinds(self, object_type: str) -> dict[str, str]:
        """Property name -> "date" | "datetime" | "bool" | "number" | "string" | "enumeration"."""
        kinds = {}
        for name, definition in self._property_definitions(object_type).items():
            kind = definition.get("type", "string")
            if kind == "enumeration" and definition.get("fieldType") == "booleancheckbox":
                kind = "bool"
            kinds[name] = kind
        return kinds

    def ensure_properties(
        self, object_type: str, fields: Iterable[FieldSpec], group_name: str, group_label: str
    ) -> int:
        """Create the property group if missing, then every missing pls_* property; refresh changed labels,
        descriptions and groups. Returns how many property definitions were written (0 when nothing changed)."""
        self._check_type(object_type)
        specs = list(fields)
        unknown = sorted({s.type for s in specs} - set(FIELD_TYPES))
        if unknown:
            raise ConfigError(f"crm_fields.yaml: field types {unknown} cannot be mapped to HubSpot properties; "
                              f"use one of {sorted(FIELD_TYPES)}")
        groups_path = f"/crm/v3/properties/{object_type}/groups"
        groups = {g["name"]: g for g in self._get_json(groups_path).get("results") or []}
        if group_name not in groups:
            response = self._call("POST", groups_path, json={"name": group_name, "label": group_label,
                                                             "displayOrder": -1})
            if response.status_code not in (200, 201, 409):
                raise CrmApiError(f"creating the HubSpot property group {group_name!r} failed: HTTP "
                                  f"{response.status_code}: {error_text(response)}", status=response.status_code)
        elif groups[group_name].get("label") != group_label:
            self._call("PATCH", f"{groups_path}/{group_name}", json={"label": group_label},
                       label=f"{groups_path}/{{group_name}}")
        existing = self._property_definitions(object_type, refresh=True)
        path = f"/crm/v3/properties/{object_type}"
        written = 0
        mismatched = []
        for spec in specs:
            desired = _property_definition(spec, group_name)
            current = existing.get(spec.name)
            if current is None:
                response = self._call("POST", path, json=desired)
                if response.status_code in (200, 201):
                    existing[spec.name] = _json(response) or desired
                    written += 1
                    continue
                if response.status_code != 409:
                    raise CrmApiError(f"creating the HubSpot property {object_type}.{spec.name} failed: HTTP "
                                      f"{response.status_code}: {error_text(response)}", status=response.status_code)
                current = self._get_json(f"{path}/{spec.name}", label=f"{path}/{{property_name}}")
            if not _same_kind(current, desired):
                mismatched.append(f"{spec.name} is {current.get('type')}/{current.get('fieldType')} in HubSpot, "
                                  f"crm_fields.yaml wants {desired['type']}/{desired['fieldType']}")
                continue
            changes = {k: desired[k] for k in ("label", "description", "groupName") if current.get(k) != desired[k]}
            if desired.get("options") and _option_values(current) != _option_values(desired):
                changes["options"] = desired["options"]
            if changes:
                response = self._call("PATCH", f"{path}/{spec.name}", json=changes,
                                      label=f"{path}/{{property_name}}")
                if response.status_code != 200:
                    raise CrmApiError(f"updating the HubSpot property {object_type}.{spec.name} failed: HTTP "
                                      f"{response.status_code}: {error_text(response)}", status=response.status_code)
                existing[spec.name] = {**current, **changes}
                written += 1
        if mismatched:
            raise ConfigError(
                f"HubSpot {object_type} properties have another type than crm_fields.yaml declares: "
                f"{'; '.join(mismatched)}. Rename the field in crm_fields.yaml or delete the property in HubSpot "
                f"(Settings > Properties) - pls-pipelines never changes the type of an existing property."
            )
        return written

    # ---------------------------------------------------------------------------------------------------- reads
    def _pages(self, object_type: str, properties: Sequence[str], associations: str | None = None) -> Iterator[dict]:
        params: dict[str, Any] = {"limit": PAGE_LIMIT, "properties": ",".join(properties), "archived": "false"}
        if associations:
            params["associations"] = associations
        path = f"/crm/v3/objects/{object_type}"
        while True:
            body = self._get_json(path, params=params)
            yield from body.get("results") or []
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params["after"] = after

    def _owner_pages(self) -> Iterator[dict]:
        params: dict[str, Any] = {"limit": 100, "archived": "false"}
        while True:
            body = self._get_json("/crm/v3/owners/", params=params)
            yield from body.get("results") or []
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params["after"] = after

    def read(self, object_type: str) -> pd.DataFrame:
        if object_type == "owners":
            rows = [_owner_row(o) for o in self._owner_pages()]
            return _frame("owners", rows)
        self._check_type(object_type)
        associations = "companies" if object_type in PRIMARY_COMPANY else None
        rows = [
            _record_row(object_type, record, _primary_company_v3(object_type, record))
            for record in self._pages(object_type, list(READ_PROPERTIES[object_type]), associations)
        ]
        return _frame(object_type, rows)

    def read_modified_since(self, object_type: str, since: datetime) -> pd.DataFrame:
        """Records modified at or after `since` (naive = UTC), canonical columns, through search on the
        last-modified property. Every page is a fresh query "hs_object_id > last id seen", sorted by id, so
        the search's 10,000-result cap is never reached however many records changed."""
        if object_type == "owners":
            return self.read("owners")
        self._check_type(object_type)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        since_ms = int(since.timestamp() * 1000)
        records: list[dict] = []
        last_id = "0"
        path = f"/crm/v3/objects/{object_type}/search"
        while True:
            body = self._post_json(path, {
                "filterGroups": [{"filters": [
                    {"propertyName": LAST_MODIFIED[object_type], "operator": "GTE", "value": str(since_ms)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": last_id},
                ]}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": list(READ_PROPERTIES[object_type]),
                "limit": SEARCH_LIMIT,
            }, ok=(200,))
            page = body.get("results") or []
            records.extend(page)
            if not page or not (body.get("paging") or {}).get("next"):
                break
            last_id = str(page[-1]["id"])
        companies: dict[str, str] = {}
        if object_type in PRIMARY_COMPANY and records:
            companies = self._primary_companies(object_type, [str(r["id"]) for r in records])
        return _frame(object_type, [_record_row(object_type, r, companies.get(str(r["id"]))) for r in records])

    def _primary_companies(self, object_type: str, ids: Sequence[str]) -> dict[str, str]:
        """Record id -> its primary company (else its first), through v4 association batch reads."""
        primary_type = PRIMARY_COMPANY[object_type][1]
        out: dict[str, str] = {}
        for start in range(0, len(ids), ASSOCIATION_READ_LIMIT):
            chunk = ids[start: start + ASSOCIATION_READ_LIMIT]
            body = self._post_json(f"/crm/v4/associations/{object_type}/companies/batch/read",
                                   {"inputs": [{"id": i} for i in chunk]})
            for result in body.get("results") or []:
                targets = result.get("to") or []
                primary = [t for t in targets if any(
                    a.get("typeId") == primary_type for a in t.get("associationTypes") or [])]
                chosen = (primary or targets or [None])[0]
                if chosen is not None:
                    out[str((result.get("from") or {}).get("id"))] = str(chosen.get("toObjectId"))
        return out

    def read_properties(self, object_type: str, record_ids: Sequence[str] | None = None) -> pd.DataFrame:
        self._check_type(object_type)
        kinds = self._value_kinds(object_type)
        names = sorted(n for n in kinds if n.startswith(FIELD_PREFIX))
        rows: list[tuple[str, str, str]] = []
        if names:
            records: Iterable[dict]
            if record_ids is None:
                records = self._pages(object_type, names)
            else:
                records = self._batch_read(object_type, list(dict.fromkeys(str(i) for i in record_ids)), names)
            for record in records:
                props = record.get("properties") or {}
                for name in names:
                    value = props.get(name)
                    if value in (None, ""):
                        continue
                    rows.append((str(record["id"]), name, _to_canonical(kinds[name], str(value))))
        frame = pd.DataFrame(rows, columns=["record_id", "name", "value"], dtype=object)
        return frame.sort_values(["record_id", "name"], ignore_index=True)

    def _batch_read(self, object_type: str, ids: list[str], properties: list[str],
                    id_property: str | None = None) -> Iterator[dict]:
        for start in range(0, len(ids), BATCH_LIMIT):
            body: dict[str, Any] = {"inputs": [{"id": i} for i in ids[start: start + BATCH_LIMIT]],
                                    "properties": properties}
            if id_property:
                body["idProperty"] = id_property
            response = self._call("POST", f"/crm/v3/objects/{object_type}/batch/read", json=body)
            if response.status_code == 404:  # none of them exists
                continue
            if response.status_code not in (200, 207):
                raise CrmApiError(f"POST /crm/v3/objects/{object_type}/batch/read: HTTP {response.status_code}: "
                                  f"{error_text(response)}", status=response.status_code)
            yield from _json(response).get("results") or []

    def find_company(self, query: str) -> dict | None:
        text = (query or "").strip()
        if not text:
            return None
        needle = text.lower().removeprefix("www.")
        properties = list(READ_PROPERTIES["companies"])
        if text.isdigit():
            response = self._call("GET", f"/crm/v3/objects/companies/{text}", params={
                "properties": ",".join(properties)}, label="/crm/v3/objects/companies/{record_id}")
            if response.status_code == 200:
                return self._company_dict(_json(response))
        body = self._post_json("/crm/v3/objects/companies/search", {
            "filterGroups": [
                {"filters": [{"propertyName": "domain", "operator": "EQ", "value": needle}]},
                {"filters": [{"propertyName": "domain", "operator": "EQ", "value": f"www.{needle}"}]},
                {"filters": [{"propertyName": "name", "operator": "EQ", "value": text}]},
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": properties, "limit": 20,
        }, ok=(200,))
        results = body.get("results") or []
        by_domain = [r for r in results if _normal_domain((r.get("properties") or {}).get("domain")) == needle]
        by_name = [r for r in results if ((r.get("properties") or {}).get("name") or "").lower() == text.lower()]
        chosen = (by_domain or by_name or [None])[0]
        return self._company_dict(chosen) if chosen else None

    @staticmethod
    def _company_dict(record: dict) -> dict:
        row = _record_row("companies", record, None)
        count = pd.to_numeric(row["employee_count"], errors="coerce")
        row["employee_count"] = None if pd.isna(count) else (int(count) if float(count).is_integer() else count)
        return row

    def count_records(self, object_type: str) -> int:
        if object_type == "owners":
            return sum(1 for _ in self._owner_pages())
        self._check_type(object_type)
        body = self._post_json(f"/crm/v3/objects/{object_type}/search", {"limit": 1, "properties": ["hs_object_id"]},
                               ok=(200,))
        return int(body.get("total") or 0)

    # ---------------------------------------------------------------------------------------------------- writes
    def _to_hubspot(self, kinds: dict[str, str], properties: dict[str, str | None]) -> dict[str, str]:
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

    def update_records(self, object_type: str, updates: Sequence[RecordUpdate]) -> list[RecordOutcome]:
        self._check_type(object_type)
        if not updates:
            return []
        kinds = self._value_kinds(object_type)
        own = {u.record_id: u.properties for u in updates}
        outcomes: dict[int, RecordOutcome] = {}
        for chunk in _unique_chunks(list(enumerate(updates)), key=lambda item: item[1].record_id):
            inputs = [{"id": u.record_id, "properties": self._to_hubspot(kinds, u.properties),
                       "objectWriteTraceId": u.record_id} for _, u in chunk]
            answers = self._send_batch(f"/crm/v3/objects/{object_type}/batch/update", inputs,
                                       lambda result: str(result.get("id")))
            unresolved = []
            for index, update in chunk:
                answer = answers.get(update.record_id)
                if answer is None or answer.not_found:
                    unresolved.append((index, update, answer))
                elif answer.ok:
                    outcomes[index] = RecordOutcome(update.record_id, True)
                else:
                    outcomes[index] = RecordOutcome(update.record_id, False, answer.error, answer.retryable)
            if unresolved:
                self._follow_merges(object_type, unresolved, kinds, own, outcomes)
        return [outcomes[i] for i in range(len(updates))]

    def _follow_merges(self, object_type: str, unresolved: list, kinds: dict[str, str],
                       own: dict[str, dict], outcomes: dict[int, RecordOutcome]) -> None:
        """Records HubSpot left out of a batch's results (or called not found): when one was merged into
        another record, write to the survivor and report merged_into; otherwise they failed."""
        try:
            survivors = self._find_survivors(object_type, [u.record_id for _, u, _ in unresolved])
        except CrmApiError as exc:
            for index, update, answer in unresolved:
                outcomes[index] = RecordOutcome(
                    update.record_id, False,
                    f"{answer.error if answer else 'missing from HubSpot response'}; checking for a merge failed: "
                    f"{exc}", retryable=exc.retryable)
            return
        follow = []
        for index, update, answer in unresolved:
            survivor = survivors.get(update.record_id)
            if survivor is None:
                error = answer.error if answer is not None else (
                    "missing from HubSpot's response: HubSpot neither confirmed nor rejected this record")
                outcomes[index] = RecordOutcome(update.record_id, False, error)
                continue
            # the survivor's own update (if any) wins over the merged-away record's values
            properties = {k: v for k, v in update.properties.items() if k not in own.get(survivor, {})}
            if not properties:
                outcomes[index] = RecordOutcome(update.record_id, True, merged_into=survivor)
                continue
            follow.append((index, update, survivor, properties))
        for chunk in _unique_chunks(follow, key=lambda item: item[2]):
            inputs = [{"id": survivor, "properties": self._to_hubspot(kinds, properties),
                       "objectWriteTraceId": survivor} for _, _, survivor, properties in chunk]
            answers = self._send_batch(f"/crm/v3/objects/{object_type}/batch/update", inputs,
                                       lambda result: str(result.get("id")))
            for index, update, survivor, _ in chunk:
                answer = answers.get(survivor)
                if answer is not None and answer.ok:
                    outcomes[index] = RecordOutcome(update.record_id, True, merged_into=survivor)
                elif answer is None:
                    outcomes[index] = RecordOutcome(
                        update.record_id, False,
                        f"merged into {survivor}, which is missing from HubSpot's response", merged_into=survivor)
                else:
                    outcomes[index] = RecordOutcome(update.record_id, False, answer.error, answer.retryable,
                                                    merged_into=survivor)

    def _find_survivors(self, object_type: str, record_ids: Sequence[str]) -> dict[str, str]:
        """Merged-away record id -> the record it lives on in, from the survivors' hs_merged_object_ids."""
        wanted = list(dict.fromkeys(record_ids))
        out: dict[str, str] = {}
        for start in range(0, len(wanted), MERGE_LOOKUPS_PER_SEARCH):
            chunk = wanted[start: start + MERGE_LOOKUPS_PER_SEARCH]
            body = self._post_json(f"/crm/v3/objects/{object_type}/search", {
                "filterGroups": [{"filters": [{"propertyName": "hs_merged_object_ids", "operator": "CONTAINS_TOKEN",
                                               "value": record_id}]} for record_id in chunk],
                "properties": ["hs_merged_object_ids"], "limit": 100,
            }, ok=(200,))
            for result in body.get("results") or []:
                merged = str((result.get("properties") or {}).get("hs_merged_object_ids") or "")
                for token in merged.split(";"):
                    if token.strip() in chunk:
                        out[token.strip()] = str(result["id"])
        return out

    def create_contacts(self, contacts: Sequence[NewContact]) -> list[CreateOutcome]:
        """Upsert contacts by email and associate each with its company. A contact HubSpot already holds is
        returned unchanged (created=False; it is only associated when it has no company at all, which repairs a
        create whose association failed on an earlier run). One outcome per input, in input order."""
        outcomes: list[CreateOutcome | None] = [None] * len(contacts)
        positions: dict[str, list[int]] = {}
        firsts: list[tuple[str, NewContact]] = []
        for index, contact in enumerate(contacts):
            email = (contact.email or "").strip().lower()
            if not email:
                outcomes[index] = CreateOutcome(contact.key, None, False, error="INVALID_EMAIL: no email address")
                continue
            if email not in positions:
                positions[email] = []
                firsts.append((email, contact))
            positions[email].append(index)
        for chunk in _unique_chunks(firsts, key=lambda item: item[0]):
            results = self._create_contact_chunk(chunk)
            for email, _ in chunk:
                record_id, ok, created, error, retryable = results[email]
                for n, index in enumerate(positions[email]):
                    outcomes[index] = CreateOutcome(contacts[index].key, record_id, ok, created and n == 0, error,
                                                    retryable=retryable)
        return [o for o in outcomes if o is not None]

    def _create_contact_chunk(self, chunk: list[tuple[str, NewContact]]) -> dict[str, tuple]:
        """email -> (record_id, ok, created, error, retryable) for up to 100 distinct emails."""
        results: dict[str, tuple] = {}
        try:
            company_ids = list(dict.fromkeys(str(c.company_id) for _, c in chunk))
            known = {str(r["id"]) for r in self._batch_read("companies", company_ids, ["hs_object_id"])}
            existing = {
                str((r.get("properties") or {}).get("email") or "").lower(): str(r["id"])
                for r in self._batch_read("contacts", [e for e, _ in chunk], ["email"], id_property="email")
            }
        except CrmApiError as exc:
            if not exc.retryable:
                raise
            return {email: (None, False, False, str(exc), True) for email, _ in chunk}
        to_create, to_associate = [], []
        for email, contact in chunk:
            if email in existing:
                results[email] = (existing[email], True, False, None, False)
            elif str(contact.company_id) not in known:
                results[email] = (None, False, False,
                                  f"ASSOCIATION_TARGET_NOT_FOUND: no companies record {contact.company_id}", False)
            else:
                to_create.append((email, contact))
        inputs = []
        for email, contact in to_create:
            properties = {"email": email}
            for name, value in (("firstname", contact.first_name), ("lastname", contact.last_name),
                                ("jobtitle", contact.title)):
                if _text(value):
                    properties[name] = str(value).strip()
            inputs.append({"idProperty": "email", "id": email, "properties": properties, "objectWriteTraceId": email})
        answers = self._send_batch("/crm/v3/objects/contacts/batch/upsert", inputs, _upsert_key)
        company_of = {email: str(contact.company_id) for email, contact in chunk}
        for email, _ in to_create:
            answer = answers.get(email)
            if answer is None:
                results[email] = (None, False, False, "missing from HubSpot's response: the contact was not "
                                                      "confirmed", False)
            elif not answer.ok:
                results[email] = (None, False, False, answer.error, answer.retryable)
            else:
                record_id = str(answer.body["id"])
                results[email] = (record_id, True, bool(answer.body.get("new")), None, False)
                to_associate.append((email, record_id))
        if existing:  # an existing contact with no company at all gets this one (a half-done earlier create)
            try:
                linked = self._primary_companies("contacts", list(existing.values()))
            except CrmApiError as exc:
                if not exc.retryable:
                    raise
                linked = {record_id: "?" for record_id in existing.values()}
            to_associate += [(email, record_id) for email, record_id in existing.items()
                             if record_id not in linked and email in company_of and
                             company_of[email] in known]
        self._associate_contacts(to_associate, company_of, results)
        return results

    def _associate_contacts(self, pairs: list[tuple[str, str]], company_of: dict[str, str],
                            results: dict[str, tuple]) -> None:
        if not pairs:
            return
        body = {"inputs": [{"from": {"id": record_id}, "to": {"id": company_of[email]}} for email, record_id in pairs]}
        try:
            response = self._call("POST", "/crm/v4/associations/contacts/companies/batch/associate/default",
                                  json=body)
        except CrmApiError as exc:
            if not exc.retryable:
                raise
            for email, record_id in pairs:
                results[email] = (record_id, False, results[email][2], f"associating the company failed: {exc}",
                                  True)
            return
        answer = _json(response)
        if response.status_code not in (200, 201, 207) or not isinstance(answer, dict):
            for email, record_id in pairs:
                results[email] = (record_id, False, results[email][2],
                                  f"associating the company failed: HTTP {response.status_code}: "
                                  f"{error_text(response)}", False)
            return
        confirmed = {str((r.get("from") or {}).get("id")) for r in answer.get("results") or []}
        reasons = [_error_reason(e)[0] for e in answer.get("errors") or [] if isinstance(e, dict)]
        for email, record_id in pairs:
            if record_id not in confirmed:
                reason = reasons[0] if reasons else "missing from HubSpot's response"
                results[email] = (record_id, False, results[email][2], f"associating the company failed: {reason}",
                                  False)

    # ---------------------------------------------------------------------------------------------------- demo
    def load_demo(
        self, owners: pd.DataFrame, companies: pd.DataFrame, contacts: pd.DataFrame, deals: pd.DataFrame
    ) -> dict[str, dict[str, str]]:
        """Load demo records idempotently: owners matched by email (HubSpot users are not created through the
        API), companies upserted by domain (when the portal's domain property is unique; otherwise matched by
        domain against a full read and created), contacts upserted by email and associated with their company,
        deals matched by name within their company (full read of deals with their companies) and created with
        their primary company. Returns demo id -> HubSpot id per object type; raises CrmApiError listing the
        records HubSpot refused."""
        ids: dict[str, dict[str, str]] = {"owners": {}, "companies": {}, "contacts": {}, "deals": {}}
        failures: list[str] = []
        by_email = {str(o.get("email") or "").lower(): str(o["id"]) for o in self._owner_pages() if o.get("email")}
        for row in owners.to_dict("records"):
            match = by_email.get(str(row.get("email") or "").lower())
            if match:
                ids["owners"][str(row["owner_id"])] = match
        self._load_companies(companies, ids, failures)
        self._load_contacts(contacts, ids, failures)
        self._load_deals(deals, ids, failures)
        if failures:
            raise CrmApiError(f"HubSpot refused {len(failures)} demo records: " + "; ".join(failures[:10]))
        return ids

    def _demo_properties(self, object_type: str, row: dict, ids: dict[str, dict[str, str]]) -> dict[str, str]:
        kinds = self._value_kinds(object_type)
        props: dict[str, str | None] = {}
        for name, column in READ_PROPERTIES[object_type].items():
            value = to_crm_value(row.get(column))
            if value is None:
                continue
            if name == "hubspot_owner_id":
                value = ids["owners"].get(value)
                if value is None:
                    continue
            if name == "domain":
                value = _normal_domain(value)
            props[name] = value
        if object_type == "deals":
            props.setdefault("pipeline", "default")
        return {k: v for k, v in self._to_hubspot(kinds, props).items() if v != ""}

    def _load_companies(self, frame: pd.DataFrame, ids: dict, failures: list[str]) -> None:
        rows = frame.to_dict("records")
        domain_unique = bool(self._property_definitions("companies").get("domain", {}).get("hasUniqueValue"))
        existing: dict[str, str] = {}
        if not domain_unique:
            for record in self._pages("companies", ["domain"]):
                domain = _normal_domain((record.get("properties") or {}).get("domain"))
                if domain:
                    existing.setdefault(domain, str(record["id"]))
        upserts, updates, creates = [], [], []
        for row in rows:
            props = self._demo_properties("companies", row, ids)
            domain = props.get("domain")
            demo_id = str(row["company_id"])
            if domain and domain_unique:
                upserts.append((demo_id, {"idProperty": "domain", "id": domain, "properties": props,
                                          "objectWriteTraceId": domain}))
            elif domain in existing:
                updates.append((demo_id, {"id": existing[domain], "properties": props,
                                          "objectWriteTraceId": existing[domain]}))
            else:  # traced by domain, so results correlate even where HubSpot does not echo the trace id
                trace = f"domain:{domain}" if domain else f"demo-{demo_id}"
                creates.append((demo_id, {"properties": props, "objectWriteTraceId": trace}))
        self._demo_writes("companies", "batch/upsert", upserts, ids, failures, _upsert_key_for("domain"))
        self._demo_writes("companies", "batch/update", updates, ids, failures, lambda r: str(r.get("id")))
        self._demo_writes("companies", "batch/create", creates, ids, failures, _created_company_key)

    def _demo_writes(self, object_type: str, action: str, items: list[tuple[str, dict]], ids: dict,
                     failures: list[str], result_key: Callable[[dict], str | None]) -> None:
        """Send (demo id, input) pairs in batches; map each demo id to the HubSpot id of its answer. Several
        demo ids may share one input (the same domain or email): they all get that record."""
        by_trace: dict[str, list[str]] = {}
        inputs: dict[str, dict] = {}
        for demo_id, item in items:
            trace = item["objectWriteTraceId"]
            by_trace.setdefault(trace, []).append(demo_id)
            inputs.setdefault(trace, item)
        batch = list(inputs.values())
        for start in range(0, len(batch), BATCH_LIMIT):
            chunk = batch[start: start + BATCH_LIMIT]
            answers = self._send_batch(f"/crm/v3/objects/{object_type}/{action}", chunk, result_key)
            for item in chunk:
                trace = item["objectWriteTraceId"]
                answer = answers.get(trace)
                if answer is not None and answer.ok:
                    for demo_id in by_trace[trace]:
                        ids[object_type][demo_id] = str(answer.body["id"])
                else:
                    failures.append(f"{object_type} {by_trace[trace][0]}: "
                                    f"{answer.error if answer else 'missing from HubSpot response'}")

    def _load_contacts(self, frame: pd.DataFrame, ids: dict, failures: list[str]) -> None:
        upserts = []
        company_of: dict[str, str] = {}
        for row in frame.to_dict("records"):
            props = self._demo_properties("contacts", row, ids)
            email = (props.get("email") or "").lower()
            if not email:
                failures.append(f"contacts {row['contact_id']}: no email address")
                continue
            props["email"] = email
            upserts.append((str(row["contact_id"]), {"idProperty": "email", "id": email, "properties": props,
                                                     "objectWriteTraceId": email}))
            company = ids["companies"].get(str(row.get("company_id")))
            if company:
                company_of.setdefault(email, company)
        self._demo_writes("contacts", "batch/upsert", upserts, ids, failures, _upsert_key)
        emails = {item["id"]: ids["contacts"].get(demo_id) for demo_id, item in upserts}
        pairs = [(email, record_id) for email, record_id in emails.items() if record_id and email in company_of]
        results = {email: (record_id, True, False, None, False) for email, record_id in pairs}
        for start in range(0, len(pairs), BATCH_LIMIT):
            self._associate_contacts(pairs[start: start + BATCH_LIMIT], company_of, results)
        failures += [f"contacts {email}: {result[3]}" for email, result in results.items() if not result[1]]

    def _load_deals(self, frame: pd.DataFrame, ids: dict, failures: list[str]) -> None:
        existing: dict[tuple[str | None, str], list[str]] = {}
        for record in self._pages("deals", ["dealname"], associations="companies"):
            key = (_primary_company_v3("deals", record), str((record.get("properties") or {}).get("dealname")))
            existing.setdefault(key, []).append(str(record["id"]))
        for matches in existing.values():
            matches.sort(key=lambda i: (len(i), i))
        updates, creates = [], []
        for row in frame.to_dict("records"):
            demo_id = str(row["deal_id"])
            company = ids["companies"].get(str(row.get("company_id")))
            props = self._demo_properties("deals", row, ids)
            matches = existing.get((company, props.get("dealname", "")))
            if matches:  # the n-th demo deal of that name and company is the n-th such HubSpot deal
                record_id = matches.pop(0)
                updates.append((demo_id, {"id": record_id, "properties": props, "objectWriteTraceId": record_id}))
                continue
            item: dict[str, Any] = {"properties": props, "objectWriteTraceId": f"demo-{demo_id}"}
            if company:
                item["associations"] = [{"to": {"id": company}, "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": PRIMARY_DEAL_TO_COMPANY}]}]
            creates.append((demo_id, item))
        self._demo_writes("deals", "batch/update", updates, ids, failures, lambda r: str(r.get("id")))
        self._demo_writes("deals", "batch/create", creates, ids, failures, lambda r: r.get("objectWriteTraceId"))


# -------------------------------------------------------------------------------------------------------- mapping
def _upsert_key(result: dict) -> str | None:
    trace = result.get("objectWriteTraceId")
    if trace:
        return str(trace)
    email = (result.get("properties") or {}).get("email")
    return str(email).lower() if email else None


def _created_company_key(result: dict) -> str | None:
    if result.get("objectWriteTraceId"):
        return str(result["objectWriteTraceId"])
    domain = _normal_domain((result.get("properties") or {}).get("domain"))
    return f"domain:{domain}" if domain else None


def _upsert_key_for(id_property: str) -> Callable[[dict], str | None]:
    def key(result: dict) -> str | None:
        trace = result.get("objectWriteTraceId")
        if trace:
            return str(trace)
        value = (result.get("properties") or {}).get(id_property)
        return str(value).lower() if value else None

    return key


def _property_definition(spec: FieldSpec, group_name: str) -> dict[str, Any]:
    type_, field_type = FIELD_TYPES[spec.type]
    definition: dict[str, Any] = {
        "name": spec.name, "label": spec.label, "type": type_, "fieldType": field_type, "groupName": group_name,
        "description": spec.description, "formField": False,
    }
    if spec.type == "bool":
        definition["options"] = BOOL_OPTIONS
    return definition


def _same_kind(current: dict, desired: dict) -> bool:
    have = (current.get("type"), current.get("fieldType"))
    want = (desired["type"], desired["fieldType"])
    if have == want:
        return True
    if want == ("string", "textarea"):
        return have in (("string", "text"), ("string", "textarea"))
    if want == ("enumeration", "booleancheckbox"):
        return have in (("bool", "booleancheckbox"), ("enumeration", "booleancheckbox"))
    return False


def _option_values(definition: dict) -> set[str]:
    return {str(o.get("value")) for o in definition.get("options") or [] if isinstance(o, dict)}


def _to_canonical(kind: str, value: str) -> str:
    """HubSpot's stored format -> the canonical string the sync wrote (dates back to "YYYY-MM-DD")."""
    if kind == "date":
        return _iso_date(value) or value
    if kind == "datetime":
        return _iso_timestamp(value) or value
    return value


def _primary_company_v3(object_type: str, record: dict) -> str | None:
    if object_type not in PRIMARY_COMPANY:
        return None
    results = (((record.get("associations") or {}).get("companies") or {}).get("results")) or []
    primary_name = PRIMARY_COMPANY[object_type][0]
    for item in results:
        if item.get("type") == primary_name:
            return str(item.get("id"))
    return str(results[0].get("id")) if results else None


def _owner_row(owner: dict) -> dict:
    name = " ".join(p for p in (_text(owner.get("firstName")), _text(owner.get("lastName"))) if p) or None
    teams = owner.get("teams") or []
    primary = [t for t in teams if t.get("primary")] or teams
    return {"owner_id": str(owner.get("id")), "name": name, "email": _text(owner.get("email")),
            "team": _text(primary[0].get("name")) if primary else None}


def _record_row(object_type: str, record: dict, company_id: str | None) -> dict:
    props = record.get("properties") or {}
    row: dict[str, Any] = {ID_COLUMN[object_type]: str(record.get("id"))}
    for name, column in READ_PROPERTIES[object_type].items():
        row[column] = _text(props.get(name))
    row["created_at"] = _iso_timestamp(props.get("createdate") or record.get("createdAt"))
    if object_type == "deals":
        row["close_date"] = _iso_date(props.get("closedate"))
    if object_type in PRIMARY_COMPANY:
        row["company_id"] = company_id
    return row


def _frame(object_type: str, rows: list[dict]) -> pd.DataFrame:
    columns = CANONICAL_COLUMNS[object_type]
    frame = pd.DataFrame(rows, columns=columns).astype(object)
    frame = frame.where(frame.notna(), None)
    for column in NUMERIC_COLUMNS.get(object_type, ()):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.sort_values(ID_COLUMN[object_type], kind="stable", ignore_index=True)
