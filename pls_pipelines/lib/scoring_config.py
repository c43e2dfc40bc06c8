"""The scoring models RevOps owns (config/scoring_models.yaml), loaded and checked before anything is scored.

The schema (config/scoring_models.schema.json) catches the shape: a missing `weight`, an unknown scale kind,
a typo like `weigth`. This module adds what a schema cannot express - weights that sum to 1 so 100 is
reachable, tiers that descend, features that are real columns of the account features table, reason
templates that render - so a bad edit fails at load time with the model, component, key and fix, instead
of silently writing wrong scores to the CRM.

Each model gets a version: a short hash of its rules (not of comments or spacing), stored with every score,
so a change of rules is visible in the score history and the CRM.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pls_pipelines.lib.accounts import COUNT_COLUMNS
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import config_error, did_you_mean, load_yaml_config, shipped_config

DEFAULT_FILE = "scoring_models.yaml"
SCHEMA_FILE = "scoring_models.schema.json"

# Numeric columns of the account features table (lib/accounts.py) a component may score or a reason may quote.
SCOREABLE_COLUMNS: tuple[str, ...] = (
    *COUNT_COLUMNS,
    "features_used_28d", "core_features_used_28d", "advanced_features_used_28d", "velocity_7d",
    "days_since_last_active", "employee_count", "users_total", "workspace_count", "is_consolidation",
)
# Placeholders every reason template may use besides the columns: the component's value and its 0-100 points.
TEMPLATE_VALUES = ("value", "points")
WEIGHT_SUM_TOLERANCE = 0.001
MIN_SCORE, MAX_SCORE = 1, 100
VERSION_LENGTH = 12

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

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.features)

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
class ScoringModel:
    name: str
    version: str  # short sha256 of the model's rules: changes when a rule changes, not with comments
    description: str
    applies_to: str  # prospects | customers | all
    components: tuple[ScoringComponent, ...]
    tiers: tuple[Tier, ...]  # highest min_score first; the last starts at 0
    pqa_threshold: int


@dataclass(frozen=True)
class ScoringConfig:
    path: Path
    models: dict[str, ScoringModel]

    def model(self, name: str) -> ScoringModel:
        """The model called `name`; a ConfigError with the closest name for a typo (e.g. in a CLI option)."""
        if name not in self.models:
            raise ConfigError(f"{self.path}: no scoring model '{name}' -- {did_you_mean(name, self.models)}")
        return self.models[name]


def load_scoring_config(path: Path | None = None) -> ScoringConfig:
    """Load and check the scoring models; None loads the shipped config/scoring_models.yaml.

    Raises ConfigError naming the file, line, model, component, key and the fix.
    """
    path = Path(path) if path is not None else shipped_config(DEFAULT_FILE)
    data = load_yaml_config(path, SCHEMA_FILE)
    models = {name: _parse_model(path, data, name, spec) for name, spec in data["models"].items()}
    return ScoringConfig(path=path, models=models)


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

    def error(self, keys: tuple, problem: str, fix: str) -> ConfigError:
        return config_error(self.path, self.data, ("models", self.model, *keys), problem, fix)


def _parse_model(path: Path, data: dict, name: str, spec: dict) -> ScoringModel:
    where = _ModelFile(path, data, name)
    components = tuple(_parse_component(where, key, raw) for key, raw in spec["components"].items())
    _check_weights(where, components)
    tiers = _parse_tiers(where, spec["tiers"])
    pqa_threshold = int(spec.get("pqa_threshold", tiers[0].min_score))
    rules = {
        "applies_to": spec["applies_to"],
        "components": {c.name: _component_rules(c) for c in components},
        "tiers": [[t.name, t.min_score] for t in tiers],
        "pqa_threshold": pqa_threshold,
    }
    return ScoringModel(
        name=name,
        version=_model_version(rules),
        description=_one_line(spec.get("description", "")),
        applies_to=spec["applies_to"],
        components=components,
        tiers=tiers,
        pqa_threshold=pqa_threshold,
    )


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
    return ScoringComponent(
        name=name,
        features=features,
        weight=float(raw["weight"]),
        scale=scale,
        reason=raw["reason"],
        missing_reason=raw.get("missing_reason", f"no data for {name.replace('_', ' ')}"),
        direction=raw.get("direction", POSITIVE),
        description=_one_line(raw.get("description", "")),
    )


def _check_column(where: _ModelFile, keys: tuple, column: str) -> None:
    if column not in SCOREABLE_COLUMNS:
        raise where.error(keys, f"'{column}' is not a column of the account features table",
                          did_you_mean(column, SCOREABLE_COLUMNS))


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
    allowed = (*TEMPLATE_VALUES, *SCOREABLE_COLUMNS)
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
    if "|" not in template:
        return template.format(**fields)  # the common case, without the slower pure-Python Formatter
    return _REASON_FORMATTER.vformat(template, (), fields)


class _ReasonFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if "|" in format_spec:
            singular, _, plural = format_spec.partition("|")
            return singular if value == 1 else plural
        return super().format_field(value, format_spec)


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


def _check_weights(where: _ModelFile, components: tuple[ScoringComponent, ...]) -> None:
    positive = [c for c in components if c.direction == POSITIVE]
    total = sum(c.weight for c in positive)
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        terms = " + ".join(f"{c.name} {c.weight:g}" for c in positive) or "no positive components"
        raise where.error(
            ("components",),
            f"the weights of scoring model '{where.model}' sum to {total:.3f} ({terms})",
            "make the weights of the positive components sum to 1.0, so an account that maxes every signal "
            "scores 100 (penalties with direction: negative are not part of the sum)",
        )


def _parse_tiers(where: _ModelFile, raw: list[dict]) -> tuple[Tier, ...]:
    tiers = tuple(Tier(t["name"], int(t["min_score"])) for t in raw)
    for i, tier in enumerate(tiers):
        if tier.name in {t.name for t in tiers[:i]}:
            raise where.error(("tiers", i, "name"), f"tier '{tier.name}' appears twice",
                              "give each tier its own name")
        if i and tier.min_score >= tiers[i - 1].min_score:
            above = tiers[i - 1]
            raise where.error(
                ("tiers", i, "min_score"),
                f"tier '{tier.name}' starts at {tier.min_score}, not below '{above.name}' "
                f"({above.min_score})",
                "list tiers from the highest min_score down, e.g. sales 80, success 60, self_serve 0",
            )
    lowest = tiers[-1]
    if lowest.min_score > MIN_SCORE:
        raise where.error(
            ("tiers", len(tiers) - 1, "min_score"),
            f"the last tier starts at {lowest.min_score}, so scores {MIN_SCORE}-{lowest.min_score - 1} "
            "get no tier",
            "start the last tier at 0",
        )
    return tiers


def _component_rules(component: ScoringComponent) -> dict[str, Any]:
    """What scores depend on (not descriptions), numbers as floats and features sorted, so `0.3` vs `0.30`
    or reordering a features mapping leaves the version alone."""
    scale = component.scale
    return {
        "features": sorted([column, float(multiplier)] for column, multiplier in component.features),
        "weight": float(component.weight),
        "direction": component.direction,
        "scale": {"kind": scale.kind, "points": [list(p) for p in scale.points], "low": scale.low,
                  "high": scale.high},
        "reason": component.reason,
        "missing_reason": component.missing_reason,
    }


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
