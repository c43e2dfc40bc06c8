"""The scoring models RevOps owns (config/scoring_models.yaml), loaded and checked before anything is scored.

The schema (config/scoring_models.schema.json) catches the shape: a missing `weight`, an unknown scale kind,
a typo like `weigth`. This module adds what a schema cannot express - weights that sum to 1 so 100 is
reachable, tiers that descend, features that are real columns of the account features table, reason
templates that render - so a bad edit fails at load time with the model, component, key and fix, instead
of silently writing wrong scores to the CRM.

Each model gets a version: a short hash of its rules (not of comments or spacing), stored with every score,
so a change of rules is visible in the score history and the CRM.

Beyond the base rules a model may carry segment overrides (other weights and tier thresholds for SMB,
mid-market or enterprise accounts) and components may decay with the age of the signal (a pricing-page visit
three weeks ago counts less than yesterday's). The file also names the primary models - the ones whose score
reaches routing and the CRM - and any custom columns a team's own features table adds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.feature_columns import NUMERIC_COLUMNS
from pls_pipelines.lib.rules_config import config_error, did_you_mean, load_yaml_config, shipped_config

DEFAULT_FILE = "scoring_models.yaml"
SCHEMA_FILE = "scoring_models.schema.json"

# Numeric columns of the account features table (lib/feature_columns.py) a component may score or a reason may
# quote; a file's `custom_columns` add to them.
SCOREABLE_COLUMNS: tuple[str, ...] = NUMERIC_COLUMNS
# Placeholders every reason template may use besides the columns: the component's value and its 0-100 points.
TEMPLATE_VALUES = ("value", "points")
WEIGHT_SUM_TOLERANCE = 0.001
MIN_SCORE, MAX_SCORE = 1, 100
VERSION_LENGTH = 12
# Reasons fit a Salesforce Text(255) field unless the file says otherwise (HubSpot text holds far more).
DEFAULT_REASON_CHARS = 255

POSITIVE, NEGATIVE = "positive", "negative"
PROSPECTS, CUSTOMERS = "prospects", "customers"  # applies_to; "all" scores every account


@dataclass(frozen=True)
class Scale:
    """How a component's value becomes 0-100 points.

    buckets: `points` holds (threshold, points) pairs, thresholds ascending; linear: `low` earns 0 and `high`
    earns 100 (low > high for "less is better"); log: `high` earns 100, with diminishing returns below it.
    """

    kind: str
    points: tuple[tuple[float, float], ...] = ()
    low: float = 0.0
    high: float = 0.0


@dataclass(frozen=True)
class Decay:
    """Points fade with the signal's age: x 0.5 every `half_life_days` of the `age` column (days since)."""

    age: str
    half_life_days: float


@dataclass(frozen=True)
class ScoringComponent:
    """One signal of a model: which columns it reads, how they become points, and how much they weigh."""

    name: str
    features: tuple[tuple[str, float], ...]  # (column, multiplier): the value is their weighted sum
    weight: float
    scale: Scale
    reason: str  # CRM wording, a str.format template
    missing_reason: str  # CRM wording when the account has no value
    direction: str = POSITIVE
    description: str = ""
    decay: Decay | None = None
    missing_points: float = 0.0  # points for an account with no value (a risk model may count it as the worst)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the component reads: its features and the age column of its decay."""
        columns = tuple(column for column, _ in self.features)
        return (*columns, self.decay.age) if self.decay else columns

    @property
    def reason_fields(self) -> tuple[str, ...]:
        """Placeholders of the reason template, each once: value, points and/or features columns."""
        return tuple(dict.fromkeys(_template_fields(self.reason)))

    @property
    def reason_columns(self) -> tuple[str, ...]:
        """Features columns the reason template quotes besides {value} and {points}."""
        return tuple(f for f in self.reason_fields if f not in TEMPLATE_VALUES)

    @property
    def sign(self) -> int:
        return -1 if self.direction == NEGATIVE else 1


