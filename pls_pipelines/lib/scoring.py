"""Score the account features table with the YAML scoring models: score, tier, PQA flag, components, reasons.

Everything a seller sees in the CRM comes from here, so each row carries its own explanation: the points
every component earned (`components`, JSON) and the few that moved the score most in plain words
(`reasons`). The arithmetic is vectorised over the whole table (numpy, one column per component); only the
reason strings are built per account, and only for the components that made it into the reasons.

Rounding is defined once: the score is the weighted sum rounded half up (79.5 -> 80), the tier comes from
that rounded score, and the contribution quoted in a reason is weight x points rounded the same way.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.scoring_config import (
    CUSTOMERS,
    MAX_SCORE,
    MIN_SCORE,
    PROSPECTS,
    Scale,
    ScoringComponent,
    ScoringConfig,
    ScoringModel,
    Tier,
    render_reason,
)

SCORE_COLUMNS = ["account_id", "model", "model_version", "score", "tier", "is_pqa", "components", "reasons"]
REASON_SEPARATOR = "; "
NO_SIGNAL_REASON = "no signal earned points yet"
# Float sums land just below a half (0.7 * 85 = 59.49999999999999); they must round as the 59.5 RevOps meant.
_ROUNDING_SLACK = 1e-9


def required_columns(model: ScoringModel) -> list[str]:
    """Columns of the account features table `score_accounts` reads for this model."""
    columns = ["account_id"]
    if model.applies_to in (PROSPECTS, CUSTOMERS):
        columns.append("is_customer")
    for component in model.components:
        columns += [*component.columns, *component.reason_columns]
    return list(dict.fromkeys(columns))


def score_accounts(
    features: pd.DataFrame,
    model: ScoringModel,
    *,
    max_positive_reasons: int = 3,
    max_negative_reasons: int = 1,
    max_missing_reasons: int = 1,
    reasons_max_chars: int = 500,
) -> pd.DataFrame:
    """Score every account the model applies to: one row each, in SCORE_COLUMNS order, sorted by account_id.

    reasons: the top positive drivers and the main negative driver (penalties) that moved the score by at
    least a point, ordered by points moved, then the heaviest component the account had no data for; joined
    with "; " and cut to `reasons_max_chars` between reasons, never inside one (CRM text fields have limits).
    """
    missing = [column for column in required_columns(model) if column not in features.columns]
    if missing:
        raise ConfigError(
            f"scoring model '{model.name}' reads {missing}, which the account features table lacks -- "
            "rebuild account_usage_rollup, or point the model's components at existing columns"
        )
    if reasons_max_chars < 1 or min(max_positive_reasons, max_negative_reasons, max_missing_reasons) < 0:
        raise ValueError("reasons_max_chars must be at least 1 and the max_*_reasons counts at least 0")
    frame = _applicable_accounts(features, model)
    # Components in name order: ties in the reasons break the same way whatever the order in the YAML,
    # so identical rules (one model version) always produce identical text.
    components = sorted(model.components, key=lambda c: c.name)
    values = np.stack([component_values(frame, c) for c in components], axis=1)  # accounts x components
    known = np.isfinite(values)
    points = np.stack([scale_points(c.scale, values[:, j]) for j, c in enumerate(components)], axis=1)
    weights = np.array([c.weight * c.sign for c in components])
    contributions = points * weights
    scores = np.clip(round_half_away(contributions.sum(axis=1)), MIN_SCORE, MAX_SCORE).astype("int64")
    reasons = _reasons(
        frame, components, values, points, contributions, known,
        max_positive_reasons, max_negative_reasons, max_missing_reasons, reasons_max_chars,
    )
    return pd.DataFrame({
        "account_id": frame["account_id"].to_numpy(),
        "model": model.name,
        "model_version": model.version,
        "score": scores,
        "tier": assign_tiers(scores, model.tiers),
        "is_pqa": scores >= model.pqa_threshold,
        "components": _components_json(components, values, points, contributions),
        "reasons": reasons,
    }, columns=SCORE_COLUMNS)


def score_all_models(features: pd.DataFrame, config: ScoringConfig, **reason_options: int) -> pd.DataFrame:
    """Every model over the accounts it applies to: one row per (account, model), sorted by both."""
    frames = [score_accounts(features, model, **reason_options) for model in config.models.values()]
    scores = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
    return scores.sort_values(["account_id", "model"], kind="stable").reset_index(drop=True)


# --- the arithmetic ---------------------------------------------------------------------------------------


def component_values(frame: pd.DataFrame, component: ScoringComponent) -> np.ndarray:
    """The component's value per account: its column, or the weighted sum of its columns (NaN if any is)."""
    total = np.zeros(len(frame))
    for column, multiplier in component.features:
        total = total + _numbers(frame[column]) * multiplier
    return total


