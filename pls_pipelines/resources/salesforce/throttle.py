"""SalesforceThrottle, which paces requests by the org's daily API allocation, and the retry policy that knows
when that allocation is spent.

Separate from the client because it is bookkeeping on one response header (Sforce-Limit-Info), with an injectable
sleep, that can be read and tested without HTTP. The retry policy (is_transient) lives here because it has to
recognise the same 403 REQUEST_LIMIT_EXCEEDED that the throttle waits out.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

import requests

# the logger name of the connector before it was split into this package: logging configured for it still applies
log = logging.getLogger(__name__)

_LIMIT_INFO = re.compile(r"(?:^|[;\s])api-usage=(\d+)/(\d+)")


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
        self._refused = is_limit_exceeded(response)


def _error_codes(response: requests.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, list):
        return [str(e.get("errorCode")) for e in body if isinstance(e, dict)]
    return []


def is_limit_exceeded(response: requests.Response) -> bool:
    return response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in _error_codes(response)


def is_transient(response: requests.Response) -> bool:
    return response.status_code in (429, 500, 502, 503, 504) or is_limit_exceeded(response)
