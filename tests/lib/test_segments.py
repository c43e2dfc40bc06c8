"""Segment by employee count: boundaries, unknown sizes, and the threshold checks of routing.yaml."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.routing import load_routing_rules
from pls_pipelines.lib.segments import assign_segments, parse_segment_thresholds, segment_for_employee_count

THRESHOLDS = {"smb": 0, "mid_market": 200, "enterprise": 1000}


@pytest.mark.parametrize(
    ("employees", "segment"),
    [(1, "smb"), (0, "smb"), (199, "smb"), (200, "mid_market"), (999, "mid_market"), (1000, "enterprise"),
     (250_000, "enterprise"), (450.0, "mid_market"), ("1200", "enterprise")],
)
def test_boundaries(employees, segment):
    assert segment_for_employee_count(employees, THRESHOLDS) == segment


@pytest.mark.parametrize("unknown", [None, np.nan, pd.NA, -5, "n/a"])
def test_unknown_size_has_no_segment(unknown):
    assert segment_for_employee_count(unknown, THRESHOLDS) is None


def test_vectorised_keeps_index_and_marks_unknown_as_missing():
    counts = pd.Series([50, None, 500, 5000], index=["a", "b", "c", "d"], dtype="Int64")
    segments = assign_segments(counts, THRESHOLDS)
    assert segments.index.tolist() == ["a", "b", "c", "d"]
    assert segments.isna().tolist() == [False, True, False, False]
    assert segments.dropna().tolist() == ["smb", "mid_market", "enterprise"]


def test_shipped_routing_config_has_the_documented_segments():
    assert dict(load_routing_rules().segments) == THRESHOLDS


def test_custom_thresholds_move_the_boundary():
    assert segment_for_employee_count(150, {"smb": 0, "mid_market": 100, "enterprise": 2000}) == "mid_market"


@pytest.mark.parametrize(
    ("segments", "message"),
    [("{smb: 10, mid_market: 200}", r"segments\.smb: the first segment starts at 10 -- start it at 0"),
     ("{smb: 0, mid_market: 1000, enterprise: 200}",
      r"segments\.enterprise: enterprise starts at 200 employees, not above mid_market \(1000\) "
      r"-- list segments")],
)
def test_thresholds_must_start_at_zero_and_ascend(tmp_path, segments, message):
    path = tmp_path / "routing.yaml"
    path.write_text(f"segments: {segments}\n", encoding="utf-8")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=message):
        parse_segment_thresholds(data["segments"], path, data)
