"""A contract-faithful Salesforce fake: REST (query, describe, sObject Collections, single records), Bulk API 2.0
ingest and the OAuth token endpoint, served over TLS on 127.0.0.1 from a background thread.

The behaviour follows /work/shared/reference/crm_api_contracts.md section 2 and the "Salesforce fake" checklist in
section 4: Bearer auth with 401 INVALID_SESSION_ID, SOQL subset with nextRecordsUrl paging (Sforce-Query-Options
batchSize), describe with field attributes, composite/sobjects with <=200 records, ordered SaveResults, statusCode
errors and allOrNone rollback, the Bulk 2.0 state machine with results in shuffled order, Sforce-Limit-Info on every
response and 403 REQUEST_LIMIT_EXCEEDED. Knobs inject row locks, validation-rule failures, 503s, limit errors,
timeouts after commit and failed bulk jobs; introspection exposes request counts and the stored records.

    with SalesforceFake(access_token="test-token") as fake:
        fake.seed(accounts=[{"Name": "Acme", "Website": "https://acme.com"}])
        requests.get(f"{fake.instance_url}/services/data/v59.0/query", params={"q": "SELECT Id FROM Account"},
                     headers={"Authorization": "Bearer test-token"}, verify=fake.ca_path)
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import re
import secrets
import socket
import string
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOST = "127.0.0.1"  # the fake never listens on any other address
DEFAULT_API_VERSION = "59.0"
MAX_COLLECTION_RECORDS = 200
QUERY_BATCH_DEFAULT = 2000
QUERY_BATCH_MIN = 200
KEY_PREFIXES = {"Account": "001", "Contact": "003", "Opportunity": "006", "User": "005"}
JOB_PREFIX = "750"
LOCATOR_PREFIX = "01g"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

STRING_TYPES = frozenset({"string", "textarea", "picklist", "multipicklist", "email", "url", "phone", "combobox"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})
ID_TYPES = frozenset({"id", "reference"})
JOB_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
JOB_OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
TERMINAL_JOB_STATES = frozenset({"JobComplete", "Failed", "Aborted"})

# ---------------------------------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------------------------------
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_CHARS = string.ascii_uppercase + "012345"
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?$")


def to_18(id15: str) -> str:
    """The case-insensitive-safe 18-character form of a 15-character Salesforce id (Salesforce's checksum)."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _CHECKSUM_CHARS[bits]
    return id15 + suffix


def _make_id(prefix: str, number: int) -> str:
    body = ""
    for _ in range(9):
        number, digit = divmod(number, 62)
        body = _BASE62[digit] + body
    return to_18(f"{prefix}Dn0{body}")


def is_salesforce_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))


# ---------------------------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class FieldDef:
    """One describe field. `defaulted` marks a non-nillable field the org fills on create (OwnerId, booleans)."""

    name: str
    type: str
    label: str = ""
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    custom: bool = False
    externalId: bool = False  # Salesforce's attribute names (camelCase)
    unique: bool = False
    idLookup: bool = False
    length: int = 0
    precision: int = 0
    scale: int = 0
    picklistValues: tuple[str, ...] = ()
    restrictedPicklist: bool = False
    referenceTo: tuple[str, ...] = ()
    defaulted: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.name.removesuffix("__c").replace("_", " ").strip()
        if self.type in STRING_TYPES and not self.length:
            self.length = 255
        if self.type in ("double", "currency", "percent") and not self.precision:
            self.precision, self.scale = 18, self.scale or 2
        if self.type == "boolean":
            self.nillable, self.defaulted = False, True

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "updateable": self.updateable,
            "createable": self.createable,
            "nillable": self.nillable,
            "custom": self.custom,
            "externalId": self.externalId,
            "idLookup": self.idLookup or self.name == "Id",
            "unique": self.unique,
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "digits": self.precision if self.type in ("int", "long") else 0,
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": False} for v in self.picklistValues
            ],
            "restrictedPicklist": self.restrictedPicklist,
            "referenceTo": list(self.referenceTo),
            "defaultedOnCreate": self.defaulted,
            "compoundFieldName": None,
            "defaultValue": False if self.type == "boolean" else None,
            "calculated": False,
        }


def custom_field(name: str, type: str, label: str = "", **attributes: Any) -> dict[str, Any]:
    """A custom-field definition for `SalesforceFake(custom_fields=...)`, e.g.
    custom_field("pls_pqa_score__c", "double", updateable=False)."""
    return {"name": name, "type": type, "label": label, "custom": True, **attributes}


_YAML_TYPES = {"number": "double", "string": "string", "bool": "boolean", "date": "date"}
_YAML_OBJECTS = {"companies": "Account", "contacts": "Contact"}


def default_custom_fields() -> dict[str, list[dict[str, Any]]]:
    """The pls_* custom fields of config/crm_fields.yaml as <name>__c on Account and Contact (a fresh copy: tests
    may drop one or make one read-only)."""
    from pls_pipelines.lib.crm_fields import load_crm_fields

    out: dict[str, list[dict[str, Any]]] = {"Account": [], "Contact": []}
    for object_type, fields in load_crm_fields().objects.items():
        sobject = _YAML_OBJECTS[object_type]
        for spec in fields.fields:
            out[sobject].append(custom_field(f"{spec.name}__c", _YAML_TYPES[spec.type], spec.label))
    return out


_ACCOUNT_TYPES = ("Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Other")
_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review",
           "Closed Won", "Closed Lost")


def _audit_fields(with_owner: bool = True) -> list[FieldDef]:
    fields = [
        FieldDef("IsDeleted", "boolean", "Deleted", updateable=False, createable=False),
        FieldDef("CreatedDate", "datetime", "Created Date", updateable=False, createable=False, nillable=False,
                 defaulted=True),
        FieldDef("LastModifiedDate", "datetime", "Last Modified Date", updateable=False, createable=False,
                 nillable=False, defaulted=True),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", updateable=False, createable=False,
                 nillable=False, defaulted=True),
    ]
    if with_owner:
        fields.append(FieldDef("OwnerId", "reference", "Owner ID", nillable=False, defaulted=True,
                               referenceTo=("User",)))
    return fields


