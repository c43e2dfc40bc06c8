"""Deterministic demo data for the whole pipeline: product usage, product users and a CRM with outcomes.

The demo must exercise what the pipeline is for, so the data is realistic *and dirty*: heavy-tailed team
sizes, weekday rhythm, accelerating and declining accounts, free-mail users, workspaces of companies the CRM
does not know, companies with several workspaces (consolidation), customers at churn risk or ready to expand,
titles typed every way, duplicate events and malformed lines. Outcomes (deals) follow a latent buying
intent that drives usage only partly, so a good score helps but is never perfect; `truth` holds the latent
variables for tests and benchmarks (the pipeline never reads it).

Same (accounts, seed, days, end_date) -> byte-identical files. All timestamps are offsets from end_date,
so another end_date gives the same data shifted in time (only the weekend dip follows the calendar).
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.sample_data import MIN_ACCOUNTS, MIN_DAYS
from pls_pipelines.sample_data.activity import generate_activity
from pls_pipelines.sample_data.crm_records import build_crm, ids_by_time
from pls_pipelines.sample_data.dirt import MALFORMED_SHARE, MIN_MALFORMED, malformed_lines, with_duplicates
from pls_pipelines.sample_data.jsonl import render_event_lines
from pls_pipelines.sample_data.names import FIRST_NAMES, LAST_NAMES
from pls_pipelines.sample_data.population import BUYER, Population, build_population
from pls_pipelines.sample_data.timeline import Timeline, default_end_date

WORKSPACE_COLUMNS = ["workspace_id", "name", "created_at", "plan", "crm_company_id"]
USER_COLUMNS = ["user_id", "workspace_id", "email", "name", "title", "role", "signed_up_at"]
EVENT_COLUMNS = ["event_id", "occurred_at", "user_id", "workspace_id", "event", "properties"]
TRUTH_COLUMNS = [
    "workspace_id", "company_id", "kind", "intent", "will_win", "is_customer", "trajectory", "plan",
    "users", "buyers_in_product", "employee_count",
]
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.jsonl$")


@dataclass(frozen=True)
class DemoData:
    """Everything the demo needs. Frames hold strings as the landing files and the CRM do (ISO timestamps).

    events: well-formed events sorted by occurred_at, duplicates included as extra rows; rows with equal
    properties share one dict object (treat them as read-only). malformed_lines: day -> broken raw lines.
    truth: per workspace latent variables, for tests, benchmarks and score validation only."""

    workspaces: pd.DataFrame
    users: pd.DataFrame
    events: pd.DataFrame
    malformed_lines: dict[str, list[str]]
    crm_owners: pd.DataFrame
    crm_companies: pd.DataFrame
    crm_contacts: pd.DataFrame
    crm_deals: pd.DataFrame
    truth: pd.DataFrame


def generate_demo_data(
    accounts: int = 2000, seed: int = 7, days: int = 90, end_date: dt.date | None = None,
    *, event_catalog: Path | None = None,
) -> DemoData:
    """Generate the demo: `accounts` product workspaces with events over `days` days ending on `end_date`
    (default: yesterday in UTC). `event_catalog` is the product_events.yaml to draw event names from
    (default: the shipped one), so a feature added there shows up in the demo."""
    if accounts < MIN_ACCOUNTS:
        raise ValueError(f"accounts={accounts}: the demo needs at least {MIN_ACCOUNTS} workspaces to contain "
                         f"every kind of account (consolidation, customers, unknown domains)")
    if days < MIN_DAYS:
        raise ValueError(f"days={days}: use at least {MIN_DAYS} days so the window has weekdays and weekends")
    timeline = Timeline(end_date or default_end_date(), days)
    catalog = load_event_catalog(event_catalog)
    population_rng, activity_rng, crm_rng, dirt_rng = np.random.default_rng(seed).spawn(4)

    population = build_population(accounts, days, population_rng)
    companies, ws, users = population.companies, population.workspaces, population.users
    workspace_ids = ids_by_time("w_", 5, ws.created)
    user_ids = ids_by_time("u_", 6, users.signed_up)
    company_ids = ids_by_time("c_", 5, companies.created[: companies.n_crm])

    arrays, vocabulary = generate_activity(population, catalog, timeline, activity_rng)
    crm = build_crm(population, company_ids, timeline, crm_rng)

    order = np.argsort(arrays.offset, kind="stable")
    id_key = int(dirt_rng.integers(0, 2**63))
    ids = event_ids(np.arange(len(order)), id_key)
    rows = with_duplicates(len(order), dirt_rng)
    picked = order[rows]
    properties = np.empty(len(vocabulary.properties), dtype=object)
    properties[:] = vocabulary.properties
    events = pd.DataFrame({
        "event_id": pd.Series(ids[rows], dtype="str"),
        "occurred_at": timeline.iso_millis(arrays.offset[picked]),
        "user_id": pd.Series(user_ids[arrays.user[picked]], dtype="str"),
        "workspace_id": pd.Series(workspace_ids[users.workspace[arrays.user[picked]]], dtype="str"),
        "event": pd.Series(np.array(vocabulary.names, dtype=object)[arrays.name[picked]], dtype="str"),
        "properties": properties[arrays.prop[picked]],
    })
    n_malformed = max(MIN_MALFORMED, round(MALFORMED_SHARE * len(order)))
    broken = malformed_lines(events, event_ids(len(order) + np.arange(n_malformed), id_key), dirt_rng)

    return DemoData(
        workspaces=_workspace_frame(population, workspace_ids, company_ids, timeline),
        users=_user_frame(population, user_ids, workspace_ids, timeline),
        events=events,
        malformed_lines=broken,
        crm_owners=crm.owners,
        crm_companies=crm.companies,
        crm_contacts=crm.contacts,
        crm_deals=crm.deals,
        truth=_truth_frame(population, workspace_ids, company_ids),
    )


def event_ids(index: np.ndarray, key: int) -> np.ndarray:
    """'evt_' + 16 hex digits: a bijective 64-bit mix (splitmix64) of the event's position, so ids look
    random, never collide and are reproducible."""
    z = (np.asarray(index, dtype=np.uint64) ^ np.uint64(key)) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    hex_digits = np.frombuffer(z.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16")
    return np.char.add("evt_", hex_digits.astype("U16")).astype(object)


def _workspace_frame(
    population: Population, workspace_ids: np.ndarray, company_ids: np.ndarray, timeline: Timeline
) -> pd.DataFrame:
    ws, n_crm = population.workspaces, population.companies.n_crm
    linked = ws.explicit_link & (ws.org >= 0) & (ws.org < n_crm)
    frame = pd.DataFrame({
        "workspace_id": workspace_ids,
        "name": ws.name,
        "created_at": timeline.iso_seconds(ws.created),
        "plan": ws.plan,
        "crm_company_id": np.where(linked, company_ids[np.where(linked, ws.org, 0)], ""),
    })
    return frame.sort_values("workspace_id", ignore_index=True)[WORKSPACE_COLUMNS].astype("str")


def _user_frame(
    population: Population, user_ids: np.ndarray, workspace_ids: np.ndarray, timeline: Timeline
) -> pd.DataFrame:
    users = population.users
    full_name = (np.array(FIRST_NAMES, dtype=object)[users.first] + " "
                 + np.array(LAST_NAMES, dtype=object)[users.last])
    frame = pd.DataFrame({
        "user_id": user_ids,
        "workspace_id": workspace_ids[users.workspace],
        "email": users.email,
        "name": full_name,
        "title": users.title,
        "role": users.role,
        "signed_up_at": timeline.iso_seconds(users.signed_up),
    })
    return frame.sort_values("user_id", ignore_index=True)[USER_COLUMNS].astype("str")


def _truth_frame(population: Population, workspace_ids: np.ndarray, company_ids: np.ndarray) -> pd.DataFrame:
    companies, ws, users = population.companies, population.workspaces, population.users
    n_ws = len(ws.org)
    has_org = ws.org >= 0
    org = np.where(has_org, ws.org, 0)
    in_crm = has_org & (ws.org < companies.n_crm)
    frame = pd.DataFrame({
        "workspace_id": workspace_ids,
        "company_id": np.where(in_crm, company_ids[np.where(in_crm, ws.org, 0)], ""),
        "kind": ws.kind,
        "intent": np.round(ws.intent, 4),
        "will_win": in_crm & companies.will_win[org],
        "is_customer": in_crm & companies.is_customer[org],
        "trajectory": ws.trajectory,
        "plan": ws.plan,
        "users": np.bincount(users.workspace, minlength=n_ws),
        "buyers_in_product": np.bincount(users.workspace, weights=users.persona == BUYER, minlength=n_ws)
        .astype(np.int64),
        "employee_count": np.where(has_org, companies.employee_count[org], 1),
    })
    return frame.sort_values("workspace_id", ignore_index=True)[TRUTH_COLUMNS]


def write_landing_files(data: DemoData, landing_dir: Path) -> dict[str, int]:
    """Write the landing folder the pipeline reads: workspaces.csv, users.csv and events/YYYY-MM-DD.jsonl.

    Each event goes to the file of its occurred_at UTC date, in frame order; the day's malformed lines are
    mixed in at positions derived from their content (deterministic). Every day from the first to the last
    gets a file, empty on a day without events. Day files left from an earlier demo are removed first, so
    the folder holds exactly this data set."""
    landing_dir = Path(landing_dir)
    events_dir = landing_dir / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for stale in events_dir.iterdir():
        if _DAY_FILE.match(stale.name):
            stale.unlink()
    data.workspaces.to_csv(landing_dir / "workspaces.csv", index=False, lineterminator="\n")
    data.users.to_csv(landing_dir / "users.csv", index=False, lineterminator="\n")

    lines = render_event_lines(data.events)
    day_of_row = data.events["occurred_at"].astype("str").str.slice(0, 10).to_numpy(dtype=object)
    order = np.argsort(day_of_row, kind="stable")
    day_sorted = day_of_row[order]
    days = _day_range(set(day_sorted.tolist()) | set(data.malformed_lines))
    for day in days:
        first = np.searchsorted(day_sorted, day, side="left")
        last = np.searchsorted(day_sorted, day, side="right")
        day_lines = lines[order[first:last]].tolist()
        for broken in data.malformed_lines.get(day, []):
            day_lines.insert(_stable_position(broken, len(day_lines)), broken)
        with (events_dir / f"{day}.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
            handle.write("\n".join(day_lines) + "\n" if day_lines else "")
    return {
        "workspaces": len(data.workspaces),
        "users": len(data.users),
        "events": len(data.events),
        "malformed": sum(len(v) for v in data.malformed_lines.values()),
        "files": len(days),
    }


def _day_range(days: set[str]) -> list[str]:
    """'YYYY-MM-DD' of every day from the earliest to the latest of `days`."""
    if not days:
        return []
    first, last = dt.date.fromisoformat(min(days)), dt.date.fromisoformat(max(days))
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _stable_position(line: str, length: int) -> int:
    """Where a malformed line goes among `length` lines: from its bytes, so reruns put it in one place."""
    return zlib.crc32(line.encode("utf-8")) % (length + 1)
