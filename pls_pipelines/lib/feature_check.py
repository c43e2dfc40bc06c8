"""Check a features table someone else built (a dbt model, a CSV export) before scoring it.

Teams whose account rollups already exist should not have to run our ingestion to use the scorer. Their table
will rarely have every column: a missing *required* column (lib/feature_columns.py, plus any custom column the
model reads) means the score would be meaningless, so it fails with the list; a missing *optional* column only
costs the components that read it their points, so it is reported - with the points at stake - and scored as
"no data". Segment falls back to employee_count, and a table without is_customer scores everyone as a prospect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.feature_columns import REQUIRED_COLUMNS
from pls_pipelines.lib.scoring import required_columns
from pls_pipelines.lib.scoring_config import MAX_SCORE, NEGATIVE, ScoringComponent, ScoringModel
from pls_pipelines.lib.segments import SegmentThresholds, assign_segments


@dataclass
class FeatureCheck:
    """What a features table lacks for the given models, in words a user can act on."""

    missing_optional: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prepare_features(
    table: pd.DataFrame,
    models: Iterable[ScoringModel],
    segments: SegmentThresholds,
    custom_columns: Iterable[str] = (),
) -> tuple[pd.DataFrame, FeatureCheck]:
    """The table made scoreable for `models`, and what was missing. Raises ConfigError listing every missing
    required column (and the columns the table has, since a rename is the usual fix)."""
    models = list(models)
    needed = list(dict.fromkeys(c for model in models for c in required_columns(model)))
    must_have = {*REQUIRED_COLUMNS, *custom_columns}
    missing_required = [c for c in needed if c in must_have and c not in table.columns]
    if "account_id" not in table.columns and "account_id" not in missing_required:
        missing_required.insert(0, "account_id")
    if missing_required:
        raise ConfigError(
            f"the features table lacks required columns {missing_required} -- add or rename them (the table has: "
            f"{', '.join(map(str, table.columns[:30]))}); the column contract is in the README under "
            "'Bring your own features'"
        )
    check = FeatureCheck()
    frame = table.copy()
    if "is_customer" not in frame.columns:
        if any(model.applies_to != "all" for model in models):
            check.notes.append("no is_customer column: every account is scored as a prospect")
        frame["is_customer"] = False
    if "segment" not in frame.columns:
        if "employee_count" in frame.columns:
            frame["segment"] = assign_segments(frame["employee_count"], segments)
            check.notes.append("segment derived from employee_count with the segments of config/routing.yaml")
        elif any(model.segments for model in models):
            check.notes.append("no segment or employee_count column: segment overrides are not applied")
    for column in needed:
        if column not in frame.columns:
            check.missing_optional.append(column)
            frame[column] = np.nan
            check.notes.append(f"no {column} column: {_points_at_stake(column, models)}")
    return frame, check


def _points_at_stake(column: str, models: list[ScoringModel]) -> str:
    """'scored as no data by pqa.invites (up to 10 points)' for the components reading the column; a decay's
    age column only costs the fading ('pqa.invites not faded by age ...')."""
    parts, undecayed = [], []
    for model in models:
        for component in model.components:
            if column in (feature for feature, _ in component.features):
                parts.append(f"{model.name}.{component.name} ({_stake(model, component)})")
            elif component.decay and column == component.decay.age:
                undecayed.append(f"{model.name}.{component.name}")
            elif column in component.reason_columns:
                parts.append(f"{model.name}.{component.name} (its reason text)")
    texts = (["scored as no data by " + ", ".join(parts)] if parts else []) + (
        [f"{', '.join(undecayed)} not faded by age (scored as if the signal were recent)"] if undecayed else [])
    return "; ".join(texts) or "not used"


def _stake(model: ScoringModel, component: ScoringComponent) -> str:
    """The points a component's missing value moves, at its heaviest weight (a segment may weigh it more)."""
    weight = max([component.weight, *(rules.weights[component.name] for rules in model.segments.values())])
    if component.missing_points:  # no data earns points: every account gets them (a risk model's worst case)
        moved = f"{'-' if component.direction == NEGATIVE else '+'}{round(weight * component.missing_points)}"
        return f"no data earns {component.missing_points:g} of 100 points, up to {moved} for every account"
    most = round(weight * MAX_SCORE)
    return f"up to {most} points" if component.direction != NEGATIVE else f"a penalty of up to {most} points"
