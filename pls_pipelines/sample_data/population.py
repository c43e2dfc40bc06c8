"""Who is in the demo: companies, their product workspaces and the people in them, with latent variables.

The latent variables (a company's buying intent, whether it will buy, whether usage is growing or declining)
are drawn first; everything observable (team size, plan, titles, email domains, later the events and CRM
records) is drawn from them *with noise*, so a good score finds the buyers but can never be perfect.

Workspace kinds: `crm` workspaces belong to a company the CRM knows; `unknown` ones to a company it does not
(about 10%, for prospecting); `personal` ones are individuals on free-mail addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pls_pipelines.sample_data import names
from pls_pipelines.sample_data.timeline import DAY_MS, HOUR_MS, MINUTE_MS

KIND_CRM, KIND_UNKNOWN, KIND_PERSONAL = "crm", "unknown", "personal"
GROWING, STEADY, DECLINING = "growing", "steady", "declining"
BUYER, CHAMPION, PRACTITIONER = "buyer", "champion", "practitioner"
WON_RECENTLY, WILL_WIN_OPEN = "won_recently", "open_will_win"

PERSONAL_SHARE = 0.08
UNKNOWN_DOMAIN_SHARE = 0.10
EXPLICIT_LINK_SHARE = 0.30
NO_WORKSPACE_COMPANY_SHARE = 0.25  # CRM companies nobody from has signed up yet (ABM territory)
CUSTOMER_SHARE = 0.08
UNTITLED_SHARE = 0.40  # signup survey skipped
COMPANY_USER_FREE_MAIL = 0.155
PRE_WINDOW_WORKSPACES = 0.72  # the rest are created during the window
MAX_TEAM = 300


@dataclass(frozen=True)
class Companies:
    """Every organisation behind a workspace, and CRM companies with no workspace. Index = org number.

    The first `n_crm` orgs are in the CRM; the rest are unknown to it."""

    n_crm: int
    short_name: np.ndarray
    domain: np.ndarray
    industry: np.ndarray
    country: np.ndarray
    legal_suffix: np.ndarray
    language: np.ndarray
    employee_count: np.ndarray
    intent: np.ndarray
    has_workspace: np.ndarray
    is_customer: np.ndarray  # paying since before the window (older closed-won new-business deal)
    outcome: np.ndarray  # new business: WON_RECENTLY | WILL_WIN_OPEN | "lost" | "open" | ""
    email_pattern: np.ndarray  # 0 first.last, 1 flast, 2 first, 3 firstl
    created: np.ndarray  # CRM created_at offsets (ms)

    @property
    def will_win(self) -> np.ndarray:
        return np.isin(self.outcome, [WON_RECENTLY, WILL_WIN_OPEN])


@dataclass(frozen=True)
class Workspaces:
    org: np.ndarray  # index into Companies, -1 for personal workspaces
    kind: np.ndarray
    intent: np.ndarray
    trajectory: np.ndarray
    slope: np.ndarray  # log-ratio of activity at the window's end vs its start
    created: np.ndarray
    plan: np.ndarray
    trial_started: np.ndarray  # offset of a Trial Started inside the window, else a sentinel > 0
    explicit_link: np.ndarray  # crm_company_id set by billing/integration
    name: np.ndarray


@dataclass(frozen=True)
class Users:
    workspace: np.ndarray
    position: np.ndarray  # 0 = the workspace's creator
    role: np.ndarray
    persona: np.ndarray
    first: np.ndarray  # index into names.FIRST_NAMES
    last: np.ndarray
    email: np.ndarray
    free_mail: np.ndarray
    title: np.ndarray
    signed_up: np.ndarray


@dataclass(frozen=True)
class Population:
    companies: Companies
    workspaces: Workspaces
    users: Users


NO_TRIAL = np.int64(1)  # offsets are <= 0, so a positive one means "no trial started in the window"


def build_population(accounts: int, days: int, rng: np.random.Generator) -> Population:
    """Companies -> workspaces -> users, each drawn from the latent variables of the level above."""
    org_of_ws, kind, n_crm, n_orgs = _workspace_orgs(accounts, rng)
    companies = _companies(org_of_ws, n_crm, n_orgs, days, rng)
    workspaces = _workspaces(org_of_ws, kind, companies, days, rng)
    users = _users(workspaces, companies, days, rng)
    return Population(companies, workspaces, users)


def _workspace_orgs(accounts: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Which org each workspace belongs to: mostly one workspace per company, a few companies with 2, at
    least one with 3+ (consolidation), unknown-domain orgs, and personal (no org) workspaces."""
    n_personal = max(1, round(PERSONAL_SHARE * accounts))
    n_unknown = max(1, round(UNKNOWN_DOMAIN_SHARE * accounts))
    n_crm_ws = accounts - n_personal - n_unknown
    n_three = max(1, n_crm_ws // 400)
    n_two = max(2, n_crm_ws // 50)
    sizes = np.concatenate([rng.integers(3, 6, n_three), np.full(n_two, 2)])
    sizes = np.concatenate([sizes, np.ones(n_crm_ws - int(sizes.sum()), dtype=np.int64)])
    n_with_ws = len(sizes)
    n_crm = n_with_ws + max(3, round(NO_WORKSPACE_COMPANY_SHARE * n_with_ws))
    crm_orgs = np.repeat(np.arange(n_with_ws), sizes)
    unknown_orgs = n_crm + np.arange(n_unknown)
    org = np.concatenate([crm_orgs, unknown_orgs, np.full(n_personal, -1)])
    kinds = np.array([KIND_CRM, KIND_UNKNOWN, KIND_PERSONAL], dtype=object)
    kind = np.repeat(kinds, [n_crm_ws, n_unknown, n_personal])
    return org, kind, n_crm, n_crm + n_unknown


def _log_uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _company_names(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n distinct names and their domain slugs: word x noun pairs, then qualified pairs if more are needed."""
    words, nouns, qualifiers = names.COMPANY_WORDS, names.COMPANY_NOUNS, ("", *names.COMPANY_QUALIFIERS)
    pairs = len(words) * len(nouns)
    space = pairs * len(qualifiers)
    if n > space:  # more companies than the vocabulary names (over ~26,000 workspaces): its names again, numbered
        names_once, slugs_once = _company_names(space, rng)
        rounds = [""] + [str(r) for r in range(2, -(-n // space) + 1)]
        numbered = [(i % space, rounds[i // space]) for i in range(n)]
        return (np.array([f"{names_once[i]} {r}" if r else names_once[i] for i, r in numbered], dtype=object),
                np.array([f"{slugs_once[i]}{r}" for i, r in numbered], dtype=object))
    first = rng.permutation(pairs)[: min(n, pairs)]
    extra = pairs + rng.choice(space - pairs, size=max(0, n - pairs), replace=False)
    picks = np.concatenate([first, extra])
    short, slugs = [], []
    for pick in picks.tolist():
        qualifier = qualifiers[pick // pairs]
        word, noun = words[(pick % pairs) // len(nouns)], nouns[pick % len(nouns)]
        name = " ".join(part for part in (word, noun, qualifier) if part)
        short.append(name)
        slugs.append(names.ascii_slug(name, "-") if rng.random() < 0.5 else names.ascii_slug(name))
    return np.array(short, dtype=object), np.array(slugs, dtype=object)


def _companies(
    org_of_ws: np.ndarray, n_crm: int, n_orgs: int, days: int, rng: np.random.Generator
) -> Companies:
    ws_per_org = np.bincount(org_of_ws[org_of_ws >= 0], minlength=n_orgs)
    band = rng.random(n_orgs)
    employees = np.where(
        band < 0.70, _log_uniform(rng, 10, 200, n_orgs),
        np.where(band < 0.92, _log_uniform(rng, 200, 1000, n_orgs), _log_uniform(rng, 1000, 20000, n_orgs)),
    )
    # Several teams signing up separately only happens in larger companies.
    employees = np.where(ws_per_org >= 3, np.maximum(employees, _log_uniform(rng, 800, 20000, n_orgs)),
                         employees)
    employees = np.where(ws_per_org == 2, np.maximum(employees, _log_uniform(rng, 150, 5000, n_orgs)),
                         employees)
    employees = np.round(employees).astype(np.int64)
    intent = rng.beta(1.6, 2.8, n_orgs)

    shares = np.array([c[1] for c in names.COUNTRIES])
    country_ix = rng.choice(len(names.COUNTRIES), size=n_orgs, p=shares / shares.sum())
    generic_tld = rng.choice(names.GENERIC_TLDS, size=n_orgs, p=[0.7, 0.15, 0.05, 0.1])
    use_generic = (country_ix == 0) | (rng.random(n_orgs) < 0.55)
    country_tld = np.array([c[2] for c in names.COUNTRIES], dtype=object)[country_ix]
    tld = np.where(use_generic, generic_tld, country_tld)
    short, slug = _company_names(n_orgs, rng)

    has_ws = ws_per_org > 0
    is_customer = _pick_customers(n_crm, has_ws, employees, intent, rng)
    outcome = _new_business_outcomes(n_crm, n_orgs, has_ws, is_customer, employees, intent, rng)
    # Customers were in the CRM long before their deal; other companies arrive over the last ~4 years.
    created = -np.round(rng.uniform(10, 1400, n_orgs) * DAY_MS).astype(np.int64)
    created = np.where(is_customer, -np.round(rng.uniform(days + 260, days + 1200, n_orgs) * DAY_MS), created)
    return Companies(
        n_crm=n_crm,
        short_name=short,
        domain=np.char.add(slug.astype(str), tld.astype(str)).astype(object),
        industry=rng.choice(np.array(names.INDUSTRIES, dtype=object), size=n_orgs),
        country=np.array([c[0] for c in names.COUNTRIES], dtype=object)[country_ix],
        legal_suffix=np.array([c[3] for c in names.COUNTRIES], dtype=object)[country_ix],
        language=np.array([c[4] for c in names.COUNTRIES], dtype=object)[country_ix],
        employee_count=employees,
        intent=intent,
        has_workspace=has_ws,
        is_customer=is_customer,
        outcome=outcome,
        email_pattern=rng.choice(4, size=n_orgs, p=[0.55, 0.25, 0.08, 0.12]),
        created=created.astype(np.int64),
    )


def _pick_customers(
    n_crm: int, has_ws: np.ndarray, employees: np.ndarray, intent: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """~8% of CRM companies pay already; almost all use the product (larger, keener ones more often)."""
    n_customers = max(3, round(CUSTOMER_SHARE * n_crm))
    with_ws = np.flatnonzero(has_ws[:n_crm])
    without_ws = np.flatnonzero(~has_ws[:n_crm])
    n_with = min(len(with_ws), max(2, round(0.9 * n_customers)))
    weights = employees[with_ws] ** 0.3 * (0.5 + intent[with_ws])
    chosen = rng.choice(with_ws, size=n_with, replace=False, p=weights / weights.sum())
    rest = rng.choice(without_ws, size=min(len(without_ws), n_customers - n_with), replace=False)
    is_customer = np.zeros(len(has_ws), dtype=bool)
    is_customer[np.concatenate([chosen, rest])] = True
    return is_customer


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _new_business_outcomes(
    n_crm: int, n_orgs: int, has_ws: np.ndarray, is_customer: np.ndarray, employees: np.ndarray,
    intent: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:
    """Who buys: likelier for keen, larger companies, but noisy - some keen accounts never buy, and some
    companies buy with no product usage at all (a sales-led deal)."""
    noise = rng.normal(0, 0.8, n_orgs)
    logit = -4.9 + 6.5 * intent + 0.45 * np.log(employees / 100) + noise
    p_win = np.where(has_ws, _sigmoid(logit), 0.06)
    eligible = np.arange(n_orgs) < n_crm
    eligible &= ~is_customer
    win = eligible & (rng.random(n_orgs) < p_win)
    if win.sum() < 2:  # tiny demos still need a few wins to validate a score against
        candidates = np.flatnonzero(eligible & has_ws)
        win[candidates[np.argsort(-logit[candidates])[:2]]] = True
    closed = rng.random(n_orgs) < 0.6
    p_deal = np.where(has_ws, 0.04 + 0.3 * intent, 0.10)
    has_deal = eligible & ~win & (rng.random(n_orgs) < p_deal)
    lost = rng.random(n_orgs) < 0.6
    outcome = np.full(n_orgs, "", dtype=object)
    outcome[win] = np.where(closed[win], WON_RECENTLY, WILL_WIN_OPEN)
    outcome[has_deal] = np.where(lost[has_deal], "lost", "open")
    return outcome


def working_time(rng: np.random.Generator, size: int) -> np.ndarray:
    """Time of day (ms) when people sign up or start a session: a working-hours bump over UTC."""
    hours = np.clip(rng.normal(14.5, 3.2, size), 0.25, 22.0)
    return np.round(hours * HOUR_MS).astype(np.int64)


def _workspaces(
    org: np.ndarray, kind: np.ndarray, companies: Companies, days: int, rng: np.random.Generator
) -> Workspaces:
    n = len(org)
    has_org = org >= 0
    safe_org = np.where(has_org, org, 0)
    personal = kind == KIND_PERSONAL
    customer = has_org & companies.is_customer[safe_org]
    employees = np.where(has_org, companies.employee_count[safe_org], 1)
    team_intent = np.clip(companies.intent[safe_org] + rng.normal(0, 0.1, n), 0.01, 0.99)
    intent = np.where(personal, rng.beta(1.2, 5.0, n), team_intent)

    trajectory = _trajectories(intent, customer, org, rng)
    slope = np.select(
        [trajectory == GROWING, trajectory == DECLINING],
        [rng.uniform(1.0, 2.0, n), -rng.uniform(1.0, 2.0, n)],
        rng.normal(0, 0.25, n),
    )

    window = days * DAY_MS
    pre_window = customer | (rng.random(n) < PRE_WINDOW_WORKSPACES)
    age_days = np.where(customer, rng.uniform(150, 900, n), 1 + 900 * rng.random(n) ** 1.4)
    in_window_day = -window + rng.integers(0, days, n) * DAY_MS
    day = np.where(pre_window, -window - np.ceil(age_days) * DAY_MS, in_window_day)
    created = (day + working_time(rng, n)).astype(np.int64)

    plan = _plans(intent, employees, personal, customer, companies.outcome[safe_org], has_org, rng)
    trial_started = _trial_starts(plan, created, pre_window, days, rng)
    explicit = _explicit_links(kind, plan, customer, rng)
    return Workspaces(
        org=org, kind=kind, intent=intent, trajectory=trajectory, slope=slope, created=created, plan=plan,
        trial_started=trial_started, explicit_link=explicit,
        name=_workspace_names(org, personal, companies, rng),
    )


def _trajectories(
    intent: np.ndarray, customer: np.ndarray, org: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Growing / steady / declining usage. Customers are dealt in turn so every demo has both churn risks
    and expansion candidates among them; keen prospects are likelier to accelerate."""
    n = len(intent)
    draw = rng.random(n)
    p_growing = 0.10 + 0.25 * intent
    trajectory = np.where(draw < p_growing, GROWING, np.where(draw > 0.86, DECLINING, STEADY)).astype(object)
    customer_orgs = np.unique(org[customer])
    dealt = np.array([DECLINING, GROWING, STEADY], dtype=object)[np.arange(len(customer_orgs)) % 3]
    by_org = dict(zip(rng.permutation(customer_orgs).tolist(), dealt, strict=True))
    for ws in np.flatnonzero(customer):
        trajectory[ws] = by_org[int(org[ws])]
    return trajectory


def _plans(
    intent: np.ndarray, employees: np.ndarray, personal: np.ndarray, customer: np.ndarray,
    outcome: np.ndarray, has_org: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:
    n = len(intent)
    weights = np.stack([
        np.ones(n),
        0.10 + 0.25 * intent,
        0.25 + 0.5 * intent,
        0.03 + 0.3 * intent * (employees >= 200),
    ], axis=1)
    weights[personal] = [0.86, 0.08, 0.06, 0.0]
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    choice = (rng.random(n)[:, None] >= cumulative[:, :-1]).sum(axis=1)
    plan = np.array(["free", "trial", "team", "business"], dtype=object)[choice]
    paid = np.where(rng.random(n) < 0.55, "business", "team")
    plan = np.where(customer, paid, plan)
    won = has_org & (outcome == WON_RECENTLY) & (rng.random(n) < 0.7)  # the snapshot is after the deal
    return np.where(won, "business", plan).astype(object)


def _trial_starts(
    plan: np.ndarray, created: np.ndarray, pre_window: np.ndarray, days: int, rng: np.random.Generator
) -> np.ndarray:
    """Trials last up to 30 days: a workspace on "trial" started one recently; some paying workspaces
    created in the window went through a trial first."""
    n = len(plan)
    recent = -np.round(rng.uniform(0.05, min(30, days), n) * DAY_MS).astype(np.int64)
    on_trial = np.where(created > recent, created + 10 * MINUTE_MS, recent)
    converted = np.isin(plan, ["team", "business"]) & ~pre_window & (rng.random(n) < 0.5)
    started = np.where(plan == "trial", on_trial, np.where(converted, created + 5 * MINUTE_MS, NO_TRIAL))
    return np.where(started == NO_TRIAL, NO_TRIAL, np.minimum(started, -MINUTE_MS)).astype(np.int64)


def _explicit_links(
    kind: np.ndarray, plan: np.ndarray, customer: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """~30% of all workspaces carry a CRM company id (billing or a CRM integration set it); paying ones
    far more often than free ones."""
    candidates = np.flatnonzero(kind == KIND_CRM)
    paying = np.isin(plan[candidates], ["team", "business"])
    weights = np.where(customer[candidates], 6.0, np.where(paying, 3.0, 1.0))
    size = min(len(candidates), round(EXPLICIT_LINK_SHARE * len(kind)))
    chosen = rng.choice(candidates, size=size, replace=False, p=weights / weights.sum())
    linked = np.zeros(len(kind), dtype=bool)
    linked[chosen] = True
    return linked


def _workspace_names(
    org: np.ndarray, personal: np.ndarray, companies: Companies, rng: np.random.Generator
) -> np.ndarray:
    n = len(org)
    style = rng.random(n)
    team = rng.choice(np.array(names.TEAM_NAMES, dtype=object), size=n)
    first = np.array(names.FIRST_NAMES, dtype=object)[rng.integers(0, len(names.FIRST_NAMES), n)]
    out = np.empty(n, dtype=object)
    for i in range(n):  # one per workspace, a few thousand: readability beats vectorising string styles
        if personal[i]:
            out[i] = f"{first[i]}'s workspace" if style[i] < 0.6 else f"{names.ascii_slug(first[i])}-sandbox"
            continue
        company = companies.short_name[org[i]]
        if style[i] < 0.55:
            out[i] = company
        elif style[i] < 0.80:
            out[i] = f"{company} {team[i]}"
        elif style[i] < 0.92:
            out[i] = names.ascii_slug(company, "-")
        else:
            out[i] = f"{company.split()[0]} HQ"
    return out


def _users(ws: Workspaces, companies: Companies, days: int, rng: np.random.Generator) -> Users:
    sizes = _team_sizes(ws, companies, days, rng)
    workspace = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(len(workspace)) - np.repeat(starts, sizes)
    n = len(workspace)
    org = ws.org[workspace]
    has_org = org >= 0
    safe_org = np.where(has_org, org, 0)
    team_size = sizes[workspace]
    employees = np.where(has_org, companies.employee_count[safe_org], 1)
    intent = ws.intent[workspace]

    admin_p = 0.07 + 0.05 * (team_size >= 20)
    role = np.where(position == 0, "owner", np.where(rng.random(n) < admin_p, "admin", "member"))
    role = role.astype(object)
    founder = has_org & (position == 0) & (employees < 50) & (rng.random(n) < 0.35)
    p_buyer = np.where(has_org & (team_size >= 3), 0.03 + 0.05 * intent + 0.02 * (employees >= 1000), 0.0)
    buyer = founder | ((position > 0) & (rng.random(n) < p_buyer))
    champion = ~buyer & ((role != "member") | (rng.random(n) < 0.04))
    persona = np.where(buyer, BUYER, np.where(champion, CHAMPION, PRACTITIONER)).astype(object)

    first = rng.integers(0, len(names.FIRST_NAMES), n)
    last = rng.integers(0, len(names.LAST_NAMES), n)
    free_p = np.where(has_org, np.where(buyer, 0.04, COMPANY_USER_FREE_MAIL), 1.0)
    free_mail = rng.random(n) < free_p
    language = np.where(has_org, companies.language[safe_org], "en")
    title = pick_titles(persona, language, rng)
    title[founder] = np.where(rng.random(int(founder.sum())) < 0.6, "Founder & CEO", "CEO")
    title[rng.random(n) < UNTITLED_SHARE] = ""

    signed_up = _signups(ws, workspace, position, days, rng)
    domains = np.where(has_org, companies.domain[safe_org], "")
    email = make_emails(first, last, domains, companies.email_pattern[safe_org], free_mail, rng)
    return Users(
        workspace=workspace, position=position, role=role, persona=persona, first=first, last=last,
        email=email, free_mail=free_mail, title=title, signed_up=signed_up,
    )


def _team_sizes(ws: Workspaces, companies: Companies, days: int, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed: most workspaces have 1-5 people, a tail has 50-300; never more than the company has."""
    n = len(ws.org)
    has_org = ws.org >= 0
    safe_org = np.where(has_org, ws.org, 0)
    employees = np.where(has_org, companies.employee_count[safe_org], 3)
    customer = has_org & companies.is_customer[safe_org]
    p_big = 0.08 + 0.6 * ws.intent + 0.15 * (employees >= 200) + 0.25 * customer
    small = 1 + np.floor(rng.lognormal(0.4, 0.9, n))
    big = np.clip(np.round(rng.lognormal(3.4 + 1.2 * ws.intent, 0.8)), 8, MAX_TEAM)
    size = np.where(rng.random(n) < p_big, big, np.minimum(small, 12))
    age = np.clip((ws.created + days * DAY_MS) / (days * DAY_MS), 0, 1)  # 0 = created at the window start
    size = np.where(ws.created > -days * DAY_MS, np.maximum(1, np.round(size * (1 - 0.7 * age))), size)
    personal_size = 1 + (rng.random(n) < 0.25) + (rng.random(n) < 0.05)
    size = np.where(ws.kind == KIND_PERSONAL, personal_size, np.minimum(size, np.maximum(employees, 1)))
    return size.astype(np.int64)


def _signups(
    ws: Workspaces, workspace: np.ndarray, position: np.ndarray, days: int, rng: np.random.Generator
) -> np.ndarray:
    """The creator signs up when the workspace is created; teammates join later. Teams of older workspaces
    mostly joined before the window, growing ones keep adding people during it."""
    n = len(workspace)
    created = ws.created[workspace]
    window_start = -days * DAY_MS
    joins_in_window = rng.random(n) < np.select(
        [ws.trajectory[workspace] == GROWING, ws.trajectory[workspace] == DECLINING], [0.35, 0.03], 0.10
    )
    in_window = created >= window_start
    lo = np.where(in_window | ~joins_in_window, created, window_start)
    hi = np.where(in_window | joins_in_window, 0, window_start)
    joined = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    joined = np.clip(joined, lo + MINUTE_MS, -MINUTE_MS)
    return np.where(position == 0, created, joined).astype(np.int64)


def pick_titles(persona: np.ndarray, language: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Job titles as typed: persona-appropriate, sometimes in the company's language, sometimes lowercase.

    Shared by product users (signup survey) and CRM contacts (entered by sales)."""
    n = len(persona)
    lists = {
        BUYER: names.BUYER_TITLES, CHAMPION: names.CHAMPION_TITLES, PRACTITIONER: names.PRACTITIONER_TITLES,
    }
    draw = rng.random(n)
    local = rng.random(n) < 0.3
    lowercase = rng.random(n) < 0.08
    out = np.empty(n, dtype=object)
    for key, options in lists.items():
        mask = persona == key
        out[mask] = np.array(options, dtype=object)[(draw[mask] * len(options)).astype(int)]
        for lang, by_persona in names.LOCAL_TITLES.items():
            local_mask = mask & local & (language == lang)
            choices = np.array(by_persona[key], dtype=object)
            out[local_mask] = choices[(draw[local_mask] * len(choices)).astype(int)]
    out[lowercase] = np.array([t.lower() for t in out[lowercase]], dtype=object)
    return out


def make_emails(
    first: np.ndarray, last: np.ndarray, domain: np.ndarray, pattern: np.ndarray, free_mail: np.ndarray,
    rng: np.random.Generator, taken: set[str] | None = None,
) -> np.ndarray:
    """Lowercase, unique emails. Company addresses follow the company's pattern; free-mail ones add digits.

    `taken` holds addresses already in use (product users when making CRM-only contacts); it is updated."""
    first_slug = np.array([names.ascii_slug(x) for x in names.FIRST_NAMES], dtype=object)[first]
    last_slug = np.array([names.ascii_slug(x) for x in names.LAST_NAMES], dtype=object)[last]
    n = len(first)
    first_initial = np.array([f[0] for f in first_slug], dtype=object)
    last_initial = np.array([x[0] for x in last_slug], dtype=object)
    company_local = np.select(
        [pattern == 0, pattern == 1, pattern == 2],
        [first_slug + "." + last_slug, first_initial + last_slug, first_slug],
        first_slug + last_initial,
    )
    digits = rng.integers(1, 100, n).astype(str).astype(object)
    dotted = rng.random(n) < 0.5
    free_local = np.where(dotted, first_slug + "." + last_slug + digits, first_slug + last_slug + digits)
    free_domain = rng.choice(
        np.array(names.FREE_MAIL_DOMAINS, dtype=object), size=n, p=np.array(names.FREE_MAIL_SHARES)
    )
    local = np.where(free_mail, free_local, company_local)
    host = np.where(free_mail, free_domain, domain)
    seen = set() if taken is None else taken
    out = np.empty(n, dtype=object)
    for i in range(n):  # per person: uniqueness needs the addresses seen so far
        candidate, suffix = f"{local[i]}@{host[i]}", 2
        while candidate in seen:
            candidate, suffix = f"{local[i]}{suffix}@{host[i]}", suffix + 1
        seen.add(candidate)
        out[i] = candidate
    return out
