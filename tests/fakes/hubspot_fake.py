"""A contract-faithful fake of the HubSpot CRM API (v3 objects/properties/owners, v4 associations).

It follows /work/shared/reference/crm_api_contracts.md sections 1.x and 4: Bearer auth, after-paging, search
with its 10,000-result cap and own per-second limit, batch endpoints with the 100-input cap and 207 multi-status
errors, upserts by a unique property, merges, property and group schema, and the ten-secondly rolling rate limit
with HubSpot's headers and 429 body. Fault knobs (forced 429s and 5xx, timeouts after a write was applied, random
faults, rejected records, shuffled or missing results) are settable at runtime from the test thread.

    with HubSpotFake(token="test-token", rate_limit=(20, 1.0)) as fake:
        fake.seed(companies=[{"name": "Acme", "domain": "acme.com"}])
        client = HubSpotCrm("test-token", fake.base_url)

The server is a Starlette app run by uvicorn in a background thread on 127.0.0.1 with an ephemeral port; the
in-memory store is guarded by one lock, so the test thread can read and change it while requests run.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OBJECT_TYPES = ("companies", "contacts", "deals")
TYPE_ALIASES = {
    "0-1": "contacts", "contact": "contacts", "contacts": "contacts",
    "0-2": "companies", "company": "companies", "companies": "companies",
    "0-3": "deals", "deal": "deals", "deals": "deals",
}
SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal"}
LASTMOD = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
ID_START = {"companies": 1_000_001, "contacts": 2_000_001, "deals": 3_000_001}
DEFAULT_PROPS = {
    "companies": ("name", "domain"),
    "contacts": ("firstname", "lastname", "email"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
}
SEARCH_DEFAULT_PROPS = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"),
}
BATCH_CAP = 100
ASSOC_READ_CAP = 1000
SEARCH_LIMIT_MAX = 200
SEARCH_RESULT_CAP = 10_000
MAX_FILTER_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25
DAY_MS = 86_400_000

# HubSpot-defined association types (unidirectional ids, contract 1.8): id -> (from, to, v3 type name, label)
ASSOC_TYPES: dict[int, tuple[str, str, str, str | None]] = {
    1: ("contacts", "companies", "contact_to_company", "Primary"),
    279: ("contacts", "companies", "contact_to_company_unlabeled", None),
    2: ("companies", "contacts", "company_to_contact", "Primary"),
    280: ("companies", "contacts", "company_to_contact_unlabeled", None),
    5: ("deals", "companies", "deal_to_company", "Primary"),
    341: ("deals", "companies", "deal_to_company_unlabeled", None),
    6: ("companies", "deals", "company_to_deal", "Primary"),
    342: ("companies", "deals", "company_to_deal_unlabeled", None),
    3: ("deals", "contacts", "deal_to_contact", None),
    4: ("contacts", "deals", "contact_to_deal", None),
}
INVERSE_TYPE = {1: 2, 2: 1, 279: 280, 280: 279, 5: 6, 6: 5, 341: 342, 342: 341, 3: 4, 4: 3}
# (from, to) -> (primary type id or None, unlabeled/default type id)
PAIR_TYPES = {
    ("contacts", "companies"): (1, 279), ("companies", "contacts"): (2, 280),
    ("deals", "companies"): (5, 341), ("companies", "deals"): (6, 342),
    ("deals", "contacts"): (None, 3), ("contacts", "deals"): (None, 4),
}
# Primary types a record may hold towards one target only (a contact's / deal's primary company).
SINGLE_PRIMARY = {1, 5}

COMPATIBLE_FIELD_TYPES = {
    "string": {"text", "textarea", "html", "phonenumber", "file"},
    "number": {"number", "calculation_equation"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
    "date": {"date", "calculation_equation"},
    "datetime": {"date", "calculation_equation"},
    "phone_number": {"phonenumber"},
}
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NUMBER = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)$")
INTEGER = re.compile(r"^-?\d+$")
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_instant_ms(value: str) -> int | None:
    """Epoch milliseconds from digits, an ISO date or an ISO datetime; None when unreadable."""
    text = value.strip()
    if INTEGER.match(text):
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return (day - date(1970, 1, 1)).days * DAY_MS
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str | None:
    try:
        return base64.b64decode(text.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class _Reject(Exception):
    """A whole-request error: (status, body)."""

    def __init__(self, status: int, category: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                     "category": category, **extra}


class _Rec:
    __slots__ = ("archived", "archived_at", "created", "id", "merged_into", "props", "updated", "visible_at")

    def __init__(self, record_id: str, props: dict[str, str], created: int):
        self.id = record_id
        self.props = props
        self.created = created
        self.updated = created
        self.archived = False
        self.archived_at: int | None = None
        self.merged_into: str | None = None
        self.visible_at = 0.0


@dataclass
class _PropInfo:
    type: str
    field_type: str
    options: frozenset[str]
    read_only: bool
    unique: bool
    owner: bool = False


@dataclass
class _Fault:
    count: int
    status: int | None  # None: answer normally after `delay` (a timeout on the client's side)
    retry_after: float | None = None
    policy: str = "TEN_SECONDLY_ROLLING"
    method: str | None = None
    path_contains: str | None = None
    after_apply: bool = False
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


class _Window:
    """A rolling window of request times (monotonic seconds)."""

    def __init__(self, limit: int, seconds: float):
        self.limit = limit
        self.seconds = seconds
        self.hits: deque[float] = deque()

    def prune(self, now: float) -> None:
        cutoff = now - self.seconds
        hits = self.hits
        while hits and hits[0] <= cutoff:
            hits.popleft()

    def try_acquire(self, now: float) -> bool:
        self.prune(now)
        if len(self.hits) >= self.limit:
            return False
        self.hits.append(now)
        return True

    def remaining(self, now: float) -> int:
        self.prune(now)
        return max(0, self.limit - len(self.hits))

    def wait(self, now: float) -> float:
        self.prune(now)
        if len(self.hits) < self.limit:
            return 0.0
        return max(0.0, self.hits[0] + self.seconds - now)


@dataclass
class _Ctx:
    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    query_lists: dict[str, list[str]]
    body: Any


def _standard_properties(unique_domain: bool) -> dict[str, dict[str, dict]]:
    def p(name, label, type_, field_type, group, *, options=(), read_only=False, unique=False, external=False):
        return {
            "name": name, "label": label, "type": type_, "fieldType": field_type, "groupName": group,
            "description": "", "options": [
                {"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(options)
            ],
            "displayOrder": -1, "calculated": False, "externalOptions": external, "hasUniqueValue": unique,
            "hidden": False, "formField": not read_only, "hubspotDefined": True,
            "modificationMetadata": {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": read_only},
        }

    lifecycle = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
                 "evangelist", "other")
    stages = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
              "contractsent", "closedwon", "closedlost")

    def common(group: str, lastmod: str) -> list[dict]:
        return [
            p("createdate", "Create Date", "datetime", "date", group),
            p(lastmod, "Last Modified Date", "datetime", "date", group, read_only=True),
            p("hs_object_id", "Record ID", "number", "number", group, read_only=True),
            p("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox", group, read_only=True),
            p("hubspot_owner_id", "Owner", "enumeration", "select", group, external=True),
        ]

    companies = [
        p("name", "Name", "string", "text", "companyinformation"),
        p("domain", "Company Domain Name", "string", "text", "companyinformation", unique=unique_domain),
        # Real HubSpot: an enumeration of industry codes; a free string here so demo values load.
        p("industry", "Industry", "string", "text", "companyinformation"),
        p("numberofemployees", "Number of Employees", "number", "number", "companyinformation"),
        p("country", "Country/Region", "string", "text", "companyinformation"),
        p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "companyinformation", options=lifecycle),
        *common("companyinformation", "hs_lastmodifieddate"),
    ]
    contacts = [
        p("email", "Email", "string", "text", "contactinformation", unique=True),
        p("firstname", "First Name", "string", "text", "contactinformation"),
        p("lastname", "Last Name", "string", "text", "contactinformation"),
        p("jobtitle", "Job Title", "string", "text", "contactinformation"),
        p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation", options=lifecycle),
        *common("contactinformation", "lastmodifieddate"),
    ]
    deals = [
        p("dealname", "Deal Name", "string", "text", "dealinformation"),
        p("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation", options=stages),
        p("pipeline", "Pipeline", "enumeration", "select", "dealinformation", options=("default",)),
        p("amount", "Amount", "number", "number", "dealinformation"),
        p("dealtype", "Deal Type", "enumeration", "radio", "dealinformation",
          options=("newbusiness", "existingbusiness")),
        p("closedate", "Close Date", "datetime", "date", "dealinformation"),
        *common("dealinformation", "hs_lastmodifieddate"),
    ]
    return {t: {d["name"]: d for d in defs} for t, defs in
            (("companies", companies), ("contacts", contacts), ("deals", deals))}


# Canonical column -> HubSpot property, for seeding from the pipeline's canonical frames.
_CANONICAL_TO_HS = {
    "companies": {"name": "name", "domain": "domain", "industry": "industry", "employee_count": "numberofemployees",
                  "country": "country", "owner_id": "hubspot_owner_id", "lifecycle_stage": "lifecyclestage",
                  "created_at": "createdate"},
    "contacts": {"email": "email", "first_name": "firstname", "last_name": "lastname", "title": "jobtitle",
                 "created_at": "createdate"},
    "deals": {"name": "dealname", "stage": "dealstage", "amount": "amount", "deal_type": "dealtype",
              "created_at": "createdate", "close_date": "closedate"},
}
_CANONICAL_ID = {"companies": "company_id", "contacts": "contact_id", "deals": "deal_id"}


class HubSpotFake:
    """The HubSpot API on 127.0.0.1:<ephemeral port>. See the module docstring; knobs are plain attributes
    (set them any time) or the methods under "fault knobs"."""

    def __init__(
        self,
        token: str = "test-token",
        rate_limit: tuple[int, float] = (190, 10.0),
        *,
        search_rate_per_second: int = 5,
        daily_limit: int = 1_000_000,
        seed: int = 0,
        shuffle_results: bool = True,
        multi_status: bool = True,
        omit_merged_from_results: bool = True,
        unique_company_domain: bool = True,
        latency: float = 0.0,
        search_lag: float = 0.0,
    ):
        self.token = token
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        # -- knobs (plain attributes, settable at runtime) --
        self.shuffle_results = shuffle_results  # batch results in arbitrary order, like HubSpot
        self.multi_status = multi_status  # False: a per-record validation error fails the whole batch (400)
        self.omit_merged_from_results = omit_merged_from_results  # else merged ids get OBJECT_NOT_FOUND
        self.reject_ids: set[str] = set()  # records whose writes fail with VALIDATION_ERROR
        self.reject_values: set[str] = set()  # property values that fail with VALIDATION_ERROR INVALID_OPTION
        self.drop_ids_from_results: set[str] = set()  # applied, but silently left out of batch results
        self.latency = latency  # seconds added to every response
        self.search_lag = search_lag  # seconds a write stays invisible to search (index lag)
        self.all_missing_404 = False  # batch/read whose ids are all unknown answers 404 instead of 207
        self.search_result_cap = SEARCH_RESULT_CAP  # search paging past this many results answers 400
        # called with (method, route) after a write was applied, before the answer leaves: crash tests kill the
        # client here, the worst moment (the CRM holds the write, the client never learns it)
        self.on_applied_write: Callable[[str, str], None] | None = None
        # -- limits --
        self._window = _Window(rate_limit[0], rate_limit[1])
        self._search_window = _Window(search_rate_per_second, 1.0)
        self.daily_limit = daily_limit
        self.daily_used = 0
        self._forced: list[_Fault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_rng = random.Random(seed)
        self._fault_timeout_delay = 1.0
        # -- introspection --
        self.requests: Counter = Counter()  # (method, route with object types filled in) -> requests received
        self.responses: Counter = Counter()  # HTTP status -> responses sent
        self.applied_writes: Counter = Counter()  # (method, route) -> write requests that changed the store
        self.write_counts: Counter = Counter()  # (object_type, record id) -> times its properties were written
        self.batch_inputs: list[tuple[str, int]] = []  # (route, number of inputs) of every batch request handled
        # -- store --
        self._records: dict[str, dict[str, _Rec]] = {t: {} for t in OBJECT_TYPES}
        self._order: dict[str, list[int]] = {t: [] for t in OBJECT_TYPES}
        self._next_id = dict(ID_START)
        self._props = _standard_properties(unique_company_domain)
        self._pinfo: dict[str, dict[str, _PropInfo]] = {t: {} for t in OBJECT_TYPES}
        for object_type, defs in self._props.items():
            now = _iso(_now_ms())
            for definition in defs.values():
                definition.setdefault("createdAt", now)
                definition.setdefault("updatedAt", now)
                definition.setdefault("archived", False)
                self._refresh_pinfo(object_type, definition)
        self._groups: dict[str, dict[str, dict]] = {
            t: {g: {"name": g, "label": g.replace("information", " information").title(), "displayOrder": -1,
                    "archived": False}}
            for t, g in (("companies", "companyinformation"), ("contacts", "contactinformation"),
                         ("deals", "dealinformation"))
        }
        self._unique: dict[str, dict[str, dict[str, str]]] = {t: {} for t in OBJECT_TYPES}
        self._assoc: dict[tuple[str, str], dict[str, dict[str, set[int]]]] = {pair: {} for pair in PAIR_TYPES}
        self._owners: dict[str, dict] = {}
        self._next_owner = 70_000_001
        # Search over a large store: the ids matching a query's filters other than "hs_object_id > x", sorted,
        # kept until the store changes (_version moves on every write request and direct edit), so paging a
        # million records 200 at a time does not rescan them all for every page. _visible_until: while a
        # write is still invisible to search (search_lag), search takes the full path.
        self._version = 0
        self._search_cache: dict[tuple, list[int]] = {}
        self._search_cache_version = -1
        self._visible_until = 0.0
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("HubSpotFake is not running: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HubSpotFake:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="off",
            timeout_keep_alive=60, timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="hubspot-fake", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HubSpot fake did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> HubSpotFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------ fault knobs
    def fail_next(
        self,
        count: int = 1,
        status: int = 429,
        *,
        retry_after: float | None = None,
        policy: str = "TEN_SECONDLY_ROLLING",
        method: str | None = None,
        path_contains: str | None = None,
        after_apply: bool = False,
    ) -> None:
        """Answer the next `count` matching requests with `status` (429 with the HubSpot body and `policy`,
        Retry-After only when `retry_after` is given; or a 5xx). after_apply: the write is applied first, then
        the error is returned (a 5xx on a committed write)."""
        with self._lock:
            self._forced.append(_Fault(count, status, retry_after, policy, method, path_contains, after_apply))

    def timeout_next(
        self, count: int = 1, *, delay: float = 1.0, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Apply the next `count` matching requests, then hold the response for `delay` seconds - longer than
        the client's timeout, so the client sees a timeout for a write that was applied."""
        with self._lock:
            self._forced.append(_Fault(count, None, method=method, path_contains=path_contains, after_apply=True,
                                       delay=delay))

    def set_fault_rate(
        self,
        rate: float,
        *,
        kinds: Iterable[str] = ("429", "502", "503", "504", "timeout"),
        seed: int | None = None,
        timeout_delay: float = 1.0,
    ) -> None:
        """Each write call fails with probability `rate`, with a kind drawn from `kinds` ("429", "500", "502",
        "503", "504", "timeout" = applied then held for `timeout_delay` s, "<5xx>-applied" = applied then that
        error). Deterministic for a given seed."""
        with self._lock:
            self._fault_rate = rate
            self._fault_kinds = tuple(kinds)
            self._fault_timeout_delay = timeout_delay
            if seed is not None:
                self._fault_rng = random.Random(seed)

    def set_rate_limit(self, max_requests: int, window_seconds: float) -> None:
        with self._lock:
            self._window.limit = max_requests
            self._window.seconds = window_seconds

    def set_search_rate(self, per_second: int) -> None:
        with self._lock:
            self._search_window.limit = per_second

    def clear_faults(self) -> None:
        with self._lock:
            self._forced.clear()
            self._fault_rate = 0.0
            self.reject_ids = set()
            self.reject_values = set()
            self.drop_ids_from_results = set()

    # ------------------------------------------------------------------------------------------------ introspection
    @property
    def write_calls(self) -> int:
        """Requests received on write endpoints (batch update/create/upsert/archive, single writes, merges,
        associations, schema), whatever their answer."""
        return sum(n for (method, route), n in self.requests.items() if _is_write(method, route))

    @property
    def rate_limited(self) -> int:
        """429 responses sent."""
        return self.responses[429]

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.responses.clear()
            self.applied_writes.clear()
            self.write_counts.clear()
            self.batch_inputs.clear()

    def records(self, object_type: str, *, include_archived: bool = False) -> list[dict]:
        """Live records (not archived, not merged away) as {"id", "properties", "archived", "merged_into"}."""
        with self._lock:
            out = []
            for rec in self._records[object_type].values():
                if (rec.archived or rec.merged_into) and not include_archived:
                    continue
                out.append({"id": rec.id, "properties": dict(rec.props), "archived": rec.archived,
                            "merged_into": rec.merged_into})
            return out

    def record(self, object_type: str, record_id: str) -> dict | None:
        with self._lock:
            rec = self._records[object_type].get(str(record_id))
            if rec is None:
                return None
            return {"id": rec.id, "properties": dict(rec.props), "archived": rec.archived,
                    "merged_into": rec.merged_into}

    def property_definitions(self, object_type: str) -> dict[str, dict]:
        with self._lock:
            return json.loads(json.dumps(self._props[object_type]))

    def property_groups(self, object_type: str) -> dict[str, dict]:
        with self._lock:
            return json.loads(json.dumps(self._groups[object_type]))

    def associations(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        with self._lock:
            return {k: set(v) for k, v in self._assoc[(from_type, to_type)].get(str(from_id), {}).items()}

    # ------------------------------------------------------------------------------------------------ direct edits
    def seed(
        self,
        *,
        companies: Any = None,
        contacts: Any = None,
        deals: Any = None,
        owners: Any = None,
    ) -> dict[str, list[str]]:
        """Add records directly (no HTTP, no rate limit). Each argument is an iterable of dicts of HubSpot
        property names, or a pandas DataFrame with the pipeline's canonical columns. Optional keys: "id" (digits),
        "company_id" (contacts/deals: primary company; a canonical id seeded in the same call is translated),
        "archived". Owners: {"id"?, "email", "firstName", "lastName", "team"} or canonical owner_id/name/email/
        team. Returns the new ids per object type, in input order."""
        out: dict[str, list[str]] = {}
        canonical_ids: dict[str, dict[str, str]] = {t: {} for t in (*OBJECT_TYPES, "owners")}
        with self._lock:
            self._version += 1
            if owners is not None:
                out["owners"] = []
                for row in _rows(owners):
                    owner_id = self._seed_owner(row)
                    if row.get("owner_id") is not None:
                        canonical_ids["owners"][str(row["owner_id"])] = owner_id
                    out["owners"].append(owner_id)
            for object_type, rows in (("companies", companies), ("contacts", contacts), ("deals", deals)):
                if rows is None:
                    continue
                ids = []
                now = _now_ms()
                for row in _rows(rows):
                    ids.append(self._seed_record(object_type, dict(row), now, canonical_ids))
                out[object_type] = ids
        return out

    def merge(self, object_type: str, primary_id: str, merged_id: str) -> None:
        """Merge `merged_id` into `primary_id` like HubSpot: the survivor lists the absorbed ids in
        hs_merged_object_ids, takes over associations and unique values; the loser 404s on GET and is left out
        of batch/update results."""
        with self._lock:
            self._version += 1
            self._merge(object_type, str(primary_id), str(merged_id))

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: Iterable[int]) -> None:
        """Add associations directly (HubSpot-defined type ids, e.g. 279 contact->company unlabeled)."""
        with self._lock:
            self._version += 1
            self._link(from_type, str(from_id), to_type, str(to_id), list(type_ids))

    def archive(self, object_type: str, record_id: str) -> None:
        with self._lock:
            self._version += 1
            rec = self._records[object_type][str(record_id)]
            rec.archived = True
            rec.archived_at = _now_ms()

    def set_property(self, object_type: str, record_id: str, name: str, value: str | None) -> None:
        """Edit a value as a CRM user would (no validation, no counters); like any edit in HubSpot, it moves the
        record's last-modified date, so incremental reads see it."""
        with self._lock:
            self._version += 1
            rec = self._records[object_type][str(record_id)]
            if value in (None, ""):
                rec.props.pop(name, None)
            else:
                rec.props[name] = value
            rec.updated = max(_now_ms(), rec.updated + 1)
            rec.props[LASTMOD[object_type]] = _iso(rec.updated)

    # ------------------------------------------------------------------------------------------------ app
    def _build_app(self) -> Starlette:
        o = "/crm/v3/objects/{object_type}"
        p = "/crm/v3/properties/{object_type}"
        a4 = "/crm/v4/associations/{from_type}/{to_type}/batch"
        o4 = "/crm/v4/objects/{from_type}/{from_id}/associations"
        table = [
            ("GET", o, self._list),
            ("POST", o, self._create_one),
            ("POST", o + "/search", self._search),
            ("POST", o + "/merge", self._merge_endpoint),
            ("POST", o + "/batch/read", self._batch_read),
            ("POST", o + "/batch/update", self._batch_update),
            ("POST", o + "/batch/upsert", self._batch_upsert),
            ("POST", o + "/batch/create", self._batch_create),
            ("POST", o + "/batch/archive", self._batch_archive),
            ("GET", o + "/{record_id}", self._get_one),
            ("PATCH", o + "/{record_id}", self._update_one),
            ("DELETE", o + "/{record_id}", self._archive_one),
            ("GET", "/crm/v3/owners/", self._owners_list),
            ("GET", "/crm/v3/owners", self._owners_list),
            ("GET", "/crm/v3/owners/{owner_id}", self._owner_get),
            ("GET", p + "/groups", self._groups_list),
            ("POST", p + "/groups", self._group_create),
            ("GET", p + "/groups/{group_name}", self._group_get),
            ("PATCH", p + "/groups/{group_name}", self._group_update),
            ("GET", p, self._properties_list),
            ("POST", p, self._property_create),
            ("GET", p + "/{property_name}", self._property_get),
            ("PATCH", p + "/{property_name}", self._property_update),
            ("DELETE", p + "/{property_name}", self._property_archive),
            ("PUT", o4 + "/default/{to_type}/{to_id}", self._assoc_put_default),
            ("PUT", o4 + "/{to_type}/{to_id}", self._assoc_put_labels),
            ("DELETE", o4 + "/{to_type}/{to_id}", self._assoc_delete),
            ("GET", o4 + "/{to_type}", self._assoc_get_page),
            ("POST", a4 + "/read", self._assoc_batch_read),
            ("POST", a4 + "/create", self._assoc_batch_create),
            ("POST", a4 + "/associate/default", self._assoc_batch_default),
            ("POST", a4 + "/archive", self._assoc_batch_archive),
            ("GET", "/account-info/v3/api-usage/daily/private-apps", self._usage),
        ]
        routes = [Route(path, self._endpoint(method, path, handler), methods=[method]) for method, path, handler
                  in table]
        return Starlette(routes=routes)

    def _endpoint(self, method: str, template: str, handler):
        search = template.endswith("/search")
        exempt = search or template.startswith("/crm/v4/associations/")
        write = _is_write(method, template)

        async def endpoint(request: Request) -> Response:
            raw = await request.body() if method in ("POST", "PUT", "PATCH") else b""
            params = dict(request.path_params)
            route = template
            for key in ("object_type", "from_type", "to_type"):
                if key in params:
                    route = route.replace("{" + key + "}", params[key])
            delay = self.latency
            with self._lock:
                self.requests[(method, route)] += 1
                if write:  # before the handler: a hook that raises after applying must not leave a stale search
                    self._version += 1
                status, body, headers, fault_delay = self._serve(
                    request, method, route, params, raw, handler, exempt=exempt, search=search, write=write
                )
                self.responses[status] += 1
            delay += fault_delay
            if delay > 0:
                await asyncio.sleep(delay)
            content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
            return Response(content, status_code=status, headers=headers,
                            media_type=None if body is None else "application/json")

        return endpoint

    def _serve(self, request, method, route, params, raw, handler, *, exempt, search, write):
        """Auth, faults, limits, then the handler: (status, body, headers, delay before answering)."""
        headers = {"X-HubSpot-Correlation-Id": str(uuid.uuid4())}
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.token}":
            headers["X-HubSpot-Auth-Failure"] = "401 Unauthorized"
            body = {"status": "error", "message": AUTH_MESSAGE, "correlationId": headers["X-HubSpot-Correlation-Id"],
                    "category": "INVALID_AUTHENTICATION"}
            return 401, body, headers, 0.0
        now = time.monotonic()
        fault = self._take_fault(method, route, write)
        if fault is not None and not fault.after_apply:
            return (*self._fault_response(fault, now, exempt, headers), 0.0)
        # rate limits (rejections do not count against the window)
        if self.daily_used >= self.daily_limit:
            body = {"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT",
                    "correlationId": headers["X-HubSpot-Correlation-Id"], "policyName": "DAILY"}
            return 429, body, {**headers, **self._limit_headers(now)}, 0.0
        if search:
            if not self._search_window.try_acquire(now):
                body = {"status": "error", "message": "You have reached your secondly limit.",
                        "errorType": "RATE_LIMIT", "correlationId": headers["X-HubSpot-Correlation-Id"],
                        "policyName": "SECONDLY"}
                headers["Retry-After"] = "1"
                return 429, body, headers, 0.0
        elif not exempt and not self._window.try_acquire(now):
            body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT", "correlationId": headers["X-HubSpot-Correlation-Id"],
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "groupName": "publicapi:private-app-api-calls-ten-secondly:fake"}
            headers.update(self._limit_headers(now))
            headers["Retry-After"] = str(max(1, int(-(-self._window.wait(now) // 1))))
            return 429, body, headers, 0.0
        self.daily_used += 1
        if not search:
            headers.update(self._limit_headers(now))
        try:
            body_json = json.loads(raw) if raw.strip() else None
        except ValueError:
            err = _Reject(400, "VALIDATION_ERROR", "Invalid input JSON: the request body is not valid JSON")
            return err.status, err.body, headers, 0.0
        ctx = _Ctx(method, request.url.path, params, request.query_params,
                   {k: request.query_params.getlist(k) for k in request.query_params}, body_json)
        try:
            status, body = handler(ctx)
        except _Reject as err:
            status, body = err.status, err.body
        if write and 200 <= status < 300:
            self.applied_writes[(method, route)] += 1
            if self.on_applied_write is not None:
                self.on_applied_write(method, route)
        if fault is not None:  # after_apply: the write happened; now fail or stall
            if fault.status is None:
                return status, body, headers, fault.delay
            return (*self._fault_response(fault, now, exempt, headers), 0.0)
        return status, body, headers, 0.0

    def _take_fault(self, method: str, route: str, write: bool) -> _Fault | None:
        for fault in self._forced:
            if fault.count > 0 and fault.matches(method, route):
                fault.count -= 1
                if fault.count == 0:
                    self._forced.remove(fault)
                return fault
        if write and self._fault_rate > 0 and self._fault_kinds and self._fault_rng.random() < self._fault_rate:
            kind = self._fault_rng.choice(self._fault_kinds)
            if kind == "timeout":
                return _Fault(1, None, after_apply=True, delay=self._fault_timeout_delay)
            if kind.endswith("-applied"):  # "503-applied": the write is committed, then the error is returned
                return _Fault(1, int(kind.removesuffix("-applied")), after_apply=True)
            status = int(kind)
            return _Fault(1, status, retry_after=1.0 if status == 429 and self._fault_rng.random() < 0.5 else None)
        return None

    def _fault_response(self, fault: _Fault, now: float, exempt: bool, headers: dict) -> tuple[int, dict, dict]:
        status = fault.status or 500
        correlation = headers["X-HubSpot-Correlation-Id"]
        if status == 429:
            messages = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
                        "SECONDLY": "You have reached your secondly limit.",
                        "DAILY": "You have reached your daily limit."}
            body = {"status": "error", "message": messages.get(fault.policy, "Rate limit"),
                    "errorType": "RATE_LIMIT", "correlationId": correlation, "policyName": fault.policy}
        else:
            body = {"status": "error", "message": "internal error" if status == 500 else "Service unavailable",
                    "correlationId": correlation, "category": "INTERNAL_ERROR" if status == 500 else "SERVICE_ERROR"}
        if not exempt:
            headers.update(self._limit_headers(now))
        if fault.retry_after is not None:
            value = fault.retry_after
            headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
        return status, body, headers

    def _limit_headers(self, now: float) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self._window.limit),
            "X-HubSpot-RateLimit-Remaining": str(self._window.remaining(now)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self._window.seconds * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self.daily_used)),
        }

    # ------------------------------------------------------------------------------------------------ helpers
    def _type(self, ctx: _Ctx, key: str = "object_type") -> str:
        raw = ctx.params[key]
        object_type = TYPE_ALIASES.get(raw.lower())
        if object_type is None:
            raise _Reject(400, "VALIDATION_ERROR", f"Unable to infer object type from: {raw}")
        return object_type

    def _inputs(self, ctx: _Ctx, cap: int = BATCH_CAP) -> list[dict]:
        body = ctx.body
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise _Reject(400, "VALIDATION_ERROR", "Invalid input JSON: the body needs an 'inputs' array")
        inputs = body["inputs"]
        self.batch_inputs.append((ctx.path, len(inputs)))
        if len(inputs) > cap:
            raise _Reject(400, "VALIDATION_ERROR",
                          f"The maximum number of inputs supported in a batch request is {cap}. "
                          f"Got {len(inputs)}; please reduce the number of items and try again")
        if not all(isinstance(i, dict) for i in inputs):
            raise _Reject(400, "VALIDATION_ERROR", "Invalid input JSON: every input must be an object")
        return inputs

    def _live(self, object_type: str, record_id: Any) -> _Rec | None:
        rec = self._records[object_type].get(str(record_id))
        if rec is None or rec.archived or rec.merged_into:
            return None
        return rec

    def _refresh_pinfo(self, object_type: str, definition: dict) -> None:
        meta = definition.get("modificationMetadata") or {}
        self._pinfo[object_type][definition["name"]] = _PropInfo(
            type=definition["type"], field_type=definition["fieldType"],
            options=frozenset(str(o.get("value")) for o in definition.get("options") or []),
            read_only=bool(meta.get("readOnlyValue")), unique=bool(definition.get("hasUniqueValue")),
            owner=definition["name"] == "hubspot_owner_id",
        )

    def _validate(self, object_type: str, props: Any, record_id: str | None) -> tuple[dict[str, str], list[tuple]]:
        """Normalise written values to strings; errors as (code, property name, message)."""
        if not isinstance(props, dict):
            return {}, [("INVALID_INPUT", "properties", "properties must be an object of name -> value")]
        infos = self._pinfo[object_type]
        out: dict[str, str] = {}
        errors: list[tuple] = []
        for name, value in props.items():
            info = infos.get(name)
            if info is None:
                errors.append(("PROPERTY_DOESNT_EXIST", name, f'Property "{name}" does not exist'))
                continue
            if info.read_only:
                errors.append(("READ_ONLY_VALUE", name, f'"{name}" is a read only property; its value cannot be set'))
                continue
            if value is None:
                text = ""
            elif isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int | float):
                text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            elif isinstance(value, str):
                text = value
            else:
                errors.append(("INVALID_INPUT", name, f"{name}: values must be strings"))
                continue
            if text in self.reject_values:
                errors.append(("INVALID_OPTION", name, f"{text} was not one of the allowed options"))
                continue
            if text == "":
                out[name] = ""
                continue
            error = self._check_value(info, name, text)
            if error is not None:
                errors.append(error)
                continue
            if info.type == "datetime":
                text = _iso(_parse_instant_ms(text))  # type: ignore[arg-type]
            if info.unique:
                holder = self._unique[object_type].get(name, {}).get(text.lower())
                if holder is not None and holder != record_id:
                    errors.append(("CONFLICTING_UNIQUE_VALUE", name,
                                   f"{text} is already the {name} of record {holder}; {name} must be unique"))
                    continue
            out[name] = text
        return out, errors

    def _check_value(self, info: _PropInfo, name: str, text: str) -> tuple | None:
        kind = info.type
        if kind == "string" or kind == "phone_number":
            return None
        if kind == "number":
            return None if NUMBER.match(text) else (
                "INVALID_DECIMAL", name, f"{text} was not a valid number (digits, one '-', one '.' only)")
        if kind == "bool":
            return None if text in ("true", "false") else ("INVALID_BOOLEAN", name, f"{text} is not 'true' or 'false'")
        if kind == "date":
            if not INTEGER.match(text):
                return ("INVALID_DATE", name, f"{text} is not a valid date: send epoch milliseconds at midnight UTC")
            if int(text) % DAY_MS:
                return ("INVALID_DATE", name, f"{text} is not at midnight UTC; date properties take midnight UTC "
                                              "epoch milliseconds")
            return None
        if kind == "datetime":
            return None if _parse_instant_ms(text) is not None else (
                "INVALID_DATETIME", name, f"{text} is not a valid timestamp (epoch milliseconds or ISO 8601)")
        if kind == "enumeration":
            if info.owner:
                return None if text in self._owners else ("INVALID_OPTION", name, f"{text} is not a valid owner id")
            values = text.split(";") if info.field_type == "checkbox" else [text]
            bad = [v for v in values if v not in info.options]
            if bad:
                return ("INVALID_OPTION", name,
                        f"{bad[0]} was not one of the allowed options: [{', '.join(sorted(info.options))}]")
        return None

    def _write(self, object_type: str, rec: _Rec, values: dict[str, str], now_ms: int) -> None:
        uniques = self._unique[object_type]
        for name, value in values.items():
            info = self._pinfo[object_type][name]
            if info.unique:
                index = uniques.setdefault(name, {})
                old = rec.props.get(name)
                if old is not None and index.get(old.lower()) == rec.id:
                    del index[old.lower()]
                if value:
                    index[value.lower()] = rec.id
            if value == "":
                rec.props.pop(name, None)
            else:
                rec.props[name] = value
            if name == "createdate" and value:
                rec.created = _parse_instant_ms(value) or rec.created
        rec.updated = max(now_ms, rec.updated + 1)
        rec.props[LASTMOD[object_type]] = _iso(rec.updated)
        rec.visible_at = time.monotonic() + self.search_lag
        self._visible_until = max(self._visible_until, rec.visible_at)
        self.write_counts[(object_type, rec.id)] += 1

    def _new_record(self, object_type: str, record_id: str | None, now_ms: int) -> _Rec:
        if record_id is None:
            number = self._next_id[object_type]
            self._next_id[object_type] = number + 1
            record_id = str(number)
        else:
            number = int(record_id)
            if record_id in self._records[object_type]:
                raise ValueError(f"{object_type} id {record_id} exists")
            self._next_id[object_type] = max(self._next_id[object_type], number + 1)
        rec = _Rec(record_id, {"hs_object_id": record_id, "createdate": _iso(now_ms)}, now_ms)
        self._records[object_type][record_id] = rec
        order = self._order[object_type]
        if not order or number > order[-1]:
            order.append(number)
        else:
            bisect.insort(order, number)
        return rec

    def _record_json(self, object_type: str, rec: _Rec, props: Iterable[str] | None, *,
                     defaults: Iterable[str] | None = None, associations: Iterable[str] = ()) -> dict:
        names = list(props) if props else list(defaults if defaults is not None else DEFAULT_PROPS[object_type])
        infos = self._pinfo[object_type]
        out_props = {n: rec.props.get(n) for n in names if n in infos}
        out_props.setdefault("hs_object_id", rec.id)
        out_props.setdefault("createdate", rec.props.get("createdate"))
        out_props.setdefault(LASTMOD[object_type], rec.props.get(LASTMOD[object_type]))
        out = {"id": rec.id, "properties": out_props, "createdAt": _iso(rec.created), "updatedAt": _iso(rec.updated),
               "archived": rec.archived}
        if rec.archived and rec.archived_at:
            out["archivedAt"] = _iso(rec.archived_at)
        assoc_out = {}
        for to_type in associations:
            pair = (object_type, to_type)
            if pair not in self._assoc:
                continue
            links = self._assoc[pair].get(rec.id)
            if not links:
                continue
            results = []
            for to_id, types in links.items():
                for type_id in sorted(types):
                    results.append({"id": to_id, "type": ASSOC_TYPES[type_id][2]})
            assoc_out[to_type] = {"results": results}
        if assoc_out:
            out["associations"] = assoc_out
        return out

    def _batch_body(self, results: list, errors: list, ok_status: int = 200) -> tuple[int, dict]:
        if self.shuffle_results and len(results) > 1:
            self._rng.shuffle(results)
        stamp = _iso(_now_ms())
        body = {"status": "COMPLETE", "results": results, "requestedAt": stamp, "startedAt": stamp,
                "completedAt": stamp, "links": {}}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return ok_status, body

    @staticmethod
    def _not_found_error(object_type: str, ids: list[str], traces: list[str]) -> dict:
        context: dict[str, list[str]] = {"ids": ids}
        if traces:
            context["objectWriteTraceId"] = traces
        return {"status": "error", "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {SINGULAR[object_type].upper()} objects, they may be deleted or not "
                           f"exist. Check that ids are valid.",
                "context": context, "errors": [], "links": {}, "id": str(uuid.uuid4())}

    @staticmethod
    def _validation_error(record_key: str | None, trace: str | None, errors: list[tuple]) -> dict:
        details = [{"isValid": False, "message": m, "error": c, "name": n} for c, n, m in errors]
        context: dict[str, list[str]] = {}
        if record_key is not None:
            context["ids"] = [record_key]
        if trace:
            context["objectWriteTraceId"] = [trace]
        return {"status": "error", "category": "VALIDATION_ERROR",
                "message": f"Property values were not valid: {json.dumps(details)}", "context": context,
                "errors": [{"message": m, "code": c, "context": {"propertyName": [n]}} for c, n, m in errors],
                "links": {}, "id": str(uuid.uuid4())}

    def _knob_rejections(self, record_id: str | None) -> list[tuple]:
        if record_id is not None and record_id in self.reject_ids:
            return [("VALIDATION_RULE_FAILED", "hs_object_id",
                     f"Record {record_id} failed a validation rule of this portal")]
        return []

    def _whole_batch_400(self, errors: list[tuple]) -> _Reject:
        details = [{"isValid": False, "message": m, "error": c, "name": n} for c, n, m in errors]
        return _Reject(400, "VALIDATION_ERROR", f"Property values were not valid: {json.dumps(details)}")

    # ------------------------------------------------------------------------------------------------ objects
    def _list(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        limit = _int_param(ctx.query.get("limit"), 10)
        if limit < 1 or limit > 100:
            raise _Reject(400, "VALIDATION_ERROR", f"limit must be between 1 and 100, got {limit}")
        archived = ctx.query.get("archived", "false").lower() == "true"
        props = _csv(ctx.query_lists.get("properties"))
        associations = [TYPE_ALIASES.get(a.lower(), a) for a in _csv(ctx.query_lists.get("associations"))]
        order = self._order[object_type]
        start = 0
        after = ctx.query.get("after")
        if after:
            decoded = _unb64(after)
            if decoded is None or not decoded.strip().isdigit():
                raise _Reject(400, "VALIDATION_ERROR", f"Invalid paging cursor: {after}")
            start = bisect.bisect_right(order, int(decoded))
        records = self._records[object_type]
        page: list[_Rec] = []
        more = False
        index, end = start, len(order)
        while index < end:
            rec = records[str(order[index])]
            index += 1
            if rec.merged_into or rec.archived != archived:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(rec)
        body: dict[str, Any] = {"results": [self._record_json(object_type, r, props, associations=associations)
                                            for r in page]}
        if more:
            cursor = _b64(page[-1].id)
            link = f"{ctx.path}?after={quote(cursor)}&limit={limit}"
            body["paging"] = {"next": {"after": cursor, "link": link}}
        return 200, body

    def _get_one(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        archived = ctx.query.get("archived", "false").lower() == "true"
        id_property = ctx.query.get("idProperty")
        rec = self._resolve(object_type, ctx.params["record_id"], id_property)
        if rec is None or rec.merged_into or rec.archived != archived:
            raise _Reject(404, "OBJECT_NOT_FOUND", "resource not found")
        props = _csv(ctx.query_lists.get("properties"))
        associations = [TYPE_ALIASES.get(a.lower(), a) for a in _csv(ctx.query_lists.get("associations"))]
        return 200, self._record_json(object_type, rec, props, associations=associations)

    def _resolve(self, object_type: str, key: str, id_property: str | None) -> _Rec | None:
        if id_property in (None, "", "hs_object_id"):
            return self._records[object_type].get(str(key))
        info = self._pinfo[object_type].get(id_property)
        if info is None or not info.unique:
            raise _Reject(400, "VALIDATION_ERROR",
                          f"Unable to perform update/upsert by non-unique {object_type} property {id_property}")
        holder = self._unique[object_type].get(id_property, {}).get(str(key).lower())
        return self._records[object_type].get(holder) if holder else None

    def _create_one(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        values, errors = self._validate(object_type, body.get("properties") or {}, None)
        if errors:
            raise self._whole_batch_400(errors)
        assoc_plan = self._plan_create_associations(object_type, body.get("associations") or [])
        now = _now_ms()
        rec = self._new_record(object_type, None, now)
        self._write(object_type, rec, values, now)
        self._apply_associations(object_type, rec.id, assoc_plan)
        return 201, self._record_json(object_type, rec, list(values))

    def _update_one(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        rec = self._resolve(object_type, ctx.params["record_id"], ctx.query.get("idProperty"))
        if rec is None or rec.archived or rec.merged_into:
            raise _Reject(404, "OBJECT_NOT_FOUND", "resource not found")
        body = ctx.body if isinstance(ctx.body, dict) else {}
        values, errors = self._validate(object_type, body.get("properties") or {}, rec.id)
        errors += self._knob_rejections(rec.id)
        if errors:
            raise self._whole_batch_400(errors)
        self._write(object_type, rec, values, _now_ms())
        return 200, self._record_json(object_type, rec, list(values))

    def _archive_one(self, ctx: _Ctx) -> tuple[int, None]:
        object_type = self._type(ctx)
        rec = self._live(object_type, ctx.params["record_id"])
        if rec is not None:
            rec.archived = True
            rec.archived_at = _now_ms()
        return 204, None

    def _batch_read(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        inputs = self._inputs(ctx)
        body = ctx.body
        props = body.get("properties") or []
        if body.get("propertiesWithHistory") and len(inputs) > 50:
            raise _Reject(400, "VALIDATION_ERROR",
                          "The maximum number of inputs supported in a batch request for property histories is 50. "
                          "Please reduce the number of items and try again")
        id_property = body.get("idProperty")
        archived = ctx.query.get("archived", "false").lower() == "true"
        results, missing = [], []
        for inp in inputs:
            key = str(inp.get("id"))
            rec = self._resolve(object_type, key, id_property)
            if rec is None or rec.merged_into or rec.archived != archived:
                missing.append(key)
                continue
            results.append(self._record_json(object_type, rec, props))
        if missing and not results and self.all_missing_404:
            raise _Reject(404, "OBJECT_NOT_FOUND", "Could not get any of the requested objects")
        errors = [self._not_found_error(object_type, missing, [])] if missing else []
        return self._batch_body(results, errors)

    def _batch_update(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        inputs = self._inputs(ctx)
        keys = [str(i.get("id")) for i in inputs]
        dupes = sorted({k for k in keys if keys.count(k) > 1}) if len(set(keys)) != len(keys) else []
        if dupes:
            raise _Reject(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
        traced = all(i.get("objectWriteTraceId") for i in inputs)
        plan, errors, missing, missing_traces, silent = [], [], [], [], []
        for inp, key in zip(inputs, keys, strict=True):
            id_property = inp.get("idProperty")
            if id_property == "hs_object_id":
                raise _Reject(400, "VALIDATION_ERROR",
                              "Unable to perform update/upsert by non-unique 0-2 property hs_object_id in portal ID 1")
            rec = self._resolve(object_type, key, id_property)
            trace = inp.get("objectWriteTraceId")
            if rec is not None and rec.merged_into and not rec.archived and self.omit_merged_from_results:
                silent.append(key)  # merged away: silently left out of the results, nothing written
                continue
            if rec is None or rec.archived or rec.merged_into:
                missing.append(key)
                if trace:
                    missing_traces.append(str(trace))
                continue
            values, problems = self._validate(object_type, inp.get("properties") or {}, rec.id)
            problems += self._knob_rejections(rec.id)
            if problems:
                if not (traced and self.multi_status):
                    raise self._whole_batch_400(problems)
                errors.append(self._validation_error(key, trace, problems))
                continue
            plan.append((rec, values, trace))
        now = _now_ms()
        results = []
        for rec, values, trace in plan:
            self._write(object_type, rec, values, now)
            if rec.id in self.drop_ids_from_results:
                continue
            item = self._record_json(object_type, rec, list(values))
            if trace:
                item["objectWriteTraceId"] = str(trace)
            results.append(item)
        if missing:
            errors.append(self._not_found_error(object_type, missing, missing_traces))
        return self._batch_body(results, errors)

    def _batch_upsert(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        inputs = self._inputs(ctx)
        traced = all(i.get("objectWriteTraceId") for i in inputs)
        keys = []
        for inp in inputs:
            id_property = inp.get("idProperty")
            if not id_property:
                raise _Reject(400, "VALIDATION_ERROR", "batch/upsert requires idProperty on every input")
            info = self._pinfo[object_type].get(id_property)
            if info is None or not info.unique:
                raise _Reject(400, "VALIDATION_ERROR",
                              f"Unable to perform update/upsert by non-unique {object_type} property {id_property} "
                              f"in portal ID 1")
            keys.append((id_property, str(inp.get("id", "")).strip().lower()))
        if len(set(keys)) != len(keys):
            dupes = sorted({k[1] for k in keys if keys.count(k) > 1})
            raise _Reject(400, "VALIDATION_ERROR",
                          f"Duplicate IDs found in batch input: {dupes}. A batch cannot resolve two inputs to the "
                          f"same record")
        plan, errors = [], []
        for inp, (id_property, key) in zip(inputs, keys, strict=True):
            trace = inp.get("objectWriteTraceId")
            holder = self._unique[object_type].get(id_property, {}).get(key)
            rec = self._records[object_type].get(holder) if holder else None
            if rec is not None and rec.merged_into:
                rec = self._records[object_type].get(rec.merged_into)
            props = dict(inp.get("properties") or {})
            props.setdefault(id_property, key)
            values, problems = self._validate(object_type, props, rec.id if rec else None)
            problems += self._knob_rejections(rec.id if rec else None)
            if problems:
                if not (traced and self.multi_status):
                    raise self._whole_batch_400(problems)
                errors.append(self._validation_error(key, trace, problems))
                continue
            plan.append((rec, values, trace))
        now = _now_ms()
        results = []
        for rec, values, trace in plan:
            new = rec is None
            if rec is None:
                rec = self._new_record(object_type, None, now)
            self._write(object_type, rec, values, now)
            if rec.id in self.drop_ids_from_results:
                continue
            item = self._record_json(object_type, rec, list(values))
            item["new"] = new
            if trace:
                item["objectWriteTraceId"] = str(trace)
            results.append(item)
        return self._batch_body(results, errors)

    def _batch_create(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        inputs = self._inputs(ctx)
        traced = all(i.get("objectWriteTraceId") for i in inputs)
        plan, errors = [], []
        seen_unique: dict[tuple[str, str], int] = {}
        for position, inp in enumerate(inputs):
            trace = inp.get("objectWriteTraceId")
            values, problems = self._validate(object_type, inp.get("properties") or {}, None)
            conflict_holder = None
            for name, value in (inp.get("properties") or {}).items():
                info = self._pinfo[object_type].get(name)
                if info is None or not info.unique or not isinstance(value, str) or not value:
                    continue
                holder = self._unique[object_type].get(name, {}).get(value.lower())
                if holder is not None:
                    conflict_holder = holder
                elif (name, value.lower()) in seen_unique:
                    conflict_holder = "(same batch)"
                    problems.append(("CONFLICTING_UNIQUE_VALUE", name, f"{value} appears twice in this batch"))
                seen_unique[(name, value.lower())] = position
            try:
                assoc_plan = self._plan_create_associations(object_type, inp.get("associations") or [])
            except _Reject as err:
                problems.append(("INVALID_ASSOCIATION", "associations", err.body["message"]))
                assoc_plan = []
            if problems:
                if not traced:
                    if conflict_holder is not None:
                        raise _Reject(409, "CONFLICT", f"{SINGULAR[object_type].title()} already exists. "
                                                       f"Existing ID: {conflict_holder}")
                    raise self._whole_batch_400(problems)
                errors.append(self._validation_error(None, trace, problems))
                continue
            plan.append((values, assoc_plan, trace))
        now = _now_ms()
        results = []
        for values, assoc_plan, trace in plan:
            rec = self._new_record(object_type, None, now)
            self._write(object_type, rec, values, now)
            self._apply_associations(object_type, rec.id, assoc_plan)
            item = self._record_json(object_type, rec, list(values))
            if trace:
                item["objectWriteTraceId"] = str(trace)
            results.append(item)
        return self._batch_body(results, errors, ok_status=201)

    def _batch_archive(self, ctx: _Ctx) -> tuple[int, None]:
        object_type = self._type(ctx)
        now = _now_ms()
        for inp in self._inputs(ctx):
            rec = self._live(object_type, inp.get("id"))
            if rec is not None:
                rec.archived = True
                rec.archived_at = now
        return 204, None

    def _merge_endpoint(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        primary, merged = str(body.get("primaryObjectId", "")), str(body.get("objectIdToMerge", ""))
        if self._live(object_type, primary) is None or self._live(object_type, merged) is None or primary == merged:
            raise _Reject(400, "VALIDATION_ERROR", "primaryObjectId and objectIdToMerge must be two live records")
        self._merge(object_type, primary, merged)
        return 200, self._record_json(object_type, self._records[object_type][primary], None)

    def _merge(self, object_type: str, primary_id: str, merged_id: str) -> None:
        primary = self._records[object_type][primary_id]
        loser = self._records[object_type][merged_id]
        absorbed = [v for v in (primary.props.get("hs_merged_object_ids") or "").split(";") if v]
        absorbed += [v for v in (loser.props.get("hs_merged_object_ids") or "").split(";") if v]
        absorbed.append(merged_id)
        now = _now_ms()
        for name, value in loser.props.items():  # blanks of the survivor filled from the loser
            info = self._pinfo[object_type].get(name)
            if info is not None and not info.read_only and not info.unique and name not in primary.props:
                primary.props[name] = value
        primary.props["hs_merged_object_ids"] = ";".join(dict.fromkeys(absorbed))
        for name, index in self._unique[object_type].items():  # the loser's unique values now find the survivor
            value = loser.props.get(name)
            if value:
                index[value.lower()] = primary_id
        for (from_type, to_type), table in self._assoc.items():
            if from_type != object_type:
                continue
            for to_id, types in list(table.get(merged_id, {}).items()):
                keep = {t for t in types if t not in SINGLE_PRIMARY or not self._has_primary(from_type, primary_id, t)}
                self._link(from_type, primary_id, to_type, to_id, keep)
            self._unlink_all(from_type, merged_id, to_type)
        loser.merged_into = primary_id
        for rec in self._records[object_type].values():  # earlier losers now point at the new survivor
            if rec.merged_into == merged_id:
                rec.merged_into = primary_id
        primary.updated = max(now, primary.updated + 1)
        primary.props[LASTMOD[object_type]] = _iso(primary.updated)

    # ------------------------------------------------------------------------------------------------ search
    def _search(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or limit < 0 or limit > SEARCH_LIMIT_MAX:
            raise _Reject(400, "VALIDATION_ERROR", f"limit must be between 0 and {SEARCH_LIMIT_MAX}, got {limit}")
        after_raw = body.get("after") or "0"
        if not str(after_raw).isdigit():
            raise _Reject(400, "VALIDATION_ERROR", f"after must be a numeric offset, got {after_raw}")
        after = int(after_raw)
        if after >= self.search_result_cap:
            raise _Reject(400, "VALIDATION_ERROR",
                          f"Search results are limited to {self.search_result_cap} total results; 'after' = {after} is "
                          f"past that. Narrow the query (e.g. hs_object_id GT <last id>) instead of paging further")
        groups = body.get("filterGroups") or []
        total_filters = sum(len(g.get("filters") or []) for g in groups)
        if len(groups) > MAX_FILTER_GROUPS or total_filters > MAX_FILTERS or any(
            len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups
        ):
            raise _Reject(400, "VALIDATION_ERROR",
                          f"Too many filters: at most {MAX_FILTER_GROUPS} filterGroups, {MAX_FILTERS_PER_GROUP} "
                          f"filters per group and {MAX_FILTERS} filters in total")
        compiled = [[self._compile_filter(object_type, f) for f in g.get("filters") or []] for g in groups]
        query = str(body.get("query") or "").strip().lower()
        now = time.monotonic()
        sorts = body.get("sorts") or []
        by_id = self._id_ordered_matches(object_type, groups, sorts, query, now)
        if by_id is not None:
            ids, start = by_id
            total = len(ids) - start
            page = [self._records[object_type][str(i)] for i in ids[start + after: start + after + limit]]
        else:
            matches = []
            for rec in self._records[object_type].values():
                if rec.archived or rec.merged_into or rec.visible_at > now:
                    continue
                if compiled and not any(all(test(rec) for test in group) for group in compiled):
                    continue
                if query and not any(query in (v or "").lower() for v in rec.props.values()):
                    continue
                matches.append(rec)
            matches.sort(key=lambda r: int(r.id))
            for sort in reversed(sorts):
                if isinstance(sort, str):
                    name, descending = sort, False
                else:
                    name = sort.get("propertyName")
                    descending = str(sort.get("direction", "ASCENDING")) == "DESCENDING"
                if name not in self._pinfo[object_type]:
                    raise _Reject(400, "VALIDATION_ERROR", f"Cannot sort on unknown property {name}")
                keyed = [(self._typed(object_type, name, r), r) for r in matches]
                present = sorted((k for k in keyed if k[0] is not None), key=lambda kr: kr[0], reverse=descending)
                matches = [r for _, r in present] + [r for k, r in keyed if k is None]
            total = len(matches)
            page = matches[after: after + limit]
        props = body.get("properties") or None
        result: dict[str, Any] = {
            "total": total,
            "results": [self._record_json(object_type, r, props, defaults=SEARCH_DEFAULT_PROPS[object_type])
                        for r in page],
        }
        if after + limit < total and limit:
            result["paging"] = {"next": {"after": str(after + limit), "link": f"?after={after + limit}"}}
        return 200, result

    def _id_ordered_matches(self, object_type: str, groups: list, sorts: list, query: str, now: float
                            ) -> tuple[list[int], int] | None:
        """The same matches as the full scan, for the shape large reads page with (one filter group, optionally
        "hs_object_id GT/GTE x", sorted by hs_object_id ascending or not at all): (the sorted ids matching the other
        filters, cached until the store changes; the index the id bound starts at). None for any other shape, or
        while a write is still invisible to search. Filters were validated by the caller."""
        if len(groups) > 1 or now < self._visible_until:
            return None
        for sort in sorts:
            if isinstance(sort, str):
                if sort != "hs_object_id":
                    return None
            elif not isinstance(sort, dict) or sort.get("propertyName") != "hs_object_id" or str(
                    sort.get("direction", "ASCENDING")) == "DESCENDING":
                return None
        bounds, rest = [], []
        for spec in (groups[0].get("filters") or []) if groups else []:
            if spec.get("propertyName") == "hs_object_id" and spec.get("operator") in ("GT", "GTE"):
                value = self._typed_value(object_type, "hs_object_id", spec.get("value"))
                if value is None or value != value:
                    return None
                bounds.append((spec["operator"], value))
            else:
                rest.append(spec)
        if self._search_cache_version != self._version or len(self._search_cache) > 16:
            self._search_cache.clear()
            self._search_cache_version = self._version
        key = (object_type, json.dumps(rest, sort_keys=True, default=str), query)
        ids = self._search_cache.get(key)
        if ids is None:
            tests = [self._compile_filter(object_type, spec) for spec in rest]
            ids = sorted(
                int(rec.id) for rec in self._records[object_type].values()
                if not (rec.archived or rec.merged_into) and all(test(rec) for test in tests)
                and (not query or any(query in (v or "").lower() for v in rec.props.values()))
            )
            self._search_cache[key] = ids
        start = 0
        for op, value in bounds:
            start = max(start, bisect.bisect_right(ids, value) if op == "GT" else bisect.bisect_left(ids, value))
        return ids, start

    def _typed(self, object_type: str, name: str, rec: _Rec) -> Any:
        if name == "hs_object_id":
            return int(rec.id)
        if name == LASTMOD[object_type]:
            return rec.updated
        if name == "createdate":
            return rec.created
        return self._typed_value(object_type, name, rec.props.get(name))

    def _typed_value(self, object_type: str, name: str, raw: Any) -> Any:
        if raw is None or raw == "":
            return None
        info = self._pinfo[object_type].get(name)
        kind = info.type if info else "string"
        text = str(raw)
        if kind == "number":
            try:
                return float(text)
            except ValueError:
                return None
        if kind in ("date", "datetime"):
            return _parse_instant_ms(text)
        return text.lower()

    def _compile_filter(self, object_type: str, spec: Any):
        if not isinstance(spec, dict):
            raise _Reject(400, "VALIDATION_ERROR", "each filter must be an object")
        name, op = spec.get("propertyName"), spec.get("operator", "EQ")
        if op not in OPERATORS:
            raise _Reject(400, "VALIDATION_ERROR", f"Unknown filter operator {op}")
        if name not in self._pinfo[object_type]:
            raise _Reject(400, "VALIDATION_ERROR", f"There was a problem with the request: property {name} "
                                                   f"does not exist")
        multi = self._pinfo[object_type][name].field_type == "checkbox"
        if op == "HAS_PROPERTY":
            return lambda r: r.props.get(name) not in (None, "") or name in ("hs_object_id",)
        if op == "NOT_HAS_PROPERTY":
            if "value" in spec:
                raise _Reject(400, "VALIDATION_ERROR", "NOT_HAS_PROPERTY takes no value")
            return lambda r: r.props.get(name) in (None, "")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(spec.get("value", "")).lower()

            def contains(r: _Rec) -> bool:
                raw = r.id if name == "hs_object_id" else r.props.get(name)
                tokens = [t for t in re.split(r"[;\s,]+", str(raw or "").lower()) if t]
                return any(fnmatchcase(t, token) for t in tokens)

            return contains if op == "CONTAINS_TOKEN" else (lambda r: not contains(r))
        if op in ("IN", "NOT_IN"):
            wanted = {self._typed_value(object_type, name, v) for v in spec.get("values") or []}

            def member(r: _Rec) -> bool:
                if multi:
                    return any(v.lower() in wanted for v in (r.props.get(name) or "").split(";") if v)
                return self._typed(object_type, name, r) in wanted

            return member if op == "IN" else (lambda r: not member(r))
        value = self._typed_value(object_type, name, spec.get("value"))
        if op in ("EQ", "NEQ"):
            def equal(r: _Rec) -> bool:
                if multi:
                    return value in {v.lower() for v in (r.props.get(name) or "").split(";") if v}
                return self._typed(object_type, name, r) == value

            return equal if op == "EQ" else (lambda r: not equal(r))
        if value is None:
            raise _Reject(400, "VALIDATION_ERROR", f"filter {name} {op} needs a value")
        high = self._typed_value(object_type, name, spec.get("highValue"))
        compare = {
            "LT": lambda x: x < value, "LTE": lambda x: x <= value, "GT": lambda x: x > value,
            "GTE": lambda x: x >= value, "BETWEEN": lambda x: high is not None and value <= x <= high,
        }[op]

        def ordered(r: _Rec) -> bool:
            x = self._typed(object_type, name, r)
            if x is None:
                return False
            try:
                return compare(x)
            except TypeError:
                return False

        return ordered

    # ------------------------------------------------------------------------------------------------ associations
    def _has_primary(self, from_type: str, from_id: str, type_id: int) -> bool:
        to_type = ASSOC_TYPES[type_id][1]
        return any(type_id in types for types in self._assoc[(from_type, to_type)].get(from_id, {}).values())

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: Iterable[int]) -> None:
        for type_id in type_ids:
            if type_id in SINGLE_PRIMARY:  # one primary company per contact / deal
                for other, types in self._assoc[(from_type, to_type)].get(from_id, {}).items():
                    if other != to_id and type_id in types:
                        types.discard(type_id)
                        self._assoc[(to_type, from_type)].get(other, {}).get(from_id, set()).discard(
                            INVERSE_TYPE[type_id])
            self._assoc[(from_type, to_type)].setdefault(from_id, {}).setdefault(to_id, set()).add(type_id)
            self._assoc[(to_type, from_type)].setdefault(to_id, {}).setdefault(from_id, set()).add(
                INVERSE_TYPE[type_id])

    def _unlink_all(self, from_type: str, from_id: str, to_type: str, to_id: str | None = None) -> None:
        links = self._assoc[(from_type, to_type)].get(from_id, {})
        for other in [to_id] if to_id is not None else list(links):
            links.pop(other, None)
            self._assoc[(to_type, from_type)].get(other, {}).pop(from_id, None)

    def _default_types(self, from_type: str, from_id: str, to_type: str, to_id: str) -> list[int]:
        primary, unlabeled = PAIR_TYPES[(from_type, to_type)]
        types = [unlabeled]
        if primary is not None:
            if primary in SINGLE_PRIMARY and not self._has_primary(from_type, from_id, primary):
                types.append(primary)
            inverse = INVERSE_TYPE[primary]
            if inverse in SINGLE_PRIMARY and not self._has_primary(to_type, to_id, inverse):
                types.append(primary)
        return types

    def _check_types(self, from_type: str, to_type: str, types: Any) -> list[int]:
        out = []
        for spec in types or []:
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            info = ASSOC_TYPES.get(type_id)
            if info is None or info[:2] != (from_type, to_type):
                raise _Reject(400, "VALIDATION_ERROR",
                              f"association type id {type_id} is not valid for {from_type} to {to_type}")
            out.append(type_id)
            if type_id in SINGLE_PRIMARY:  # primary implies the unlabeled association
                out.append(PAIR_TYPES[(from_type, to_type)][1])
        if not out:
            raise _Reject(400, "VALIDATION_ERROR", "types must name at least one association type")
        return out

    def _plan_create_associations(self, object_type: str, specs: Any) -> list[tuple[str, str, list[int]]]:
        plan = []
        for spec in specs:
            if not isinstance(spec, dict):
                raise _Reject(400, "VALIDATION_ERROR", "associations entries must be objects")
            type_ids = [t.get("associationTypeId") for t in spec.get("types") or [] if isinstance(t, dict)]
            info = ASSOC_TYPES.get(type_ids[0]) if type_ids else None
            if info is None or info[0] != object_type:
                raise _Reject(400, "VALIDATION_ERROR", f"invalid association types {type_ids} for {object_type}")
            to_type = info[1]
            to_id = str((spec.get("to") or {}).get("id"))
            if self._live(to_type, to_id) is None:
                raise _Reject(400, "VALIDATION_ERROR", f"association target {to_type} {to_id} does not exist")
            plan.append((to_type, to_id, self._check_types(object_type, to_type, spec.get("types"))))
        return plan

    def _apply_associations(self, object_type: str, record_id: str, plan: list[tuple[str, str, list[int]]]) -> None:
        for to_type, to_id, type_ids in plan:
            self._link(object_type, record_id, to_type, to_id, type_ids)

    def _pair(self, ctx: _Ctx) -> tuple[str, str]:
        from_type, to_type = self._type(ctx, "from_type"), self._type(ctx, "to_type")
        if (from_type, to_type) not in PAIR_TYPES:
            raise _Reject(400, "VALIDATION_ERROR", f"no associations between {from_type} and {to_type}")
        return from_type, to_type

    def _labels(self, type_ids: Iterable[int]) -> list[dict]:
        return [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": ASSOC_TYPES[t][3]} for t in sorted(type_ids)]

    def _assoc_put_default(self, ctx: _Ctx) -> tuple[int, dict]:
        from_type, to_type = self._pair(ctx)
        from_id, to_id = ctx.params["from_id"], ctx.params["to_id"]
        if self._live(from_type, from_id) is None or self._live(to_type, to_id) is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", "one of the records does not exist")
        types = self._default_types(from_type, from_id, to_type, to_id)
        self._link(from_type, from_id, to_type, to_id, types)
        results = [{"from": {"id": from_id}, "to": {"id": to_id},
                    "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}}
                   for t in types]
        return self._batch_body(results, [])

    def _assoc_put_labels(self, ctx: _Ctx) -> tuple[int, dict]:
        from_type, to_type = self._pair(ctx)
        from_id, to_id = ctx.params["from_id"], ctx.params["to_id"]
        if self._live(from_type, from_id) is None or self._live(to_type, to_id) is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", "one of the records does not exist")
        types = self._check_types(from_type, to_type, ctx.body if isinstance(ctx.body, list) else [])
        self._link(from_type, from_id, to_type, to_id, types)
        all_types = self._assoc[(from_type, to_type)][from_id][to_id]
        return 201, {"fromObjectTypeId": from_type, "fromObjectId": from_id, "toObjectTypeId": to_type,
                     "toObjectId": to_id, "labels": [ASSOC_TYPES[t][3] for t in sorted(all_types) if ASSOC_TYPES[t][3]]}

    def _assoc_delete(self, ctx: _Ctx) -> tuple[int, None]:
        from_type, to_type = self._pair(ctx)
        self._unlink_all(from_type, ctx.params["from_id"], to_type, ctx.params["to_id"])
        return 204, None

    def _assoc_get_page(self, ctx: _Ctx) -> tuple[int, dict]:
        from_type, to_type = self._pair(ctx)
        from_id = ctx.params["from_id"]
        if self._live(from_type, from_id) is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", "resource not found")
        limit = min(_int_param(ctx.query.get("limit"), 500), 500)
        items = sorted(self._assoc[(from_type, to_type)].get(from_id, {}).items(), key=lambda kv: int(kv[0]))
        start = _int_param(_unb64(ctx.query.get("after", "")) if ctx.query.get("after") else None, 0)
        page = items[start: start + limit]
        body: dict[str, Any] = {"results": [{"toObjectId": int(k), "associationTypes": self._labels(v)}
                                            for k, v in page]}
        if start + limit < len(items):
            body["paging"] = {"next": {"after": _b64(str(start + limit)), "link": None}}
        return 200, body

    def _assoc_batch_read(self, ctx: _Ctx) -> tuple[int, dict]:
        from_type, to_type = self._pair(ctx)
        inputs = self._inputs(ctx, cap=ASSOC_READ_CAP)
        results, missing = [], []
        for inp in inputs:
            from_id = str(inp.get("id"))
            links = self._assoc[(from_type, to_type)].get(from_id)
            if self._live(from_type, from_id) is None or not links:
                missing.append(from_id)
                continue
            results.append({"from": {"id": from_id}, "to": [
                {"toObjectId": int(k), "associationTypes": self._labels(v)}
                for k, v in sorted(links.items(), key=lambda kv: int(kv[0]))]})
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "message": f"No {to_type} is associated with {from_type} {', '.join(missing)}.",
                           "context": {"fromObjectId": missing}, "errors": [], "links": {}})
        return self._batch_body(results, errors)

    def _assoc_batch_create(self, ctx: _Ctx) -> tuple[int, dict]:
        from_type, to_type = self._pair(ctx)
        inputs = self._inputs(ctx)
        results, errors = [], []
        for inp in inputs:
            from_id, to_id = str((inp.get("from") or {}).get("id")), str((inp.get("to") or {}).get("id"))
            if self._live(from_type, from_id) is None or self._live(to_type, to_id) is None:
                errors.append(self._assoc_missing(from_type, from_id, to_type, to_id))
                continue
            types = self._check_types(from_type, to_type, inp.get("types"))
            self._link(from_type, from_id, to_type, to_id, types)
            all_types = self._assoc[(from_type, to_type)][from_id][to_id]
            results.append({"fromObjectTypeId": from_type, "fromObjectId": int(from_id), "toObjectTypeId": to_type,
                            "toObjectId": int(to_id),
                            "labels": [ASSOC_TYPES[t][3] for t in sorted(all_types) if ASSOC_TYPES[t][3]]})
        return self._batch_body(results, errors, ok_status=201)

    def _assoc_batch_default(self, ctx: _Ctx) -> tuple[int, dict]:
        from_type, to_type = self._pair(ctx)
        inputs = self._inputs(ctx)
        results, errors = [], []
        for inp in inputs:
            from_id, to_id = str((inp.get("from") or {}).get("id")), str((inp.get("to") or {}).get("id"))
            if self._live(from_type, from_id) is None or self._live(to_type, to_id) is None:
                errors.append(self._assoc_missing(from_type, from_id, to_type, to_id))
                continue
            types = self._default_types(from_type, from_id, to_type, to_id)
            self._link(from_type, from_id, to_type, to_id, types)
            results.extend({"from": {"id": from_id}, "to": {"id": to_id},
                            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}}
                           for t in types)
        return self._batch_body(results, errors)

    def _assoc_missing(self, from_type: str, from_id: str, to_type: str, to_id: str) -> dict:
        return {"status": "error", "category": "VALIDATION_ERROR",
                "message": f"One or more of the records does not exist: {from_type} {from_id} -> {to_type} {to_id}",
                "context": {"fromObjectId": [from_id], "toObjectId": [to_id]}, "errors": [], "links": {}}

    def _assoc_batch_archive(self, ctx: _Ctx) -> tuple[int, None]:
        from_type, to_type = self._pair(ctx)
        for inp in self._inputs(ctx):
            from_id = str((inp.get("from") or {}).get("id"))
            for target in inp.get("to") or []:
                self._unlink_all(from_type, from_id, to_type, str(target.get("id")))
        return 204, None

    # ------------------------------------------------------------------------------------------------ properties
    def _property_json(self, definition: dict) -> dict:
        return json.loads(json.dumps(definition))

    def _properties_list(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        archived = ctx.query.get("archived", "false").lower() == "true"
        return 200, {"results": [self._property_json(d) for d in self._props[object_type].values()
                                 if bool(d.get("archived")) == archived]}

    def _property_get(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        definition = self._props[object_type].get(ctx.params["property_name"])
        if definition is None or definition.get("archived"):
            raise _Reject(404, "OBJECT_NOT_FOUND", f"Property {ctx.params['property_name']} does not exist")
        return 200, self._property_json(definition)

    def _check_definition(self, object_type: str, definition: dict) -> None:
        type_, field_type = definition.get("type"), definition.get("fieldType")
        if type_ not in COMPATIBLE_FIELD_TYPES:
            raise _Reject(400, "VALIDATION_ERROR", f"Invalid property type {type_!r}")
        if field_type not in COMPATIBLE_FIELD_TYPES[type_]:
            raise _Reject(400, "VALIDATION_ERROR",
                          f"fieldType {field_type!r} is not compatible with type {type_!r}; allowed: "
                          f"{sorted(COMPATIBLE_FIELD_TYPES[type_])}")
        if definition.get("groupName") not in self._groups[object_type]:
            raise _Reject(400, "VALIDATION_ERROR", f"Property group {definition.get('groupName')!r} does not exist")
        options = definition.get("options") or []
        if type_ == "enumeration":
            values = [str(o.get("value")) for o in options if isinstance(o, dict)]
            if not values or len(values) != len(options):
                raise _Reject(400, "VALIDATION_ERROR", "enumeration properties need options with label and value")
            if len(set(values)) != len(values):
                raise _Reject(400, "VALIDATION_ERROR", "option values must be unique")
            if field_type == "booleancheckbox" and set(values) != {"true", "false"}:
                raise _Reject(400, "VALIDATION_ERROR", "booleancheckbox properties take the options true and false")

    def _property_create(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise _Reject(400, "VALIDATION_ERROR", f"Missing required fields: {missing}")
        name = body["name"]
        if not PROPERTY_NAME.match(name):
            raise _Reject(400, "VALIDATION_ERROR", f"Property name {name!r} must match [a-z][a-z0-9_]*")
        if name in self._props[object_type]:
            raise _Reject(409, "CONFLICT", f"A property named '{name}' already exists.")
        self._check_definition(object_type, body)
        now = _iso(_now_ms())
        definition = {
            "name": name, "label": body["label"], "type": body["type"], "fieldType": body["fieldType"],
            "groupName": body["groupName"], "description": body.get("description", ""),
            "options": [{"label": o.get("label"), "value": str(o.get("value")),
                         "displayOrder": o.get("displayOrder", i), "hidden": bool(o.get("hidden", False))}
                        for i, o in enumerate(body.get("options") or [])],
            "displayOrder": body.get("displayOrder", -1), "calculated": False, "externalOptions": False,
            "hasUniqueValue": bool(body.get("hasUniqueValue", False)), "hidden": bool(body.get("hidden", False)),
            "formField": bool(body.get("formField", False)), "createdAt": now, "updatedAt": now, "archived": False,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        }
        self._props[object_type][name] = definition
        self._refresh_pinfo(object_type, definition)
        return 201, self._property_json(definition)

    def _property_update(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        name = ctx.params["property_name"]
        definition = self._props[object_type].get(name)
        if definition is None or definition.get("archived"):
            raise _Reject(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
        body = ctx.body if isinstance(ctx.body, dict) else {}
        if "name" in body and body["name"] != name:
            raise _Reject(400, "VALIDATION_ERROR", "a property's name cannot be changed")
        changes = {k: v for k, v in body.items() if k in (
            "label", "description", "groupName", "options", "displayOrder", "hidden", "formField", "type",
            "fieldType")}
        if definition["modificationMetadata"].get("readOnlyDefinition") and (
            {"type", "fieldType", "options"} & set(changes)
        ):
            raise _Reject(400, "VALIDATION_ERROR", f"{name} is a HubSpot-defined property; its type cannot change")
        candidate = {**definition, **changes}
        self._check_definition(object_type, candidate)
        candidate["updatedAt"] = _iso(_now_ms())
        self._props[object_type][name] = candidate
        self._refresh_pinfo(object_type, candidate)
        return 200, self._property_json(candidate)

    def _property_archive(self, ctx: _Ctx) -> tuple[int, None]:
        object_type = self._type(ctx)
        definition = self._props[object_type].get(ctx.params["property_name"])
        if definition is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", "Property does not exist")
        if not definition["modificationMetadata"].get("archivable"):
            raise _Reject(400, "VALIDATION_ERROR", "this property cannot be archived")
        definition["archived"] = True
        del self._pinfo[object_type][definition["name"]]
        return 204, None

    def _groups_list(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        return 200, {"results": [dict(g) for g in self._groups[object_type].values()]}

    def _group_get(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        group = self._groups[object_type].get(ctx.params["group_name"])
        if group is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", f"Property group {ctx.params['group_name']} does not exist")
        return 200, dict(group)

    def _group_create(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        name, label = body.get("name"), body.get("label")
        if not name or not label:
            raise _Reject(400, "VALIDATION_ERROR", "property groups need a name and a label")
        if not PROPERTY_NAME.match(name):
            raise _Reject(400, "VALIDATION_ERROR", f"Group name {name!r} must match [a-z][a-z0-9_]*")
        if name in self._groups[object_type]:
            raise _Reject(409, "CONFLICT", f"A property group named '{name}' already exists.")
        group = {"name": name, "label": label, "displayOrder": body.get("displayOrder", -1), "archived": False}
        self._groups[object_type][name] = group
        return 201, dict(group)

    def _group_update(self, ctx: _Ctx) -> tuple[int, dict]:
        object_type = self._type(ctx)
        group = self._groups[object_type].get(ctx.params["group_name"])
        if group is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", "Property group does not exist")
        body = ctx.body if isinstance(ctx.body, dict) else {}
        group.update({k: v for k, v in body.items() if k in ("label", "displayOrder")})
        return 200, dict(group)

    # ------------------------------------------------------------------------------------------------ owners, usage
    def _owners_list(self, ctx: _Ctx) -> tuple[int, dict]:
        limit = _int_param(ctx.query.get("limit"), 100)
        if limit < 1 or limit > 500:
            raise _Reject(400, "VALIDATION_ERROR", f"limit must be between 1 and 500, got {limit}")
        email = (ctx.query.get("email") or "").lower()
        archived = ctx.query.get("archived", "false").lower() == "true"
        owners = [o for o in self._owners.values() if o["archived"] == archived and (
            not email or o["email"].lower() == email)]
        owners.sort(key=lambda o: int(o["id"]))
        start = 0
        if ctx.query.get("after"):
            decoded = _unb64(ctx.query["after"])
            if decoded is None or not decoded.isdigit():
                raise _Reject(400, "VALIDATION_ERROR", "Invalid paging cursor")
            start = next((i for i, o in enumerate(owners) if int(o["id"]) > int(decoded)), len(owners))
        page = owners[start: start + limit]
        body: dict[str, Any] = {"results": [dict(o) for o in page]}
        if start + limit < len(owners):
            cursor = _b64(page[-1]["id"])
            body["paging"] = {"next": {"after": cursor, "link": f"{ctx.path}?after={quote(cursor)}"}}
        return 200, body

    def _owner_get(self, ctx: _Ctx) -> tuple[int, dict]:
        owner = self._owners.get(ctx.params["owner_id"])
        if owner is None:
            raise _Reject(404, "OBJECT_NOT_FOUND", "Owner not found")
        return 200, dict(owner)

    def _usage(self, ctx: _Ctx) -> tuple[int, dict]:
        return 200, {"results": [{"name": "private-apps-api-calls-daily", "usageLimit": self.daily_limit,
                                  "currentUsage": self.daily_used, "collectedAt": _iso(_now_ms()),
                                  "fetchStatus": "SUCCESS"}]}

    # ------------------------------------------------------------------------------------------------ seeding
    def _seed_owner(self, row: Mapping) -> str:
        owner_id = str(row.get("id") or "")
        if not owner_id or not owner_id.isdigit():
            owner_id = str(self._next_owner)
        self._next_owner = max(self._next_owner, int(owner_id)) + 1
        first, last = row.get("firstName"), row.get("lastName")
        if first is None and last is None and row.get("name"):
            first, _, last = str(row["name"]).partition(" ")
        team = row.get("team")
        teams = row.get("teams") or ([{"id": str(abs(hash(team)) % 10_000_000), "name": team, "primary": True}]
                                     if team else [])
        stamp = _iso(_now_ms())
        self._owners[owner_id] = {
            "id": owner_id, "email": row.get("email"), "firstName": first, "lastName": last or None,
            "userId": int(owner_id) % 1_000_000, "userIdIncludingInactive": int(owner_id) % 1_000_000,
            "type": "PERSON", "teams": teams, "archived": False, "createdAt": stamp, "updatedAt": stamp,
        }
        return owner_id

    def _seed_record(self, object_type: str, row: dict, now: int, canonical_ids: dict[str, dict[str, str]]) -> str:
        given_id = row.pop("id", None)
        canonical_key = row.pop(_CANONICAL_ID[object_type], None)
        if given_id is None and canonical_key is not None and str(canonical_key).isdigit():
            given_id = str(canonical_key)
        company = row.pop("company_id", None)
        archived = bool(row.pop("archived", False))
        mapping = _CANONICAL_TO_HS[object_type]
        props: dict[str, str] = {}
        for key, value in row.items():
            name = mapping.get(key, key) if key not in self._pinfo[object_type] else key
            if value is None or (isinstance(value, float) and value != value):
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            text = str(value)
            if name == "hubspot_owner_id":
                text = canonical_ids["owners"].get(text, text)
            info = self._pinfo[object_type].get(name)
            if info is not None and info.type == "datetime" and text:
                ms = _parse_instant_ms(text)
                text = _iso(ms) if ms is not None else text
            if text:
                props[name] = text
        rec = self._new_record(object_type, str(given_id) if given_id is not None else None, now)
        if "createdate" in props:
            rec.created = _parse_instant_ms(props["createdate"]) or now
        rec.props.update(props)
        rec.updated = now
        rec.props[LASTMOD[object_type]] = _iso(now)
        for name, value in props.items():
            info = self._pinfo[object_type].get(name)
            if info is not None and info.unique:
                self._unique[object_type].setdefault(name, {})[value.lower()] = rec.id
        if canonical_key is not None:
            canonical_ids[object_type][str(canonical_key)] = rec.id
        if company is not None and object_type in ("contacts", "deals") and str(company) not in ("", "nan", "None"):
            company_id = canonical_ids["companies"].get(str(company), str(company))
            if company_id in self._records["companies"]:
                primary, unlabeled = PAIR_TYPES[(object_type, "companies")]
                self._link(object_type, rec.id, "companies", company_id, [unlabeled, primary])
        if archived:
            rec.archived = True
            rec.archived_at = now
        return rec.id


def _rows(data: Any) -> Iterable[Mapping]:
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        frame = data.astype(object).where(data.notna(), None)
        return frame.to_dict("records")
    return data


def _csv(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _int_param(value: Any, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Reject(400, "VALIDATION_ERROR", f"{value!r} is not an integer") from None


def _is_write(method: str, route: str) -> bool:
    if method == "GET":
        return False
    return not (route.endswith("/search") or route.endswith("/batch/read"))