def standard_fields() -> dict[str, list[FieldDef]]:
    idf = [FieldDef("Id", "id", "Record ID", updateable=False, createable=False, nillable=False, length=18)]
    return {
        "Account": [
            *idf,
            FieldDef("MasterRecordId", "reference", "Master Record ID", updateable=False, createable=False,
                     referenceTo=("Account",)),
            FieldDef("Name", "string", "Account Name", nillable=False),
            FieldDef("Type", "picklist", "Account Type", picklistValues=_ACCOUNT_TYPES),
            FieldDef("Website", "url", "Website"),
            FieldDef("Industry", "picklist", "Industry"),
            FieldDef("NumberOfEmployees", "int", "Employees", precision=8),
            FieldDef("BillingCountry", "string", "Billing Country", length=80),
            *_audit_fields(),
        ],
        "Contact": [
            *idf,
            FieldDef("MasterRecordId", "reference", "Master Record ID", updateable=False, createable=False,
                     referenceTo=("Contact",)),
            FieldDef("AccountId", "reference", "Account ID", referenceTo=("Account",)),
            FieldDef("FirstName", "string", "First Name", length=40),
            FieldDef("LastName", "string", "Last Name", length=80, nillable=False),
            FieldDef("Name", "string", "Full Name", length=121, updateable=False, createable=False),
            FieldDef("Email", "email", "Email", length=80, idLookup=True),
            FieldDef("Title", "string", "Title", length=128),
            *_audit_fields(),
        ],
        "Opportunity": [
            *idf,
            FieldDef("AccountId", "reference", "Account ID", referenceTo=("Account",)),
            FieldDef("Name", "string", "Name", length=120, nillable=False),
            FieldDef("StageName", "picklist", "Stage", nillable=False, picklistValues=_STAGES),
            FieldDef("Amount", "currency", "Amount"),
            FieldDef("Type", "picklist", "Opportunity Type"),
            FieldDef("CloseDate", "date", "Close Date", nillable=False),
            FieldDef("IsWon", "boolean", "Won", updateable=False, createable=False),
            FieldDef("IsClosed", "boolean", "Closed", updateable=False, createable=False),
            *_audit_fields(),
        ],
        "User": [
            *idf,
            FieldDef("Username", "string", "Username", length=80, nillable=False),
            FieldDef("FirstName", "string", "First Name", length=40),
            FieldDef("LastName", "string", "Last Name", length=80, nillable=False),
            FieldDef("Name", "string", "Full Name", length=121, updateable=False, createable=False),
            FieldDef("Email", "email", "Email", length=128, nillable=False),
            FieldDef("Department", "string", "Department", length=80),
            FieldDef("IsActive", "boolean", "Active"),
            *_audit_fields(with_owner=False),
        ],
    }


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------
class SfHttpError(Exception):
    """A request-level error: HTTP status + Salesforce's JSON array error body."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        return JSONResponse([body], status_code=self.status)


@dataclass
class RecordError(Exception):
    """A per-record error (SaveResult.errors[i], or sf__Error in Bulk results)."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_bulk(self) -> str:
        return f"{self.status_code}:{self.message}:{','.join(self.fields)} --"


class _TypeMismatch(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------
# SOQL subset
# ---------------------------------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*')
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<lit>-?\d[\w:.+\-]*)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})$")
_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")


def _malformed(message: str) -> SfHttpError:
    return SfHttpError(400, "MALFORMED_QUERY", message)


@dataclass
class _Condition:
    field: str
    op: str  # = != < > <= >= LIKE IN NOT IN
    value: Any  # literal tuple (kind, value) or list of them for IN


@dataclass
class Soql:
    fields: list[str]
    sobject: str
    count: bool = False
    where: list[_Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool, bool | None]] = field(default_factory=list)  # field, descending, nulls_last
    limit: int | None = None
    offset: int = 0


def _tokenize(query: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = query.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _malformed(f"unexpected token: '{text[pos:pos + 20].strip()}'")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), raw)


def parse_soql(query: str) -> Soql:
    tokens = _tokenize(query)
    pos = 0

    def peek(offset: int = 0) -> tuple[str, str] | None:
        return tokens[pos + offset] if pos + offset < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise _malformed("unexpected end of query")
        pos += 1
        return tokens[pos - 1]

    def keyword(*words: str) -> bool:
        token = peek()
        return token is not None and token[0] == "word" and token[1].upper() in words

    def expect(word: str) -> None:
        kind, text = take()
        if kind != "word" or text.upper() != word:
            raise _malformed(f"unexpected token: '{text}', expected {word}")

    def literal() -> tuple[str, Any]:
        kind, text = take()
        if kind == "str":
            return ("str", text[1:-1])
        if kind == "lit":
            if _NUMBER_RE.match(text):
                return ("num", float(text))
            if _DATE_RE.match(text):
                return ("date", date.fromisoformat(text))
            if _DATETIME_RE.match(text):
                return ("datetime", datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC))
            raise _malformed(f"line 1:{pos} no viable alternative at character '{text}'")
        if kind == "word" and text.lower() in ("true", "false"):
            return ("bool", text.lower() == "true")
        if kind == "word" and text.lower() == "null":
            return ("null", None)
        raise _malformed(f"unexpected token: '{text}'")

    expect("SELECT")
    soql = Soql(fields=[], sobject="")
    if keyword("COUNT") and peek(1) == ("punct", "(") and peek(2) == ("punct", ")"):
        pos += 3
        soql.count = True
    else:
        while True:
            kind, text = take()
            if kind != "word" or text.upper() == "FROM":
                raise _malformed(f"unexpected token: '{text}'")
            soql.fields.append(text)
            if peek() == ("punct", ","):
                take()
                continue
            break
    expect("FROM")
    kind, soql.sobject = take()
    if kind != "word":
        raise _malformed(f"unexpected token: '{soql.sobject}'")
    if keyword("WHERE"):
        take()
        while True:
            kind, name = take()
            if kind != "word":
                raise _malformed(f"unexpected token: '{name}'")
            if keyword("NOT") and peek(1) and peek(1)[1].upper() == "IN":
                pos += 2
                op = "NOT IN"
            elif keyword("IN"):
                take()
                op = "IN"
            elif keyword("LIKE"):
                take()
                op = "LIKE"
            else:
                kind, op = take()
                if kind != "op":
                    raise _malformed(f"unexpected token: '{op}'")
                op = "!=" if op == "<>" else op
            if op in ("IN", "NOT IN"):
                if take() != ("punct", "("):
                    raise _malformed("expecting a left parentheses, found something else")
                values = [literal()]
                while peek() == ("punct", ","):
                    take()
                    values.append(literal())
                if take() != ("punct", ")"):
                    raise _malformed("expecting a right parentheses, found something else")
                soql.where.append(_Condition(name, op, values))
            else:
                soql.where.append(_Condition(name, op, literal()))
            if keyword("AND"):
                take()
                continue
            if keyword("OR"):
                raise _malformed("the Salesforce fake supports AND only")
            break
    if keyword("ORDER"):
        take()
        expect("BY")
        while True:
            kind, name = take()
            if kind != "word":
                raise _malformed(f"unexpected token: '{name}'")
            descending, nulls_last = False, None
            if keyword("ASC", "DESC"):
                descending = take()[1].upper() == "DESC"
            if keyword("NULLS"):
                take()
                nulls_last = take()[1].upper() == "LAST"
            soql.order_by.append((name, descending, nulls_last))
            if peek() == ("punct", ","):
                take()
                continue
            break
    if keyword("LIMIT"):
        take()
        kind, text = take()
        if kind != "lit" or not text.isdigit():
            raise _malformed(f"unexpected token: '{text}'")
        soql.limit = int(text)
    if keyword("OFFSET"):
        take()
        kind, text = take()
        if kind != "lit" or not text.isdigit():
            raise _malformed(f"unexpected token: '{text}'")
        soql.offset = int(text)
    if pos != len(tokens):
        raise _malformed(f"unexpected token: '{tokens[pos][1]}'")
    return soql


def _like(pattern: str, value: str) -> bool:
    regex = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


# ---------------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Fault:
    kind: str  # "status" | "limit" | "timeout_after_commit"
    times: int
    method: str | None = None
    route: str | None = None
    status: int = 503
    retry_after: str | None = None
    delay: float = 1.0

    def matches(self, method: str, route: str) -> bool:
        return (self.method is None or self.method == method) and (self.route is None or self.route == route)


@dataclass
class BulkJob:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    delimiter: str
    line_ending: str
    state: str = "Open"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    data: str | None = None
    polls_left: int = 0
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    successful: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    fail_after: int | None = None
    fail_message: str | None = None


