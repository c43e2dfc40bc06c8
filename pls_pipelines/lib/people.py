"""The people of each account: product users and CRM contacts, joined by normalised email.

Buyers are often not product users (the VP who signs never logs in), and most users are not buyers, so the
persona step needs both populations in one table: users bring behaviour (invites, admin changes, pricing
visits), contacts bring titles the CRM knows. A user who is also a contact becomes one person.
"""

from __future__ import annotations

import pandas as pd

from pls_pipelines.lib.identity import email_domain, is_personal_domain, normalize_email

BEHAVIOUR_COLUMNS = {
    "events_28d": "events_28d",
    "invites_28d": "invites_sent_28d",
    "users_added_28d": "users_added_28d",
    "admin_changes_28d": "admin_changes_28d",
    "enterprise_page_views_28d": "enterprise_page_views_28d",
}

PEOPLE_COLUMNS = [
    "person_id",
    "account_id",
    "user_id",
    "contact_id",
    "email",
    "name",
    "title",
    "role",
    "is_free_mail",
    *BEHAVIOUR_COLUMNS.values(),
    "is_first_user",
    "activity_rank",
]


def build_people(
    users: pd.DataFrame,
    account_map: pd.DataFrame,
    user_windows: pd.DataFrame,
    contacts: pd.DataFrame,
) -> pd.DataFrame:
    """One row per person per account. users: user_id, workspace_id, email, name, title, role, signed_up_at;
    user_windows: user_id + the 28-day behaviour columns; contacts: contact_id, company_id, email,
    first_name, last_name, title."""
    product = users.merge(account_map[["workspace_id", "account_id"]], on="workspace_id", how="inner")
    product = product.merge(user_windows, on="user_id", how="left")
    for source in BEHAVIOUR_COLUMNS:
        product[source] = pd.to_numeric(product.get(source), errors="coerce").fillna(0).astype("int64")
    product = product.rename(columns=BEHAVIOUR_COLUMNS)
    product["email_key"] = product["email"].map(normalize_email)

    crm = contacts.assign(
        email_key=contacts["email"].map(normalize_email),
        contact_name=(contacts["first_name"].fillna("") + " " + contacts["last_name"].fillna("")).str.strip(),
    )
    # Contacts count for an account only when the account is the CRM company itself (matched workspaces).
    accounts = set(account_map["account_id"])
    by_email = crm.dropna(subset=["email_key"]).drop_duplicates("email_key").set_index("email_key")

    product["contact_id"] = product["email_key"].map(by_email["contact_id"])
    crm_title = product["email_key"].map(by_email["title"])
    product["title"] = crm_title.where(crm_title.notna() & (crm_title != ""), product["title"])

    # format="mixed": each time parsed on its own. pandas otherwise guesses one format from the first value and
    # silently drops the rest written another way ("...10:00:00Z" then "...10:00:00.123Z"), so the wrong user
    # was flagged as first
    product["signed_up_at"] = pd.to_datetime(product["signed_up_at"], errors="coerce", utc=True, format="mixed")
    first_signup = product.groupby("account_id")["signed_up_at"].transform("min")
    product["is_first_user"] = product["signed_up_at"].eq(first_signup).fillna(False)
    product = product.sort_values(["account_id", "events_28d", "user_id"], ascending=[True, False, True])
    product["activity_rank"] = product.groupby("account_id").cumcount() + 1
    product["person_id"] = product["user_id"]

    linked = set(product["contact_id"].dropna())
    others = crm[~crm["contact_id"].isin(linked) & crm["company_id"].isin(accounts)].copy()
    others = others.assign(
        person_id=others["contact_id"],
        account_id=others["company_id"],
        user_id=pd.NA,
        name=others["contact_name"],
        role=pd.NA,
        is_first_user=False,
        activity_rank=pd.NA,
        **{column: 0 for column in BEHAVIOUR_COLUMNS.values()},
    )

    people = pd.concat([product, others], ignore_index=True)
    domains = people["email"].map(email_domain)
    people["is_free_mail"] = domains.map(is_personal_domain).fillna(False).astype(bool)
    people["activity_rank"] = people["activity_rank"].astype("Int64")
    people["is_first_user"] = people["is_first_user"].astype(bool)
    return people[PEOPLE_COLUMNS].sort_values(["account_id", "person_id"]).reset_index(drop=True)
