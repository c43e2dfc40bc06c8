"""Progress lines for long work in run logs: done/total, rate and ETA, at most every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Call `advance(units)` as work completes; logs "label: 30/90 days (33%), 4.1k events/s, ETA 12s"."""

    def __init__(
        self,
        total: int,
        label: str,
        unit: str,
        log: Callable[[str], None],
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.label, self.unit, self.log = total, label, unit, log
        self.every_seconds, self.clock = every_seconds, clock
        self.started = self.last_logged = clock()
        self.done = 0
        self.items = 0

    def advance(self, steps: int = 1, items: int = 0) -> None:
        self.done += steps
        self.items += items
        now = self.clock()
        if self.done >= self.total or now - self.last_logged >= self.every_seconds:
            self.last_logged = now
            self.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self.clock()) - self.started, 1e-9)
        share = self.done / self.total if self.total else 1.0
        eta = elapsed / share - elapsed if share > 0 else float("nan")
        rate = f", {self.items / elapsed:,.0f} rows/s" if self.items else ""
        return (
            f"{self.label}: {self.done}/{self.total} {self.unit} ({share:.0%}){rate}, "
            f"elapsed {elapsed:.1f}s, ETA {eta:.0f}s"
        )