_ROUTES: list[tuple[str, str, str]] = [
    # method, template, handler name. Templates are also the keys of `requests` counts.
    ("POST", "/services/oauth2/token", "_token"),
    ("GET", "/services/data/{version}/limits", "_limits"),
    ("GET", "/services/data/{version}/query", "_query"),
    ("GET", "/services/data/{version}/queryAll", "_query_all"),
    ("GET", "/services/data/{version}/query/{locator}", "_query_more"),
    ("GET", "/services/data/{version}/queryAll/{locator}", "_query_more"),
    ("GET", "/services/data/{version}/sobjects/{sobject}/describe", "_describe"),
    ("POST", "/services/data/{version}/sobjects/{sobject}", "_create_one"),
    ("GET", "/services/data/{version}/sobjects/{sobject}/{record_id}", "_get_one"),
    ("PATCH", "/services/data/{version}/sobjects/{sobject}/{record_id}", "_update_one"),
    ("DELETE", "/services/data/{version}/sobjects/{sobject}/{record_id}", "_delete_one"),
    ("POST", "/services/data/{version}/composite/sobjects", "_collection_create"),
    ("PATCH", "/services/data/{version}/composite/sobjects", "_collection_update"),
    ("POST", "/services/data/{version}/jobs/ingest", "_job_create"),
    ("GET", "/services/data/{version}/jobs/ingest/{job_id}", "_job_get"),
    ("PATCH", "/services/data/{version}/jobs/ingest/{job_id}", "_job_patch"),
    ("DELETE", "/services/data/{version}/jobs/ingest/{job_id}", "_job_delete"),
    ("PUT", "/services/data/{version}/jobs/ingest/{job_id}/batches", "_job_upload"),
    ("GET", "/services/data/{version}/jobs/ingest/{job_id}/successfulResults", "_job_successful"),
    ("GET", "/services/data/{version}/jobs/ingest/{job_id}/failedResults", "_job_failed"),
    ("GET", "/services/data/{version}/jobs/ingest/{job_id}/unprocessedrecords", "_job_unprocessed"),
]
_PARAM_PATTERNS = {"version": r"v\d+\.\d", "locator": r"01g[A-Za-z0-9]+-\d+"}


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(
        r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{_PARAM_PATTERNS.get(m.group(1), '[^/]+')})", template
    )
    return re.compile(f"^{pattern}/?$")


_COMPILED = [(method, _compile(template), template, handler) for method, template, handler in _ROUTES]


