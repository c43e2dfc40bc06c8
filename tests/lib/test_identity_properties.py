"""Properties of domain and email normalisation and of the account map over whatever CRMs and signups hold.

CRM domain fields and signup emails are free text: URLs, ports, several domains in one field, typos, blanks,
any script, pasted control characters. Normalising never raises and gives a bare lower-case domain or None;
the account map gives every workspace exactly one row and account, whatever its users' emails look like.
"""

from __future__ import annotations

import math
import re

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pls_pipelines.lib.identity import (
    ACCOUNT_MAP_COLUMNS,
    MATCH_METHODS,
    build_account_map,
    company_domain_index,
    company_domain_of,
    email_domain,
    is_personal_domain,
    known_parent,
    normalize_domain,
    normalize_email,
)
from tests.hypothesis_settings import ANY_TEXT, FAST, NASTY_TEXT, SLOW

_WHITESPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LABEL = st.text(st.sampled_from("abcxyz09-é漢"), min_size=1, max_size=6)
HOST = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
# Domain-ish junk: the shapes people type into a website field, built from hosts, URL parts and noise.
DOMAIN_LIKE = st.builds(
    lambda parts: "".join(parts),
    st.lists(
        st.one_of(HOST, st.sampled_from([
            "www.", "WWW.", "http://", "https://", "//", ":443", ":", "/about", "?q=1", "#top", "@", "[", "]",
            "[::1]", ".", "..", " ", "\t", "\x00", ";", ",", ".com", ".co.uk", "gmail.com", "xn--bcher-kva.ch",
        ]), ANY_TEXT),
        max_size=6,
    ),
)
DOMAIN_INPUT = st.one_of(
    DOMAIN_LIKE, NASTY_TEXT, st.none(), st.just(math.nan), st.just(pd.NA), st.integers(), st.floats()
)
EMAIL_INPUT = st.one_of(
    st.builds(lambda local, host: f"{local}@{host}", ANY_TEXT, DOMAIN_LIKE),
    st.just("Dana@Acme.COM"), st.just("a@b@acme.com"), NASTY_TEXT, st.none(), st.just(math.nan), st.integers(),
)


def assert_normal_domain(domain: object) -> None:
    """A normalised domain: missing, or lower-case dot-separated labels without blanks, control characters,
    slashes, brackets or '@', and no leading 'www.'."""
    if domain is None or domain is pd.NA or (isinstance(domain, float) and math.isnan(domain)):
        return
    assert isinstance(domain, str) and domain
    assert domain == domain.lower() and not domain.startswith("www.")
    assert not _WHITESPACE.search(domain) and not _CONTROL.search(domain) and not set(domain) & set("/@?#[]")
    assert "." in domain and ".." not in domain and not domain.startswith(".") and not domain.endswith(".")


@FAST
@given(value=DOMAIN_INPUT)
@example(value="https://www.Acme.COM:443/about")
@example(value="acme.com [old site]")
@example(value="www.www.acme.com")  # was "www.acme.com", which normalised again to "acme.com"
@example(value="acme.com]")  # was kept as a domain
@example(value="acme\x00.com")  # was kept as a domain, NUL and all
def test_normalize_domain_never_raises_and_is_normal_or_none(value: object) -> None:
    domain = normalize_domain(value)
    assert_normal_domain(domain)
    if domain is not None:
        assert normalize_domain(domain) == domain  # normalising a normalised domain changes nothing


@FAST
@given(email=EMAIL_INPUT)
def test_email_domains_and_keys_never_raise(email: object) -> None:
    domain = email_domain(email)
    assert_normal_domain(domain)
    company = company_domain_of(email)
    assert company is None or (company == domain and not is_personal_domain(company))
    key = normalize_email(email)
    if key is not None:
        assert key == key.strip().lower() and "@" in key
        assert normalize_email(key) == key


@FAST
@given(domain=HOST, known=st.sets(HOST, max_size=5))
def test_known_parent_is_the_domain_or_a_known_suffix_of_it(domain: str, known: set[str]) -> None:
    parent = known_parent(domain, known)
    assert parent == domain or (parent in known and domain.endswith("." + parent))


COMPANIES = st.lists(
    st.tuples(
        st.one_of(st.text(st.sampled_from("c123"), min_size=1, max_size=3), st.integers(0, 9)),  # ids
        DOMAIN_INPUT,
        st.one_of(st.none(), DOMAIN_LIKE, st.lists(HOST, max_size=3).map("; ".join)),
    ),
    max_size=6,
)


@settings(FAST, max_examples=60)  # a frame per example: slower than the pure functions above
@given(rows=COMPANIES)
def test_company_domain_index_keeps_only_normal_company_domains(rows: list) -> None:
    companies = pd.DataFrame(rows, columns=["company_id", "domain", "additional_domains"])
    index = company_domain_index(companies)
    assert index.index.is_unique
    assert set(index) <= set(companies["company_id"].astype(str))
    for domain in index.index:
        assert_normal_domain(domain)
        assert not is_personal_domain(domain)


WORKSPACES = st.lists(
    st.tuples(st.sampled_from(["w1", "w2", "w3", "w4", " ", "W1", "\x00"]), st.one_of(st.none(), ANY_TEXT,
              st.sampled_from(["c1", "c2", " c1 "]))),
    max_size=6,
)
USERS = st.lists(st.tuples(st.sampled_from(["w1", "w2", "w3", "gone", None]), EMAIL_INPUT), max_size=12)


@SLOW
@given(workspaces=WORKSPACES, users=USERS, companies=COMPANIES)
def test_every_workspace_gets_exactly_one_account(workspaces: list, users: list, companies: list) -> None:
    ws = pd.DataFrame(workspaces, columns=["workspace_id", "crm_company_id"])
    us = pd.DataFrame(users, columns=["workspace_id", "email"])
    crm = pd.DataFrame(companies, columns=["company_id", "domain", "additional_domains"])
    account_map = build_account_map(ws, us, crm)
    assert list(account_map.columns) == ACCOUNT_MAP_COLUMNS
    assert sorted(account_map["workspace_id"]) == sorted(set(ws["workspace_id"]))  # each workspace, once
    assert account_map["account_id"].notna().all()
    assert account_map["match_method"].isin(MATCH_METHODS).all()
    matched = account_map["crm_company_id"].notna()
    assert set(account_map.loc[matched, "crm_company_id"]) <= set(crm["company_id"].astype(str))
    assert (account_map.loc[~matched, "account_id"] == "ws:" + account_map.loc[~matched, "workspace_id"]).all()
    for domain in account_map["domain"]:
        assert_normal_domain(domain)
    # every member of a known workspace is counted once, and nobody else
    assert account_map["member_count"].sum() == us["workspace_id"].isin(set(ws["workspace_id"])).sum()
