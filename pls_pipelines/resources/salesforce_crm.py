"""The Salesforce connector: REST query/describe/sObject Collections and Bulk API 2.0, behind the CrmClient interface.

Object map: companies = Account, contacts = Contact, deals = Opportunity, owners = User. The pipeline's own fields
are custom fields named after the FieldSpec plus "__c" (pls_pqa_score -> pls_pqa_score__c). Salesforce cannot create
fields over REST, so `ensure_properties` checks them with describe and raises a ConfigError with the definitions an
admin has to create.

Writes: up to `bulk_threshold` records go through sObject Collections (PATCH composite/sobjects, 200 per call,
allOrNone=false, results in request order); more go through a Bulk API 2.0 update job whose result files come back
in any order, so outcomes are matched by the Id column. Row locks (UNABLE_TO_LOCK_ROW) get a bounded number of
second passes with just those records; a record merged into another (ENTITY_IS_DELETED with a MasterRecordId) is
written to the survivor. Salesforce answers an exhausted org limit with 403 REQUEST_LIMIT_EXCEEDED: that is retried
after a long wait (`limit_backoff`), and a throttle reading Sforce-Limit-Info slows down before the limit.

Creates (missing contacts, demo records) are upserts by a natural key (email, website domain, deal name within its
account): look up first, create only what is missing, and after a timeout look up again, so a create that the
server applied before the connection died is never sent twice.

Secrets: the access token lives in the HTTP session header only; the password and security token are kept only to
log in again when the session expires. None of them appears in an error message, a log line or a repr.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests
import tenacity

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import CreateOutcome, FieldSpec, NewContact, RecordOutcome, RecordUpdate, to_crm_value
from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS, CUSTOMER_STAGE, LOST_STAGE, WON_STAGE
from pls_pipelines.resources.crm_http import DEFAULT_MAX_WAIT_SECONDS, CrmApiError, CrmHttp, error_text

log = logging.getLogger(__name__)

SOBJECTS = {"companies": "Account", "contacts": "Contact", "deals": "Opportunity", "owners": "User"}
READ_FIELDS = {
    "companies": ["Id", "Name", "Website", "Industry", "NumberOfEmployees", "BillingCountry", "OwnerId", "Type",
                  "CreatedDate"],
    "contacts": ["Id", "AccountId", "Email", "FirstName", "LastName", "Title", "CreatedDate"],
    "deals": ["Id", "AccountId", "Name", "StageName", "IsWon", "IsClosed", "Amount", "Type", "CreatedDate",
              "CloseDate"],
    "owners": ["Id", "Name", "Email", "Department"],
}
MERGEABLE = frozenset({"Account", "Contact"})  # objects with MasterRecordId
MAX_MERGE_HOPS = 3  # a survivor merged away again is followed this far
COLLECTION_SIZE = 200  # sObject Collections maximum
QUERY_IN_CHUNK = 200  # ids / emails per `IN (...)` list: keeps the query URL far below Salesforce's 16k limit
BULK_MAX_BYTES = 100_000_000  # raw CSV per Bulk API 2.0 job (150 MB base64)
CUSTOM_SUFFIX = "__c"

NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})
TEXT_TYPES = frozenset({"string", "textarea", "picklist", "email", "url", "phone", "combobox"})
COMPATIBLE_TYPES = {"number": NUMBER_TYPES, "string": TEXT_TYPES, "bool": {"boolean"}, "date": {"date"}}
FIELD_DEFINITIONS = {"number": "Number(18, 2)", "string": "Text(255)", "bool": "Checkbox (default unchecked)",
                     "date": "Date"}

_LIMIT_INFO = re.compile(r"(?:^|[;\s])api-usage=(\d+)/(\d+)")
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?$")


# ---------------------------------------------------------------------------------------------------------------
# Throttle
# ---------------------------------------------------------------------------------------------------------------
class SalesforceThrottle:
    """Paces requests by the org's daily API allocation, read from `Sforce-Limit-Info: api-usage=N/M`.

    Above `low_share` of the allocation left: no wait. Below it, each request waits up to `max_delay` seconds,
    more the less is left, so a big sync spreads out instead of draining what other integrations share. At
    `reserve` calls left (0: none) it waits `limit_backoff` before the next request rather than fire into a
    refusal; the response then says whether the rolling 24 hours freed anything.
    """

    def __init__(self, sleep: Callable[[float], None] = time.sleep, *, low_share: float = 0.05,
                 max_delay: float = 2.0, reserve: int = 0, limit_backoff: float = 300.0):
        self.sleep = sleep
        self.low_share, self.max_delay, self.reserve, self.limit_backoff = low_share, max_delay, reserve, limit_backoff
        self.used: int | None = None
        self.limit: int | None = None
        self._refused = False  # the last response was a 403 REQUEST_LIMIT_EXCEEDED: the retry wait covers it

    @property
    def remaining(self) -> int | None:
        return None if self.used is None or self.limit is None else self.limit - self.used

    def before_request(self, method: str, path: str) -> None:
        remaining = self.remaining
        if remaining is None or not self.limit:
            return
        if remaining <= self.reserve:
            if not self._refused:
                log.warning("Salesforce daily API allocation spent (%s of %s used); waiting %.0fs",
                            self.used, self.limit, self.limit_backoff)
                self.sleep(self.limit_backoff)
            return
        low_water = self.low_share * self.limit
        if remaining < low_water:
            self.sleep(self.max_delay * (1 - remaining / low_water))

    def after_response(self, response: requests.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.used, self.limit = int(match.group(1)), int(match.group(2))
        self._refused = _is_limit_exceeded(response)


def _error_codes(response: requests.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, list):
        return [str(e.get("errorCode")) for e in body if isinstance(e, dict)]
    return []


def _is_limit_exceeded(response: requests.Response) -> bool:
    return response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in _error_codes(response)


def _is_transient(response: requests.Response) -> bool:
    return response.status_code in (429, 500, 502, 503, 504) or _is_limit_exceeded(response)


# ---------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------
def custom_field_name(name: str) -> str:
    """The API name of one of our fields: pls_pqa_score -> pls_pqa_score__c."""
    return name if name.endswith(CUSTOM_SUFFIX) else f"{name}{CUSTOM_SUFFIX}"


def normalise_domain(value: object) -> str | None:
    """A website as a bare lower-case domain: "https://www.Acme.com/about" -> "acme.com"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.").strip(".")
    return host or None