def scale_points(scale: Scale, values: np.ndarray) -> np.ndarray:
    """0-100 points per value; a missing (NaN) or infinite value earns 0."""
    known = np.isfinite(values)
    safe = np.where(known, values, 0.0)
    if scale.kind == "buckets":
        thresholds = np.array([t for t, _ in scale.points])
        bucket_points = np.array([p for _, p in scale.points])
        index = np.searchsorted(thresholds, safe, side="right") - 1
        points = np.where(index >= 0, bucket_points[np.clip(index, 0, None)], 0.0)
    elif scale.kind == "linear":
        points = (safe - scale.low) / (scale.high - scale.low) * 100.0
    elif scale.kind == "log":
        points = np.log1p(np.clip(safe, 0.0, None)) / np.log1p(scale.high) * 100.0
    else:
        raise ValueError(f"unknown scale kind {scale.kind!r}")
    return np.where(known, np.clip(points, 0.0, 100.0), 0.0)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to whole numbers, halves away from zero (79.5 -> 80, -3.5 -> -4), unlike numpy's half-to-even."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5 + _ROUNDING_SLACK)


def assign_tiers(scores: np.ndarray, tiers: tuple[Tier, ...]) -> np.ndarray:
    """The first tier (highest first) whose min_score each score reaches; the last tier catches the rest."""
    ascending = tiers[::-1]
    bounds = np.array([t.min_score for t in ascending])
    names = np.array([t.name for t in ascending], dtype=object)
    index = np.searchsorted(bounds, np.asarray(scores), side="right") - 1
    return names[np.clip(index, 0, None)]


