"""Score the account features table with the YAML scoring models: score, tier, PQA flag, components, reasons.

Everything a seller sees in the CRM comes from here, so each row carries its own explanation: the points every
component earned (kept as arrays, written as the long `pqa_score_components` table) and the few that moved the
score most in plain words (`reasons`).

Built for a million accounts in seconds: the arithmetic is numpy over whole columns (accounts x components),
and the reason texts are assembled with Arrow string kernels - each distinct number is formatted once ("9
active users" is written once, not once per account with nine users), then pieces are concatenated column-wise.
Python touches a single account only when its reasons overflow the CRM field and must be cut between reasons.

Rounding is defined once: the score is the weighted sum rounded half up (79.5 -> 80), the tier comes from that
rounded score, and the contribution quoted in a reason is weight x points rounded the same way.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cached_property

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
    format_reason_field,
)

SCORE_COLUMNS = ["account_id", "model", "model_version", "segment", "score", "tier", "is_pqa", "reasons"]
COMPONENT_COLUMNS = ["account_id", "model", "component", "value", "points", "weight", "contribution"]
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


@dataclass(frozen=True)
class ModelScores:
    """One model's scores, and the component arithmetic behind them (accounts x components, name order)."""

    model: ScoringModel
    # SCORE_COLUMNS, one row per account the model applies to, sorted by account_id; scored `by` a column:
    # that column first, one row per (by, account_id), sorted by both
    scores: pd.DataFrame
    components: tuple[ScoringComponent, ...]
    values: np.ndarray  # the component's input value (NaN = no data)
    points: np.ndarray  # 0-100 after scaling and decay
    weights: np.ndarray  # the weight each account was scored with (its segment's), signed: penalties < 0
    by: str | None = None  # the column telling several rows of one account apart (a day), if scored by one

    @cached_property
    def contributions(self) -> np.ndarray:
        return self.points * self.weights

    @property
    def keys(self) -> list[str]:
        """The columns identifying a row: account_id, after `by` when scored by one."""
        return [self.by, "account_id"] if self.by else ["account_id"]

    def points_table(self) -> pd.DataFrame:
        """The keys plus one column of 0-100 points per component: the input of backtests and `pls fit`."""
        table = pd.DataFrame(self.points, columns=[c.name for c in self.components])
        for position, key in enumerate(self.keys):
            table.insert(position, key, self.scores[key].to_numpy())
        return table

    def component_table(self) -> pd.DataFrame:
        """COMPONENT_COLUMNS (after `by`, if scored by one), one row per account and component: what
        `pls explain` and analysts read."""
        n, k = self.values.shape
        return pd.DataFrame({
            **{key: np.repeat(self.scores[key].to_numpy(), k) for key in self.keys},
            "model": self.model.name,
            "component": np.tile(np.array([c.name for c in self.components], dtype=object), n),
            "value": self.values.ravel().round(4),
            "points": self.points.ravel().round(2),
            "weight": self.weights.ravel(),
            "contribution": self.contributions.ravel().round(2),
        }, columns=[*self.keys[:-1], *COMPONENT_COLUMNS])