@dataclass(frozen=True)
class Tier:
    name: str
    min_score: int


@dataclass(frozen=True)
class Rules:
    """Weights and thresholds: the base model's, or a segment's after its overrides."""

    weights: dict[str, float]  # component name -> weight
    tiers: tuple[Tier, ...]  # highest min_score first; the last starts at 0
    pqa_threshold: int


@dataclass(frozen=True)
class ScoringModel:
    name: str
    version: str  # short sha256 of the model's rules: changes when a rule changes, not with comments
    description: str
    applies_to: str  # prospects | customers | all
    components: tuple[ScoringComponent, ...]
    tiers: tuple[Tier, ...]  # highest min_score first; the last starts at 0
    pqa_threshold: int
    segments: dict[str, Rules] = dataclasses.field(default_factory=dict)  # segment -> overridden weights and thresholds

    @property
    def base_rules(self) -> Rules:
        return Rules({c.name: c.weight for c in self.components}, self.tiers, self.pqa_threshold)

    def rules_for(self, segment: str | None) -> Rules:
        """The weights and thresholds an account of this segment is scored with."""
        return self.segments.get(segment, self.base_rules) if segment else self.base_rules


@dataclass(frozen=True)
class ScoringConfig:
    path: Path
    models: dict[str, ScoringModel]
    primary_models: tuple[str, ...] = ()  # whose score reaches routing and the CRM, first that applies wins
    custom_columns: tuple[str, ...] = ()
    reason_options: dict[str, int] = dataclasses.field(default_factory=dict)  # score_model's max_* keywords

    def model(self, name: str) -> ScoringModel:
        """The model called `name`; a ConfigError with the closest name for a typo (e.g. in a CLI option)."""
        if name not in self.models:
            raise ConfigError(f"{self.path}: no scoring model '{name}' -- {did_you_mean(name, self.models)}")
        return self.models[name]


def load_scoring_config(path: Path | None = None, segments: Iterable[str] | None = None) -> ScoringConfig:
    """Load and check the scoring models; None loads the shipped config/scoring_models.yaml.

    `segments`: the segment names routing knows (config/routing.yaml); when given, a segment override for any
    other name is an error instead of an override that never applies.
    Raises ConfigError naming the file, line, model, component, key and the fix.
    """
    path = Path(path) if path is not None else shipped_config(DEFAULT_FILE)
    data = load_yaml_config(path, SCHEMA_FILE)
    custom = tuple(data.get("custom_columns", []))
    for i, column in enumerate(custom):
        if column in SCOREABLE_COLUMNS:
            raise config_error(path, data, ("custom_columns", i), f"'{column}' is already a standard column",
                               "remove it from custom_columns; only columns your own table adds go there")
    known = (*SCOREABLE_COLUMNS, *custom)
    known_segments = tuple(segments) if segments is not None else None
    models = {
        name: _parse_model(_ModelFile(path, data, name, known), spec, known_segments)
        for name, spec in data["models"].items()
    }
    primary = tuple(data.get("primary_models", [next(iter(models))]))
    for i, name in enumerate(primary):
        if name not in models:
            raise config_error(path, data, ("primary_models", i), f"there is no model '{name}'",
                               did_you_mean(name, models))
    reasons = data.get("reasons", {})
    reason_options = {
        "reasons_max_chars": reasons.get("max_chars", DEFAULT_REASON_CHARS),
        **{f"max_{kind}_reasons": reasons[f"max_{kind}"] for kind in ("positive", "negative", "missing")
           if f"max_{kind}" in reasons},
    }
    return ScoringConfig(path=path, models=models, primary_models=primary, custom_columns=custom,
                         reason_options=reason_options)


def _model_version(model_rules: dict[str, Any]) -> str:
    """First 12 hex digits of the sha256 of the rules' canonical JSON (sorted keys, numbers as floats)."""
    canonical = json.dumps(model_rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:VERSION_LENGTH]


# --- parsing and the checks beyond the schema -------------------------------------------------------------


