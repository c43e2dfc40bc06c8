"""HubSpotThrottle: the client-side limiter that keeps a sync under the account's HubSpot burst limit.

Separate from the client because it is pure bookkeeping - a rolling window fed by request paths and response
headers, with an injectable clock and sleep - that can be read and tested without any HTTP; HubSpotApi only
hands it to crm_http as the throttle, and asks it how long a 429 should wait.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import requests


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
