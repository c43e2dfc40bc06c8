"""The defects real event feeds have, added on purpose so ingestion is tested on every run of the demo.

- duplicates: about 0.5% of events delivered twice (an SDK retry): an identical extra line, same event_id;
- malformed lines: a few per day on some days (about 0.01%, at least 20 in all), one defect each: broken
  JSON, a missing user_id / event_id / workspace_id, an unparseable timestamp, a timestamp in 2099.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pls_pipelines.sample_data.jsonl import EVENT_FIELDS, event_line

DUPLICATE_SHARE = 0.005
MALFORMED_SHARE = 0.0001
MIN_MALFORMED = 20
MALFORMED_KINDS = (
    "broken_json", "missing_user_id", "missing_event_id", "bad_timestamp", "future_timestamp",
    "missing_workspace_id",
)


def with_duplicates(n_events: int, rng: np.random.Generator) -> np.ndarray:
    """Row order of the events with retried ones repeated right after the original."""
    repeated = rng.random(n_events) < DUPLICATE_SHARE
    if n_events and not repeated.any():
        repeated[n_events // 2] = True
    return np.repeat(np.arange(n_events), 1 + repeated)


def malformed_lines(
    events: pd.DataFrame, fresh_ids: np.ndarray, rng: np.random.Generator
) -> dict[str, list[str]]:
    """Broken lines per day 'YYYY-MM-DD', each a copy of a real event of that day with one defect.

    events: the well-formed events sorted by occurred_at; fresh_ids: one unused event id per line to make
    (so a broken line never shares its id with a real event)."""
    if events.empty:
        return {}
    count = len(fresh_ids)
    day_of_row = events["occurred_at"].str.slice(0, 10).to_numpy(dtype=object)
    days = np.unique(day_of_row)
    n_days = int(np.clip(count // 4, 3, len(days))) if len(days) >= 3 else len(days)
    chosen = np.sort(rng.choice(days, size=n_days, replace=False))
    line_day = chosen[rng.integers(0, n_days, count)]
    every_kind_once = np.arange(len(MALFORMED_KINDS))
    kinds = np.concatenate([every_kind_once, rng.integers(0, len(MALFORMED_KINDS), count)])[:count]
    draws = rng.random(count)
    cuts = rng.integers(5, 30, count)

    by_day: dict[str, list[str]] = {}
    for i in range(count):  # a few dozen to a few hundred lines
        first = int(np.searchsorted(day_of_row, line_day[i], side="left"))
        last = int(np.searchsorted(day_of_row, line_day[i], side="right"))
        row = events.iloc[first + int(draws[i] * (last - first))]
        record = {key: row[key] for key in EVENT_FIELDS}
        record["event_id"] = fresh_ids[i]
        by_day.setdefault(line_day[i], []).append(_break(record, MALFORMED_KINDS[kinds[i]], int(cuts[i])))
    return dict(sorted(by_day.items()))


def _break(record: dict, kind: str, cut: int) -> str:
    if kind == "broken_json":
        line = event_line(record)
        return line[: len(line) - cut]
    if kind.startswith("missing_"):
        del record[kind.removeprefix("missing_")]
    elif kind == "bad_timestamp":
        record["occurred_at"] = "not-a-date"
    elif kind == "future_timestamp":
        record["occurred_at"] = "2099" + str(record["occurred_at"])[4:]
    return event_line(record)
