"""HTTP for the CRM connectors: one session, retries with backoff that honour Retry-After, a throttle hook,
and a count of the calls made (tests and benchmarks assert on it: a re-run with nothing changed makes zero
write calls).

Retries are tenacity's (exponential backoff with jitter, capped), never a hand-written loop. What counts as
transient is the connector's call (`is_transient`): HubSpot and Salesforce disagree (Salesforce answers an
exhausted org limit with 403 REQUEST_LIMIT_EXCEEDED, not 429). The throttle is the connector's too: each CRM
announces its budget in its own headers, and waiting before the limit beats bouncing off 429s.

Secrets: the Authorization header lives in the session only. Nothing here logs a header, and errors carry
the method, the path and the status, never the token or the request body.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import requests
import tenacity

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_MAX_WAIT_SECONDS = 60.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrmApiError(Exception):
    """A CRM call that failed for good: a non-transient error, or a transient one that outlasted the retries.
    The message names the method, path, status and the CRM's error text (never credentials)."""

    def __init__(self, message: str, status: int | None = None, body: Any = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.body = body
        self.retryable = retryable


class TransientResponse(Exception):
    """Raised inside the retry loop for a response the connector calls transient; carries the response so the
    wait can read Retry-After, and the final error can say what the CRM answered."""

    def __init__(self, response: requests.Response, wait_hint: float | None = None):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.wait_hint = wait_hint


class Throttle(Protocol):
    """A connector's rate limiter: waits before a request when the budget is spent, learns from responses."""

    def before_request(self, method: str, path: str) -> None: ...

    def after_response(self, response: requests.Response) -> None: ...


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _WaitRetryAfter(tenacity.wait.wait_base):
    """Retry-After (or the connector's hint) when the CRM gave one, else exponential backoff with jitter."""

    def __init__(self, fallback: tenacity.wait.wait_base, max_wait: float):
        self.fallback = fallback
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TransientResponse):
            hinted = retry_after_seconds(exc.response)
            if hinted is None:
                hinted = exc.wait_hint
            if hinted is not None:
                return min(hinted, self.max_wait)
        return self.fallback(retry_state)


@dataclass
class CrmHttp:
    """A requests session bound to one CRM base URL, with retries, a throttle and call counts.

    `is_transient(response)` says which responses to retry (and may return a wait hint in seconds through
    `transient_wait`); connection errors and timeouts are always retried. `request` returns the final response
    for the connector to interpret (a 207 with per-record errors, a 400 to split a batch on), and raises
    CrmApiError only when retries ran out.
    """

    base_url: str
    headers: Mapping[str, str] = field(repr=False)  # holds the Authorization header: never in a repr
    is_transient: Callable[[requests.Response], bool]
    transient_wait: Callable[[requests.Response], float | None] = lambda response: None
    throttle: Throttle | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    verify: bool | str = True
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_wait: float = DEFAULT_MAX_WAIT_SECONDS
    initial_wait: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    calls: Counter = field(default_factory=Counter)  # (method, path template or path) -> requests sent
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session.headers.update(dict(self.headers))
        self.session.verify = self.verify

    def close(self) -> None:
        self.session.close()

    @property
    def write_calls(self) -> int:
        return sum(n for (method, _), n in self.calls.items() if method in WRITE_METHODS)

    def request(self, method: str, path: str, *, label: str | None = None, **kwargs: Any) -> requests.Response:
        """Send with retries; `path` is relative to base_url unless it is a full URL; `label` names the call in
        `calls` (default: the path), e.g. "/crm/v3/objects/companies/batch/update"."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        kwargs.setdefault("timeout", self.timeout)
        # Per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `session.verify` (psf/requests#3829).
        kwargs.setdefault("verify", self.verify)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(
                (TransientResponse, requests.ConnectionError, requests.Timeout)
            ),
            wait=_WaitRetryAfter(
                tenacity.wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait), self.max_wait
            ),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if self.throttle is not None:
                        self.throttle.before_request(method, path)
                    self.calls[(method.upper(), label or path.split("?")[0])] += 1
                    response = self.session.request(method, url, **kwargs)
                    if self.throttle is not None:
                        self.throttle.after_response(response)
                    if self.is_transient(response):
                        raise TransientResponse(response, self.transient_wait(response))
                    return response
        except TransientResponse as exc:
            raise CrmApiError(
                f"{method} {label or path.split('?')[0]}: HTTP {exc.response.status_code} after "
                f"{self.max_attempts} attempts: {error_text(exc.response)}",
                status=exc.response.status_code, body=_json_or_text(exc.response), retryable=True,
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise CrmApiError(
                f"{method} {label or path.split('?')[0]}: {type(exc).__name__} after {self.max_attempts} attempts",
                retryable=True,
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def error_text(response: requests.Response) -> str:
    """The CRM's own error words, short: HubSpot's message/category, Salesforce's errorCode: message."""
    body = _json_or_text(response)
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("category", "errorCode", "message") if body.get(k)]
        return ": ".join(parts) or str(body)[:300]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return ": ".join(str(first.get(k)) for k in ("errorCode", "message") if first.get(k)) or str(first)[:300]
    return str(body)[:300]
