"""Product usage of the demo population as event arrays (no per-event Python): sessions and lifecycle events.

Sessions: each user has a daily chance of being active that follows their workspace's intent (partly - the
rest is noise), their engagement, their persona (buyers rarely use the product) and the workspace's
trajectory (usage accelerating or declining over the window), with a weekend dip. An active day is a
"Signed In" followed by events drawn from the user's mix: the features their workspace has adopted (from
the event catalog, so a feature added there is generated too), page views (enterprise pages far more
often in keen accounts), sign-outs and the odd invite.

Lifecycle events come from the population itself: "Signed Up" when a user joins during the window, the
invite and "Account Added User" from a champion that brought them in, "User Role Changed" when someone
made them admin, "Trial Started".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from pls_pipelines.lib.event_catalog import EventCatalog
from pls_pipelines.sample_data import names
from pls_pipelines.sample_data.population import BUYER, CHAMPION, Population
from pls_pipelines.sample_data.timeline import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, Timeline

SIGNED_OUT = "Signed Out"
# How often each shipped feature's events happen relative to each other, once a workspace has adopted it;
# a feature added to the catalog gets its tier's default.
FEATURE_WEIGHTS = {
    "queries": 12.0, "dashboards": 3.0, "reports": 3.0, "sharing": 2.0, "comments": 3.0, "alerts": 1.5,
    "integrations": 0.3, "api": 0.3, "sso": 0.05, "audit_log": 0.4, "permissions": 0.25,
}
TIER_WEIGHTS = {"core": 3.0, "advanced": 0.3}
# Advanced features are adopted by keen, larger teams; these shift how common each one is.
ADOPTION_OFFSETS = {
    "alerts": 0.8, "integrations": 0.3, "api": 0.0, "sso": -1.0, "audit_log": -0.6, "permissions": -0.4,
}
ENTERPRISE_PAGE_SHARES = {"pricing": 0.42, "security": 0.22, "terms": 0.11, "privacy": 0.15, "sso": 0.10}
OTHER_PAGE_WEIGHTS = (1.4, 0.5, 0.4, 0.7)  # names.OTHER_PAGES
USER_CHUNK = 16_384  # users per block of the users x days matrices (bounds memory at large sizes)


@dataclass
class EventVocabulary:
    """Event names and distinct property dicts, referenced by integer codes from the event arrays."""

    names: list[str] = field(default_factory=list)
    properties: list[dict] = field(default_factory=list)
    _name_codes: dict[str, int] = field(default_factory=dict)
    _property_codes: dict[str, int] = field(default_factory=dict)

    def name(self, event: str) -> int:
        if event not in self._name_codes:
            self._name_codes[event] = len(self.names)
            self.names.append(event)
        return self._name_codes[event]

    def prop(self, properties: dict) -> int:
        key = json.dumps(properties, sort_keys=True)
        if key not in self._property_codes:
            self._property_codes[key] = len(self.properties)
            self.properties.append(properties)
        return self._property_codes[key]


@dataclass(frozen=True)
class EventArrays:
    """One entry per event: offset (ms), user index, event name code, properties code."""

    offset: np.ndarray
    user: np.ndarray
    name: np.ndarray
    prop: np.ndarray

    @staticmethod
    def concat(parts: list[EventArrays]) -> EventArrays:
        fields = ("offset", "user", "name", "prop")
        return EventArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def signal_event(catalog: EventCatalog, signal: str, default: str) -> str:
    """The catalog's event name for a behavioural signal (Segment's name if the catalog lacks the signal)."""
    events = catalog.signal_events(signal)
    return events[0] if events else default


def generate_activity(
    population: Population, catalog: EventCatalog, timeline: Timeline, rng: np.random.Generator
) -> tuple[EventArrays, EventVocabulary]:
    vocabulary = EventVocabulary()
    sessions = _sessions(population, catalog, timeline, vocabulary, rng)
    lifecycle = _lifecycle(population, catalog, timeline, vocabulary, rng)
    return EventArrays.concat([sessions, *lifecycle]), vocabulary


# -- sessions ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Mix:
    """The per-user event mix: category k is event name_codes[k] with properties prop_codes[k, workspace]."""

    weights: np.ndarray  # users x K
    name_codes: np.ndarray  # K
    prop_codes: np.ndarray  # K x workspaces


def _event_mix(
    population: Population, catalog: EventCatalog, vocab: EventVocabulary, rng: np.random.Generator
) -> _Mix:
    ws, users = population.workspaces, population.users
    n_ws = len(ws.org)
    team = np.bincount(users.workspace, minlength=n_ws)
    persona = users.persona
    intent = ws.intent[users.workspace]
    columns: list[np.ndarray] = []
    name_codes: list[int] = []
    prop_codes: list[np.ndarray] = []

    def add(weight: np.ndarray | float, event: str, props: dict | np.ndarray) -> None:
        columns.append(np.broadcast_to(np.asarray(weight, dtype=float), persona.shape))
        name_codes.append(vocab.name(event))
        prop_codes.append(props if isinstance(props, np.ndarray) else np.full(n_ws, vocab.prop(props)))

    feature_persona = np.where(persona == BUYER, 0.4, 1.0)
    for index, feature in enumerate(catalog.features):
        if feature.tier == "advanced":
            logit = -2.0 + 3.5 * ws.intent + 0.5 * np.log10(np.maximum(team, 1)) + rng.normal(0, 0.8, n_ws)
            adopted = rng.random(n_ws) < 1 / (1 + np.exp(-(logit + ADOPTION_OFFSETS.get(feature.key, 0.0))))
            boost = np.where(persona == CHAMPION, 1.5, 1.0)
        else:
            adopted = (index == 0) | (rng.random(n_ws) < 0.55 + 0.4 * ws.intent)
            boost = 1.0
        weight = FEATURE_WEIGHTS.get(feature.key, TIER_WEIGHTS.get(feature.tier, 1.0)) / len(feature.events)
        for event in feature.events:
            add(adopted[users.workspace] * weight * feature_persona * boost, event, {"feature": feature.key})

    page_event, page_key = catalog.page_view_event, catalog.page_name_property
    persona_interest = np.select([persona == BUYER, persona == CHAMPION], [4.0, 1.5], 0.6)
    evaluation = (0.01 + 1.5 * intent**3) * persona_interest
    for page in catalog.enterprise_pages:
        share = ENTERPRISE_PAGE_SHARES.get(page, 0.1)
        add(evaluation * share, page_event, {page_key: page.title(), "path": f"/{page}"})
    for (page, path), weight in zip(names.OTHER_PAGES, OTHER_PAGE_WEIGHTS, strict=True):
        add(weight, page_event, {page_key: page, "path": path})
    add(1.0, SIGNED_OUT, {})

    domains = _workspace_domains(population)
    invite_props = np.array([vocab.prop({"invitee_email_domain": d}) for d in domains])
    inviting = np.where(persona == CHAMPION, 0.12 * (0.5 + intent), 0.005)
    add(inviting, signal_event(catalog, "invites", "Invite Sent"), invite_props)
    return _Mix(np.stack(columns, axis=1), np.array(name_codes), np.stack(prop_codes))


def _workspace_domains(population: Population) -> list[str]:
    """The email domain most of a workspace's members use (what an invite is most likely addressed to)."""
    users = population.users
    first_company: dict[int, str] = {}
    for ws, email, free in zip(users.workspace.tolist(), users.email, users.free_mail.tolist(), strict=True):
        if not free:
            first_company.setdefault(ws, email.rsplit("@", 1)[1])
    return [first_company.get(w, "gmail.com") for w in range(len(population.workspaces.org))]