@dataclass(frozen=True)
class _ModelFile:
    """Where a model sits in its file, so every check reports the file, line and key path the same way."""

    path: Path
    data: dict
    model: str
    columns: tuple[str, ...]  # the columns components may read: standard plus the file's custom_columns

    def error(self, keys: tuple, problem: str, fix: str) -> ConfigError:
        return config_error(self.path, self.data, ("models", self.model, *keys), problem, fix)


def _parse_model(where: _ModelFile, spec: dict, known_segments: tuple[str, ...] | None) -> ScoringModel:
    components = tuple(_parse_component(where, key, raw) for key, raw in spec["components"].items())
    _check_weights(where, ("components",), components, {c.name: c.weight for c in components})
    tiers = _parse_tiers(where, ("tiers",), tuple(Tier(t["name"], int(t["min_score"])) for t in spec["tiers"]))
    pqa_threshold = int(spec.get("pqa_threshold", tiers[0].min_score))
    base = Rules({c.name: c.weight for c in components}, tiers, pqa_threshold)
    segments = {
        segment: _parse_segment(where, segment, raw, components, base, known_segments)
        for segment, raw in spec.get("segments", {}).items()
    }
    rules = {
        "applies_to": spec["applies_to"],
        "components": {c.name: _component_rules(c) for c in components},
        "tiers": [[t.name, t.min_score] for t in tiers],
        "pqa_threshold": pqa_threshold,
    }
    if segments:  # added only when present, so models without overrides keep their earlier versions
        rules["segments"] = {
            name: {"weights": r.weights, "tiers": [[t.name, t.min_score] for t in r.tiers],
                   "pqa_threshold": r.pqa_threshold}
            for name, r in sorted(segments.items())
        }
    return ScoringModel(
        name=where.model,
        version=_model_version(rules),
        description=_one_line(spec.get("description", "")),
        applies_to=spec["applies_to"],
        components=components,
        tiers=tiers,
        pqa_threshold=pqa_threshold,
        segments=segments,
    )


def _parse_segment(
    where: _ModelFile,
    segment: str,
    raw: dict,
    components: tuple[ScoringComponent, ...],
    base: Rules,
    known_segments: tuple[str, ...] | None,
) -> Rules:
    """A segment's rules: the base weights and thresholds with the segment's changes applied and re-checked."""
    keys = ("segments", segment)
    if known_segments is not None and segment not in known_segments:
        raise where.error(keys, f"'{segment}' is not a segment of config/routing.yaml",
                          did_you_mean(segment, known_segments))
    weights = dict(base.weights)
    for name, weight in raw.get("weights", {}).items():
        if name not in weights:
            raise where.error((*keys, "weights", name), f"'{name}' is not a component of this model",
                              did_you_mean(name, weights))
        weights[name] = float(weight)
    _check_weights(where, (*keys, "weights"), components, weights, segment)
    by_name = {t.name: t.min_score for t in base.tiers}
    for name, min_score in raw.get("tiers", {}).items():
        if name not in by_name:
            raise where.error((*keys, "tiers", name), f"'{name}' is not a tier of this model",
                              did_you_mean(name, by_name))
        by_name[name] = int(min_score)
    tiers = _parse_tiers(where, (*keys, "tiers"), tuple(Tier(t.name, by_name[t.name]) for t in base.tiers))
    threshold = int(raw.get("pqa_threshold", tiers[0].min_score if "tiers" in raw else base.pqa_threshold))
    return Rules(weights, tiers, threshold)


