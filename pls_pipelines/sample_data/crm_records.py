"""The demo CRM: owners, companies, contacts and deals, consistent with the product population.

Deals carry the outcomes drawn in the population (who buys is noisy, see population.py): customers have an
older closed-won new-business deal, recent wins closed in the last ~60 days, likely wins are open deals
closing within 30 days, and some keen accounts lost. Contacts cover about a third of the product users at
company domains (same address, sometimes typed in another letter case) plus people who never used the
product - often the executives who sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pls_pipelines.sample_data import names
from pls_pipelines.sample_data.population import (
    BUYER,
    CHAMPION,
    DECLINING,
    GROWING,
    PRACTITIONER,
    WILL_WIN_OPEN,
    WON_RECENTLY,
    Population,
    make_emails,
    pick_titles,
)
from pls_pipelines.sample_data.timeline import DAY_MS, HOUR_MS, Timeline

OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
               "contractsent")
CONTACT_SHARE = {BUYER: 0.7, CHAMPION: 0.55, PRACTITIONER: 0.3}


@dataclass(frozen=True)
class CrmRecords:
    owners: pd.DataFrame
    companies: pd.DataFrame
    contacts: pd.DataFrame
    deals: pd.DataFrame


def ids_by_time(prefix: str, width: int, created: np.ndarray) -> np.ndarray:
    """Ids numbered in creation order (c_00001 is the oldest), as a real system would hand them out."""
    rank = np.empty(len(created), dtype=np.int64)
    rank[np.argsort(created, kind="stable")] = np.arange(1, len(created) + 1)
    return np.array([f"{prefix}{r:0{width}d}" for r in rank.tolist()], dtype=object)


def _days(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return np.round(rng.uniform(low, high, size) * DAY_MS).astype(np.int64)


def build_crm(
    population: Population, company_ids: np.ndarray, timeline: Timeline, rng: np.random.Generator
) -> CrmRecords:
    companies = population.companies
    n_crm = companies.n_crm
    owners = _owners(n_crm, rng)
    deals, first_deal = _deals(population, company_ids, timeline, rng)
    created = np.minimum(companies.created[:n_crm], first_deal - _days(rng, 1, 30, n_crm))

    stage = np.full(n_crm, "lead", dtype=object)
    outcome = companies.outcome[:n_crm]
    still_talking = (outcome == "lost") & (rng.random(n_crm) < 0.3)
    stage[np.isin(outcome, ["open", WILL_WIN_OPEN]) | still_talking] = "opportunity"
    stage[companies.is_customer[:n_crm] | (outcome == WON_RECENTLY)] = "customer"
    sales = owners.loc[owners["team"] == "sales", "owner_id"].to_numpy()
    success = owners.loc[owners["team"] == "success", "owner_id"].to_numpy()
    owner = np.where(
        companies.is_customer[:n_crm], rng.choice(success, n_crm), rng.choice(sales, n_crm)
    )
    legal = np.where(rng.random(n_crm) < 0.6, " " + companies.legal_suffix[:n_crm], "")
    company_frame = pd.DataFrame({
        "company_id": company_ids,
        "name": companies.short_name[:n_crm] + legal,
        "domain": companies.domain[:n_crm],
        "industry": companies.industry[:n_crm],
        "employee_count": companies.employee_count[:n_crm],
        "country": companies.country[:n_crm],
        "owner_id": owner,
        "lifecycle_stage": stage,
        "created_at": timeline.iso_seconds(created),
    }).sort_values("company_id", ignore_index=True)
    contacts = _contacts(population, company_ids, created, timeline, rng)
    return CrmRecords(owners, company_frame, contacts, deals)


def _owners(n_crm: int, rng: np.random.Generator) -> pd.DataFrame:
    n_sales = max(3, n_crm // 200)
    n_success = max(2, n_sales // 2)
    n = n_sales + n_success
    if n <= min(len(names.FIRST_NAMES), len(names.LAST_NAMES)):
        first = rng.choice(len(names.FIRST_NAMES), size=n, replace=False)
        last = rng.choice(len(names.LAST_NAMES), size=n, replace=False)
    else:  # more owners than last names (over ~11,600 workspaces): distinct first/last pairs instead
        pairs = rng.choice(len(names.FIRST_NAMES) * len(names.LAST_NAMES), size=n, replace=False)
        first, last = np.divmod(pairs, len(names.LAST_NAMES))
    full = [f"{names.FIRST_NAMES[f]} {names.LAST_NAMES[la]}" for f, la in zip(first, last, strict=True)]
    return pd.DataFrame({
        "owner_id": [f"o_{i:03d}" for i in range(1, n + 1)],
        "name": full,
        "email": [f"{names.ascii_slug(n_, '.')}@{names.OWNER_EMAIL_DOMAIN}" for n_ in full],
        "team": ["sales"] * n_sales + ["success"] * n_success,
    })


def _deals(
    population: Population, company_ids: np.ndarray, timeline: Timeline, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """All deals, and per CRM company the creation offset of its first deal (0 when it has none)."""
    companies, ws = population.companies, population.workspaces
    n_crm = companies.n_crm
    orgs = np.arange(n_crm)
    size_factor = (companies.employee_count[:n_crm] / 50) ** 0.45
    amount = np.round(6000 * size_factor * rng.lognormal(0, 0.35, n_crm), -2)
    trajectory = np.full(n_crm, "", dtype=object)
    with_ws = ws.org[(ws.org >= 0) & (ws.org < n_crm)]
    trajectory[with_ws] = ws.trajectory[(ws.org >= 0) & (ws.org < n_crm)]
    customer = companies.is_customer[:n_crm]
    outcome = companies.outcome[:n_crm]
    rows: list[pd.DataFrame] = []

    def add(mask: np.ndarray, kind: str, label: str, stage, created: np.ndarray, close: np.ndarray,
            share: float = 1.0) -> None:
        if not mask.any():
            return
        stages = np.broadcast_to(np.asarray(stage, dtype=object), mask.shape)[mask]
        rows.append(pd.DataFrame({
            "org": orgs[mask], "name": companies.short_name[:n_crm][mask] + f" - {label}", "stage": stages,
            "amount": np.round(amount[mask] * share, -2).astype(float), "deal_type": kind,
            "created": created[mask], "close": close[mask],
        }))

    # Customers: an older closed-won new-business deal (up to two years back, so a year-over-year retention
    # has a cohort to measure); some renewals; expansion talks where usage grows.
    close = -_days(rng, 100, timeline.days + 640, n_crm)
    add(customer, "newbusiness", "New Business", "closedwon", close - _days(rng, 14, 75, n_crm), close)
    renewal_close = -_days(rng, 30, 99, n_crm)
    add(customer & (rng.random(n_crm) < 0.2), "existingbusiness", "Renewal", "closedwon",
        renewal_close - _days(rng, 10, 40, n_crm), renewal_close)
    expansion_stage = rng.choice(np.array(OPEN_STAGES[:4], dtype=object), size=n_crm)
    add(customer & (trajectory == GROWING) & (rng.random(n_crm) < 0.6), "existingbusiness", "Expansion",
        expansion_stage, -_days(rng, 5, 40, n_crm), _days(rng, 10, 60, n_crm), share=0.35)
    # Declining customers: some lose an expansion, some do not renew (churn: a lost renewal, full amount).
    downgrade_close = -_days(rng, 1, 60, n_crm)
    declining = rng.random(n_crm)
    add(customer & (trajectory == DECLINING) & (declining < 0.15), "existingbusiness", "Expansion",
        "closedlost", downgrade_close - _days(rng, 10, 50, n_crm), downgrade_close, share=0.35)
    add(customer & (trajectory == DECLINING) & (declining >= 0.15) & (declining < 0.3), "existingbusiness",
        "Renewal", "closedlost", downgrade_close - _days(rng, 10, 50, n_crm), downgrade_close)

    # New business: recent wins, likely wins still open, losses and early open deals.
    won_close = -_days(rng, 1, 60, n_crm)
    add(outcome == WON_RECENTLY, "newbusiness", "New Business", "closedwon",
        won_close - _days(rng, 20, 100, n_crm), won_close)
    late_stage = rng.choice(np.array(OPEN_STAGES[2:], dtype=object), size=n_crm, p=[0.15, 0.4, 0.45])
    add(outcome == WILL_WIN_OPEN, "newbusiness", "New Business", late_stage, -_days(rng, 10, 80, n_crm),
        _days(rng, 1, 30, n_crm))
    lost_close = -_days(rng, 1, 90, n_crm)
    add(outcome == "lost", "newbusiness", "New Business", "closedlost",
        lost_close - _days(rng, 15, 90, n_crm), lost_close)
    early_stage = rng.choice(np.array(OPEN_STAGES[:3], dtype=object), size=n_crm, p=[0.4, 0.35, 0.25])
    add(outcome == "open", "newbusiness", "New Business", early_stage, -_days(rng, 5, 60, n_crm),
        _days(rng, 15, 90, n_crm))

    deals = pd.concat(rows, ignore_index=True)
    created = deals["created"].to_numpy(dtype=np.int64) - rng.integers(0, 8 * HOUR_MS, len(deals))
    first_deal = np.zeros(n_crm, dtype=np.int64)
    np.minimum.at(first_deal, deals["org"].to_numpy(), created)
    frame = pd.DataFrame({
        "deal_id": ids_by_time("d_", 5, created),
        "company_id": company_ids[deals["org"].to_numpy()],
        "name": deals["name"],
        "stage": deals["stage"],
        "amount": deals["amount"],
        "deal_type": deals["deal_type"],
        "created_at": timeline.iso_seconds(created),
        "close_date": timeline.iso_dates(deals["close"].to_numpy(dtype=np.int64)),
    }).sort_values("deal_id", ignore_index=True)
    return frame, first_deal


def _contacts(
    population: Population, company_ids: np.ndarray, company_created: np.ndarray, timeline: Timeline,
    rng: np.random.Generator,
) -> pd.DataFrame:
    companies, users, ws = population.companies, population.users, population.workspaces
    n_crm = companies.n_crm
    org = ws.org[users.workspace]
    share = np.select([users.persona == BUYER, users.persona == CHAMPION], [CONTACT_SHARE[BUYER],
                      CONTACT_SHARE[CHAMPION]], CONTACT_SHARE[PRACTITIONER])
    known = (org >= 0) & (org < n_crm) & ~users.free_mail & (rng.random(len(org)) < share)
    from_users = np.flatnonzero(known)
    user_org = org[from_users]
    language = companies.language[user_org]
    crm_title = pick_titles(users.persona[from_users], language, rng)
    user_title = users.title[from_users]
    title = np.where((user_title != "") & (rng.random(len(from_users)) < 0.75), user_title, crm_title)
    title[rng.random(len(from_users)) < 0.12] = ""

    # People the CRM knows who never used the product: mostly the executives who sign.
    employees = companies.employee_count[:n_crm]
    n_extra = rng.poisson(0.6 + 1.5 * (employees >= 500) + 0.5 * (employees >= 2000))
    n_extra = np.where(companies.has_workspace[:n_crm], n_extra, np.maximum(n_extra, 1))
    extra_org = np.repeat(np.arange(n_crm), n_extra)
    n = len(extra_org)
    persona = rng.choice(np.array([BUYER, CHAMPION, PRACTITIONER], dtype=object), size=n, p=[0.6, 0.15, 0.25])
    first, last = rng.integers(0, len(names.FIRST_NAMES), n), rng.integers(0, len(names.LAST_NAMES), n)
    taken = set(users.email.tolist())
    extra_email = make_emails(first, last, companies.domain[extra_org], companies.email_pattern[extra_org],
                              np.zeros(n, dtype=bool), rng, taken=taken)
    extra_title = pick_titles(persona, companies.language[extra_org], rng)

    all_org = np.concatenate([user_org, extra_org])
    lo = company_created[all_org]
    created = (lo + rng.random(len(all_org)) * (-HOUR_MS - lo)).astype(np.int64)
    first_names = np.array(names.FIRST_NAMES, dtype=object)
    last_names = np.array(names.LAST_NAMES, dtype=object)
    frame = pd.DataFrame({
        "contact_id": ids_by_time("k_", 5, created),
        "company_id": company_ids[all_org],
        "email": np.concatenate([_retyped(users.email[from_users], rng), extra_email]),
        "first_name": first_names[np.concatenate([users.first[from_users], first])],
        "last_name": last_names[np.concatenate([users.last[from_users], last])],
        "title": np.concatenate([title, extra_title]),
        "created_at": timeline.iso_seconds(created),
    })
    return frame.sort_values("contact_id", ignore_index=True)


def _retyped(emails: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same address as the product has, sometimes typed with other letter case by a seller."""
    style = rng.random(len(emails))
    out = emails.copy()
    for i in np.flatnonzero(style < 0.15):
        local, domain = emails[i].split("@")
        if style[i] < 0.06:
            out[i] = f"{local.title()}@{domain}"
        elif style[i] < 0.11:
            out[i] = f"{local}@{domain.title()}"
        else:
            out[i] = emails[i].upper()
    return out