def _sessions(
    population: Population, catalog: EventCatalog, timeline: Timeline, vocab: EventVocabulary,
    rng: np.random.Generator,
) -> EventArrays:
    ws, users = population.workspaces, population.users
    n_users, days = len(users.workspace), timeline.days
    mix = _event_mix(population, catalog, vocab, rng)
    signed_in = vocab.name(signal_event(catalog, "sessions", "Signed In"))
    no_props = vocab.prop({})

    # Latent activity: intent explains part of it, the rest is noise (some keen accounts barely use it).
    plan_factor = np.select([ws.plan == "free", ws.plan == "business"], [0.85, 1.2], 1.0)
    workspace_activity = np.exp(2.0 * (ws.intent - 0.4) + rng.normal(0, 0.45, len(ws.org))) * plan_factor
    engagement = rng.lognormal(0, 0.7, n_users) * np.where(rng.random(n_users) < 0.15, 0.1, 1.0)
    persona_activity = np.select([users.persona == BUYER, users.persona == CHAMPION], [0.3, 1.3], 1.0)
    activity = workspace_activity[users.workspace] * engagement
    p_active = np.clip(0.065 * activity * persona_activity, 0, 0.9)
    events_per_day = 2.5 * np.sqrt(activity) * np.select(
        [users.persona == BUYER, users.persona == CHAMPION], [0.5, 1.3], 1.0
    )
    x = (np.arange(days) - (days - 1) / 2) / days
    weekday = timeline.weekday_activity()
    day_start = timeline.day_offsets()
    signup_day = np.floor_divide(users.signed_up - timeline.start_offset, DAY_MS)

    parts = []
    for lo in range(0, n_users, USER_CHUNK):
        block = np.arange(lo, min(lo + USER_CHUNK, n_users))
        trend = np.exp(ws.slope[users.workspace[block]][:, None] * x[None, :])
        draw = rng.random((len(block), days))
        extra = rng.poisson(events_per_day[block][:, None] * np.sqrt(trend))
        hour = rng.normal(14.5, 3.0, (len(block), days)).clip(0.25, 22.0)
        start_time = day_start[None, :] + hour * HOUR_MS
        p = np.clip(p_active[block][:, None] * trend, 0, 0.92) * weekday[None, :]
        active = (draw < p) & (np.arange(days)[None, :] >= signup_day[block][:, None])
        rows, cols = np.nonzero(active)
        user = block[rows]
        start = np.maximum(start_time[rows, cols].astype(np.int64), users.signed_up[user] + 2 * MINUTE_MS)
        parts.append(_session_events(
            user, rows, cols, start, 1 + extra[rows, cols], population, mix.weights[block], mix, signed_in,
            no_props, day_start, rng,
        ))
    return EventArrays.concat(parts)


