"""Data checks on the tables between the product and the CRM: keys, tier order, row counts, source freshness.

Each function returns the problems it found (empty: fine) in words a data engineer can act on, plus counts for
run metadata. The Dagster wiring (which table, blocking or not) is in assets/checks.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

import pandas as pd


@dataclass(frozen=True)
class CheckOutcome:
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int | float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def description(self) -> str:
        return "; ".join(self.problems) if self.problems else "ok"


def key_problems(frame: pd.DataFrame, keys: Sequence[str], table: str) -> CheckOutcome:
    """Every row has all `keys` and no two rows share them."""
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        return CheckOutcome([f"{table} has no column {', '.join(missing)}"], {"rows": len(frame)})
    nulls = int(frame[list(keys)].isna().any(axis=1).sum())
    duplicated = frame[list(keys)].duplicated(keep=False)
    duplicates = int(frame[list(keys)][duplicated].drop_duplicates().shape[0])
    problems = []
    if nulls:
        problems.append(f"{nulls:,} rows of {table} lack a key ({', '.join(keys)})")
    if duplicates:
        examples = frame.loc[duplicated, list(keys)].drop_duplicates().head(3).astype(str).agg("/".join, axis=1)
        problems.append(f"{duplicates:,} keys of {table} appear more than once, e.g. {', '.join(examples)}")
    return CheckOutcome(problems, {"rows": len(frame), "null_keys": nulls, "duplicate_keys": duplicates})


def tier_order_problems(scores: pd.DataFrame, tier_order: dict[str, Sequence[str]]) -> CheckOutcome:
    """Within each model and segment, a higher tier never holds a lower score than a lower tier: tiers are cuts
    of the score, so an overlap means tiers and scores were computed from different rules (a mixed version).

    tier_order: model -> its tier names from highest to lowest.
    """
    problems = []
    checked = 0
    for (model, segment), rows in scores.groupby(["model", scores["segment"].fillna("none")], sort=True):
        order = list(tier_order.get(str(model), []))
        ranges = rows.groupby("tier")["score"].agg(["min", "max"])
        unknown = sorted(set(ranges.index) - set(order))
        if unknown:
            problems.append(f"{model}/{segment}: unknown tier {unknown[0]!r}")
            continue
        present = [t for t in order if t in ranges.index]
        for higher, lower in pairwise(present):
            checked += 1
            if ranges.loc[higher, "min"] <= ranges.loc[lower, "max"]:
                problems.append(
                    f"{model}/{segment}: tier {higher} starts at {ranges.loc[higher, 'min']} but {lower} reaches "
                    f"{ranges.loc[lower, 'max']}"
                )
    return CheckOutcome(problems, {"rows": len(scores), "tier_pairs_checked": checked})


def row_count_change(previous: int | None, current: int, max_change: float, table: str) -> CheckOutcome:
    """The table's row count moved by more than `max_change` (a share) since the previous materialization:
    a lost join, a truncated export or a duplicated feed shows up here before it shows up in the CRM."""
    if previous is None or previous == 0:
        return CheckOutcome([], {"rows": current})
    change = (current - previous) / previous
    problems = []
    if abs(change) > max_change:
        problems.append(f"{table} has {current:,} rows, {change:+.0%} against {previous:,} in the previous run "
                        f"(more than {max_change:.0%})")
    return CheckOutcome(problems, {"rows": current, "previous_rows": previous, "change": round(change, 4)})


def source_staleness(newest: datetime | None, now: datetime, max_age: timedelta) -> CheckOutcome:
    """The newest event in the source is older than `max_age`: the export upstream stopped, even though the
    asset ran (it loaded the same old data again)."""
    if newest is None:
        return CheckOutcome(["the source holds no events"], {})
    age = now - newest
    hours = round(age.total_seconds() / 3600, 1)
    if age > max_age:
        return CheckOutcome(
            [f"the newest event is from {newest:%Y-%m-%d %H:%M} UTC, {hours:,} hours ago (more than "
             f"{max_age.total_seconds() / 3600:.0f}): the upstream export looks stale"],
            {"newest_event_age_hours": hours},
        )
    return CheckOutcome([], {"newest_event_age_hours": hours})