def soql_quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'").replace("%", "\\%").replace("_", "\\_")


def _soql_datetime(value: datetime | str) -> str:
    when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_datetime(value: object) -> str | None:
    """Salesforce's "2026-11-30T12:00:00.000+0000" as canonical "2026-11-30T12:00:00Z"."""
    if value in (None, ""):
        return None
    text = str(value)
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_api_value(value: str | None, field_type: str | None) -> Any:
    """A canonical string as the JSON value Salesforce expects for the field's describe type. ValueError when the
    value cannot be one (the record then fails alone, without a call)."""
    if value is None or value == "":
        return None
    if field_type in NUMBER_TYPES:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return int(number) if number.is_integer() else number
    if field_type == "boolean":
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if field_type == "date":
        return date.fromisoformat(value[:10]).isoformat()
    if field_type == "datetime":
        return _soql_datetime(value)
    return str(value)


def _csv_value(value: Any) -> str:
    """A JSON-ready value as Bulk API 2.0 CSV text; #N/A sets a field to null (an empty cell leaves it unchanged)."""
    if value is None:
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10f}".rstrip("0").rstrip(".")
    return str(value)


def from_api_value(value: Any, field_type: str | None) -> str | None:
    """A value read from Salesforce as the canonical string (what `to_crm_value` made of the value written)."""
    if value is None:
        return None
    if field_type == "datetime":
        return iso_datetime(value)
    return to_crm_value(value)


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _errors_text(errors: Iterable[dict[str, Any]]) -> str:
    return "; ".join(f"{e.get('statusCode') or e.get('errorCode')}: {e.get('message', '')}" for e in errors) \
        or "UNKNOWN_ERROR: Salesforce reported a failure without a reason"


@dataclass
class _Result:
    """What one write pass did with one record."""

    ok: bool
    error: str | None = None
    codes: tuple[str, ...] = ()
    retryable: bool = False


@dataclass(repr=False)
class _Credentials:
    login_url: str
    client_id: str | None
    client_secret: str | None
    username: str | None
    password: str | None
    security_token: str | None

    def __repr__(self) -> str:
        return f"_Credentials(login_url={self.login_url!r}, <secrets redacted>)"


@dataclass
class _CreatePlan:
    """Creates keyed by a natural key: what exists (found), what we created, what failed."""

    ids: dict[str, str] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)  # sent in a call whose outcome we never saw
    retryable: set[str] = field(default_factory=set)  # failed for a transient reason that outlasted the retries