def score_model(
    features: pd.DataFrame,
    model: ScoringModel,
    *,
    max_positive_reasons: int = 3,
    max_negative_reasons: int = 1,
    max_missing_reasons: int = 1,
    reasons_max_chars: int = 500,
    by: str | None = None,
) -> ModelScores:
    """Score every account the model applies to, with the weights and thresholds of the account's segment.

    reasons: the top positive drivers and the main negative driver (penalties) that moved the score by at
    least a point, ordered by points moved, then the heaviest component the account had no data for; joined
    with "; " and cut to `reasons_max_chars` between reasons, never inside one (CRM text fields have limits).

    by: a column telling several rows of one account apart, e.g. "as_of_date" in the features of many days.
    Rows must then be unique per (by, account_id); they come out sorted by both, with `by` as the first column
    of the scores. Every row is scored on its own, so each day's scores equal scoring that day's table alone:
    the score history scores 30 days in one vectorised pass instead of 30 calls.
    """
    missing = [column for column in required_columns(model) if column not in features.columns]
    if missing:
        raise ConfigError(
            f"scoring model '{model.name}' reads {missing}, which the account features table lacks -- "
            "rebuild account_usage_rollup, or point the model's components at existing columns"
        )
    if reasons_max_chars < 1 or min(max_positive_reasons, max_negative_reasons, max_missing_reasons) < 0:
        raise ValueError("reasons_max_chars must be at least 1 and the max_*_reasons counts at least 0")
    frame = _applicable_accounts(features, model) if by is None else _applicable_rows_by(features, model, by)
    n = len(frame)
    # Components in name order: ties in the reasons break the same way whatever the order in the YAML,
    # so identical rules (one model version) always produce identical text.
    components = tuple(sorted(model.components, key=lambda c: c.name))
    k = len(components)
    values = np.empty((n, k))
    points = np.empty((n, k))
    for j, component in enumerate(components):
        values[:, j] = component_values(frame, component)
        points[:, j] = scale_points(component.scale, values[:, j], component.missing_points)
        if component.decay:
            points[:, j] *= decay_factors(_numbers(frame[component.decay.age]), component.decay.half_life_days)

    segments = _segments(frame)
    weights = np.tile(np.array([c.weight * c.sign for c in components]), (n, 1))
    thresholds = np.full(n, model.pqa_threshold)
    variants = [(model.tiers, np.ones(n, dtype=bool))]
    for segment, rules in model.segments.items():
        rows = segments == segment
        if rows.any():
            weights[rows] = [rules.weights[c.name] * c.sign for c in components]
            thresholds[rows] = rules.pqa_threshold
            variants.append((rules.tiers, rows))
            variants[0][1][rows] = False

    contributions = points * weights
    scores = np.clip(round_half_away(contributions.sum(axis=1)), MIN_SCORE, MAX_SCORE).astype("int64")
    tiers = np.empty(n, dtype=object)
    for variant_tiers, rows in variants:
        tiers[rows] = assign_tiers(scores[rows], variant_tiers)
    reasons = _Reasons(frame, components, values, points, contributions, weights).build(
        max_positive_reasons, max_negative_reasons, max_missing_reasons, reasons_max_chars
    )
    table = pd.DataFrame({
        **({by: frame[by].to_numpy()} if by else {}),
        "account_id": frame["account_id"].to_numpy(),
        "model": model.name,
        "model_version": model.version,
        "segment": pd.array(segments, dtype="str"),
        "score": scores,
        "tier": tiers,
        "is_pqa": scores >= thresholds,
        "reasons": reasons.to_pandas(),
    }, columns=[*([by] if by else []), *SCORE_COLUMNS])
    return ModelScores(model, table, components, values, points, weights, by)


def score_accounts(features: pd.DataFrame, model: ScoringModel, **reason_options: int) -> pd.DataFrame:
    """Just the scores table of `score_model`: SCORE_COLUMNS, one row per account, sorted by account_id."""
    return score_model(features, model, **reason_options).scores


def score_all(
    features: pd.DataFrame, config: ScoringConfig, *, by: str | None = None, **reason_options: int
) -> list[ModelScores]:
    """Every model over the accounts it applies to, in the file's order, with the file's reason settings
    (`reasons:`) unless overridden here. `by`: see score_model."""
    options = {**config.reason_options, **reason_options}
    return [score_model(features, model, by=by, **options) for model in config.models.values()]


def score_all_models(features: pd.DataFrame, config: ScoringConfig, **reason_options: int) -> pd.DataFrame:
    """Every model's scores in one table: one row per (account, model), sorted by both."""
    return combine_scores(score_all(features, config, **reason_options))


def combine_scores(results: list[ModelScores]) -> pd.DataFrame:
    """The models' scores in one table: one row per (account, model), or per (by, account, model) when scored
    by a column, sorted by those keys."""
    keys = _shared_keys(results)
    frames = [r.scores for r in results if len(r.scores)]
    if not frames:
        return pd.DataFrame(columns=[*keys[:-1], *SCORE_COLUMNS])
    scores = pd.concat(frames, ignore_index=True)
    return scores.sort_values([*keys, "model"], kind="stable").reset_index(drop=True)