def _session_events(
    user: np.ndarray, local_user: np.ndarray, day: np.ndarray, start: np.ndarray, count: np.ndarray,
    population: Population, weights: np.ndarray, mix: _Mix, signed_in: int, no_props: int,
    day_start: np.ndarray, rng: np.random.Generator,
) -> EventArrays:
    """Expand active user-days into events: Signed In first, then draws from the user's mix, minutes apart."""
    total = int(count.sum())
    first = np.cumsum(count) - count
    session = np.repeat(np.arange(len(count)), count)
    is_first = np.zeros(total, dtype=bool)
    is_first[first] = True
    event_user = user[session]

    gaps = np.where(is_first, 0.0, rng.exponential(100 * SECOND_MS, total))
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first], count)
    day_end = day_start[day] + DAY_MS - 1
    offset = np.minimum(start[session] + elapsed.astype(np.int64), day_end[session])

    # Categorical draw per event from its user's mix, vectorised: row-wise cumulative weights shifted by
    # the row number make one sorted array, so a single searchsorted picks every event's category.
    row = local_user[session]
    cumulative = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    cumulative[:, -1] = 1.0
    k = cumulative.shape[1]
    flat = (cumulative + np.arange(len(weights))[:, None]).ravel()
    category = np.searchsorted(flat, row + rng.random(total), side="right") - row * k
    category = np.minimum(category, k - 1)

    workspace = population.users.workspace[event_user]
    name = np.where(is_first, signed_in, mix.name_codes[category])
    prop = np.where(is_first, no_props, mix.prop_codes[category, workspace])
    return EventArrays(offset, event_user, name, prop)


# -- lifecycle -----------------------------------------------------------------------------------------

