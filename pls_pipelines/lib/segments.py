"""Segment an account by company size: SMB, mid-market or enterprise.

Segment decides how much human selling an account deserves: SMB stays self-serve, mid-market moves to
product-led sales, enterprise is hybrid (product entry plus traditional sales). The boundaries are RevOps'
call and live in config/routing.yaml (`segments:`), as a mapping of segment name -> smallest employee count
in it, ascending from 0:

    segments: {smb: 0, mid_market: 200, enterprise: 1000}

An account with no (or a nonsensical) employee count has no segment: guessing "SMB" would quietly keep a
large unknown company away from sales.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pls_pipelines.lib.rules_config import config_error

SegmentThresholds = Mapping[str, int]


def segment_for_employee_count(employee_count: Any, thresholds: SegmentThresholds) -> str | None:
    """The segment of one company size (199 -> 'smb', 200 -> 'mid_market'); None when the size is unknown."""
    segment = assign_segments(pd.Series([employee_count], dtype=object), thresholds).iloc[0]
    return None if pd.isna(segment) else str(segment)


def assign_segments(employee_counts: pd.Series, thresholds: SegmentThresholds) -> pd.Series:
    """Vectorised `segment_for_employee_count`: same index, missing (NA) where the size is unknown."""
    counts = pd.to_numeric(employee_counts, errors="coerce").astype("Float64")
    known = counts.notna() & (counts >= 0)
    names = np.array(list(thresholds), dtype=object)
    bounds = np.array(list(thresholds.values()), dtype="float64")
    values = counts.fillna(-1).to_numpy(dtype="float64")
    positions = np.searchsorted(bounds, values, side="right") - 1
    labels = np.where(known.to_numpy() & (positions >= 0), names[np.clip(positions, 0, None)], None)
    return pd.Series(labels, index=employee_counts.index, dtype="string", name="segment")


def parse_segment_thresholds(raw: Mapping[str, Any], path: Path | str, data: Any) -> dict[str, int]:
    """Check the `segments:` mapping beyond its schema: starts at 0 (every size has a segment), ascends."""
    items = list(raw.items())
    if items and items[0][1] != 0:
        first = items[0][0]
        raise config_error(path, data, ["segments", first], f"the first segment starts at {items[0][1]}",
                           f"start it at 0 so every company size has a segment, e.g. {first}: 0")
    for (prev_name, prev_min), (name, minimum) in pairwise(items):
        if minimum <= prev_min:
            raise config_error(
                path, data, ["segments", name],
                f"{name} starts at {minimum} employees, not above {prev_name} ({prev_min})",
                "list segments from smallest to largest with increasing minimum employee counts",
            )
    return {name: int(minimum) for name, minimum in items}

