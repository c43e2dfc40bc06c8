"""Properties of title parsing and personas over any text a person can type into a title field.

Titles are free text from signup forms and CRMs: abbreviations, any script, emoji, pasted control characters,
whole paragraphs. Whatever arrives, classification returns a known seniority and department, never raises,
and gives the same answer for the same title (in a column or alone).
"""

from __future__ import annotations

import math
import unicodedata

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pls_pipelines.lib.personas import PERSONAS, PersonaRules, identify_personas, load_persona_rules
from pls_pipelines.lib.titles import (
    DEPARTMENTS,
    SENIORITY_LEVELS,
    UNKNOWN,
    TitleClass,
    TitleRules,
    classify_title,
    classify_titles,
    load_title_rules,
    normalize_title,
)
from tests.hypothesis_settings import FAST, NASTY_TEXT, SLOW

# Real titles to splice the junk into, so the rules' patterns are exercised, not only the "no match" path.
REAL_TITLES = ("VP Engineering", "Sr. Dir., IT", "Head of Procurement", "CFO", "Geschäftsführerin", "Jefe de Compras")
TITLES = st.one_of(
    NASTY_TEXT,
    st.tuples(st.sampled_from(REAL_TITLES), NASTY_TEXT, st.booleans()).map(
        lambda t: f"{t[0]} {t[1]}" if t[2] else f"{t[1]} {t[0]}"
    ),
)
MISSING = st.sampled_from([None, math.nan, pd.NA])


@pytest.fixture(scope="module")
def title_rules() -> TitleRules:
    return load_title_rules()


@pytest.fixture(scope="module")
def persona_rules() -> PersonaRules:
    return load_persona_rules()


def assert_valid(result: TitleClass) -> None:
    assert result.seniority in SENIORITY_LEVELS
    assert result.department in DEPARTMENTS
    assert all(isinstance(rule, str) and rule for rule in result.matched)


@FAST
@given(title=TITLES)
def test_any_title_gets_a_valid_deterministic_classification(title_rules: TitleRules, title: str) -> None:
    first = classify_title(title, title_rules)
    assert_valid(first)
    assert classify_title(title, title_rules) == first
    if not normalize_title(title):  # nothing a rule could read: blank, punctuation, emoji only
        assert (first.seniority, first.department) == (UNKNOWN, UNKNOWN)


@FAST
@given(title=TITLES)
def test_normalising_a_title_is_idempotent_and_blank_free(title: str) -> None:
    normal = normalize_title(title)
    assert normalize_title(normal) == normal
    assert normal == normal.strip() and "  " not in normal and "\x00" not in normal


@FAST
@given(title=TITLES)
@example(title="𝐕𝐏 𝐨𝐟 𝐄𝐧𝐠𝐢𝐧𝐞𝐞𝐫𝐢𝐧𝐠")  # bold letters pasted from a LinkedIn headline read as an IC before the fix
def test_styled_and_fullwidth_letters_read_as_the_plain_ones(title_rules: TitleRules, title: str) -> None:
    plain = unicodedata.normalize("NFKC", title)
    assert classify_title(title, title_rules) == classify_title(plain, title_rules)


@FAST
@given(missing=MISSING)
def test_a_missing_title_is_unknown(title_rules: TitleRules, missing: object) -> None:
    assert classify_title(missing, title_rules) == TitleClass(UNKNOWN, UNKNOWN, [])


@settings(FAST, max_examples=80)  # a column per example, each title classified twice
@given(titles=st.lists(st.one_of(TITLES, MISSING), max_size=8))
def test_a_column_of_titles_reads_each_title_as_alone(title_rules: TitleRules, titles: list) -> None:
    column = pd.Series(titles, index=pd.RangeIndex(len(titles)) * 3, dtype=object)  # a non-default index
    frame = classify_titles(column, title_rules)
    assert len(frame) == len(titles) and frame.index.equals(column.index)
    for (_, row), title in zip(frame.iterrows(), titles, strict=True):
        alone = classify_title(title, title_rules)
        assert (row["seniority"], row["department"], row["title_rules"]) == (
            alone.seniority, alone.department, "; ".join(alone.matched)
        )


def person(i: int, title: object, email: object, free_mail: object, events: object) -> dict:
    return {
        "account_id": f"a{i % 2}", "person_id": f"p{i}", "user_id": f"p{i}" if i % 3 else None,
        "contact_id": None, "email": email, "name": f"P{i}", "title": title, "is_free_mail": free_mail,
        "invites_sent_28d": i % 2, "users_added_28d": 0, "admin_changes_28d": 0,
        "enterprise_page_views_28d": events, "events_28d": events, "is_first_user": i == 0,
        "activity_rank": i + 1, "role": "member",
    }


PEOPLE = st.lists(
    st.tuples(
        st.one_of(TITLES, MISSING),
        st.one_of(NASTY_TEXT, MISSING, st.just("dana@acme.com"), st.just("x@gmail.com")),
        st.sampled_from([True, False, None]),
        st.one_of(st.integers(-5, 10**12), st.just(None), NASTY_TEXT),
    ),
    min_size=1,
    max_size=8,
)


@SLOW
@given(rows=PEOPLE)
def test_every_person_gets_a_persona_and_buying_power_in_range(persona_rules: PersonaRules, rows: list) -> None:
    people = pd.DataFrame([person(i, *row) for i, row in enumerate(rows)])
    out = identify_personas(people, persona_rules)
    assert list(out["person_id"]) == list(people["person_id"])  # every input row, once, in order
    assert out["persona"].isin(PERSONAS).all()
    assert out["buying_power"].between(0, 100).all()
    assert out["evidence"].map(lambda e: isinstance(e, str) and e != "").all()
    # a buyer needs a company email: a free-mail, unknown or missing address never makes one
    no_company_email = out["is_free_mail"].isna() | out["is_free_mail"].eq(True) | ~out["email"].map(
        lambda e: isinstance(e, str) and "@" in e
    )
    assert not (out["is_buyer"] & no_company_email).any()
