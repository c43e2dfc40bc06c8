"""The demo's clock: every timestamp is an offset in milliseconds from the end of the event window.

Generating offsets instead of dates is what makes the demo movable in time: the same seed with another
end_date gives the same companies, people and usage, shifted (only the weekend dip follows the calendar,
so a shift by whole weeks reproduces the data exactly). Formatting to ISO strings happens once, here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEKEND_ACTIVITY = 0.22  # B2B tools are mostly used on workdays


def default_end_date() -> dt.date:
    """Yesterday in UTC: the last complete day, as a daily pipeline would see it."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


@dataclass(frozen=True)
class Timeline:
    """The event window [end_date - days + 1, end_date] and conversions from offsets (ms, <= 0)."""

    end_date: dt.date
    days: int

    @property
    def end_ms(self) -> int:
        """Epoch milliseconds of the window's end (midnight UTC after end_date); offset 0."""
        end = dt.datetime.combine(self.end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        return int(end.timestamp()) * SECOND_MS

    @property
    def start_offset(self) -> int:
        """Offset of the window's first millisecond."""
        return -self.days * DAY_MS

    def day_offsets(self) -> np.ndarray:
        """Offset of midnight of each window day, oldest first."""
        return self.start_offset + np.arange(self.days, dtype=np.int64) * DAY_MS

    def weekday_activity(self) -> np.ndarray:
        """Per window day, the share of workday activity that happens (1 on workdays, less on weekends)."""
        first = self.end_date - dt.timedelta(days=self.days - 1)
        weekdays = (first.weekday() + np.arange(self.days)) % 7
        return np.where(weekdays >= 5, WEEKEND_ACTIVITY, 1.0)

    def _datetimes(self, offsets: np.ndarray) -> np.ndarray:
        return (np.asarray(offsets, dtype=np.int64) + self.end_ms).astype("datetime64[ms]")

    def iso_seconds(self, offsets: np.ndarray) -> np.ndarray:
        """'2026-09-01T10:00:00Z' for each offset (entity timestamps: created_at, signed_up_at)."""
        text = np.datetime_as_string(self._datetimes(offsets).astype("datetime64[s]"), unit="s")
        return np.char.add(text, "Z").astype(object)

    def iso_millis(self, offsets: np.ndarray) -> pd.Series:
        """'2026-09-01T10:00:00.123Z' for each offset (event timestamps)."""
        text = np.datetime_as_string(self._datetimes(offsets), unit="ms")
        return pd.Series(text, dtype="str") + "Z"

    def iso_dates(self, offsets: np.ndarray) -> np.ndarray:
        """'2026-09-01' for each offset (deal close dates)."""
        days = self._datetimes(offsets).astype("datetime64[D]")
        return np.datetime_as_string(days, unit="D").astype(object)