def combine_components(results: list[ModelScores]) -> pd.DataFrame:
    keys = _shared_keys(results)
    frames = [r.component_table() for r in results if len(r.scores)]
    if not frames:
        return pd.DataFrame(columns=[*keys[:-1], *COMPONENT_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def _shared_keys(results: list[ModelScores]) -> list[str]:
    """The row keys of all the results: scores keyed differently (by a day and not) make no one table."""
    keys = {tuple(r.keys) for r in results} or {("account_id",)}
    if len(keys) > 1:
        raise ValueError(f"cannot combine scores with different row keys: {sorted(keys)}")
    return list(keys.pop())


def primary_scores(scores: pd.DataFrame, primary_models: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """One score row per account for routing, PQLs and the CRM: the first primary model that scored it (pqa
    for prospects, expansion for paying customers); accounts only non-primary models scored are left out."""
    rank = {name: i for i, name in enumerate(primary_models)}
    ranked = scores[scores["model"].isin(list(rank))]
    ranked = ranked.assign(_rank=ranked["model"].map(rank)).sort_values(["account_id", "_rank"], kind="stable")
    return ranked.drop_duplicates("account_id").drop(columns="_rank").reset_index(drop=True)


# --- the arithmetic ---------------------------------------------------------------------------------------


def component_values(frame: pd.DataFrame, component: ScoringComponent) -> np.ndarray:
    """The component's value per account: its column, or the weighted sum of its columns (NaN if any is)."""
    total = np.zeros(len(frame))
    for column, multiplier in component.features:
        total = total + _numbers(frame[column]) * multiplier
    return total


def scale_points(scale: Scale, values: np.ndarray, missing_points: float = 0.0) -> np.ndarray:
    """0-100 points per value; a missing (NaN) or infinite value earns `missing_points` (0 by default)."""
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
    return np.where(known, np.clip(points, 0.0, 100.0), float(missing_points))


def decay_factors(age_days: np.ndarray, half_life_days: float) -> np.ndarray:
    """0.5 ** (age / half-life): 1 for a signal from today, 0.5 one half-life ago. An unknown age (the signal
    never happened, so it earned no points anyway) and a negative one (clock skew) do not decay."""
    age = np.where(np.isfinite(age_days), np.clip(age_days, 0.0, None), 0.0)
    return np.power(0.5, age / half_life_days)


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


def _segments(frame: pd.DataFrame) -> np.ndarray:
    """Each account's segment (object array, None where unknown or the table has no segment column)."""
    if "segment" not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    segments = frame["segment"].astype(object)
    return segments.where(segments.notna(), None).to_numpy(dtype=object)


def _applicable_accounts(
    features: pd.DataFrame, model: ScoringModel, extra: list[str] | None = None, check_unique: bool = True
) -> pd.DataFrame:
    """The model's accounts (prospects, customers or all), only the columns it reads (and `extra`), sorted by
    account_id; one row per account unless `check_unique` is off."""
    columns = [*(extra or []), *required_columns(model), *(["segment"] if "segment" in features.columns else [])]
    frame = features[list(dict.fromkeys(columns))]
    if model.applies_to in (PROSPECTS, CUSTOMERS):
        # unknown (NA) counts as a prospect: nobody has recorded a payment
        is_customer = frame["is_customer"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        frame = frame[is_customer if model.applies_to == CUSTOMERS else ~is_customer]
    ids = pa.array(frame["account_id"].astype(str).to_numpy(dtype=object), type=pa.string())
    order = pc.sort_indices(ids).to_numpy()
    frame = frame.iloc[order].reset_index(drop=True)
    ids = ids.take(order)
    if check_unique and len(ids) > 1:
        repeated = pc.equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
        if repeated.any():
            examples = sorted(set(ids.take(np.flatnonzero(repeated)[:3]).to_pylist()))
            raise ValueError(f"the account features table has several rows for account_id {examples}: "
                             "scoring needs one row per account")
    return frame


def _applicable_rows_by(features: pd.DataFrame, model: ScoringModel, by: str) -> pd.DataFrame:
    """_applicable_accounts for a table with several rows per account told apart by column `by`: sorted by
    (by, account_id), one row per pair. A separate function so the one-row-per-account path stays as it was."""
    if by not in features.columns:
        raise ValueError(f"scoring by {by!r}: the account features table has no such column")
    if by in ("account_id", "segment", *required_columns(model)):
        raise ValueError(f"scoring by {by!r}: a column the model reads or reports cannot tell rows apart")
    if features[by].isna().any():
        raise ValueError(f"the account features table has rows without {by}: scoring by {by} needs it on every row")
    frame = _applicable_accounts(features, model, extra=[by], check_unique=False)  # sorted by account_id
    # a stable sort by the `by` values (dates, numbers or text, in their own order) keeps account_id order within
    codes, uniques = pd.factorize(frame[by], sort=True)
    order = np.argsort(codes, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    codes = codes[order]
    ids = frame["account_id"].astype(str).to_numpy(dtype=object)
    repeated = np.flatnonzero((codes[1:] == codes[:-1]) & (ids[1:] == ids[:-1]))
    if len(repeated):
        examples = sorted({(str(uniques[codes[i]]), ids[i]) for i in repeated[:3]})
        raise ValueError(f"the account features table has several rows for ({by}, account_id) {examples}: "
                         f"scoring by {by} needs one row per account and {by}")
    return frame


# --- reasons ----------------------------------------------------------------------------------------------


@dataclass
class _Reasons:
    """Assembles every account's reasons text column-wise (see the module docstring)."""

    frame: pd.DataFrame
    components: tuple[ScoringComponent, ...]
    values: np.ndarray
    points: np.ndarray
    contributions: np.ndarray
    weights: np.ndarray

    def build(self, max_positive: int, max_negative: int, max_missing: int, max_chars: int) -> pa.Array:
        n, k = self.values.shape
        contributions = self.contributions
        rounded = round_half_away(contributions)
        positive, negative = rounded >= 1, rounded <= -1
        chosen = (positive & (_rank(np.where(positive, -contributions, np.inf)) < max_positive)) | (
            negative & (_rank(np.where(negative, contributions, np.inf)) < max_negative)
        )
        texts = [self._driver_texts(j, chosen[:, j], rounded[:, j]) for j in range(k)]
        # chosen drivers by points moved, biggest first; unchosen cells are null and drop out of the join
        order = np.argsort(np.where(chosen, -np.abs(contributions), np.inf), axis=1, kind="stable")
        slots = [pc.choose(pa.array(order[:, s].astype(np.int16)), *texts) if k else pa.nulls(n, pa.string())
                 for s in range(min(max_positive + max_negative, k))]
        slots += self._missing_notes(max_missing)
        if not slots:
            return pa.array(np.full(n, NO_SIGNAL_REASON[:max_chars], dtype=object), type=pa.string())
        joined = _join_present(slots, REASON_SEPARATOR)
        joined = pc.if_else(pc.equal(joined, ""), NO_SIGNAL_REASON[:max_chars], joined)
        too_long = pc.greater(pc.utf8_length(joined), max_chars)
        rows = np.flatnonzero(too_long.to_numpy(zero_copy_only=False))
        if not len(rows):
            return joined
        # rare: only here is one account's list handled in Python, to cut it between reasons
        cut = [_join_within([p for p in (slot[i].as_py() for slot in slots) if p is not None], max_chars)
               for i in rows]
        return pc.replace_with_mask(joined, too_long, pa.array(cut, type=pa.string()))

    def _driver_texts(self, j: int, chosen: np.ndarray, rounded: np.ndarray) -> pa.Array:
        """Component j's reason for the chosen accounts, e.g. '9 active users in 28 days (+30)'; null elsewhere."""
        rows = np.flatnonzero(chosen)
        n = len(chosen)
        if not len(rows):
            return pa.nulls(n, pa.string())
        component = self.components[j]
        fields = {"value": self.values[rows, j], "points": self.points[rows, j]}
        fields.update({column: _numbers(self.frame[column])[rows] for column in component.reason_columns})
        text = _render_template(component.reason, fields)
        unknown = ~np.isfinite(self.values[rows, j])
        if unknown.any():  # points for "no value" (missing_points): say what is missing, not "nan days"
            text = pc.if_else(pa.array(unknown), component.missing_reason, text)
        moved = _format_each(rounded[rows], lambda r: f" ({int(r):+d})")
        text = pc.binary_join_element_wise(text, moved, "")
        # scatter into a full-length column: chosen rows get their text, the rest null
        position = np.full(n, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        return pc.take(text, pa.array(position, mask=position < 0))

    def _missing_notes(self, max_missing: int) -> list[pa.Array]:
        """The heaviest positive components the account has no value for: they earned 0 and the CRM user should
        know it is missing data, not a weak signal. One column per note slot, null where there is no note."""
        n, k = self.values.shape
        if not (max_missing and k):
            return []
        earns_nothing = np.array([c.missing_points == 0 for c in self.components])
        lacking = ~np.isfinite(self.values) & (self.weights > 0) & earns_nothing
        # heaviest first by this account's weights, then component name (the column order)
        order = np.argsort(np.where(lacking, -self.weights, np.inf), axis=1, kind="stable")[:, :max_missing]
        rows = np.arange(n)[:, None]
        shown = lacking[rows, order]
        most = round_half_away(self.weights[rows, order] * MAX_SCORE).astype(np.int64)
        notes = []
        for s in range(order.shape[1]):
            key = order[:, s] * (MAX_SCORE + 1) + most[:, s]  # component and its points at stake
            text = _format_each(key, lambda key: _missing_text(self.components[int(key) // (MAX_SCORE + 1)],
                                                               int(key) % (MAX_SCORE + 1)))
            notes.append(pc.if_else(pa.array(shown[:, s]), text, pa.scalar(None, pa.string())))
        return notes


def _render_template(template: str, fields: dict[str, np.ndarray]) -> pa.Array:
    """A reason template rendered for every row: literal pieces plus each placeholder formatted per distinct
    value (same format specs and singular|plural choice as `render_reason`)."""
    pieces: list = []
    for literal, field, spec, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(pa.scalar(literal))
        if field is not None:
            pieces.append(_format_each(fields[field], lambda v, spec=spec: format_reason_field(v, spec or "")))
    if not pieces:
        return pa.array([""] * len(next(iter(fields.values()))))
    if len(pieces) == 1 and isinstance(pieces[0], pa.Scalar):
        return pa.array([pieces[0].as_py()] * len(next(iter(fields.values()))))
    return pc.binary_join_element_wise(*pieces, "")


def _join_present(columns: list[pa.Array], separator: str) -> pa.Array:
    """Row-wise join of the non-null cells with `separator` ("" where all are null).

    Not pc.binary_join_element_wise(null_handling="skip"): in pyarrow 26 it drops rows whose cells are all
    null from the output, shifting every later row. Here nulls become "" and each present cell after another
    gets the separator in front, so the join itself sees no nulls.
    """
    pieces: list[pa.Array] = []
    before = None  # a row already has text
    for column in columns:
        present = pc.is_valid(column)
        text = pc.fill_null(column, "")
        if before is not None:
            glue = pc.if_else(pc.and_(present, before), separator, "")
            text = pc.binary_join_element_wise(glue, text, "")
        pieces.append(text)
        before = present if before is None else pc.or_(before, present)
    return pc.binary_join_element_wise(*pieces, "") if len(pieces) > 1 else pieces[0]


def _format_each(values: np.ndarray, formatter) -> pa.Array:
    """formatter(value) for every value, calling it once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    texts = pa.array([formatter(v) for v in uniques.tolist()], type=pa.string())
    return texts.take(pa.array(codes))


def _rank(keys: np.ndarray) -> np.ndarray:
    """Per row, each cell's position when the row is sorted ascending (stable)."""
    order = np.argsort(keys, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(keys.shape[1]), keys.shape), axis=1)
    return ranks


def _missing_text(component: ScoringComponent, most: int) -> str:
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