def _parse_component(where: _ModelFile, name: str, raw: dict) -> ScoringComponent:
    keys = ("components", name)
    if ("feature" in raw) == ("features" in raw):
        raise where.error(
            keys,
            "has both 'feature' and 'features'" if "feature" in raw else "missing 'feature'",
            "add e.g. feature: active_users_28d, or for a weighted sum of columns e.g. "
            "features: {core_features_used_28d: 1, advanced_features_used_28d: 2} (keep one of the two)",
        )
    if "feature" in raw:
        features = ((raw["feature"], 1.0),)
        _check_column(where, (*keys, "feature"), raw["feature"])
    else:
        features = tuple((column, float(multiplier)) for column, multiplier in raw["features"].items())
        for column, _ in features:
            _check_column(where, (*keys, "features", column), column)
    scale = _parse_scale(where, (*keys, "scale"), raw["scale"])
    _check_template(where, (*keys, "reason"), raw["reason"])
    decay = None
    if "decay" in raw:
        _check_column(where, (*keys, "decay", "age"), raw["decay"]["age"])
        decay = Decay(raw["decay"]["age"], float(raw["decay"]["half_life_days"]))
    return ScoringComponent(
        name=name,
        features=features,
        weight=float(raw["weight"]),
        scale=scale,
        reason=raw["reason"],
        missing_reason=raw.get("missing_reason", f"no data for {name.replace('_', ' ')}"),
        direction=raw.get("direction", POSITIVE),
        description=_one_line(raw.get("description", "")),
        decay=decay,
        missing_points=float(raw.get("missing_points", 0)),
    )


def _check_column(where: _ModelFile, keys: tuple, column: str) -> None:
    if column not in where.columns:
        raise where.error(keys, f"'{column}' is not a column of the account features table",
                          did_you_mean(column, where.columns) + "; a column your own features table adds "
                          "goes in custom_columns first")


def _parse_scale(where: _ModelFile, keys: tuple, raw: dict) -> Scale:
    kind = raw["kind"]
    if kind == "buckets":
        pairs = tuple((float(threshold), float(points)) for threshold, points in raw["points"])
        for i in range(1, len(pairs)):
            if pairs[i][0] <= pairs[i - 1][0]:
                raise where.error(
                    (*keys, "points", i),
                    f"threshold {pairs[i][0]:g} is not above the previous threshold {pairs[i - 1][0]:g}",
                    "list buckets from the lowest threshold up, e.g. [[1, 10], [3, 40], [7, 100]]",
                )
        best = max(points for _, points in pairs)
        if best != 100:
            raise where.error(
                (*keys, "points"),
                f"the best bucket gives {best:g} points, so this component can never reach 100",
                "give the best bucket 100 points, e.g. [7, 100]: points are 0-100, the weight sets the "
                "component's share of the score",
            )
        return Scale(kind, points=pairs)
    if kind == "linear":
        low, high = float(raw["min"]), float(raw["max"])
        if low == high:
            raise where.error((*keys, "max"), f"min and max are both {low:g}",
                              "set min to the value that earns 0 points and max to the value that earns 100")
        return Scale(kind, low=low, high=high)
    return Scale(kind, high=float(raw["max"]))  # log: the schema allows no other kind


def _check_template(where: _ModelFile, keys: tuple, template: str) -> None:
    """The reason must render for any account: known placeholders, formats that work on numbers."""
    allowed = (*TEMPLATE_VALUES, *where.columns)
    example = "e.g. '{value:.0f} active {value:user|users} in 28 days'"
    try:
        fields = _template_fields(template)
    except ValueError as exc:
        raise where.error(keys, f"the reason template is malformed ({exc})",
                          f"write placeholders as {{name}} or {{name:format}}, {example}") from None
    for field in fields:
        if field not in allowed:
            hint = did_you_mean(field, allowed) if field else f"name the placeholder, {example}"
            raise where.error(keys, f"unknown placeholder {{{field}}} in the reason", hint)
    try:
        for sample in (1.0, 2345.5):
            render_reason(template, dict.fromkeys(fields, sample))
    except (ValueError, TypeError) as exc:
        raise where.error(keys, f"the reason does not render for a number ({exc})",
                          f"use a number format such as :.0f, :,.0f or :+.0%, {example}") from None


