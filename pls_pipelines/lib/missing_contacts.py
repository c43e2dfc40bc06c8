"""Buyers the product knows and the CRM does not: the contacts a seller would have to create by hand.

Buyer identification finds economic buyers and champions among product users, but a seller works from CRM
contacts. A buyer who signed up with their work address yet was never added to the CRM is invisible there,
which is exactly the person a PQA's seller needs. So every run lists them (the warehouse table
`buyers_missing_from_crm`), and the CRM sync creates them only when the configuration allows it
(`create_missing_contacts` in crm_fields.yaml): creating CRM records is a decision RevOps makes once, not a
side effect.

Who is listed: product users with a company email address (never free-mail: the address must tie them to
the company), not yet a contact, in an account matched to a CRM company (there is a company to attach the
contact to), who are an economic buyer, or a champion inside a PQA (a PQL).
"""

from __future__ import annotations

import pandas as pd

from pls_pipelines.lib.identity import normalize_email

ECONOMIC_BUYER_REASON = "economic buyer"
PQL_CHAMPION_REASON = "champion in a PQA"

MISSING_CONTACT_COLUMNS = [
    "account_id",
    "crm_company_id",
    "person_id",
    "user_id",
    "email",
    "first_name",
    "last_name",
    "title",
    "persona",
    "buying_power",
    "is_pql",
    "evidence",
    "why",
]


def buyers_missing_from_crm(personas: pd.DataFrame, crm_company_ids: set[str]) -> pd.DataFrame:
    """MISSING_CONTACT_COLUMNS, one row per person (and email) to add to the CRM, strongest buyers first.

    personas: identify_personas' output with is_pql (buyer_candidates); crm_company_ids: the CRM companies
    accounts are matched to (an account_id that is one of them is that company).
    """
    people = personas.copy()
    email_key = people["email"].map(normalize_email)
    free_mail = people["is_free_mail"].astype("boolean").fillna(True).astype(bool)
    is_user = people["user_id"].notna()
    not_contact = people["contact_id"].isna() if "contact_id" in people.columns else True
    matched = people["account_id"].astype(str).isin({str(c) for c in crm_company_ids})
    is_pql = people["is_pql"].astype("boolean").fillna(False).astype(bool)
    buyer = people["is_buyer"].astype(bool)
    pql_champion = people["is_champion"].astype(bool) & is_pql
    chosen = people[is_user & not_contact & matched & ~free_mail & email_key.notna() & (buyer | pql_champion)]
    chosen = chosen.assign(
        email=email_key[chosen.index],
        crm_company_id=chosen["account_id"].astype(str),
        why=buyer[chosen.index].map({True: ECONOMIC_BUYER_REASON, False: PQL_CHAMPION_REASON}),
        is_pql=is_pql[chosen.index],
    )
    first, last = split_name(chosen["name"])
    chosen = chosen.assign(first_name=first, last_name=last)
    # one contact per address: a person using the product in two accounts is created once, where they
    # count most (buyer before champion, then buying power)
    chosen = chosen.assign(_champion_only=~buyer[chosen.index]).sort_values(
        ["_champion_only", "buying_power", "account_id", "person_id"],
        ascending=[True, False, True, True], kind="stable",
    ).drop_duplicates("email")
    return chosen[MISSING_CONTACT_COLUMNS].reset_index(drop=True)


def split_name(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'Zoë van der Berg' -> ('Zoë', 'van der Berg'): CRMs want first and last name apart; the first word is
    the first name, the rest the last name (a single word is a first name only)."""
    parts = names.astype("string").str.strip().str.split(n=1, expand=True, regex=False)
    if parts.shape[1] == 0:
        empty = pd.Series(pd.NA, index=names.index, dtype="string")
        return empty, empty
    first = parts[0].astype("string")
    last = parts[1].astype("string") if parts.shape[1] > 1 else pd.Series(pd.NA, index=names.index, dtype="string")
    return first, last
