"""SalesforceWrites: updates through sObject Collections (200 records a call, allOrNone=false, results in request
order), and creates by natural key that are safe to repeat after a timeout.

Separate from the CrmClient operations, which decide what to write, because both they and the demo loader write
through these calls; bulk.py is the other update path, for more than `bulk_threshold` records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import tenacity

from pls_pipelines.resources.crm_http import DEFAULT_MAX_WAIT_SECONDS, CrmApiError, error_text
from pls_pipelines.resources.salesforce.api import SalesforceApi
from pls_pipelines.resources.salesforce.soql import QUERY_IN_CHUNK, chunks, soql_quote

COLLECTION_SIZE = 200  # sObject Collections maximum


def _errors_text(errors: Iterable[dict[str, Any]]) -> str:
    return "; ".join(f"{e.get('statusCode') or e.get('errorCode')}: {e.get('message', '')}" for e in errors) \
        or "UNKNOWN_ERROR: Salesforce reported a failure without a reason"


@dataclass
class WriteResult:
    """What one write pass did with one record."""

    ok: bool
    error: str | None = None
    codes: tuple[str, ...] = ()
    retryable: bool = False


@dataclass
class CreatePlan:
    """Creates keyed by a natural key: what exists (found), what we created, what failed."""

    ids: dict[str, str] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)  # sent in a call whose outcome we never saw
    retryable: set[str] = field(default_factory=set)  # failed for a transient reason that outlasted the retries


class SalesforceWrites(SalesforceApi):
    """The sObject Collections writes of SalesforceCrm, on SalesforceApi's calls."""

    # -- updates -----------------------------------------------------------------------------------------------
    def _collection_update(self, sobject: str, items: Sequence[tuple[int, str, dict[str, Any]]]
                           ) -> dict[int, WriteResult]:
        """One PATCH composite/sobjects per 200 records, allOrNone=false; results by index (request order)."""
        path = f"{self._base}/composite/sobjects"
        results: dict[int, WriteResult] = {}
        stopped: WriteResult | None = None
        for chunk in chunks(items, COLLECTION_SIZE):
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
                failed = WriteResult(False, str(exc), retryable=exc.retryable)
                results.update({i: failed for i, _, _ in chunk})
                if exc.status == 403 or not exc.retryable:
                    stopped = failed  # the org limit (or the throttle) stopped us: don't spend more calls
                continue
            if response.status_code != 200:
                failed = WriteResult(False, f"HTTP {response.status_code}: {error_text(response)}")
                results.update({i: failed for i, _, _ in chunk})
                continue
            body = response.json()
            if not isinstance(body, list) or len(body) != len(chunk):
                failed = WriteResult(
                    False, "UNEXPECTED_RESPONSE: Salesforce returned a result list of the wrong length", retryable=True)
                results.update({i: failed for i, _, _ in chunk})
                continue
            for (i, _, _), item in zip(chunk, body, strict=True):
                if item.get("success"):
                    results[i] = WriteResult(True)
                else:
                    errors = item.get("errors") or []
                    results[i] = WriteResult(False, _errors_text(errors),
                                         tuple(str(e.get("statusCode")) for e in errors))
        return results

    # -- creates -----------------------------------------------------------------------------------------------
    def _create_missing(self, sobject: str, payloads: dict[str, dict[str, Any]],
                        find: Callable[[list[str]], dict[str, str]]) -> CreatePlan:
        """Create the records of `payloads` (natural key -> fields) that `find` does not find; safe to repeat.

        A create is sent once; when its outcome is unknown (timeout, 5xx, limit) the next attempt looks the keys up
        again, so what the server applied is found instead of created twice."""
        plan = CreatePlan()
        path = f"{self._base}/composite/sobjects"

        def attempt() -> None:
            todo = [k for k in payloads if k not in plan.ids and k not in plan.errors]
            if not todo:
                return
            found = find(todo)
            plan.ids.update(found)
            plan.created.update(k for k in found if k in plan.in_flight)
            for chunk in chunks([k for k in todo if k not in found], COLLECTION_SIZE):
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
        for chunk in chunks(sorted(set(values)), QUERY_IN_CHUNK):
            rows = self.query(f"{select} ({', '.join(map(soql_quote, chunk))})")
            for row in sorted(rows, key=lambda r: r["Id"]):
                name = key(row) if key else str(row.get(key_field) or "").lower()
                out.setdefault(name, row["Id"])
        return out
