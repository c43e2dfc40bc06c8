"""Which identified buyers are listed as missing from the CRM (and may be created as contacts)."""

from __future__ import annotations

import pandas as pd

from pls_pipelines.lib.missing_contacts import (
    ECONOMIC_BUYER_REASON,
    MISSING_CONTACT_COLUMNS,
    PQL_CHAMPION_REASON,
    buyers_missing_from_crm,
    split_name,
)


def person(person_id: str, **overrides) -> dict:
    row = {
        "account_id": "c1", "person_id": person_id, "user_id": person_id, "contact_id": None,
        "email": f"{person_id}@acme.com", "name": f"{person_id.title()} Ruiz", "title": "VP Engineering",
        "is_free_mail": False, "persona": "economic_buyer", "buying_power": 60, "is_buyer": True,
        "is_champion": False, "is_pql": False, "evidence": "VP in engineering",
    }
    return {**row, **overrides}


def missing(*people: dict, companies=("c1", "c2")) -> pd.DataFrame:
    return buyers_missing_from_crm(pd.DataFrame(list(people)), set(companies))


def test_a_buyer_using_the_product_who_is_no_contact_is_listed():
    out = missing(person("dana", email=" Dana@ACME.com "))
    assert list(out.columns) == MISSING_CONTACT_COLUMNS
    row = out.iloc[0].to_dict()
    assert (row["email"], row["first_name"], row["last_name"]) == ("dana@acme.com", "Dana", "Ruiz")
    assert (row["crm_company_id"], row["why"], row["title"]) == ("c1", ECONOMIC_BUYER_REASON, "VP Engineering")


def test_people_the_crm_cannot_or_need_not_hold_are_left_out():
    out = missing(
        person("known", contact_id="k1"),                       # already a contact
        person("gmail", email="gmail@gmail.com", is_free_mail=True),  # free-mail: not tied to the company
        person("unflagged", is_free_mail=None),                 # unknown free-mail flag counts as free-mail
        person("crmonly", user_id=None, contact_id="k2"),       # a CRM contact, not a product user
        person("unmatched", account_id="ws:w9"),                # no CRM company to attach a contact to
        person("noemail", email=None),
        person("enduser", persona="end_user", is_buyer=False),  # not a buyer
    )
    assert out.empty
    assert list(out.columns) == MISSING_CONTACT_COLUMNS


def test_a_champion_counts_only_inside_a_pqa():
    out = missing(
        person("lee", is_buyer=False, is_champion=True, is_pql=True, persona="champion", title="Engineer"),
        person("max", is_buyer=False, is_champion=True, is_pql=False, persona="champion", title="Engineer"),
    )
    assert out["person_id"].tolist() == ["lee"]
    assert out["why"].tolist() == [PQL_CHAMPION_REASON]


def test_one_row_per_address_where_the_person_counts_most():
    # the same person in two accounts: listed once, as the buyer rather than as a champion
    out = missing(
        person("dana", account_id="c1", is_buyer=False, is_champion=True, is_pql=True, buying_power=90),
        person("dana", account_id="c2", buying_power=40),
    )
    assert out[["crm_company_id", "why"]].values.tolist() == [["c2", ECONOMIC_BUYER_REASON]]


def test_strongest_buyers_first():
    out = missing(person("a", buying_power=40), person("b", buying_power=80), person("c", buying_power=60))
    assert out["person_id"].tolist() == ["b", "c", "a"]


def test_split_name_keeps_compound_last_names():
    first, last = split_name(pd.Series(["Zoë van der Berg", "Cher", None, "  Ana  Lima "]))
    assert first.tolist()[:2] == ["Zoë", "Cher"] and first.tolist()[3] == "Ana"
    assert last.tolist()[0] == "van der Berg" and pd.isna(last.iloc[1]) and last.tolist()[3] == "Lima"
    assert pd.isna(first.iloc[2]) and pd.isna(last.iloc[2])