def _lifecycle(
    population: Population, catalog: EventCatalog, timeline: Timeline, vocab: EventVocabulary,
    rng: np.random.Generator,
) -> list[EventArrays]:
    ws, users = population.workspaces, population.users
    start = timeline.start_offset
    owner = np.flatnonzero(users.position == 0)  # owner[w] is workspace w's creator (users are grouped by ws)
    no_props = vocab.prop({})

    joined = np.flatnonzero(users.signed_up >= start)
    signed_up = vocab.name(signal_event(catalog, "signups", "Signed Up"))
    signups = EventArrays(
        users.signed_up[joined], joined, np.full(len(joined), signed_up), np.full(len(joined), no_props)
    )

    trial_ws = np.flatnonzero((ws.trial_started <= 0) & (ws.trial_started >= start))
    trial_props = np.where(ws.plan[trial_ws] == "team", vocab.prop({"trial_plan_name": "Team"}),
                           vocab.prop({"trial_plan_name": "Business"}))
    trials = EventArrays(
        ws.trial_started[trial_ws], owner[trial_ws],
        np.full(len(trial_ws), vocab.name(signal_event(catalog, "trials", "Trial Started"))), trial_props,
    )

    invited = joined[users.position[joined] > 0]
    inviter = _inviters(population, invited, owner, rng)
    delay = rng.uniform(10 * MINUTE_MS, 3 * DAY_MS, len(invited)).astype(np.int64)
    invite_at = np.clip(users.signed_up[invited] - delay, users.signed_up[inviter] + SECOND_MS,
                        users.signed_up[invited] - SECOND_MS)
    sent = invite_at >= start  # invites for people joining early in the window were sent before it
    invitee_domain = [e.rsplit("@", 1)[1] for e in users.email[invited[sent]]]
    invites = EventArrays(
        invite_at[sent], inviter[sent],
        np.full(int(sent.sum()), vocab.name(signal_event(catalog, "invites", "Invite Sent"))),
        np.array([vocab.prop({"invitee_email_domain": d}) for d in invitee_domain], dtype=np.int64),
    )
    added = EventArrays(
        users.signed_up[invited] + rng.integers(1, 30, len(invited)) * SECOND_MS, inviter,
        np.full(len(invited), vocab.name(signal_event(catalog, "users_added", "Account Added User"))),
        np.array([vocab.prop({"role": r}) for r in users.role[invited]], dtype=np.int64),
    )

    admins = np.flatnonzero(users.role == "admin")
    promoted = admins[rng.random(len(admins)) < 0.15 + 0.5 * ws.intent[users.workspace[admins]]]
    earliest = np.maximum(users.signed_up[promoted], start) + MINUTE_MS
    changed_at = earliest + rng.random(len(promoted)) * (-MINUTE_MS - earliest)
    changed_at = np.minimum(changed_at, -1).astype(np.int64)
    role_changes = EventArrays(
        changed_at, owner[users.workspace[promoted]],
        np.full(len(promoted), vocab.name(signal_event(catalog, "admin_changes", "User Role Changed"))),
        np.full(len(promoted), vocab.prop({"new_role": "admin"})),
    )
    return [signups, trials, invites, added, role_changes]


def _inviters(
    population: Population, invited: np.ndarray, owner: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Who brought each new user in: a champion (owner, admin or team lead) of the same workspace who was
    there before them; the owner when no champion qualifies."""
    users = population.users
    champions = np.flatnonzero((users.persona == CHAMPION) | (users.position == 0))
    workspace = users.workspace[champions]
    first = np.searchsorted(workspace, users.workspace[invited], side="left")
    count = np.searchsorted(workspace, users.workspace[invited], side="right") - first
    nth = first + (rng.random(len(invited)) * count).astype(np.int64)
    pick = champions[np.minimum(nth, len(champions) - 1)]
    pick = np.where(count > 0, pick, owner[users.workspace[invited]])
    too_late = users.signed_up[pick] >= users.signed_up[invited]
    return np.where(too_late, owner[users.workspace[invited]], pick)