def render_reason(template: str, fields: dict[str, Any]) -> str:
    """Fill a reason template. Besides Python's number formats, a spec with "|" picks singular or plural
    by the value: "{value:.0f} {value:teammate|teammates}" -> "1 teammate", "4 teammates"."""
    return _REASON_FORMATTER.vformat(template, (), fields)


def format_reason_field(value: Any, format_spec: str) -> str:
    """One placeholder of a reason template: a number format, or "singular|plural" chosen by the value."""
    if "|" in format_spec:
        singular, _, plural = format_spec.partition("|")
        return singular if value == 1 else plural
    if isinstance(value, float) and math.isnan(value):
        return "?"  # a quoted column the table lacks: "? workspaces", never "nan workspaces" in the CRM
    return format(value, format_spec)


class _ReasonFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return format_reason_field(value, format_spec)


_REASON_FORMATTER = _ReasonFormatter()


def _template_fields(template: str) -> list[str]:
    fields = []
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is None:
            continue
        if "{" in (spec or ""):
            raise ValueError(f"nested placeholder in {{{field}:{spec}}}")
        fields.append(field)
    return fields


def _check_weights(
    where: _ModelFile,
    keys: tuple,
    components: tuple[ScoringComponent, ...],
    weights: dict[str, float],
    segment: str | None = None,
) -> None:
    positive = [c.name for c in components if c.direction == POSITIVE]
    total = sum(weights[name] for name in positive)
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        terms = " + ".join(f"{name} {weights[name]:g}" for name in positive) or "no positive components"
        whose = f"scoring model '{where.model}'" + (f" for segment '{segment}'" if segment else "")
        raise where.error(
            keys,
            f"the weights of {whose} sum to {total:.3f} ({terms})",
            "make the weights of the positive components sum to 1.0, so an account that maxes every signal "
            "scores 100 (penalties with direction: negative are not part of the sum)",
        )


def _parse_tiers(where: _ModelFile, keys: tuple, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
    """Check tiers descend and the last starts low enough. `keys` locates them: a list of tiers in a model,
    or a segment's mapping of tier name -> min_score."""
    in_list = keys == ("tiers",)

    def at(i: int, key: str) -> tuple:
        return (*keys, i, key) if in_list else (*keys, tiers[i].name)

    for i, tier in enumerate(tiers):
        if tier.name in {t.name for t in tiers[:i]}:
            raise where.error(at(i, "name"), f"tier '{tier.name}' appears twice", "give each tier its own name")
        if i and tier.min_score >= tiers[i - 1].min_score:
            above = tiers[i - 1]
            raise where.error(
                at(i, "min_score"),
                f"tier '{tier.name}' starts at {tier.min_score}, not below '{above.name}' "
                f"({above.min_score})",
                "list tiers from the highest min_score down, e.g. sales 80, success 60, self_serve 0",
            )
    lowest = tiers[-1]
    if lowest.min_score > MIN_SCORE:
        raise where.error(
            at(len(tiers) - 1, "min_score"),
            f"the last tier starts at {lowest.min_score}, so scores {MIN_SCORE}-{lowest.min_score - 1} "
            "get no tier",
            "start the last tier at 0",
        )
    return tiers


def _component_rules(component: ScoringComponent) -> dict[str, Any]:
    """What scores depend on (not descriptions), numbers as floats and features sorted, so `0.3` vs `0.30`
    or reordering a features mapping leaves the version alone."""
    scale = component.scale
    rules: dict[str, Any] = {
        "features": sorted([column, float(multiplier)] for column, multiplier in component.features),
        "weight": float(component.weight),
        "direction": component.direction,
        "scale": {"kind": scale.kind, "points": [list(p) for p in scale.points], "low": scale.low,
                  "high": scale.high},
        "reason": component.reason,
        "missing_reason": component.missing_reason,
    }
    # only when set: models without them keep their earlier versions
    if component.decay:
        rules["decay"] = {"age": component.decay.age, "half_life_days": component.decay.half_life_days}
    if component.missing_points:
        rules["missing_points"] = component.missing_points
    return rules


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