@dataclass
class _Call:
    method: str
    route: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise SfHttpError(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON value") from None


# ---------------------------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------------------------
_CA: tuple[trustme.CA, trustme.LeafCert] | None = None


def _test_ca() -> tuple[trustme.CA, trustme.LeafCert]:
    """One throwaway CA and 127.0.0.1/localhost certificate per test process (key generation is the slow part)."""
    global _CA
    if _CA is None:
        ca = trustme.CA()
        _CA = (ca, ca.issue_cert(HOST, "localhost"))
    return _CA


class SalesforceFake:
    """An in-memory Salesforce org behind HTTPS on 127.0.0.1:<ephemeral port>. Use as a context manager.

    Credentials accepted by /services/oauth2/token: `username`, `password` + `security_token` (appended),
    `client_id`, `client_secret`. `custom_fields` maps "Account"/"Contact" to custom_field(...) dicts (default:
    default_custom_fields()). `daily_limit` / `api_usage` feed Sforce-Limit-Info and REQUEST_LIMIT_EXCEEDED.
    `bulk_polls_in_progress`: how many job polls see InProgress before the job is processed. `seed` makes the
    shuffled Bulk results reproducible.
    """

    def __init__(
        self,
        access_token: str = "test-token",
        *,
        username: str = "integration@example.com",
        password: str = "fake-password",
        security_token: str = "FAKESECURITYTOKEN",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        custom_fields: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        daily_limit: int = 100_000,
        api_usage: int = 0,
        bulk_polls_in_progress: int = 1,
        seed: int = 0,
    ):
        self.username, self.password, self.security_token = username, password, security_token
        self.client_id, self.client_secret = client_id, client_secret
        self._initial = {"access_token": access_token, "custom_fields": custom_fields, "daily_limit": daily_limit,
                         "api_usage": api_usage, "bulk_polls_in_progress": bulk_polls_in_progress, "seed": seed}
        self._lock = threading.RLock()
        self.reset()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.port: int | None = None
        self.ca_path: str = ""
        self.app = Starlette(routes=[
            Route("/{path:path}", self._endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        ])

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def instance_url(self) -> str:
        if self.port is None:
            raise RuntimeError("SalesforceFake is not running; use it as a context manager")
        return f"https://{HOST}:{self.port}"

    def __enter__(self) -> SalesforceFake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sf-fake-")
        ca, cert = _test_ca()
        ca_file = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        self.ca_path = str(ca_file)
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=5,
            ssl_certfile=self.ca_path,  # makes uvicorn serve TLS; the factory below supplies the real context
            ssl_context_factory=lambda _config, _default: context,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="salesforce-fake")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("SalesforceFake did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=0.5)
            if self._thread.is_alive() and self._server is not None:
                # A client keeping a TLS keep-alive connection open would hold the graceful shutdown.
                self._server.force_exit = True
            self._thread.join(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()
        self._server = self._thread = self._tmp = None

    def reset(self) -> None:
        """Back to the state right after construction (records, schema, knobs, counts), keeping the server up: a
        test module can share one running fake."""
        initial = self._initial
        with self._lock:
            self.valid_tokens: set[str] = {initial["access_token"]} if initial["access_token"] else set()
            self.daily_limit = initial["daily_limit"]
            self.api_usage = initial["api_usage"]
            self.bulk_polls_in_progress = initial["bulk_polls_in_progress"]
            self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
            self.requests: Counter[tuple[str, str]] = Counter()  # (method, route template) -> count
            self.request_log: list[tuple[str, str, int]] = []  # (method, path, status)
            self._rng = random.Random(initial["seed"])
            self._schema: dict[str, dict[str, FieldDef]] = {
                sobject: {f.name.lower(): f for f in fields} for sobject, fields in standard_fields().items()
            }
            self._store: dict[str, dict[str, dict[str, Any]]] = {sobject: {} for sobject in self._schema}
            customs = default_custom_fields() if initial["custom_fields"] is None else initial["custom_fields"]
            for sobject, fields in customs.items():
                for spec in fields:
                    self.add_field(sobject, **dict(spec))
            self._counters: Counter[str] = Counter()
            self._locators: dict[str, tuple[list[dict[str, Any]], int]] = {}
            self._jobs: dict[str, BulkJob] = {}
            self._faults: list[_Fault] = []
            self._locks: Counter[str] = Counter()
            self._rules: list[tuple[str, Callable[[dict[str, Any]], bool], str, list[str]]] = []
            self._next_job_failure: tuple[str, int] | None = None

    # -- knobs -------------------------------------------------------------------------------------------------
    def add_field(self, sobject: str, name: str, type: str, **attributes: Any) -> None:
        """Add (or replace) a describe field, e.g. a custom field created in Setup."""
        with self._lock:
            fd = FieldDef(name, type, **attributes)
            self._schema[sobject][name.lower()] = fd
            for record in self._store[sobject].values():
                record.setdefault(fd.name, False if fd.type == "boolean" else None)

    def remove_field(self, sobject: str, name: str) -> None:
        with self._lock:
            fd = self._schema[sobject].pop(name.lower())
            for record in self._store[sobject].values():
                record.pop(fd.name, None)

    def set_field(self, sobject: str, name: str, **attributes: Any) -> None:
        """Change describe attributes of a field, e.g. set_field("Account", "pls_pqa_tier__c", updateable=False)."""
        with self._lock:
            self._schema[sobject][name.lower()] = replace(self._schema[sobject][name.lower()], **attributes)

    def fail_next(self, times: int = 1, *, status: int = 503, method: str | None = None, route: str | None = None,
                  retry_after: str | None = None) -> None:
        """The next `times` matching API requests answer `status` (default 503 SERVER_UNAVAILABLE) unprocessed."""
        with self._lock:
            self._faults.append(_Fault("status", times, method, route, status, retry_after))

    def limit_exceeded_next(self, times: int = 1, *, method: str | None = None, route: str | None = None) -> None:
        """The next `times` matching API requests answer 403 REQUEST_LIMIT_EXCEEDED (another integration spent
        the org's daily allocation for a while)."""
        with self._lock:
            self._faults.append(_Fault("limit", times, method, route, 403))

    def timeout_after_commit(self, times: int = 1, *, method: str | None = None, route: str | None = None,
                             delay: float = 1.0) -> None:
        """The next `times` matching requests are applied, then the response is held for `delay` seconds (longer
        than the client's timeout): the client sees a timeout although the write happened."""
        with self._lock:
            self._faults.append(_Fault("timeout_after_commit", times, method, route, delay=delay))

    def lock_record(self, record_id: str, times: int = 1) -> None:
        """The next `times` writes of this record fail with UNABLE_TO_LOCK_ROW."""
        with self._lock:
            self._locks[record_id[:15]] += times

    def add_validation_rule(self, sobject: str, violates: Callable[[dict[str, Any]], bool], message: str,
                            fields: Iterable[str] = ()) -> None:
        """A validation rule: a write whose resulting record `violates` fails with FIELD_CUSTOM_VALIDATION_EXCEPTION."""
        with self._lock:
            self._rules.append((sobject, violates, message, list(fields)))

    def fail_next_bulk_job(self, message: str = "InternalServerError : retry later", after: int = 0) -> None:
        """The next processed Bulk job processes `after` records, then ends Failed with `message`; the rest are
        unprocessed."""
        with self._lock:
            self._next_job_failure = (message, after)

    def revoke_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def merge(self, sobject: str, master_id: str, loser_id: str) -> None:
        """Merge `loser_id` into `master_id`: the loser is deleted with MasterRecordId pointing at the master."""
        with self._lock:
            loser = self._store[sobject][loser_id[:15]]
            loser["IsDeleted"] = True
            loser["MasterRecordId"] = self._store[sobject][master_id[:15]]["Id"]
            self._touch(loser)

    def delete(self, sobject: str, record_id: str) -> None:
        with self._lock:
            record = self._store[sobject][record_id[:15]]
            record["IsDeleted"] = True
            self._touch(record)

    # -- introspection -----------------------------------------------------------------------------------------
    def seed(self, *, accounts: Iterable[Mapping[str, Any]] = (), contacts: Iterable[Mapping[str, Any]] = (),
             opportunities: Iterable[Mapping[str, Any]] = (), users: Iterable[Mapping[str, Any]] = ()
             ) -> dict[str, list[str]]:
        """Store records as given (API field names), bypassing validation; returns the ids per object."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for sobject, rows in (("User", users), ("Account", accounts), ("Contact", contacts),
                                  ("Opportunity", opportunities)):
                ids = []
                for n, row in enumerate(rows, start=1):
                    values = {**_seed_defaults(sobject, n), **{self._field(sobject, k).name: v for k, v in row.items()}}
                    for name, value in list(values.items()):
                        fd = self._schema[sobject][name.lower()]
                        if fd.type == "datetime" and isinstance(value, str):
                            values[name] = _parse_datetime(value)
                    ids.append(self._insert(sobject, values)["Id"])
                out[sobject] = ids
        return out

    def records(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._store[sobject].values() if include_deleted or not r["IsDeleted"]]

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._store[sobject].get(record_id[:15])
            return dict(record) if record else None

    def count(self, method: str, route: str) -> int:
        return self.requests[(method, route)]

    @property
    def write_calls(self) -> int:
        return sum(n for (method, route), n in self.requests.items()
                   if method in WRITE_METHODS and route.startswith("/services/data"))

    @property
    def jobs(self) -> dict[str, BulkJob]:
        return self._jobs

    # -- HTTP plumbing -----------------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        method, path = request.method.upper(), request.url.path
        delay = 0.0
        try:
            route, handler, params = self._route(method, path)
            call = _Call(method, route, path, params, request.query_params, request.headers, body)
            with self._lock:
                self.requests[(method, route)] += 1
                response, delay = self._dispatch(call, handler)
        except SfHttpError as exc:
            response = exc.response()
        with self._lock:
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_usage}/{self.daily_limit}"
            self.request_log.append((method, path, response.status_code))
        if delay:
            await asyncio.sleep(delay)
        return response

    def _route(self, method: str, path: str) -> tuple[str, str, dict[str, str]]:
        allowed = []
        for route_method, pattern, template, handler in _COMPILED:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return template, handler, match.groupdict()
                allowed.append(route_method)
        if allowed:
            raise SfHttpError(405, "METHOD_NOT_ALLOWED",
                              f"HTTP Method '{method}' not allowed. Allowed are {','.join(sorted(set(allowed)))}")
        raise SfHttpError(404, "NOT_FOUND", "The requested resource does not exist")

    def _dispatch(self, call: _Call, handler: str) -> tuple[Response, float]:
        if call.route.startswith("/services/data"):
            auth = call.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.valid_tokens:
                raise SfHttpError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            for fault in self._faults:
                if fault.times > 0 and fault.kind in ("status", "limit") and fault.matches(call.method, call.route):
                    fault.times -= 1
                    if fault.kind == "limit":
                        raise SfHttpError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                    response = SfHttpError(
                        fault.status, "SERVER_UNAVAILABLE", "Server temporarily unavailable, retry later"
                    ).response()
                    if fault.retry_after is not None:
                        response.headers["Retry-After"] = fault.retry_after
                    return response, 0.0
            if self.api_usage >= self.daily_limit:
                raise SfHttpError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.api_usage += 1
        response = getattr(self, handler)(call)
        delay = 0.0
        for fault in self._faults:
            if fault.times > 0 and fault.kind == "timeout_after_commit" and fault.matches(call.method, call.route):
                fault.times -= 1
                delay = fault.delay
                break
        return response, delay

    # -- helpers -----------------------------------------------------------------------------------------------
    def _sobject(self, name: str) -> str:
        for sobject in self._schema:
            if sobject.lower() == name.lower():
                return sobject
        raise SfHttpError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'")

    def _field(self, sobject: str, name: str) -> FieldDef:
        fd = self._schema[sobject].get(name.lower())
        if fd is None:
            raise RecordError("INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name])
        return fd

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _touch(self, record: dict[str, Any]) -> None:
        now = self._now()
        record["LastModifiedDate"] = record["SystemModstamp"] = now

    def _new_id(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return _make_id(prefix, self._counters[prefix] + 1000)

    def _insert(self, sobject: str, values: Mapping[str, Any]) -> dict[str, Any]:
        now = self._now()
        record: dict[str, Any] = {
            fd.name: (False if fd.type == "boolean" else None) for fd in self._schema[sobject].values()
        }
        record.update({"CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now})
        if "ownerid" in self._schema[sobject]:
            users = list(self._store["User"].values())
            record["OwnerId"] = users[0]["Id"] if users else _make_id("005", 1)
        record.update(values)
        record["Id"] = record.get("Id") or self._new_id(KEY_PREFIXES[sobject])
        self._derive(sobject, record)
        self._store[sobject][record["Id"][:15]] = record
        return record

    @staticmethod
    def _derive(sobject: str, record: dict[str, Any]) -> None:
        if sobject in ("Contact", "User"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
        if sobject == "Opportunity":
            stage = record.get("StageName") or ""
            record["IsWon"] = stage == "Closed Won"
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")

    def _serialize(self, sobject: str, record: Mapping[str, Any], fields: Iterable[FieldDef], version: str
                   ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{record['Id']}"}
        }
        for fd in fields:
            value = record.get(fd.name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
            out[fd.name] = value
        return out

    # -- OAuth -------------------------------------------------------------------------------------------------
    def _token(self, call: _Call) -> Response:
        form = {k: v[0] for k, v in parse_qs(call.body.decode("utf-8")).items()}
        grant = form.get("grant_type")
        if grant not in ("password", "client_credentials"):
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                                status_code=400)
        if form.get("client_id") != self.client_id:
            return JSONResponse({"error": "invalid_client_id", "error_description": "client identifier invalid"},
                                status_code=400)
        if form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description": "invalid client credentials"},
                                status_code=400)
        if grant == "password" and (
            form.get("username") != self.username or form.get("password") != self.password + self.security_token
        ):
            return JSONResponse({"error": "invalid_grant", "error_description": "authentication failure"},
                                status_code=400)
        token = f"00DDn0000000001!AR{secrets.token_urlsafe(24)}"
        self.valid_tokens.add(token)
        return JSONResponse({
            "access_token": token,
            "instance_url": self.instance_url,
            "id": f"{self.instance_url}/id/00DDn0000000001EAA/{_make_id('005', 1)}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": secrets.token_urlsafe(32),
        })

    def _limits(self, call: _Call) -> Response:
        return JSONResponse({"DailyApiRequests": {"Max": self.daily_limit,
                                                  "Remaining": max(0, self.daily_limit - self.api_usage)}})

    # -- query -------------------------------------------------------------------------------------------------
    def _query(self, call: _Call, include_deleted: bool = False) -> Response:
        q = call.query.get("q")
        if not q:
            raise _malformed("missing query parameter q")
        soql = parse_soql(q)
        sobject = next((s for s in self._schema if s.lower() == soql.sobject.lower()), None)
        if sobject is None:
            raise SfHttpError(400, "INVALID_TYPE", f"\n{q[:80]}\n^\nERROR at Row:1:Column:1\nsObject type "
                              f"'{soql.sobject}' is not supported. If you are attempting to use a custom object, be "
                              "sure to append the '__c' after the entity name.")
        fields = [self._query_field(sobject, name, q) for name in soql.fields]
        if len({f.name for f in fields}) != len(fields):
            raise SfHttpError(400, "INVALID_FIELD", "duplicate field selected")
        conditions = [(self._query_field(sobject, c.field, q), c) for c in soql.where]
        for fd, condition in conditions:  # literal types are checked even when no record is compared
            for literal in condition.value if condition.op in ("IN", "NOT IN") else [condition.value]:
                if condition.op != "LIKE":
                    _literal_for(fd, literal)
        rows = [r for r in self._store[sobject].values() if include_deleted or not r["IsDeleted"]]
        rows = [r for r in rows if all(_matches(fd, c, r.get(fd.name)) for fd, c in conditions)]
        for name, descending, nulls_last in reversed(soql.order_by):
            fd = self._query_field(sobject, name, q)
            last = descending if nulls_last is None else nulls_last
            present = sorted((r for r in rows if r.get(fd.name) is not None),
                             key=lambda r, fd=fd: _comparable(fd, r[fd.name]), reverse=descending)
            missing = [r for r in rows if r.get(fd.name) is None]
            rows = present + missing if last else missing + present
        rows = rows[soql.offset:]
        if soql.limit is not None:
            rows = rows[: soql.limit]
        if soql.count:
            return JSONResponse({"totalSize": len(rows), "done": True, "records": []})
        version = call.params["version"]
        records = [self._serialize(sobject, r, fields, version) for r in rows]
        batch = QUERY_BATCH_DEFAULT
        options = call.headers.get("sforce-query-options", "")
        match = re.search(r"batchSize=(\d+)", options)
        if match:
            batch = min(QUERY_BATCH_DEFAULT, max(QUERY_BATCH_MIN, int(match.group(1))))
        kind = "queryAll" if include_deleted else "query"
        return JSONResponse(self._page(records, 0, batch, version, kind, None))

    def _query_all(self, call: _Call) -> Response:
        return self._query(call, include_deleted=True)

    def _page(self, records: list[dict[str, Any]], start: int, batch: int, version: str, kind: str,
              locator: str | None) -> dict[str, Any]:
        end = start + batch
        body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records), "records": records[start:end]}
        if end < len(records):
            if locator is None:
                locator = LOCATOR_PREFIX + secrets.token_hex(6).upper()
                self._locators[locator] = (records, batch)
            body["nextRecordsUrl"] = f"/services/data/{version}/{kind}/{locator}-{end}"
        return body

    def _query_more(self, call: _Call) -> Response:
        locator, _, start = call.params["locator"].rpartition("-")
        if locator not in self._locators:
            raise SfHttpError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, batch = self._locators[locator]
        kind = "queryAll" if "/queryAll/" in call.path else "query"
        return JSONResponse(self._page(records, int(start), batch, call.params["version"], kind, locator))

    def _query_field(self, sobject: str, name: str, query: str) -> FieldDef:
        fd = self._schema[sobject].get(name.lower())
        if fd is None:
            raise SfHttpError(
                400, "INVALID_FIELD",
                f"\n{query[:80]}\n^\nERROR at Row:1:Column:1\nNo such column '{name}' on entity '{sobject}'. If you "
                "are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        return fd

    # -- describe ----------------------------------------------------------------------------------------------
    def _describe(self, call: _Call) -> Response:
        sobject = self._sobject(call.params["sobject"])
        return JSONResponse({
            "name": sobject, "label": sobject, "keyPrefix": KEY_PREFIXES[sobject], "custom": False,
            "createable": True, "updateable": True, "deletable": True, "queryable": True,
            "fields": [fd.describe() for fd in self._schema[sobject].values()],
            "urls": {"describe": f"/services/data/{call.params['version']}/sobjects/{sobject}/describe"},
        })

    # -- writes ------------------------------------------------------------------------------------------------
    def _prepare(self, sobject: str, values: Mapping[str, Any], *, record_id: str | None, source: str
                 ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Validate one write: returns (existing record or None for a create, the changes), or raises RecordError
        (per record) / SfHttpError (the whole request, e.g. a JSON value of the wrong type)."""
        existing = None
        if record_id is not None:
            if not is_salesforce_id(record_id) or not record_id.startswith(KEY_PREFIXES[sobject]):
                raise RecordError("MALFORMED_ID", f"{sobject} ID: id value of incorrect type: {record_id}", ["Id"])
            existing = self._store[sobject].get(record_id[:15])
            if existing is None or existing["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        changes: dict[str, Any] = {}
        for col, (name, raw) in enumerate(values.items(), start=1):
            fd = self._field(sobject, name)
            if not (fd.createable if existing is None else fd.updateable):
                verb = "create" if existing is None else "update"
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to {verb} fields: {fd.name}. Please check the security settings of this field and "
                    "verify that it is read/write for your profile or permission set.", [fd.name],
                )
            try:
                value = _coerce_json(fd, raw) if source == "json" else _coerce_csv(fd, raw)
            except _TypeMismatch as exc:
                if source == "json":
                    raise SfHttpError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {fd.type} from "
                                      f"{exc} value {raw!r} or request may be missing a required field") from None
                raise RecordError("INVALID_FIELD", f"Failed to deserialize field at col {col}. Due to, '{raw}' is "
                                  f"not a valid value for the type xsd:{fd.type}", [fd.name]) from None
            self._check_value(sobject, fd, value)
            changes[fd.name] = value
        merged = {**(existing or {}), **changes}
        missing = [fd.name for fd in self._schema[sobject].values()
                   if (fd.required_on_create if existing is None else (not fd.nillable and fd.updateable))
                   and merged.get(fd.name) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        if existing is not None and self._locks[existing["Id"][:15]] > 0:
            self._locks[existing["Id"][:15]] -= 1
            raise RecordError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", [])
        for rule_object, violates, message, rule_fields in self._rules:
            if rule_object == sobject and violates(merged):
                raise RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", message, rule_fields)
        return existing, changes

    def _check_value(self, sobject: str, fd: FieldDef, value: Any) -> None:
        if value is None:
            return
        if fd.type in STRING_TYPES and len(value) > fd.length:
            raise RecordError("STRING_TOO_LONG", f"{fd.label}: data value too large: {value[:40]} (max length="
                              f"{fd.length})", [fd.name])
        if fd.type in ("double", "currency", "percent") and abs(value) >= 10 ** (fd.precision - fd.scale):
            raise RecordError("NUMBER_OUTSIDE_VALID_RANGE", f"{fd.label}: value outside of valid range on numeric "
                              f"field: {value}", [fd.name])
        if fd.type == "picklist" and fd.restrictedPicklist and value not in fd.picklistValues:
            raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"{fd.label}: bad value for restricted "
                              f"picklist field: {value}", [fd.name])
        if fd.type == "reference":
            targets = fd.referenceTo or ()
            if not is_salesforce_id(value) or not any(value.startswith(KEY_PREFIXES[t]) for t in targets):
                raise RecordError("FIELD_INTEGRITY_EXCEPTION", f"{fd.label}: id value of incorrect type: {value}",
                                  [fd.name])
            target = next(t for t in targets if value.startswith(KEY_PREFIXES[t]))
            found = self._store[target].get(value[:15])
            if found is None or found["IsDeleted"]:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", [fd.name])

    def _apply(self, sobject: str, existing: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
        if existing is None:
            return self._insert(sobject, changes)
        for name, value in changes.items():
            fd = self._schema[sobject][name.lower()]
            existing[name] = round(value, fd.scale) if fd.type in ("double", "currency", "percent") and \
                value is not None else value
        self._derive(sobject, existing)
        self._touch(existing)
        return existing

    def _collection(self, call: _Call, create: bool) -> Response:
        payload = call.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
            raise SfHttpError(400, "JSON_PARSER_ERROR", "Cannot deserialize the request: records is required")
        records = payload["records"]
        if len(records) > MAX_COLLECTION_RECORDS:
            raise SfHttpError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records "
                              "into this call")
        if not records:
            raise SfHttpError(400, "INVALID_FIELD", "No records to process")
        all_or_none = bool(payload.get("allOrNone", False))
        self._check_json_types(records)
        prepared: list[tuple[str, dict[str, Any] | None, dict[str, Any]] | RecordError] = []
        for record in records:
            try:
                if not isinstance(record, dict):
                    raise SfHttpError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
                rtype = (record.get("attributes") or {}).get("type")
                if not rtype:
                    raise RecordError("INVALID_TYPE", "Must send a concrete entity type.", [])
                sobject = next((s for s in self._schema if s.lower() == str(rtype).lower()), None)
                if sobject is None:
                    raise RecordError("INVALID_TYPE", f"sObject type '{rtype}' is not supported.", [])
                values = {k: v for k, v in record.items() if k != "attributes" and k.lower() != "id"}
                record_id = next((v for k, v in record.items() if k.lower() == "id"), None)
                if create and record_id is not None:
                    raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
                if not create and record_id is None:
                    raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
                existing, changes = self._prepare(sobject, values, record_id=record_id, source="json")
                if all_or_none:
                    prepared.append((sobject, existing, changes))
                else:
                    prepared.append(self._apply(sobject, existing, changes))  # type: ignore[arg-type]
            except RecordError as error:
                prepared.append(error)
        if all_or_none and any(isinstance(p, RecordError) for p in prepared):
            rolled_back = RecordError("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all "
                                      "records were valid and the request was using AllOrNone header", [])
            return JSONResponse([
                {"success": False, "errors": [(p if isinstance(p, RecordError) else rolled_back).as_json()]}
                for p in prepared
            ])
        results = []
        for item in prepared:
            if isinstance(item, RecordError):
                results.append({"success": False, "errors": [item.as_json()]})
                continue
            record = self._apply(*item) if isinstance(item, tuple) else item
            result: dict[str, Any] = {"id": record["Id"], "success": True, "errors": []}
            results.append(result)
        return JSONResponse(results)

    def _check_json_types(self, records: list[Any]) -> None:
        """Salesforce deserialises the whole request before processing any record: a value of the wrong JSON type
        fails the request (400 JSON_PARSER_ERROR) with nothing applied."""
        for record in records:
            if not isinstance(record, dict):
                raise SfHttpError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
            rtype = str((record.get("attributes") or {}).get("type") or "")
            sobject = next((s for s in self._schema if s.lower() == rtype.lower()), None)
            if sobject is None:
                continue
            for name, raw in record.items():
                fd = self._schema[sobject].get(name.lower())
                if fd is None or name == "attributes":
                    continue
                try:
                    _coerce_json(fd, raw)
                except _TypeMismatch as exc:
                    raise SfHttpError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {fd.type} from "
                                      f"{exc} value {raw!r} or request may be missing a required field") from None

    def _collection_create(self, call: _Call) -> Response:
        return self._collection(call, create=True)

    def _collection_update(self, call: _Call) -> Response:
        return self._collection(call, create=False)

    def _create_one(self, call: _Call) -> Response:
        sobject = self._sobject(call.params["sobject"])
        payload = call.json()
        if not isinstance(payload, dict):
            raise SfHttpError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        try:
            existing, changes = self._prepare(sobject, payload, record_id=None, source="json")
        except RecordError as error:
            return JSONResponse([{"message": error.message, "errorCode": error.status_code, "fields": error.fields}],
                                status_code=400)
        record = self._apply(sobject, existing, changes)
        return JSONResponse({"id": record["Id"], "success": True, "errors": []}, status_code=201)

    def _one(self, call: _Call) -> tuple[str, dict[str, Any]]:
        sobject = self._sobject(call.params["sobject"])
        record = self._store[sobject].get(call.params["record_id"][:15])
        if record is None or record["IsDeleted"]:
            raise SfHttpError(404, "NOT_FOUND", "The requested resource does not exist")
        return sobject, record

    def _get_one(self, call: _Call) -> Response:
        sobject, record = self._one(call)
        names = call.query.get("fields")
        fields = [self._query_field(sobject, n.strip(), names) for n in names.split(",")] if names else \
            list(self._schema[sobject].values())
        return JSONResponse(self._serialize(sobject, record, fields, call.params["version"]))

    def _update_one(self, call: _Call) -> Response:
        sobject, record = self._one(call)
        payload = call.json()
        if not isinstance(payload, dict):
            raise SfHttpError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        try:
            existing, changes = self._prepare(sobject, payload, record_id=record["Id"], source="json")
        except RecordError as error:
            return JSONResponse([{"message": error.message, "errorCode": error.status_code, "fields": error.fields}],
                                status_code=400)
        self._apply(sobject, existing, changes)
        return Response(status_code=204)

    def _delete_one(self, call: _Call) -> Response:
        _, record = self._one(call)
        record["IsDeleted"] = True
        self._touch(record)
        return Response(status_code=204)

    # -- Bulk API 2.0 ingest -----------------------------------------------------------------------------------
    def _job_info(self, job: BulkJob, version: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id, "operation": job.operation, "object": job.object, "createdById": _make_id("005", 1),
            "createdDate": job.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "systemModstamp": self._now().strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "state": job.state, "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(version.lstrip("v")), "jobType": "V2Ingest",
            "contentUrl": f"services/data/{version}/jobs/ingest/{job.id}/batches",
            "lineEnding": job.line_ending, "columnDelimiter": next(k for k, v in JOB_DELIMITERS.items()
                                                                   if v == job.delimiter),
            "numberRecordsProcessed": job.processed, "numberRecordsFailed": job.failed, "retries": 0,
            "totalProcessingTime": 0,
        }
        if job.external_id_field:
            info["externalIdFieldName"] = job.external_id_field
        if job.error_message:
            info["errorMessage"] = job.error_message
        return info

    def _job(self, call: _Call) -> BulkJob:
        job = self._jobs.get(call.params["job_id"])
        if job is None:
            raise SfHttpError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def _job_create(self, call: _Call) -> Response:
        spec = call.json()
        if not isinstance(spec, dict):
            raise SfHttpError(400, "JSON_PARSER_ERROR", "Unexpected request body")
        operation = spec.get("operation")
        if operation not in JOB_OPERATIONS:
            raise SfHttpError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        sobject = next((s for s in self._schema if s.lower() == str(spec.get("object", "")).lower()), None)
        if sobject is None:
            raise SfHttpError(400, "INVALIDJOB", f"InvalidJob : Unable to find object: {spec.get('object')}")
        if operation == "upsert":
            key = self._schema[sobject].get(str(spec.get("externalIdFieldName") or "").lower())
            if not spec.get("externalIdFieldName"):
                raise SfHttpError(400, "INVALIDJOB", "InvalidJob : External ID was blank for upsert")
            if key is None or not (key.externalId or key.idLookup or key.name == "Id"):
                raise SfHttpError(400, "INVALIDJOB", f"InvalidJob : The field {spec['externalIdFieldName']} is not "
                                  f"an External ID or idLookup field on {sobject}")
        if spec.get("contentType", "CSV") != "CSV":
            raise SfHttpError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        delimiter = JOB_DELIMITERS.get(spec.get("columnDelimiter", "COMMA"))
        line_ending = spec.get("lineEnding", "LF")
        if delimiter is None or line_ending not in ("LF", "CRLF"):
            raise SfHttpError(400, "INVALIDJOB", "InvalidJob : invalid columnDelimiter or lineEnding")
        job = BulkJob(self._new_id(JOB_PREFIX), sobject, operation, spec.get("externalIdFieldName"), delimiter,
                      line_ending, created=self._now())
        self._jobs[job.id] = job
        return JSONResponse(self._job_info(job, call.params["version"]))

    def _job_upload(self, call: _Call) -> Response:
        job = self._job(call)
        if not call.headers.get("content-type", "").startswith("text/csv"):
            raise SfHttpError(415, "UNSUPPORTEDCONTENTTYPE", "Unsupported content type; use text/csv")
        if job.state != "Open" or job.data is not None:
            raise SfHttpError(409, "INVALIDJOBSTATE", f"Job {job.id} is not open for uploads (state {job.state}, "
                              "one upload per job)")
        job.data = call.body.decode("utf-8")
        return Response(status_code=201)

    def _job_patch(self, call: _Call) -> Response:
        job = self._job(call)
        state = (call.json() or {}).get("state")
        if state == "UploadComplete" and job.state == "Open":
            if job.data is None:
                job.state, job.error_message = "Failed", "InvalidBatch : No data uploaded"
            else:
                job.state = "UploadComplete"
        elif state == "Aborted" and job.state not in TERMINAL_JOB_STATES:
            job.state = "Aborted"
            if job.data:
                _, rows = self._parse_job_csv(job)
                job.unprocessed = rows
        else:
            raise SfHttpError(409, "INVALIDJOBSTATE", f"Cannot change the state of job {job.id} from {job.state} "
                              f"to {state}")
        return JSONResponse(self._job_info(job, call.params["version"]))

    def _job_get(self, call: _Call) -> Response:
        job = self._job(call)
        if job.state == "UploadComplete":
            job.state, job.polls_left = "InProgress", self.bulk_polls_in_progress
        if job.state == "InProgress":
            if job.polls_left > 0:
                job.polls_left -= 1
            else:
                self._process(job)
        return JSONResponse(self._job_info(job, call.params["version"]))

    def _job_delete(self, call: _Call) -> Response:
        job = self._job(call)
        if job.state not in (*TERMINAL_JOB_STATES, "UploadComplete", "Open"):
            raise SfHttpError(409, "INVALIDJOBSTATE", "Cannot delete a job in progress")
        del self._jobs[job.id]
        return Response(status_code=204)

    def _parse_job_csv(self, job: BulkJob) -> tuple[list[str], list[dict[str, str]]]:
        reader = csv.reader(io.StringIO(job.data or "", newline=""), delimiter=job.delimiter)
        rows = list(reader)
        if not rows:
            return [], []
        header = rows[0]
        return header, [dict(zip(header, row, strict=False)) for row in rows[1:] if row]

    def _process(self, job: BulkJob) -> None:
        header, rows = self._parse_job_csv(job)
        job.columns = header
        unknown = [c for c in header if c.lower() not in self._schema[job.object] and c.lower() != "id"]
        if unknown:
            job.state, job.error_message, job.unprocessed = (
                "Failed", f"InvalidBatch : Field name not found : {unknown[0]}", rows)
            return
        failure, self._next_job_failure = self._next_job_failure, None
        for n, row in enumerate(rows):
            if failure is not None and n >= failure[1]:
                job.state, job.error_message, job.unprocessed = "Failed", failure[0], rows[n:]
                break
            job.processed += 1
            try:
                record, created = self._bulk_row(job, row)
            except RecordError as error:
                job.failed += 1
                job.failures.append({"sf__Id": row.get("Id", "") if job.operation != "insert" else "",
                                     "sf__Error": error.as_bulk(), **row})
                continue
            job.successful.append({"sf__Id": record["Id"], "sf__Created": "true" if created else "false", **row})
        else:
            job.state = "JobComplete"
        for results in (job.successful, job.failures, job.unprocessed):
            self._rng.shuffle(results)

    def _bulk_row(self, job: BulkJob, row: dict[str, str]) -> tuple[dict[str, Any], bool]:
        sobject = job.object
        values = {k: v for k, v in row.items() if k.lower() != "id" and v != ""}
        record_id = next((v for k, v in row.items() if k.lower() == "id"), None) or None
        if job.operation in ("delete", "hardDelete"):
            existing, _ = self._prepare(sobject, {}, record_id=record_id or "", source="csv")
            assert existing is not None
            existing["IsDeleted"] = True
            self._touch(existing)
            return existing, False
        if job.operation == "insert":
            existing, changes = self._prepare(sobject, values, record_id=None, source="csv")
            return self._apply(sobject, existing, changes), True
        if job.operation == "update":
            if not record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
            existing, changes = self._prepare(sobject, values, record_id=record_id, source="csv")
            return self._apply(sobject, existing, changes), False
        key = self._field(sobject, job.external_id_field or "Id")
        key_value = row.get(next((c for c in row if c.lower() == key.name.lower()), key.name), "")
        matches = [r for r in self._store[sobject].values()
                   if not r["IsDeleted"] and str(r.get(key.name) or "").lower() == key_value.lower()]
        if len(matches) > 1:
            raise RecordError("DUPLICATE_EXTERNAL_ID", f"{key.label}: more than one record found for external id "
                              f"field: {[m['Id'] for m in matches]}", [key.name])
        values.pop(key.name, None) if key.name == "Id" else None
        if matches:
            existing, changes = self._prepare(sobject, values, record_id=matches[0]["Id"], source="csv")
            return self._apply(sobject, existing, changes), False
        existing, changes = self._prepare(sobject, values, record_id=None, source="csv")
        return self._apply(sobject, existing, changes), True

    def _results_csv(self, job: BulkJob, rows: list[dict[str, str]], extra: list[str]) -> Response:
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            raise SfHttpError(409, "INVALIDJOBSTATE", f"Job {job.id} is not complete (state {job.state})")
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        columns = job.columns or self._parse_job_csv(job)[0]
        writer.writerow([*extra, *columns])
        for row in rows:
            writer.writerow([row.get(c, "") for c in (*extra, *columns)])
        return Response(out.getvalue(), media_type="text/csv")

    def _job_successful(self, call: _Call) -> Response:
        job = self._job(call)
        return self._results_csv(job, job.successful, ["sf__Id", "sf__Created"])

    def _job_failed(self, call: _Call) -> Response:
        job = self._job(call)
        return self._results_csv(job, job.failures, ["sf__Id", "sf__Error"])

    def _job_unprocessed(self, call: _Call) -> Response:
        job = self._job(call)
        return self._results_csv(job, job.unprocessed, [])


def _seed_defaults(sobject: str, n: int) -> dict[str, Any]:
    """Values for the required fields a seeded record leaves out (a real org never holds a record without them)."""
    return {
        "Account": {"Name": f"Account {n}"},
        "Contact": {"LastName": f"Contact {n}"},
        "Opportunity": {"Name": f"Opportunity {n}", "StageName": "Prospecting", "CloseDate": "2026-12-31"},
        "User": {"Username": f"user{n}@example.com", "LastName": f"User {n}", "Email": f"user{n}@example.com",
                 "IsActive": True},
    }[sobject]


# ---------------------------------------------------------------------------------------------------------------
# Value coercion
# ---------------------------------------------------------------------------------------------------------------
def _parse_datetime(text: str) -> datetime:
    text = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _coerce_json(fd: FieldDef, raw: Any) -> Any:
    if raw is None:
        return False if fd.type == "boolean" else None
    if fd.type in NUMBER_TYPES:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _TypeMismatch("VALUE_STRING" if isinstance(raw, str) else type(raw).__name__)
        return int(raw) if fd.type in ("int", "long") else float(raw)
    if fd.type == "boolean":
        if not isinstance(raw, bool):
            raise _TypeMismatch(type(raw).__name__)
        return raw
    if not isinstance(raw, str):
        raise _TypeMismatch(type(raw).__name__)
    if raw == "":
        return None
    return _coerce_text(fd, raw)


def _coerce_csv(fd: FieldDef, raw: str) -> Any:
    if raw == "#N/A":
        return False if fd.type == "boolean" else None
    if fd.type in NUMBER_TYPES:
        if not _NUMBER_RE.match(raw.strip()):
            raise _TypeMismatch("text")
        return int(float(raw)) if fd.type in ("int", "long") else float(raw)
    if fd.type == "boolean":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise _TypeMismatch("text")
        return raw.lower() in ("true", "1")
    return _coerce_text(fd, raw)


def _coerce_text(fd: FieldDef, raw: str) -> Any:
    try:
        if fd.type == "date":
            return date.fromisoformat(raw[:10]).isoformat() if _DATE_RE.match(raw[:10]) else _fail(raw)
        if fd.type == "datetime":
            return _parse_datetime(raw)
    except ValueError:
        raise _TypeMismatch("VALUE_STRING") from None
    return raw


def _fail(raw: str) -> Any:
    raise _TypeMismatch("VALUE_STRING")


def _comparable(fd: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if fd.type in ID_TYPES:
        return str(value)[:15]
    if fd.type in STRING_TYPES:
        return str(value).lower()
    if fd.type in NUMBER_TYPES:
        return float(value)
    if fd.type == "date":
        return date.fromisoformat(value) if isinstance(value, str) else value
    return value


def _literal_for(fd: FieldDef, literal: tuple[str, Any]) -> Any:
    kind, value = literal
    if kind == "null":
        return None
    expected = {"boolean": "bool", "date": "date", "datetime": "datetime"}.get(fd.type)
    if fd.type in NUMBER_TYPES:
        expected = "num"
    if fd.type in STRING_TYPES or fd.type in ID_TYPES:
        expected = "str"
    if kind != expected:
        quoted = "should be enclosed in quotes" if expected == "str" else "should not be enclosed in quotes"
        raise SfHttpError(400, "INVALID_QUERY_FILTER_OPERATOR",
                          f"value of filter criterion for field '{fd.name}' must be of type {fd.type} and {quoted}")
    if kind == "str":
        text = _unescape(value)
        if fd.type in ID_TYPES:
            if not is_salesforce_id(text):
                raise SfHttpError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}")
            return text[:15]
        return text.lower()
    return value


def _matches(fd: FieldDef, condition: _Condition, raw: Any) -> bool:
    value = _comparable(fd, raw)
    if condition.op in ("IN", "NOT IN"):
        options = [_literal_for(fd, lit) for lit in condition.value]
        inside = value in options
        return inside if condition.op == "IN" else (not inside and value is not None)
    if condition.op == "LIKE":
        kind, pattern = condition.value
        if kind != "str" or fd.type not in STRING_TYPES:
            raise SfHttpError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on field '{fd.name}'")
        return value is not None and _like(pattern, str(raw))
    target = _literal_for(fd, condition.value)
    if condition.op == "=":
        return value == target
    if condition.op == "!=":
        return value != target
    if value is None or target is None:
        return False
    return {"<": value < target, ">": value > target, "<=": value <= target, ">=": value >= target}[condition.op]