# ---------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------
class SalesforceCrm:
    """CrmClient for Salesforce. Either `instance_url` + `access_token`, or an OAuth login against `login_url`:
    the username-password flow (`username`, `password` with `security_token` appended, `client_id`,
    `client_secret` of the connected app) or, with no username, the client-credentials flow.
    `verify`: True, or the path of a CA bundle (a sandbox behind a corporate proxy, the test fake)."""

    kind = "salesforce"

    def __init__(
        self,
        instance_url: str | None = None,
        access_token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        security_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        login_url: str = "https://login.salesforce.com",
        api_version: str = "59.0",
        verify: bool | str = True,
        bulk_threshold: int = 2000,
        timeout: float = 30.0,
        max_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
        query_batch_size: int | None = None,
        limit_backoff: float = 300.0,
        lock_retries: int = 3,
        bulk_timeout: float = 3600.0,
    ):
        self.api_version = api_version.lstrip("v")
        self.bulk_threshold = bulk_threshold
        self.poll_interval = poll_interval
        self.query_batch_size = query_batch_size
        self.limit_backoff = limit_backoff
        self.lock_retries = lock_retries
        self.bulk_timeout = bulk_timeout
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._timeout, self._verify = timeout, verify
        self._describes: dict[str, dict[str, dict[str, Any]]] = {}
        self._credentials: _Credentials | None = None
        oauth_ready = bool(client_id and client_secret and (password if username else True))
        if oauth_ready:
            _require_https(login_url, "login URL (SALESFORCE_LOGIN_URL)")
            self._credentials = _Credentials(login_url.rstrip("/"), client_id, client_secret, username, password,
                                             security_token)
        if not (instance_url and access_token) and self._credentials is None:
            raise ConfigError(
                "Salesforce needs either an instance URL and access token (SALESFORCE_INSTANCE_URL, "
                "SALESFORCE_ACCESS_TOKEN), or an OAuth login: the connected app's client id and secret "
                "(SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET) with a username and password + security token "
                "(SALESFORCE_USERNAME, SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN)."
            )
        if access_token and instance_url:
            token = access_token
        else:
            instance_url, token = self._login()
        assert instance_url is not None
        _require_https(instance_url, "instance URL (SALESFORCE_INSTANCE_URL)")
        self.instance_url = instance_url.rstrip("/")
        self.throttle = SalesforceThrottle(sleep, limit_backoff=limit_backoff)
        self.http = CrmHttp(
            base_url=self.instance_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            is_transient=_is_transient,
            transient_wait=self._transient_wait,
            throttle=self.throttle,
            timeout=timeout,
            verify=verify,
            max_attempts=max_attempts,
            max_wait=max(limit_backoff, DEFAULT_MAX_WAIT_SECONDS),
            sleep=sleep,
        )
        # Not-idempotent calls (creates, job creation) go out once: after a timeout the caller looks up what the
        # server applied before trying again. Same session, same call counts.
        self._once = CrmHttp(
            base_url=self.instance_url, headers={}, is_transient=_is_transient, throttle=self.throttle,
            timeout=timeout, verify=verify, max_attempts=1, sleep=sleep, calls=self.http.calls,
            session=self.http.session,
        )

    def __repr__(self) -> str:
        return f"SalesforceCrm(instance_url={self.instance_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self.http.close()

    # -- HTTP --------------------------------------------------------------------------------------------------
    @property
    def _base(self) -> str:
        return f"/services/data/v{self.api_version}"

    def _transient_wait(self, response: requests.Response) -> float | None:
        return self.limit_backoff if _is_limit_exceeded(response) else None

    def _login(self) -> tuple[str, str]:
        creds = self._credentials
        assert creds is not None
        form = {"client_id": creds.client_id, "client_secret": creds.client_secret}
        if creds.username:
            form.update(grant_type="password", username=creds.username,
                        password=(creds.password or "") + (creds.security_token or ""))
        else:
            form["grant_type"] = "client_credentials"
        login = CrmHttp(base_url=creds.login_url, headers={"Accept": "application/json"},
                        is_transient=lambda r: r.status_code in (429, 500, 502, 503, 504), timeout=self._timeout,
                        verify=self._verify, max_attempts=self.max_attempts, sleep=self.sleep)
        try:
            response = login.request("POST", "/services/oauth2/token", data=form)
        finally:
            login.close()
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token") or not body.get("instance_url"):
            reason = f"{body.get('error', f'HTTP {response.status_code}')}: {body.get('error_description', '')}"
            raise ConfigError(
                f"Salesforce login at {creds.login_url} failed ({reason.strip(': ')}). Check SALESFORCE_USERNAME, "
                "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (a new token is e-mailed after a password reset), "
                "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (the connected app's consumer key and secret); "
                "sandboxes log in at SALESFORCE_LOGIN_URL=https://test.salesforce.com."
            )
        return body["instance_url"], body["access_token"]

    def _call(self, method: str, path: str, *, once: bool = False, label: str | None = None,
              **kwargs: Any) -> requests.Response:
        http = self._once if once else self.http
        response = http.request(method, path, label=label, **kwargs)
        if response.status_code == 401 and self._credentials is not None:
            _, token = self._login()
            self.http.session.headers["Authorization"] = f"Bearer {token}"
            response = http.request(method, path, label=label, **kwargs)
        if response.status_code == 401:
            raise CrmApiError(
                f"Salesforce refused the session ({error_text(response)}) on {method} {label or path.split('?')[0]}:"
                " the access token is expired, revoked or for another org. Get a new access token, or configure the "
                "OAuth login so the connector can log in again.",
                status=401,
            )
        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        if response.status_code >= 300:
            raise CrmApiError(f"Salesforce {what}: HTTP {response.status_code}: {error_text(response)}",
                              status=response.status_code, body=None)
        return response.json()

    # -- reading -----------------------------------------------------------------------------------------------
    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """The records of a SOQL query (attributes dropped), following nextRecordsUrl until done."""
        path = f"{self._base}/{'queryAll' if include_deleted else 'query'}"
        headers = {"Sforce-Query-Options": f"batchSize={self.query_batch_size}"} if self.query_batch_size else {}
        response = self._call("GET", path, params={"q": soql}, headers=headers, label=path)
        while True:
            body = self._json(response, f"query on {soql.split(' FROM ')[-1].split()[0]}")
            for record in body.get("records", []):
                yield {k: v for k, v in record.items() if k != "attributes"}
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            response = self._call("GET", next_url, headers=headers, label=f"{path}/{{locator}}")

    def _sobject(self, object_type: str) -> str:
        try:
            return SOBJECTS[object_type]
        except KeyError:
            raise ValueError(f"unknown CRM object type {object_type!r}; expected one of {tuple(SOBJECTS)}") from None

    def read(self, object_type: str) -> pd.DataFrame:
        sobject = self._sobject(object_type)
        rows = list(self.query(f"SELECT {', '.join(READ_FIELDS[object_type])} FROM {sobject}"))
        return self._canonical(object_type, rows)

    def read_modified_since(self, object_type: str, since: datetime | str) -> pd.DataFrame:
        """Like `read`, for the records changed after `since` (SystemModstamp, to the second, inclusive side)."""
        sobject = self._sobject(object_type)
        rows = list(self.query(
            f"SELECT {', '.join(READ_FIELDS[object_type])} FROM {sobject} WHERE SystemModstamp > "
            f"{_soql_datetime(since)}"
        ))
        return self._canonical(object_type, rows)

    def _canonical(self, object_type: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
        columns = CANONICAL_COLUMNS[object_type]
        convert = {
            "companies": _company_row, "contacts": _contact_row, "deals": _deal_row, "owners": _owner_row,
        }[object_type]
        frame = pd.DataFrame([convert(r) for r in rows], columns=columns)
        for column in ("employee_count", "amount"):
            if column in frame.columns:
                frame[column] = pd.to_numeric(frame[column])
        return frame.sort_values(columns[0], ignore_index=True)

    def count_records(self, object_type: str) -> int:
        sobject = self._sobject(object_type)
        path = f"{self._base}/query"
        body = self._json(self._call("GET", path, params={"q": f"SELECT COUNT() FROM {sobject}"}, label=path),
                          f"count of {sobject}")
        return int(body["totalSize"])

    def find_company(self, query: str) -> dict | None:
        text = query.strip()
        if not text:
            return None
        select = f"SELECT {', '.join(READ_FIELDS['companies'])} FROM Account"
        found: list[dict[str, Any]] = []
        domain = normalise_domain(text)
        if domain and "." in domain:
            rows = self.query(f"{select} WHERE Website LIKE '%{_like_escape(domain)}%'")
            found += [r for r in rows if normalise_domain(r.get("Website")) == domain]
        if _ID_RE.match(text) and text.startswith("001"):
            found += list(self.query(f"{select} WHERE Id = {soql_quote(text)}"))
        found += list(self.query(f"{select} WHERE Name = {soql_quote(text)}"))
        if not found:
            return None
        frame = self._canonical("companies", found)
        return {k: _clean(v) for k, v in frame.iloc[0].to_dict().items()}

    def describe(self, sobject: str, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        """Describe fields by lower-case API name (cached)."""
        if refresh or sobject not in self._describes:
            path = f"{self._base}/sobjects/{sobject}/describe"
            body = self._json(self._call("GET", path, label=path), f"describe {sobject}")
            self._describes[sobject] = {f["name"].lower(): f for f in body["fields"]}
        return self._describes[sobject]

    def read_properties(self, object_type: str, record_ids: Sequence[str] | None = None) -> pd.DataFrame:
        sobject = self._sobject(object_type)
        ours = [f for f in self.describe(sobject).values()
                if f["name"].lower().startswith("pls_") and f["name"].lower().endswith(CUSTOM_SUFFIX)]
        out: list[tuple[str, str, str]] = []
        if ours:
            select = f"SELECT Id, {', '.join(f['name'] for f in ours)} FROM {sobject}"
            if record_ids is None:
                rows: Iterable[dict[str, Any]] = self.query(select)
            else:
                ids = sorted({i for i in map(str, record_ids) if _ID_RE.match(i)})
                rows = (r for chunk in _chunks(ids, QUERY_IN_CHUNK)
                        for r in self.query(f"{select} WHERE Id IN ({', '.join(map(soql_quote, chunk))})"))
            for record in rows:
                for f in ours:
                    value = from_api_value(record.get(f["name"]), f.get("type"))
                    if value is not None:
                        out.append((record["Id"], f["name"][: -len(CUSTOM_SUFFIX)], value))
        return pd.DataFrame(sorted(out), columns=["record_id", "name", "value"])

    # -- schema ------------------------------------------------------------------------------------------------
    def ensure_properties(
        self, object_type: str, fields: Iterable[FieldSpec], group_name: str, group_label: str = ""
    ) -> int:
        """Verify our custom fields with describe; 0 when all exist and are writable, else a ConfigError listing
        every field to create or fix, with its definition (Salesforce fields cannot be created over REST)."""
        sobject = self._sobject(object_type)
        described = self.describe(sobject, refresh=True)
        problems = []
        for spec in fields:
            api_name = custom_field_name(spec.name)
            found = described.get(api_name.lower())
            expected = COMPATIBLE_TYPES.get(spec.type, TEXT_TYPES)
            if found is None:
                issue = "missing"
            elif not found.get("updateable"):
                issue = "exists but is read-only for the integration user (field-level security or a formula field)"
            elif found.get("type") not in expected:
                issue = f"exists with type {found.get('type')}, which cannot hold a {spec.type}"
            else:
                continue
            problems.append(
                f'  - {api_name} ({issue}): Field Label "{spec.label}", Field Name {api_name[:-len(CUSTOM_SUFFIX)]},'
                f' Data Type {FIELD_DEFINITIONS.get(spec.type, "Text(255)")}, Description "{spec.description}"'
            )
        if problems:
            section = group_label or group_name
            raise ConfigError(
                f"Salesforce {sobject} lacks {len(problems)} field(s) pls-pipelines writes (config/crm_fields.yaml "
                f"objects.{object_type}). Salesforce fields cannot be created through the API: an admin creates them "
                f"in Setup > Object Manager > {sobject} > Fields & Relationships (put them in a page-layout section "
                f"{section!r}) and gives the integration user Edit access:\n" + "\n".join(problems)
                + "\nOr remove the fields from config/crm_fields.yaml. Then run again."
            )
        return 0

    # -- updates -----------------------------------------------------------------------------------------------
    def update_records(self, object_type: str, updates: Sequence[RecordUpdate]) -> list[RecordOutcome]:
        sobject = self._sobject(object_type)
        if not updates:
            return []
        described = self.describe(sobject)
        outcomes: dict[int, RecordOutcome] = {}
        payloads: dict[int, dict[str, Any]] = {}
        for i, update in enumerate(updates):
            try:
                payloads[i] = {
                    (api := custom_field_name(name)): to_api_value(value, described.get(api.lower(), {}).get("type"))
                    for name, value in update.properties.items()
                }
            except ValueError as exc:
                outcomes[i] = RecordOutcome(update.record_id, False, f"INVALID_TYPE_ON_FIELD_IN_RECORD: {exc}")
        targets = {i: updates[i].record_id for i in payloads}
        merged: dict[int, str] = {}
        lock_tries: Counter[int] = Counter()
        merge_hops: Counter[int] = Counter()
        last: dict[int, _Result] = {}
        pending = sorted(payloads)
        passes = 0
        while pending:
            if passes and any(lock_tries[i] for i in pending):
                self.sleep(min(2.0 ** passes, 30.0))
            passes += 1
            items = [(i, targets[i], payloads[i]) for i in pending]
            if len(items) > self.bulk_threshold:
                results = self._bulk_update(sobject, items)
            else:
                results = self._collection_update(sobject, items)
            retry, deleted = [], []
            for i in pending:
                result = last[i] = results[i]
                if result.ok:
                    outcomes[i] = RecordOutcome(updates[i].record_id, True, merged_into=merged.get(i))
                elif "UNABLE_TO_LOCK_ROW" in result.codes and lock_tries[i] < self.lock_retries:
                    lock_tries[i] += 1
                    retry.append(i)
                elif "ENTITY_IS_DELETED" in result.codes and sobject in MERGEABLE and merge_hops[i] < MAX_MERGE_HOPS:
                    merge_hops[i] += 1
                    deleted.append(i)
                else:
                    outcomes[i] = RecordOutcome(updates[i].record_id, False, result.error,
                                                retryable=result.retryable or "UNABLE_TO_LOCK_ROW" in result.codes,
                                                merged_into=merged.get(i))
            if deleted:
                masters = self._merge_survivors(sobject, [targets[i] for i in deleted])
                for i in deleted:
                    master = masters.get(targets[i][:15])
                    if master:
                        targets[i] = merged[i] = master
                        retry.append(i)
                    else:
                        outcomes[i] = RecordOutcome(updates[i].record_id, False, last[i].error)
            pending = sorted(retry)
        return [outcomes[i] for i in range(len(updates))]

    def _merge_survivors(self, sobject: str, record_ids: Sequence[str]) -> dict[str, str]:
        """15-char id of a merged-away record -> the id of the record it was merged into."""
        out: dict[str, str] = {}
        ids = sorted({i for i in record_ids if _ID_RE.match(i)})
        for chunk in _chunks(ids, QUERY_IN_CHUNK):
            for row in self.query(f"SELECT Id, MasterRecordId FROM {sobject} WHERE Id IN "
                                  f"({', '.join(map(soql_quote, chunk))}) AND IsDeleted = true", include_deleted=True):
                if row.get("MasterRecordId"):
                    out[row["Id"][:15]] = row["MasterRecordId"]
        return out

    def _collection_update(self, sobject: str, items: Sequence[tuple[int, str, dict[str, Any]]]
                           ) -> dict[int, _Result]:
        """One PATCH composite/sobjects per 200 records, allOrNone=false; results by index (request order)."""
        path = f"{self._base}/composite/sobjects"
        results: dict[int, _Result] = {}
        stopped: _Result | None = None
        for chunk in _chunks(items, COLLECTION_SIZE):
            if stopped is not None:
                results.update({i: stopped for i, _, _ in chunk})
                continue
            payload = {"allOrNone": False, "records": [
                {"attributes": {"type": sobject}, "id": target, **fields} for _, target, fields in chunk
            ]}
            try:
                response = self._call("PATCH", path, json=payload, label=path)
            except CrmApiError as exc:
                if exc.status == 401:
                    raise
                failed = _Result(False, str(exc), retryable=exc.retryable)
                results.update({i: failed for i, _, _ in chunk})
                if exc.status == 403 or not exc.retryable:
                    stopped = failed  # the org limit (or the throttle) stopped us: don't spend more calls
                continue
            if response.status_code != 200:
                failed = _Result(False, f"HTTP {response.status_code}: {error_text(response)}")
                results.update({i: failed for i, _, _ in chunk})
                continue
            body = response.json()
            if not isinstance(body, list) or len(body) != len(chunk):
                failed = _Result(False, "UNEXPECTED_RESPONSE: Salesforce returned a result list of the wrong length",
                                 retryable=True)
                results.update({i: failed for i, _, _ in chunk})
                continue
            for (i, _, _), item in zip(chunk, body, strict=True):
                if item.get("success"):
                    results[i] = _Result(True)
                else:
                    errors = item.get("errors") or []
                    results[i] = _Result(False, _errors_text(errors),
                                         tuple(str(e.get("statusCode")) for e in errors))
        return results

    def _bulk_update(self, sobject: str, items: Sequence[tuple[int, str, dict[str, Any]]]) -> dict[int, _Result]:
        """Bulk API 2.0 update jobs (one per 100 MB of CSV); results correlated by the Id column."""
        results: dict[int, _Result] = {}
        columns = sorted({name for _, _, fields in items for name in fields})
        job_items: list[tuple[int, str, dict[str, Any]]] = []
        size = 0
        batches: list[list[tuple[int, str, dict[str, Any]]]] = []
        for item in items:
            row_size = len(item[1]) + sum(len(_csv_value(v)) + 3 for v in item[2].values()) + 8
            if job_items and size + row_size > BULK_MAX_BYTES:
                batches.append(job_items)
                job_items, size = [], 0
            job_items.append(item)
            size += row_size
        if job_items:
            batches.append(job_items)
        for batch in batches:
            results.update(self._bulk_job(sobject, columns, batch))
        return results

    def _bulk_job(self, sobject: str, columns: list[str], items: Sequence[tuple[int, str, dict[str, Any]]]
                  ) -> dict[int, _Result]:
        base = f"{self._base}/jobs/ingest"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Id", *columns])
        for _, target, fields in items:
            writer.writerow([target, *(_csv_value(fields[c]) if c in fields else "" for c in columns)])
        job_id = None
        try:
            job = self._json(self._call("POST", base, once=True, label=base, json={
                "object": sobject, "operation": "update", "contentType": "CSV", "lineEnding": "LF",
                "columnDelimiter": "COMMA",
            }), f"create Bulk API job for {sobject}")
            job_id = job["id"]
            upload = self._call("PUT", f"{base}/{job_id}/batches", label=f"{base}/{{id}}/batches",
                                data=out.getvalue().encode("utf-8"), headers={"Content-Type": "text/csv"})
            if upload.status_code != 201:
                raise CrmApiError(f"Salesforce Bulk API upload to job {job_id}: HTTP {upload.status_code}: "
                                  f"{error_text(upload)}", status=upload.status_code, retryable=True)
            closed = self._call("PATCH", f"{base}/{job_id}", label=f"{base}/{{id}}", json={"state": "UploadComplete"})
            if closed.status_code != 200 and self._job_info(job_id)["state"] == "Open":
                raise CrmApiError(f"Salesforce Bulk API job {job_id} could not be closed: HTTP {closed.status_code}: "
                                  f"{error_text(closed)}", status=closed.status_code, retryable=True)
            info = self._wait_for_job(job_id)
            log.info("Salesforce Bulk API job %s (%s update, %d records): %s", job_id, sobject, len(items),
                     info["state"])
            successful = self._job_results(job_id, "successfulResults")
            failed = self._job_results(job_id, "failedResults")
            unprocessed = self._job_results(job_id, "unprocessedrecords")
        except CrmApiError as exc:
            if exc.status == 401:
                raise
            if job_id is not None:
                self._abort_job(job_id)
            failure = _Result(False, str(exc), retryable=True)
            return {i: failure for i, _, _ in items}
        by_id: dict[str, deque[int]] = defaultdict(deque)
        for i, target, _ in items:
            by_id[target].append(i)
        results: dict[int, _Result] = {}

        def take(row: dict[str, str]) -> int | None:
            queue = by_id.get(row.get("Id", ""))
            return queue.popleft() if queue else None

        for row in successful:
            if (i := take(row)) is not None:
                results[i] = _Result(True)
        for row in failed:
            if (i := take(row)) is not None:
                code, message = _parse_bulk_error(row.get("sf__Error", ""))
                results[i] = _Result(False, f"{code}: {message}", (code,))
        reason = info.get("errorMessage") or info["state"]
        for row in unprocessed:
            if (i := take(row)) is not None:
                results[i] = _Result(False, f"UNPROCESSED: Bulk API job {job_id} ended {info['state']} before this "
                                     f"record was processed ({reason})", retryable=True)
        for i, _, _ in items:
            results.setdefault(i, _Result(False, f"NO_RESULT: Bulk API job {job_id} ({info['state']}) reported "
                                          "nothing for this record", retryable=True))
        return results

    def _job_info(self, job_id: str) -> dict[str, Any]:
        path = f"{self._base}/jobs/ingest/{job_id}"
        return self._json(self._call("GET", path, label=f"{self._base}/jobs/ingest/{{id}}"), f"Bulk API job {job_id}")

    def _wait_for_job(self, job_id: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            info = self._job_info(job_id)
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                return info
            if waited >= self.bulk_timeout:
                raise CrmApiError(f"Salesforce Bulk API job {job_id} still {info['state']} after {waited:.0f}s",
                                  retryable=True)
            self.sleep(self.poll_interval)
            waited += self.poll_interval

    def _job_results(self, job_id: str, kind: str) -> list[dict[str, str]]:
        base = f"{self._base}/jobs/ingest"
        response = self._call("GET", f"{base}/{job_id}/{kind}", label=f"{base}/{{id}}/{kind}",
                              headers={"Accept": "text/csv"})
        if response.status_code != 200:
            raise CrmApiError(f"Salesforce Bulk API {kind} of job {job_id}: HTTP {response.status_code}: "
                              f"{error_text(response)}", status=response.status_code, retryable=True)
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))

    def _abort_job(self, job_id: str) -> None:
        path = f"{self._base}/jobs/ingest/{job_id}"
        try:
            self._call("PATCH", path, label=f"{self._base}/jobs/ingest/{{id}}", json={"state": "Aborted"})
        except CrmApiError:
            log.warning("could not abort Salesforce Bulk API job %s", job_id)

    # -- creates -----------------------------------------------------------------------------------------------
    def _create_missing(self, sobject: str, payloads: dict[str, dict[str, Any]],
                        find: Callable[[list[str]], dict[str, str]]) -> _CreatePlan:
        """Create the records of `payloads` (natural key -> fields) that `find` does not find; safe to repeat.

        A create is sent once; when its outcome is unknown (timeout, 5xx, limit) the next attempt looks the keys up
        again, so what the server applied is found instead of created twice."""
        plan = _CreatePlan()
        path = f"{self._base}/composite/sobjects"

        def attempt() -> None:
            todo = [k for k in payloads if k not in plan.ids and k not in plan.errors]
            if not todo:
                return
            found = find(todo)
            plan.ids.update(found)
            plan.created.update(k for k in found if k in plan.in_flight)
            for chunk in _chunks([k for k in todo if k not in found], COLLECTION_SIZE):
                body = {"allOrNone": False,
                        "records": [{"attributes": {"type": sobject}, **payloads[k]} for k in chunk]}
                plan.in_flight.update(chunk)
                response = self._call("POST", path, once=True, json=body, label=path)
                if response.status_code != 200 or not isinstance(response.json(), list):
                    plan.errors.update({k: f"HTTP {response.status_code}: {error_text(response)}" for k in chunk})
                    continue
                for key, item in zip(chunk, response.json(), strict=True):
                    plan.in_flight.discard(key)
                    if item.get("success"):
                        plan.ids[key] = item["id"]
                        plan.created.add(key)
                    else:
                        plan.errors[key] = _errors_text(item.get("errors") or [])

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, CrmApiError) and e.retryable),
            wait=self._create_wait, stop=tenacity.stop_after_attempt(self.max_attempts), sleep=self.sleep,
            reraise=True,
        )
        try:
            for try_ in retrying:
                with try_:
                    attempt()
        except CrmApiError as exc:
            if exc.status == 401:
                raise
            for key in payloads:
                if key not in plan.ids and key not in plan.errors:
                    plan.errors[key] = str(exc)
                    plan.retryable.add(key)
        return plan

    def _create_wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, CrmApiError) and exc.status == 403:
            return self.limit_backoff
        return min(0.5 * 2 ** (state.attempt_number - 1), DEFAULT_MAX_WAIT_SECONDS)

    def _find_in(self, sobject: str, key_field: str, values: Sequence[str], *, extra: str = "",
                 key: Callable[[dict[str, Any]], str] | None = None) -> dict[str, str]:
        """Lower-cased `key_field` value (or `key(row)`) -> Id of the oldest match, for `values`."""
        out: dict[str, str] = {}
        select = f"SELECT Id, {key_field}{extra} FROM {sobject} WHERE {key_field} IN"
        for chunk in _chunks(sorted(set(values)), QUERY_IN_CHUNK):
            rows = self.query(f"{select} ({', '.join(map(soql_quote, chunk))})")
            for row in sorted(rows, key=lambda r: r["Id"]):
                name = key(row) if key else str(row.get(key_field) or "").lower()
                out.setdefault(name, row["Id"])
        return out

    def create_contacts(self, contacts: Sequence[NewContact]) -> list[CreateOutcome]:
        payloads: dict[str, dict[str, Any]] = {}
        for contact in contacts:
            email = contact.email.strip().lower()
            payloads.setdefault(email, {
                "Email": email, "AccountId": contact.company_id, "FirstName": contact.first_name or None,
                "LastName": contact.last_name or email.split("@")[0], "Title": contact.title or None,
            })
        plan = self._create_missing("Contact", payloads, lambda emails: self._find_in("Contact", "Email", emails))
        outcomes, reported = [], set()
        for contact in contacts:
            email = contact.email.strip().lower()
            if email in plan.ids:
                created = email in plan.created and email not in reported
                reported.add(email)
                outcomes.append(CreateOutcome(contact.key, plan.ids[email], True, created=created))
            else:
                outcomes.append(CreateOutcome(contact.key, None, False, error=plan.errors.get(email),
                                              retryable=email in plan.retryable))
        return outcomes

    # -- demo data ---------------------------------------------------------------------------------------------
    def load_demo(
        self, owners: pd.DataFrame, companies: pd.DataFrame, contacts: pd.DataFrame, deals: pd.DataFrame
    ) -> dict[str, dict[str, str]]:
        """Upsert demo records: accounts by website domain, contacts by email, opportunities by name within their
        account. Owners are matched to users by email (users are not created); unmatched records keep the
        integration user as owner. Existing records get only their changed fields written."""
        mapping: dict[str, dict[str, str]] = {"owners": {}, "companies": {}, "contacts": {}, "deals": {}}
        owner_emails = {str(e).strip().lower(): str(o) for o, e in zip(owners["owner_id"], owners["email"],
                                                                       strict=True) if _clean(e)}
        users = self._find_in("User", "Email", list(owner_emails))
        mapping["owners"] = {owner_emails[e]: uid for e, uid in users.items() if e in owner_emails}

        # Accounts, by normalised website domain (or the name for a company without one).
        account_fields = ["Name", "Website", "Industry", "NumberOfEmployees", "BillingCountry", "OwnerId", "Type"]
        payloads: dict[str, dict[str, Any]] = {}
        demo_keys: dict[str, str] = {}
        for row in companies.to_dict("records"):
            domain = normalise_domain(row.get("domain"))
            key = domain or f"name:{str(row.get('name')).strip().lower()}"
            demo_keys[str(row["company_id"])] = key
            stage = _clean(row.get("lifecycle_stage"))
            payload = {
                "Name": _clean(row.get("name")), "Website": domain, "Industry": _clean(row.get("industry")),
                "NumberOfEmployees": None if _clean(row.get("employee_count")) is None
                else int(row["employee_count"]),
                "BillingCountry": _clean(row.get("country")),
                "Type": "Customer - Direct" if stage == CUSTOMER_STAGE else "Prospect",
            }
            owner = mapping["owners"].get(str(_clean(row.get("owner_id"))))
            if owner:
                payload["OwnerId"] = owner
            payloads.setdefault(key, payload)
        current: dict[str, dict[str, Any]] = {}

        def find_accounts(keys: list[str]) -> dict[str, str]:
            wanted = set(keys)
            for record in sorted(self.query(f"SELECT Id, {', '.join(account_fields)} FROM Account"),
                                 key=lambda r: r["Id"]):
                key = normalise_domain(record.get("Website")) or f"name:{str(record.get('Name')).strip().lower()}"
                if key in wanted and key not in current:
                    current[key] = record
            return {k: current[k]["Id"] for k in keys if k in current}

        accounts = self._create_missing("Account", payloads, find_accounts)
        self._update_changed("Account", payloads, accounts, current)
        mapping["companies"] = {cid: accounts.ids[k] for cid, k in demo_keys.items() if k in accounts.ids}

        # Contacts, by email.
        contact_payloads: dict[str, dict[str, Any]] = {}
        contact_keys: dict[str, str] = {}
        for row in contacts.to_dict("records"):
            email = str(_clean(row.get("email")) or "").strip().lower()
            if not email:
                continue
            contact_keys[str(row["contact_id"])] = email
            contact_payloads.setdefault(email, {
                "Email": email, "AccountId": mapping["companies"].get(str(_clean(row.get("company_id")))),
                "FirstName": _clean(row.get("first_name")),
                "LastName": _clean(row.get("last_name")) or email.split("@")[0], "Title": _clean(row.get("title")),
            })
        created = self._create_missing(
            "Contact", contact_payloads, lambda emails: self._find_in("Contact", "Email", emails))
        mapping["contacts"] = {cid: created.ids[e] for cid, e in contact_keys.items() if e in created.ids}

        # Opportunities, by name within their account.
        deal_payloads: dict[str, dict[str, Any]] = {}
        deal_keys: dict[str, str] = {}
        for row in deals.to_dict("records"):
            account = mapping["companies"].get(str(_clean(row.get("company_id"))))
            name = _clean(row.get("name"))
            if not account or not name:
                continue
            key = f"{account[:15]}|{str(name).strip().lower()}"
            deal_keys[str(row["deal_id"])] = key
            stage = str(_clean(row.get("stage")) or "Prospecting")
            close = _clean(row.get("close_date")) or _clean(row.get("created_at")) or date.today().isoformat()
            amount = _clean(row.get("amount"))
            deal_payloads.setdefault(key, {
                "AccountId": account, "Name": name,
                "StageName": {WON_STAGE: "Closed Won", LOST_STAGE: "Closed Lost"}.get(stage, stage),
                "Amount": None if amount is None else float(amount), "Type": _clean(row.get("deal_type")),
                "CloseDate": str(close)[:10],
            })

        def find_deals(keys: list[str]) -> dict[str, str]:
            accounts_wanted = sorted({k.split("|", 1)[0] for k in keys})
            found = self._find_in("Opportunity", "AccountId", accounts_wanted, extra=", Name",
                                  key=lambda r: f"{r['AccountId'][:15]}|{str(r.get('Name')).strip().lower()}")
            return {k: found[k] for k in keys if k in found}

        opportunities = self._create_missing("Opportunity", deal_payloads, find_deals)
        mapping["deals"] = {did: opportunities.ids[k] for did, k in deal_keys.items() if k in opportunities.ids}
        failed = {**accounts.errors, **created.errors, **opportunities.errors}
        if failed:
            log.warning("Salesforce demo load: %d records failed, e.g. %s", len(failed), next(iter(failed.values())))
        return mapping

    def _update_changed(self, sobject: str, payloads: dict[str, dict[str, Any]], plan: _CreatePlan,
                        current: dict[str, dict[str, Any]]) -> None:
        """Write the fields of found (not created) records that differ from `payloads`."""
        items = []
        for n, (key, payload) in enumerate(payloads.items()):
            record = current.get(key)
            if record is None or key in plan.created:
                continue
            changed = {k: v for k, v in payload.items() if _differs(record.get(k), v, k)}
            if changed:
                items.append((n, record["Id"], changed))
        if items:
            results = self._collection_update(sobject, items)
            bad = [r.error for r in results.values() if not r.ok]
            if bad:
                log.warning("Salesforce demo load: %d %s updates failed, e.g. %s", len(bad), sobject, bad[0])


