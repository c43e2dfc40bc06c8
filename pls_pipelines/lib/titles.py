"""Job title -> seniority and department ("Sr. Dir., R&D" -> director in engineering).

Titles are free text typed at signup or in the CRM, so they come abbreviated (CTO, SVP, Sr. Dir., Mgr),
prefixed (Interim, Acting), punctuated every way ("VP, Eng", "Head of Sales & Marketing") and not always in
English (Directrice, Geschäftsführer, Jefe de Compras). The patterns are RevOps-owned rules in
config/personas.yaml (`titles:`), not code: a new abbreviation is a one-line YAML change. They are matched
against a normalised title (see `normalize_title`) as whole words, top to bottom, first rule wins, so traps
("Assistant to the VP") are listed above the words they contain.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pls_pipelines.lib.rules_config import (
    config_error,
    load_yaml_config,
    require_unique_names,
    shipped_config,
)

PERSONAS_FILE = "personas.yaml"
PERSONAS_SCHEMA = "personas.schema.json"

UNKNOWN = "unknown"
DEFAULT_SENIORITY = "ic"  # a non-empty title no seniority rule recognises
SENIORITY_LEVELS = ("c_level", "vp", "head", "director", "manager", "senior_ic", "ic", UNKNOWN)
DEPARTMENTS = (
    "engineering", "it", "security", "data", "product", "design", "marketing", "sales", "finance",
    "procurement", "operations", "hr", "legal", "executive", UNKNOWN,
)


@dataclass(frozen=True)
class TitleClass:
    """What a title says about its holder; `matched` names the rules that fired, to explain the result."""

    seniority: str
    department: str
    matched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TitleRule:
    name: str
    value: str  # the seniority level or department this rule assigns
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class TitleRules:
    """Compiled title rules, in priority order (compiled once at load, reused for every title)."""

    seniority: tuple[TitleRule, ...]
    departments: tuple[TitleRule, ...]


_SEPARATORS = re.compile(r"[^\w]+|_")
_AND = re.compile(r"[&+]")


def normalize_title(title: str) -> str:
    """The form rules see: 'Sr. Dir., R&D' -> 'sr dir r and d'; 'Geschäftsführerin' -> 'geschaftsfuhrerin'.

    Case is folded after the compatibility decomposition (NFKD), not only before it: styled letters pasted
    from a LinkedIn headline ('𝐕𝐏 𝐨𝐟 𝐒𝐚𝐥𝐞𝐬') or fullwidth ones ('ＶＰ') become plain capitals only in NFKD, and
    folding them first left capitals that no lower-case rule matched, so a VP read as an IC.
    """
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", str(title)).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _AND.sub(" and ", text)
    return " ".join(_SEPARATORS.sub(" ", text).split())


def classify_title(title: str | None, rules: TitleRules) -> TitleClass:
    """Seniority and department of one title; 'unknown'/'unknown' for an empty title."""
    if title is None or (not isinstance(title, str) and pd.isna(title)):
        return TitleClass(UNKNOWN, UNKNOWN, [])
    text = normalize_title(title)
    if not text:
        return TitleClass(UNKNOWN, UNKNOWN, [])
    matched: list[str] = []
    seniority = _first_match(text, rules.seniority, matched, "seniority") or DEFAULT_SENIORITY
    department = _first_match(text, rules.departments, matched, "department") or UNKNOWN
    return TitleClass(seniority, department, matched)


def classify_titles(titles: pd.Series, rules: TitleRules) -> pd.DataFrame:
    """`classify_title` for a column: each distinct title is parsed once (people share titles heavily)."""
    values = titles.astype(object).where(titles.notna(), None)
    distinct = {t: classify_title(t, rules) for t in pd.unique(values)}
    parsed = [distinct[t] for t in values]
    return pd.DataFrame(
        {
            "seniority": [p.seniority for p in parsed],
            "department": [p.department for p in parsed],
            "title_rules": ["; ".join(p.matched) for p in parsed],
        },
        index=titles.index,
    )


def load_title_rules(path: Path | str | None = None) -> TitleRules:
    """The `titles:` section of a personas YAML file (default: the shipped config/personas.yaml)."""
    path = Path(path) if path is not None else shipped_config(PERSONAS_FILE)
    data = load_yaml_config(path, PERSONAS_SCHEMA)
    return title_rules_from_config(data, path)


def title_rules_from_config(data: Mapping[str, Any], path: Path | str) -> TitleRules:
    """Compile the validated `titles:` section; a bad regex names its rule, key and the regex error."""
    compiled = {}
    for kind, value_key in (("seniority", "level"), ("departments", "department")):
        rules = data["titles"][kind]
        names = ((["titles", kind, i, "name"], r["name"]) for i, r in enumerate(rules))
        require_unique_names(path, data, names)
        compiled[kind] = tuple(_compile(data, path, [kind, i], r, r[value_key]) for i, r in enumerate(rules))
    return TitleRules(compiled["seniority"], compiled["departments"])


def _compile(
    data: Mapping[str, Any], path: Path | str, keys: list, rule: Mapping[str, Any], value: str
) -> TitleRule:
    for j, pattern in enumerate(rule["patterns"]):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise config_error(
                path, data, ["titles", *keys, "patterns", j],
                f"bad regular expression {pattern!r}: {exc}",
                "fix the pattern (quote it in single quotes; escape literal ( ) . + ? with a backslash)",
            ) from None
    combined = "|".join(f"(?:{p})" for p in rule["patterns"])
    return TitleRule(rule["name"], value, re.compile(rf"\b(?:{combined})\b"))


def _first_match(text: str, rules: Iterable[TitleRule], matched: list[str], kind: str) -> str | None:
    for rule in rules:
        if rule.pattern.search(text):
            matched.append(f"{kind}:{rule.name}")
            return rule.value
    return None