def _numbers(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _applicable_accounts(features: pd.DataFrame, model: ScoringModel) -> pd.DataFrame:
    frame = features
    if model.applies_to in (PROSPECTS, CUSTOMERS):
        # unknown (NA) counts as a prospect: nobody has recorded a payment
        is_customer = features["is_customer"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        frame = features.loc[is_customer if model.applies_to == CUSTOMERS else ~is_customer]
    frame = frame.sort_values("account_id", kind="stable").reset_index(drop=True)
    duplicated = frame["account_id"].duplicated()
    if duplicated.any():
        examples = frame.loc[duplicated, "account_id"].head(3).tolist()
        raise ValueError(f"the account features table has several rows for account_id {examples}: "
                         "scoring needs one row per account")
    return frame


# --- explanations -----------------------------------------------------------------------------------------


def _components_json(components, values, points, contributions) -> np.ndarray:
    """{"component": {"value", "points", "weight", "contribution"}} per account, built column-wise (Arrow)."""
    pieces: list = []
    for j, component in enumerate(components):
        pieces += [
            ("{" if j == 0 else ", ") + json.dumps(component.name) + ': {"value": ',
            _json_numbers(values[:, j], 4),
            ', "points": ', _json_numbers(points[:, j], 2),
            f', "weight": {json.dumps(component.weight)}, "contribution": ',
            _json_numbers(contributions[:, j], 2),
            "}",
        ]
    pieces[-1] += "}"
    return pc.binary_join_element_wise(*pieces, "").to_numpy(zero_copy_only=False)


def _json_numbers(values: np.ndarray, decimals: int) -> pa.Array:
    """JSON number text; missing and infinite values are null. (+ 0.0 turns -0.0 into 0.0.)"""
    rounded = pa.array(np.round(values, decimals) + 0.0, mask=~np.isfinite(values))
    return pc.fill_null(pc.cast(rounded, pa.string()), "null")


def _reasons(
    frame: pd.DataFrame,
    components: list[ScoringComponent],
    values: np.ndarray,
    points: np.ndarray,
    contributions: np.ndarray,
    known: np.ndarray,
    max_positive: int,
    max_negative: int,
    max_missing: int,
    max_chars: int,
) -> np.ndarray:
    n, k = values.shape
    rows = np.arange(n)[:, None]
    rounded = round_half_away(contributions)
    positive, negative = rounded >= 1, rounded <= -1
    chosen = (positive & (_rank(np.where(positive, -contributions, np.inf)) < max_positive)) | (
        negative & (_rank(np.where(negative, contributions, np.inf)) < max_negative)
    )
    texts = np.full((n, k), None, dtype=object)
    for j, component in enumerate(components):
        where = np.flatnonzero(chosen[:, j])
        texts[where, j] = _driver_texts(frame, component, where, values[:, j], points[:, j], rounded[:, j])
    # chosen drivers by points moved, biggest first; the rest sort last and fall off
    order = np.argsort(np.where(chosen, -np.abs(contributions), np.inf), axis=1, kind="stable")
    order = order[:, : max_positive + max_negative]
    shown_drivers = chosen[rows, order]
    drivers = np.where(shown_drivers, texts[rows, order], "")

    # then the heaviest positive components the account has no value for: they earned 0 and the CRM user
    # should know it is missing data, not a weak signal
    by_weight = sorted(range(k), key=lambda j: (-components[j].weight, components[j].name))
    lacking = (~known & np.array([c.sign > 0 for c in components]))[:, by_weight]
    notes = np.array([_missing_text(components[j]) for j in by_weight], dtype=object)
    first = np.argsort(~lacking, axis=1, kind="stable")[:, :max_missing]
    shown_notes = lacking[rows, first]
    missing = np.where(shown_notes, notes[first], "")

    parts = np.concatenate([drivers, missing], axis=1)
    return _join_reasons(parts, np.concatenate([shown_drivers, shown_notes], axis=1), max_chars)


def _join_reasons(texts: np.ndarray, shown: np.ndarray, max_chars: int) -> np.ndarray:
    """Per row, the shown texts joined with "; " (column-wise string sums), cut to max_chars."""
    n, m = texts.shape
    after_another = shown & ((np.cumsum(shown, axis=1) - shown) > 0)
    joined = np.full(n, "", dtype=object)
    for j in range(m):
        joined = joined + np.where(after_another[:, j], REASON_SEPARATOR, "") + texts[:, j]
    lengths = np.fromiter(map(len, joined), dtype="int64", count=n)
    for i in np.flatnonzero(lengths > max_chars):  # rare: only here is one row's list handled in Python
        joined[i] = _join_within([t for t, s in zip(texts[i], shown[i], strict=True) if s], max_chars)
    joined[lengths == 0] = NO_SIGNAL_REASON[:max_chars]
    return joined


def _rank(keys: np.ndarray) -> np.ndarray:
    """Per row, each cell's position when the row is sorted ascending (stable)."""
    order = np.argsort(keys, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(keys.shape[1]), keys.shape), axis=1)
    return ranks


def _driver_texts(frame, component, rows, values, points, rounded) -> np.ndarray:
    """The component's reason for the given rows, e.g. '9 active users in 28 days (+30)'.

    Formatted once per distinct input (accounts share '3 active users'), not once per account.
    """
    inputs = {"value": values[rows], "points": points[rows]}
    inputs.update({column: _numbers(frame[column])[rows] for column in component.reason_columns})
    fields = component.reason_fields
    keys = pd.DataFrame({**{f: inputs[f] for f in fields}, "(points moved)": rounded[rows]})
    codes = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = np.empty(codes.max() + 1 if len(codes) else 0, dtype="int64")
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the first row of each distinct input
    texts = [
        f"{render_reason(component.reason, dict(zip(fields, key[:-1], strict=True)))} ({int(key[-1]):+d})"
        for key in keys.to_numpy()[first].tolist()
    ]
    return np.array(texts, dtype=object)[codes]


def _missing_text(component: ScoringComponent) -> str:
    most = int(round_half_away(np.array(component.weight * MAX_SCORE)))
    return f"{component.missing_reason} (0 of {most} points)"


def _join_within(parts: list[str], max_chars: int) -> str:
    """Join reasons while they fit in max_chars; a reason is dropped whole, never cut in half. Only a first
    reason longer than the whole field is cut (with an ellipsis), so the field is never empty."""
    kept: list[str] = []
    length = 0
    for part in parts:
        extra = len(part) + (len(REASON_SEPARATOR) if kept else 0)
        if length + extra > max_chars:
            break
        kept.append(part)
        length += extra
    if not kept:
        return parts[0][: max_chars - 1] + "…"
    return REASON_SEPARATOR.join(kept)
