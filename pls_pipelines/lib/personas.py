"""Who in an account can buy, and who pulls the product in: personas, buying power and PQLs.

Buyers are not users. Most people in a self-serve product are end users; sales needs the few who can sign
(economic buyers: senior titles, IT and procurement) and the ones who already champion the product (they
invite teammates, make others admin, use it most, were first). Titles say who can sign; behaviour says who
champions. A free-mail address (gmail.com, ...) does not tie a person to the company, so such a person can
champion the product but never counts as the account's buyer.

All rules (title patterns, seniority points, department factors, persona definitions, behavioural signals)
are in config/personas.yaml; this module applies them to a people table, one vectorised pass.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import config_error, load_yaml_config, shipped_config
from pls_pipelines.lib.titles import (
    PERSONAS_FILE,
    PERSONAS_SCHEMA,
    UNKNOWN,
    TitleRules,
    classify_titles,
    title_rules_from_config,
)

ECONOMIC_BUYER = "economic_buyer"
CHAMPION = "champion"
INFLUENCER = "influencer"
END_USER = "end_user"
PERSONAS = (ECONOMIC_BUYER, CHAMPION, INFLUENCER, END_USER)

SIGNAL_TESTS = ("at_least", "at_most", "equals", "in")
REQUIRED_COLUMNS = ("account_id", "person_id", "user_id", "email", "name", "title", "is_free_mail",
                    "events_28d", "activity_rank")

_SENIORITY_WORDS = {
    "c_level": "C-level", "vp": "VP", "head": "Head", "director": "Director", "manager": "Manager",
    "senior_ic": "Senior IC", "ic": "IC", UNKNOWN: "No title",
}
_DEPARTMENT_WORDS = {"it": "IT", "hr": "HR"}

CONTACT_FIELDS = ("person_id", "name", "email", "title", "evidence")


@dataclass(frozen=True)
class Clause:
    """One alternative of a persona rule: seniority in `seniority` and department in `department`."""

    seniority: frozenset[str] | None
    department: frozenset[str] | None


@dataclass(frozen=True)
class Signal:
    """A behavioural signal: one test on one column of the people table, with its plain-words evidence."""

    name: str
    column: str
    test: str  # one of SIGNAL_TESTS
    value: Any
    champion: bool
    evidence: str
    points_each: float = 0.0
    max_points: float | None = None


@dataclass(frozen=True)
class PersonaRules:
    titles: TitleRules
    seniority_points: Mapping[str, int]
    department_factor: Mapping[str, float]
    economic_buyer: tuple[Clause, ...]
    influencer: tuple[Clause, ...]
    signals: tuple[Signal, ...]
    champion_min_events_28d: int = 1
    source: Path | str = "personas.yaml"  # the file these rules came from, for error messages


def load_persona_rules(path: Path | str | None = None) -> PersonaRules:
    """Read and check config/personas.yaml (or `path`): title rules, buying power, personas, signals."""
    path = Path(path) if path is not None else shipped_config(PERSONAS_FILE)
    data = load_yaml_config(path, PERSONAS_SCHEMA)
    power = data["buying_power"]
    return PersonaRules(
        titles=title_rules_from_config(data, path),
        seniority_points=dict(power["seniority_points"]),
        department_factor={k: float(v) for k, v in power["department_factor"].items()},
        economic_buyer=_clauses(data["personas"][ECONOMIC_BUYER]),
        influencer=_clauses(data["personas"][INFLUENCER]),
        signals=tuple(_signal(path, data, name, spec) for name, spec in data["signals"].items()),
        champion_min_events_28d=int(data.get("champion_min_events_28d", 1)),
        source=path,
    )


def identify_personas(people: pd.DataFrame, rules: PersonaRules) -> pd.DataFrame:
    """Classify each person: input columns + seniority, department, persona, buying_power, evidence,
    is_buyer (economic buyer with a company email) and is_champion.

    Input: one row per person per account (product users and CRM contacts): account_id, person_id, user_id
    (empty for CRM-only contacts), email, name, title, is_free_mail, events_28d, activity_rank (1 = most
    active in the account) and the columns the signals in personas.yaml read.
    """
    _require_columns(people, rules)
    out = people.copy()
    titles = classify_titles(out["title"], rules.titles)
    out["seniority"] = titles["seniority"].to_numpy()
    out["department"] = titles["department"].to_numpy()

    fired = {s.name: _signal_mask(out, s) for s in rules.signals}
    events = pd.to_numeric(out["events_28d"], errors="coerce").fillna(0)
    active = events >= rules.champion_min_events_28d
    champion_signal = _any(out.index, [fired[s.name] for s in rules.signals if s.champion])
    is_champion = champion_signal & active

    by_title_buyer = _matches_any(out, rules.economic_buyer)
    by_title_influencer = _matches_any(out, rules.influencer)
    out["persona"] = np.select(
        [by_title_buyer, is_champion, by_title_influencer], [ECONOMIC_BUYER, CHAMPION, INFLUENCER], END_USER
    )
    free_mail = _free_mail(out)
    out["buying_power"] = _buying_power(out, rules, fired)
    out["evidence"] = _evidence(out, rules, fired, free_mail, inactive_champion=champion_signal & ~active)
    out["is_buyer"] = (by_title_buyer & ~free_mail).astype(bool)
    out["is_champion"] = is_champion.astype(bool)
    return out


def best_contacts_per_account(personas: pd.DataFrame) -> pd.DataFrame:
    """One row per account: the economic buyer and the champion a seller should talk to.

    Buyer: the best `is_buyer` person, preferring product users (a buyer already in the product is a warm
    conversation; a CRM-only buyer is someone to prospect), then buying power, then activity, then
    person_id - so the choice never flips between runs. `buyer_present` is True only for a buyer who uses
    the product ("buyer in the user base" in routing); `buyer_known` also for a buyer only the CRM knows.
    Champion: the best `is_champion` person other than the chosen buyer when there is one; the buyer
    themself otherwise.
    """
    accounts = pd.DataFrame({"account_id": pd.unique(personas["account_id"])}).sort_values("account_id")
    ranked = _ranked(personas)
    buyers = ranked[ranked["is_buyer"]].drop_duplicates("account_id")
    buyer_cols = {f: f"economic_buyer_{f}" for f in CONTACT_FIELDS}
    out = accounts.merge(
        buyers[["account_id", *CONTACT_FIELDS, "_is_user"]].rename(
            columns={**buyer_cols, "_is_user": "economic_buyer_is_user"}
        ),
        on="account_id", how="left",
    )

    champions = ranked[ranked["is_champion"]].merge(
        out[["account_id", "economic_buyer_person_id"]], on="account_id", how="left"
    )
    champions["_is_buyer_too"] = champions["person_id"] == champions["economic_buyer_person_id"]
    champions = champions.sort_values(["account_id", "_is_buyer_too"], kind="stable")
    champions = champions.drop_duplicates("account_id")
    champion_cols = {f: f"champion_{f}" for f in CONTACT_FIELDS}
    out = out.merge(
        champions[["account_id", *CONTACT_FIELDS]].rename(columns=champion_cols), on="account_id", how="left"
    )
    out["economic_buyer_is_user"] = out["economic_buyer_is_user"].fillna(False).astype(bool)
    out["buyer_present"] = out["economic_buyer_is_user"]
    out["buyer_known"] = out["economic_buyer_person_id"].notna()
    out["champion_present"] = out["champion_person_id"].notna()
    columns = [
        "account_id", "buyer_present", "buyer_known", *buyer_cols.values(), "economic_buyer_is_user",
        "champion_present", *champion_cols.values(),
    ]
    return out[columns].reset_index(drop=True)


def flag_pqls(personas: pd.DataFrame, pqa_account_ids: set[str]) -> pd.Series:
    """PQL (product-qualified lead): an economic buyer or a champion inside a product-qualified account."""
    in_pqa = personas["account_id"].astype(str).isin({str(a) for a in pqa_account_ids})
    return ((personas["is_buyer"] | personas["is_champion"]) & in_pqa).astype(bool).rename("is_pql")


# --- rules -------------------------------------------------------------------------------------------------


def _clauses(rule: Mapping[str, Any]) -> tuple[Clause, ...]:
    def as_set(values: list[str] | None) -> frozenset[str] | None:
        return frozenset(values) if values else None

    return tuple(Clause(as_set(c.get("seniority")), as_set(c.get("department"))) for c in rule["any_of"])


def _signal(path: Path | str, data: Mapping[str, Any], name: str, spec: Mapping[str, Any]) -> Signal:
    tests = [t for t in SIGNAL_TESTS if t in spec]
    if len(tests) != 1:
        problem = "has no test" if not tests else f"has {len(tests)} tests ({', '.join(tests)})"
        raise config_error(path, data, ["signals", name], problem,
                           "give exactly one of at_least / at_most / equals / in, e.g. at_least: 1")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(spec["evidence"]) if f is not None}
    except ValueError as exc:  # "{" alone, "{n" unclosed: string.Formatter raised out of the loader
        raise config_error(path, data, ["signals", name, "evidence"], f"the evidence is malformed ({exc})",
                           "use {n} for the column's value, and {{ or }} for a literal brace") from None
    if fields - {"n"}:
        raise config_error(path, data, ["signals", name, "evidence"],
                           f"unknown placeholder {{{sorted(fields - {'n'})[0]}}}",
                           "use {n} for the column's value, or no placeholder")
    return Signal(
        name=name, column=spec["column"], test=tests[0], value=spec[tests[0]], champion=spec["champion"],
        evidence=spec["evidence"], points_each=float(spec.get("points_each", 0)),
        max_points=float(spec["max_points"]) if "max_points" in spec else None,
    )


def _require_columns(people: pd.DataFrame, rules: PersonaRules) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in people.columns]
    if missing:
        raise ValueError(f"people table lacks columns {missing}: build it with the documented columns")
    for signal in rules.signals:
        if signal.column not in people.columns:
            raise ConfigError(
                f"{rules.source}: signals.{signal.name}.column: the people table has no column "
                f"'{signal.column}' -- use one of: {', '.join(sorted(map(str, people.columns)))}"
            )


# --- classification ----------------------------------------------------------------------------------------


def _signal_mask(people: pd.DataFrame, signal: Signal) -> pd.Series:
    column = people[signal.column]
    if signal.test in ("at_least", "at_most"):
        values = pd.to_numeric(column, errors="coerce")
        mask = values >= signal.value if signal.test == "at_least" else values <= signal.value
    elif signal.test == "equals":
        mask = column.astype(object) == signal.value
    else:
        mask = column.isin(list(signal.value))
    return pd.Series(mask, index=people.index).fillna(False).astype(bool)


def _matches_any(people: pd.DataFrame, clauses: tuple[Clause, ...]) -> pd.Series:
    masks = []
    for clause in clauses:
        mask = pd.Series(True, index=people.index)
        if clause.seniority is not None:
            mask &= people["seniority"].isin(clause.seniority)
        if clause.department is not None:
            mask &= people["department"].isin(clause.department)
        masks.append(mask)
    return _any(people.index, masks)


def _any(index: pd.Index, masks: list[pd.Series]) -> pd.Series:
    result = pd.Series(False, index=index)
    for mask in masks:
        result |= mask
    return result


def _free_mail(people: pd.DataFrame) -> pd.Series:
    """No email, or a free-mail one: does not identify a company. Unknown is treated as free-mail, so an
    unverified address never promotes anyone to buyer."""
    has_email = people["email"].astype("string").str.contains("@", regex=False).fillna(False).astype(bool)
    flagged = people["is_free_mail"].astype("boolean").fillna(True).astype(bool)
    return flagged | ~has_email


def _buying_power(people: pd.DataFrame, rules: PersonaRules, fired: Mapping[str, pd.Series]) -> pd.Series:
    base = people["seniority"].map(rules.seniority_points).astype(float) * people["department"].map(
        rules.department_factor
    ).astype(float)
    points = pd.Series(0.0, index=people.index)
    for signal in rules.signals:
        if not signal.points_each:
            continue
        values = pd.to_numeric(people[signal.column], errors="coerce").fillna(0).astype(float)
        earned = values * signal.points_each
        if signal.max_points is not None:
            earned = earned.clip(upper=signal.max_points)
        points += earned.where(fired[signal.name], 0.0)
    return (base.fillna(0) + points).round().clip(0, 100).astype("int64")


def _evidence(people: pd.DataFrame, rules: PersonaRules, fired: Mapping[str, pd.Series], free_mail: pd.Series,
              inactive_champion: pd.Series) -> pd.Series:
    """'VP in engineering; viewed pricing/security pages 3x; invited teammates 2x' - what a seller reads."""
    seniority = people["seniority"].map(_SENIORITY_WORDS)
    department = people["department"].map(lambda d: _DEPARTMENT_WORDS.get(d, d))
    text = seniority.where(people["department"] == UNKNOWN, seniority + " in " + department)
    text = text.where(people["department"] != "executive", seniority + " executive").astype(object)
    for signal in rules.signals:
        mask = fired[signal.name]
        if not mask.any():
            continue
        values = people.loc[mask, signal.column].map(_plain_number)
        text[mask] = text[mask] + "; " + values.map(lambda n, t=signal.evidence: t.replace("{n}", n))
    text[inactive_champion] = text[inactive_champion] + "; no product activity in 28 days"
    senior = free_mail & (people["persona"] == ECONOMIC_BUYER)
    text[free_mail & ~senior] = text[free_mail & ~senior] + "; free-mail address"
    text[senior] = text[senior] + "; free-mail address (not counted as buyer)"
    return text.astype(str)


def _plain_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _ranked(personas: pd.DataFrame) -> pd.DataFrame:
    """People in contact-choice order: users first, buying power desc, most active, person_id (stable)."""
    ranked = personas.assign(
        _is_user=personas["user_id"].notna(),
        _rank=pd.to_numeric(personas["activity_rank"], errors="coerce").astype(float).fillna(np.inf),
        _pid=personas["person_id"].astype(str),
    )
    return ranked.sort_values(
        ["account_id", "_is_user", "buying_power", "_rank", "_pid"],
        ascending=[True, False, False, True, True], kind="stable",
    )
