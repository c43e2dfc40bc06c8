"""Route each account to a go-to-market motion, with a reason a seller understands and who to call.

The account journey: a PQA with an economic buyer in the product goes to sales; a buyer in the product
without PQA-level usage gets white-glove activation (success); no buyer in the product means prospecting
one (abm) when the account is worth it (PQA or high fit), else the product keeps selling (self_serve).
Paying customers get expansion or churn-risk plays instead. Segment then adjusts the outcome: SMB stays
self-serve, enterprise is hybrid.

All of that is an ordered decision table in config/routing.yaml (first matching rule wins), with a small
condition vocabulary (`CONDITION_KEYS` below, documented in the YAML) so RevOps can change routing without
code. Evaluation is vectorised: one boolean mask per rule over the whole table.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pls_pipelines.lib.rules_config import (
    config_error,
    did_you_mean,
    load_yaml_config,
    require_unique_names,
    shipped_config,
)
from pls_pipelines.lib.segments import SegmentThresholds, parse_segment_thresholds

ROUTING_FILE = "routing.yaml"
ROUTING_SCHEMA = "routing.schema.json"

MOTIONS = ("sales", "success", "abm", "self_serve", "expansion", "churn_risk")
OUTPUT_COLUMNS = ["account_id", "motion", "motion_reason", "recommended_contacts", "routing_rule"]


@dataclass(frozen=True)
class Measure:
    """A number a condition can compare: a column, or its relative change against a prior-period column."""

    column: str
    prior: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.prior is None else (self.column, self.prior)

    def values(self, frame: pd.DataFrame) -> pd.Series:
        """Floats; for a change, (now - prior) / prior, NaN when there is nothing to compare with."""
        now = pd.to_numeric(frame[self.column], errors="coerce").astype(float)
        if self.prior is None:
            return now
        before = pd.to_numeric(frame[self.prior], errors="coerce").astype(float)
        return (now - before) / before.where(before > 0)


# measure name in the YAML (`<measure>_at_least`, `<measure>_below`) -> what it reads from the accounts table
MEASURES: dict[str, Measure] = {
    "score": Measure("score"),
    "employees": Measure("employee_count"),
    "workspaces": Measure("workspace_count"),
    "active_users": Measure("active_users_28d"),
    "events": Measure("events_28d"),
    "advanced_features": Measure("advanced_features_used_28d"),
    "velocity": Measure("velocity_7d"),
    "usage_trend": Measure("events_28d", prior="events_prior_28d"),
    "active_user_growth": Measure("active_users_28d", prior="active_users_prior_28d"),
}
COMPARISONS = ("at_least", "below")
FLAGS = ("is_customer", "is_pqa", "buyer_present", "buyer_known", "champion_present", "is_crm_matched",
         "is_consolidation")
SET_CONDITIONS = {"segment_in": "segment", "tier_in": "tier"}
ANY_OF = "any_of"
CONDITION_KEYS = (
    *FLAGS, *SET_CONDITIONS,
    *(f"{m}_{op}" for m in MEASURES for op in COMPARISONS),
    ANY_OF,
)


@dataclass(frozen=True)
class Rule:
    """One row of the decision table (or a segment override, which adds `segments` and `replaces`)."""

    name: str
    when: Mapping[str, Any]
    motion: str
    reason: str
    segments: frozenset[str] = frozenset()
    replaces: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoutingRules:
    segments: SegmentThresholds
    rules: tuple[Rule, ...]
    overrides: tuple[Rule, ...] = ()

    @property
    def motions(self) -> tuple[str, ...]:
        """Every motion routing can produce (the schema's list), e.g. for checks on the routed table."""
        return MOTIONS


def load_routing_rules(path: Path | str | None = None) -> RoutingRules:
    """Read and check config/routing.yaml (or `path`): segments, decision table, segment overrides."""
    path = Path(path) if path is not None else shipped_config(ROUTING_FILE)
    data = load_yaml_config(path, ROUTING_SCHEMA)
    segments = parse_segment_thresholds(data["segments"], path, data)
    rules = tuple(Rule(r["name"], r["when"], r["motion"], r["reason"]) for r in data["rules"])
    overrides = tuple(
        Rule(o["name"], o.get("when", {}), o["motion"], o["reason"], frozenset(o["segments"]),
             frozenset(o["replaces"]))
        for o in data.get("segment_overrides", [])
    )
    _check(path, data, segments, rules, overrides)
    return RoutingRules(segments, rules, overrides)


def route_accounts(accounts: pd.DataFrame, rules: RoutingRules) -> pd.DataFrame:
    """One row per account: motion, motion_reason, recommended_contacts and the routing_rule that decided.

    Input: one row per account with the columns the rules read (see routing.yaml) plus, for the texts,
    economic_buyer_name/_title and champion_name/_title (optional: economic_buyer_is_user,
    economic_buyer_person_id, champion_person_id). Missing flags count as false.
    """
    _require_columns(accounts, rules)
    frame = accounts.reset_index(drop=True)
    table_rules = [rules.rules[i] for i in _first_match(frame, rules.rules)]
    motion = pd.Series([r.motion for r in table_rules], dtype=object)
    rule_name = pd.Series([r.name for r in table_rules], dtype=object)
    decider = rule_name.copy()  # the rule or override whose reason the account gets

    overridden = pd.Series(False, index=frame.index)
    for override in rules.overrides:
        mask = (
            ~overridden
            & frame["segment"].isin(override.segments).fillna(False).astype(bool)
            & motion.isin(override.replaces)
            & _condition_mask(frame, override.when)
        )
        motion[mask] = override.motion
        rule_name[mask] = rule_name[mask] + " > " + override.name
        decider[mask] = override.name
        overridden |= mask

    templates = {r.name: r.reason for r in (*rules.rules, *rules.overrides)}
    reasons = pd.Series("", index=frame.index, dtype=object)
    for name, positions in decider.groupby(decider, sort=False).indices.items():
        reasons.iloc[positions] = _Texts(frame.iloc[positions]).render(templates[name])
    return pd.DataFrame({
        "account_id": frame["account_id"],
        "motion": motion.astype(str),
        "motion_reason": reasons.astype(str),
        "recommended_contacts": _Texts(frame).recommended_contacts().astype(str),
        "routing_rule": rule_name.astype(str),
    })[OUTPUT_COLUMNS]


# --- evaluation ----------------------------------------------------------------------------------------


def _first_match(frame: pd.DataFrame, rules: tuple[Rule, ...]) -> np.ndarray:
    """Index of the first rule whose condition holds, per row (the last rule matches everything)."""
    masks = [_condition_mask(frame, rule.when).to_numpy() for rule in rules]
    return np.select(masks, list(range(len(rules))), default=len(rules) - 1)


def _condition_mask(frame: pd.DataFrame, when: Mapping[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for key, value in when.items():
        if key in FLAGS:
            flag = frame[key].astype("boolean").fillna(False).astype(bool)
            mask &= flag if value else ~flag
        elif key in SET_CONDITIONS:
            mask &= frame[SET_CONDITIONS[key]].isin(value).fillna(False).astype(bool)
        elif key == ANY_OF:
            either = pd.Series(False, index=frame.index)
            for option in value:
                either |= _condition_mask(frame, option)
            mask &= either
        else:
            measure, op = _split_comparison(key)
            values = MEASURES[measure].values(frame)
            mask &= (values >= value if op == "at_least" else values < value).fillna(False).astype(bool)
    return mask


def _split_comparison(key: str) -> tuple[str, str]:
    """'usage_trend_below' -> ('usage_trend', 'below')."""
    for op in COMPARISONS:
        if key.endswith("_" + op):
            return key.removesuffix("_" + op), op
    raise KeyError(key)


# --- texts -------------------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return f"{int(value):,}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return str(value)


def _percent(value: Any) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.0%}"


def _segment_label(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "unknown-size"
    return "SMB" if value == "smb" else value.replace("_", "-")


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _person(name: Any, title: Any, parenthesised: bool) -> str | None:
    """'Dana Ruiz, VP Engineering' (reasons) or 'Dana Ruiz (VP Engineering)' (contacts); None if no name."""
    name, title = _text(name), _text(title)
    if name is None:
        return None
    if title is None:
        return name
    return f"{name} ({title})" if parenthesised else f"{name}, {title}"


class _Texts:
    """Texts for a set of accounts: reasons (only the placeholders a template uses) and contacts."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def column(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name]
        return pd.Series(None, index=self.frame.index, dtype=object)

    def items(self, name: str) -> list[Any]:
        """A column as a plain list (iterating Arrow-backed strings one by one is slow)."""
        return self.column(name).astype(object).tolist()

    def render(self, template: str) -> list[str]:
        """The template filled in for every account of this set."""
        columns = {f: PLACEHOLDERS[f].render(self) for f in set(_placeholders(template))}
        return [template.format_map({f: v[i] for f, v in columns.items()}) for i in range(len(self.frame))]

    def people(self, prefix: str, parenthesised: bool) -> list[str | None]:
        return [
            _person(n, t, parenthesised)
            for n, t in zip(self.items(f"{prefix}_name"), self.items(f"{prefix}_title"), strict=True)
        ]

    def recommended_contacts(self) -> pd.Series:
        """'buyer: Dana Ruiz (VP Engineering); champion: Lee Wong' - who a seller should contact first."""
        buyers = self.people("economic_buyer", parenthesised=True)
        champions = self.people("champion", parenthesised=True)
        buyer_ids = self.items("economic_buyer_person_id")
        champion_ids = self.items("champion_person_id")
        in_product = self.column(
            "economic_buyer_is_user" if "economic_buyer_is_user" in self.frame.columns else "buyer_present"
        ).astype("boolean").fillna(False).tolist()
        out = []
        for buyer, champion, buyer_id, champion_id, user in zip(
            buyers, champions, buyer_ids, champion_ids, in_product, strict=True
        ):
            same_id = pd.notna(buyer_id) and buyer_id == champion_id
            if buyer is not None and (same_id or (pd.isna(buyer_id) and buyer == champion)):
                out.append(f"buyer and champion: {buyer}")
                continue
            parts = []
            if buyer is not None:
                parts.append(f"buyer: {buyer}" if user else f"buyer to prospect (not a user yet): {buyer}")
            if champion is not None:
                parts.append(f"champion: {champion}")
            out.append("; ".join(parts) if parts else "no buyer or champion identified yet")
        return pd.Series(out, index=self.frame.index, dtype=object)


def _consolidation_note(texts: _Texts) -> list[str]:
    flags = texts.column("is_consolidation").astype("boolean").fillna(False).tolist()
    counts = texts.items("workspace_count")
    return [
        f"; {_number(n)} workspaces of one company: consolidation opportunity" if flag else ""
        for flag, n in zip(flags, counts, strict=True)
    ]


@dataclass(frozen=True)
class Placeholder:
    """A `{name}` usable in reason templates: the columns it reads (checked up front) and how to render it."""

    columns: tuple[str, ...]
    render: Callable[[_Texts], list[str]]


def _column_placeholder(name: str, fmt: Callable[[Any], str] = _number) -> Placeholder:
    return Placeholder((name,), lambda texts: [fmt(v) for v in texts.items(name)])


def _change_placeholder(measure: str) -> Placeholder:
    return Placeholder(
        MEASURES[measure].columns,
        lambda texts: [_percent(v) for v in MEASURES[measure].values(texts.frame).tolist()],
    )


PLACEHOLDERS: dict[str, Placeholder] = {
    "score": _column_placeholder("score"),
    "tier": _column_placeholder("tier", lambda v: _text(v) or "no tier"),
    "segment": _column_placeholder("segment", _segment_label),
    **{name: _column_placeholder(name) for name in (
        "employee_count", "workspace_count", "active_users_28d", "active_users_prior_28d", "events_28d",
        "advanced_features_used_28d",
    )},
    "usage_trend": _change_placeholder("usage_trend"),
    "active_user_growth": _change_placeholder("active_user_growth"),
    "velocity": _change_placeholder("velocity"),
    "buyer": Placeholder(
        ("economic_buyer_name",),
        lambda texts: [p or "none identified" for p in texts.people("economic_buyer", parenthesised=False)],
    ),
    "champion": Placeholder(
        ("champion_name",),
        lambda texts: [p or "none yet" for p in texts.people("champion", parenthesised=False)],
    ),
    "consolidation_note": Placeholder(("is_consolidation", "workspace_count"), _consolidation_note),
}


def _placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


# --- checks ------------------------------------------------------------------------------------------------


def _condition_columns(when: Mapping[str, Any]) -> set[str]:
    columns: set[str] = set()
    for key, value in when.items():
        if key in FLAGS:
            columns.add(key)
        elif key in SET_CONDITIONS:
            columns.add(SET_CONDITIONS[key])
        elif key == ANY_OF:
            for option in value:
                columns |= _condition_columns(option)
        else:
            columns.update(MEASURES[_split_comparison(key)[0]].columns)
    return columns


def _require_columns(accounts: pd.DataFrame, rules: RoutingRules) -> None:
    needed = {"account_id", "segment"}
    for rule in (*rules.rules, *rules.overrides):
        needed |= _condition_columns(rule.when)
        for field in _placeholders(rule.reason):
            needed.update(PLACEHOLDERS[field].columns)
    missing = sorted(needed - set(accounts.columns))
    if missing:
        raise ValueError(
            f"accounts table lacks columns {missing} that the routing rules use: add them upstream, "
            "or change the rules in routing.yaml that read them"
        )


def _check(path: Path, data: Mapping[str, Any], segments: SegmentThresholds, rules: tuple[Rule, ...],
           overrides: tuple[Rule, ...]) -> None:
    """What the schema cannot say: unique names, a catch-all last rule, known segments and placeholders."""
    sections = (("rules", rules), ("segment_overrides", overrides))
    require_unique_names(
        path, data, (([s, i, "name"], r.name) for s, items in sections for i, r in enumerate(items))
    )
    for section, items in sections:
        for i, rule in enumerate(items):
            try:
                placeholders = _placeholders(rule.reason)
            except ValueError as exc:  # "{" alone, "{name" unclosed: string.Formatter raised out of the loader
                raise config_error(
                    path, data, [section, i, "reason"], f"the reason is malformed ({exc})",
                    "write placeholders as {name}, and a literal brace as {{ or }}",
                ) from None
            unknown = [f for f in placeholders if f not in PLACEHOLDERS]
            if unknown:
                raise config_error(
                    path, data, [section, i, "reason"], f"unknown placeholder {{{unknown[0]}}}",
                    did_you_mean(unknown[0], PLACEHOLDERS),
                )
            for keys, segment in _segments_used(rule, [section, i]):
                if segment not in segments:
                    raise config_error(path, data, keys, f"unknown segment '{segment}'",
                                       did_you_mean(segment, segments))
    if rules[-1].when:
        raise config_error(
            path, data, ["rules", len(rules) - 1, "when"], "the last rule does not match every account",
            "end the table with a catch-all, e.g. {name: default, when: {}, motion: self_serve, reason: ...}",
        )


def _segments_used(rule: Rule, keys: list) -> list[tuple[list, str]]:
    found = [([*keys, "segments"], s) for s in sorted(rule.segments)]

    def walk(when: Mapping[str, Any], path: list) -> None:
        for segment in when.get("segment_in", []):
            found.append(([*path, "segment_in"], segment))
        for j, option in enumerate(when.get(ANY_OF, [])):
            walk(option, [*path, ANY_OF, j])

    walk(rule.when, [*keys, "when"])
    return found