def _differs(current: Any, wanted: Any, name: str) -> bool:
    if name == "Website":
        return normalise_domain(current) != normalise_domain(wanted)
    if isinstance(wanted, int | float) and isinstance(current, int | float):
        return float(current) != float(wanted)
    return (current or None) != (wanted or None)


def _parse_bulk_error(text: str) -> tuple[str, str]:
    """"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--" -> (code, message)."""
    code, _, rest = text.partition(":")
    rest = rest.strip().removesuffix("--").strip()
    message, sep, fields = rest.rpartition(":")
    if not sep or " " in fields.strip(", "):
        message = rest
    return (code.strip() or "UNKNOWN_ERROR"), message.strip(" :")


def _require_https(url: str, what: str) -> None:
    if not url.lower().startswith("https://"):
        raise ConfigError(f"The Salesforce {what} must be an https:// URL (got {url.split('?')[0]!r}): the access "
                          "token is never sent over plain HTTP.")


def _company_row(r: dict[str, Any]) -> list[Any]:
    account_type = r.get("Type")
    stage = None
    if account_type:
        stage = CUSTOMER_STAGE if str(account_type).lower().startswith("customer") else str(account_type).lower()
    return [r["Id"], r.get("Name"), normalise_domain(r.get("Website")), r.get("Industry"), r.get("NumberOfEmployees"),
            r.get("BillingCountry"), r.get("OwnerId"), stage, iso_datetime(r.get("CreatedDate"))]


def _contact_row(r: dict[str, Any]) -> list[Any]:
    email = r.get("Email")
    return [r["Id"], r.get("AccountId"), email.lower() if email else None, r.get("FirstName"), r.get("LastName"),
            r.get("Title"), iso_datetime(r.get("CreatedDate"))]


def _deal_row(r: dict[str, Any]) -> list[Any]:
    stage_name = r.get("StageName")
    if r.get("IsWon") or stage_name == "Closed Won":
        stage = WON_STAGE
    elif stage_name == "Closed Lost" or (r.get("IsClosed") and not r.get("IsWon")):
        stage = LOST_STAGE
    else:
        stage = stage_name
    return [r["Id"], r.get("AccountId"), r.get("Name"), stage, r.get("Amount"), r.get("Type"),
            iso_datetime(r.get("CreatedDate")), r.get("CloseDate")]


def _owner_row(r: dict[str, Any]) -> list[Any]:
    email = r.get("Email")
    return [r["Id"], r.get("Name"), email.lower() if email else None, r.get("Department")]
