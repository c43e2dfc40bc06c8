"""HubSpotApi: the HubSpot session, and the request patterns every HubSpot operation is built from.

It holds the access token (in the HTTP session only), the throttle and the retry policy, and the calls that the
CrmClient operations (client.py), ensure_properties (properties.py) and the demo loader (demo.py) share: checked
GET/POST, batch writes answered input by input (a whole-batch 400 split in halves), paging, batch reads, the
property definitions cache and company associations. Separate so that the operations read as what they do, not
as how HubSpot is called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import requests

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.resources.crm_http import CrmApiError, CrmHttp, error_text
from pls_pipelines.resources.hubspot.records import PRIMARY_COMPANY
from pls_pipelines.resources.hubspot.responses import (
    BatchResult,
    bad_properties,
    error_reason,
    is_transient,
    json_body,
    validation_details,
)
from pls_pipelines.resources.hubspot.throttle import HubSpotThrottle

DEFAULT_BASE_URL = "https://api.hubapi.com"
OBJECT_TYPES = ("companies", "contacts", "deals")
BATCH_LIMIT = 100  # inputs per batch/read|update|upsert|create call
PAGE_LIMIT = 100  # records per list page
ASSOCIATION_READ_LIMIT = 1000  # ids per v4 association batch/read


class HubSpotApi:
    """The authenticated HubSpot session and the calls built on it; the constructor's arguments are described
    on HubSpotCrm, the class callers use."""

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
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json",
                     "Content-Type": "application/json"},
            is_transient=is_transient,
            transient_wait=self._transient_wait,
            throttle=self.throttle,
            timeout=timeout,
            max_attempts=max_attempts,
            sleep=sleep,
        )
        self._definitions: dict[str, dict[str, dict]] = {}

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------------------------------------------- http
    def _transient_wait(self, response: requests.Response) -> float | None:
        """Wait before retrying a transient answer without Retry-After (crm_http prefers Retry-After)."""
        if response.status_code != 429:
            return None  # 5xx: exponential backoff with jitter
        body = json_body(response)
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
                status=403, body=json_body(response),
            )
        return response

    def _get_json(self, path: str, params: dict | None = None, *, label: str | None = None) -> dict:
        response = self._call("GET", path, params=params, label=label)
        if response.status_code != 200:
            raise CrmApiError(f"GET {label or path}: HTTP {response.status_code}: {error_text(response)}",
                              status=response.status_code, body=json_body(response))
        return json_body(response)

    def _post_json(self, path: str, body: dict, *, ok: Iterable[int] = (200, 207)) -> dict:
        response = self._call("POST", path, json=body)
        if response.status_code not in set(ok):
            raise CrmApiError(f"POST {path}: HTTP {response.status_code}: {error_text(response)}",
                              status=response.status_code, body=json_body(response))
        return json_body(response)

    def _send_batch(
        self, path: str, inputs: list[dict], result_key: Callable[[dict], str | None]
    ) -> dict[str, BatchResult]:
        """POST {"inputs": inputs} and say per input (keyed by its objectWriteTraceId) what HubSpot did. A
        whole-batch 400 is split in halves until each bad input stands alone; inputs neither in the results nor
        in the errors are absent from the answer (the caller decides what that means)."""
        out: dict[str, BatchResult] = {}
        if not inputs:
            return out
        try:
            response = self._call("POST", path, json={"inputs": inputs})
        except CrmApiError as exc:
            if not exc.retryable:
                raise
            for item in inputs:
                out[item["objectWriteTraceId"]] = BatchResult(False, str(exc), retryable=True)
            return out
        status = response.status_code
        body = json_body(response)
        if status in (200, 201, 207) and isinstance(body, dict):
            traces = {item["objectWriteTraceId"] for item in inputs}
            for result in body.get("results") or []:
                key = result_key(result)
                if key in traces:
                    out[key] = BatchResult(True, body=result)
            for error in body.get("errors") or []:
                if not isinstance(error, dict):
                    continue
                reason, retryable = error_reason(error)
                context = error.get("context") or {}
                keys = context.get("objectWriteTraceId") or context.get("ids") or []
                for key in keys:
                    if str(key) in traces:
                        out[str(key)] = BatchResult(False, reason, retryable,
                                                not_found=error.get("category") == "OBJECT_NOT_FOUND")
            return out
        if isinstance(body, dict) and (body.get("category") or body.get("message")):
            reason = f"{body.get('category') or f'HTTP {status}'}: {body.get('message') or error_text(response)}"
        else:
            reason = f"HTTP {status}: {error_text(response)}"
        if status == 400:
            details = validation_details(str(body.get("message") or "")) if isinstance(body, dict) else []
            if details:
                reason = f"{body.get('category') or 'VALIDATION_ERROR'}: " + "; ".join(details)
            if len(inputs) == 1:
                out[inputs[0]["objectWriteTraceId"]] = BatchResult(False, reason)
                return out
            bad = bad_properties(body)
            failing = [i for i in inputs if bad & set(i.get("properties") or {})]
            if failing:  # a property every record writing it fails with: no need to split those further
                for item in failing:
                    out[item["objectWriteTraceId"]] = BatchResult(False, reason)
                rest = [i for i in inputs if not bad & set(i.get("properties") or {})]
                out.update(self._send_batch(path, rest, result_key))
                return out
            middle = len(inputs) // 2
            out.update(self._send_batch(path, inputs[:middle], result_key))
            out.update(self._send_batch(path, inputs[middle:], result_key))
            return out
        for item in inputs:
            out[item["objectWriteTraceId"]] = BatchResult(False, reason, not_found=status == 404)
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
            yield from json_body(response).get("results") or []

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

    # ---------------------------------------------------------------------------------------------------- writes
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
        answer = json_body(response)
        if response.status_code not in (200, 201, 207) or not isinstance(answer, dict):
            for email, record_id in pairs:
                results[email] = (record_id, False, results[email][2],
                                  f"associating the company failed: HTTP {response.status_code}: "
                                  f"{error_text(response)}", False)
            return
        confirmed = {str((r.get("from") or {}).get("id")) for r in answer.get("results") or []}
        reasons = [error_reason(e)[0] for e in answer.get("errors") or [] if isinstance(e, dict)]
        for email, record_id in pairs:
            if record_id not in confirmed:
                reason = reasons[0] if reasons else "missing from HubSpot's response"
                results[email] = (record_id, False, results[email][2], f"associating the company failed: {reason}",
                                  False)
