"""The CRM sync, start to finish, without Dagster: plan, guard, write, record. The crm_sync assets and
`pls sync` (dry run, approval, reconcile) both call these functions, so what a dry run shows is what a run does.

- plan_sync: desired values (lib/sync.desired_values) against what was last written successfully (the
  per-record state, lib/sync_state) or, on a full reconcile, against the CRM's current values; `if_empty`
  fields the CRM has its own value in are skipped.
- guard_verdict: the tier-change and rejected-share rules (lib/sync_guard) over the company plan.
- run_sync: creates the missing buyer contacts when allowed, writes the updates in chunks with progress
  lines, then records every record's outcome in crm_sync_log and moves the state of confirmed records only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from pls_pipelines.lib.crm_fields import CrmFieldMap
from pls_pipelines.lib.missing_contacts import MISSING_CONTACT_COLUMNS
from pls_pipelines.lib.progress import Progress
from pls_pipelines.lib.sync import (
    CreateOutcome,
    NewContact,
    RecordOutcome,
    RecordUpdate,
    desired_values,
    diff_records,
    keep_if_empty_fields,
)
from pls_pipelines.lib.sync_guard import GuardVerdict, PreviousRun, evaluate_guard
from pls_pipelines.lib.sync_rejections import held_records
from pls_pipelines.lib.sync_state import (
    STATE_COLUMNS,
    SYNC_STATE,
    fields_hash,
    read_state,
    unchanged_ids,
    upgrade_state,
)
from pls_pipelines.resources.crm_client import CrmClient
from pls_pipelines.resources.warehouse import Warehouse
from pls_pipelines.sync_ledger import (  # noqa: F401 - the log's names, re-exported for callers of the engine
    CREATED,
    EXISTS,
    FAILED,
    HELD,
    LOG_COLUMNS,
    REJECTED,
    SENT,
    SKIPPED,
    SYNC_LOG,
    SYNC_RUNS,
    UNCHANGED,
    SyncLedger,
    finished_runs,
    new_contact_hash,
    person_key,
    read_rejections,
)

SYNC_APPROVALS = "crm_sync_approvals"
BUYERS_MISSING_FROM_CRM = "buyers_missing_from_crm"
TIER_SOURCE_COLUMN = "tier"


def approvals_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        SYNC_APPROVALS, metadata,
        sa.Column("fingerprint", sa.Text), sa.Column("approved_at", sa.DateTime), sa.Column("summary", sa.Text),
    )


@dataclass
class SyncPlan:
    """What one object type's sync would do. `synced` is what the desired values were compared against."""

    object_type: str
    desired: dict[str, dict[str, str | None]]
    synced: dict[str, dict[str, str | None]]
    updates: list[RecordUpdate]
    unchanged: list[str]
    skipped: dict[str, list[str]] = field(default_factory=dict)  # if_empty fields a CRM user filled
    creates: list[NewContact] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # refused by the CRM with these same values: not re-sent
    reconcile: bool = False
    first_sync: bool = False  # nothing synced before: every field of every record is written

    @property
    def field_values(self) -> int:
        return sum(len(u.properties) for u in self.updates)

    def changes(self, limit: int | None = None) -> pd.DataFrame:
        """Field-level before -> after of the updates (the dry-run view), at most `limit` records."""
        rows = [
            {"record_id": u.record_id, "field": name, "before": u.previous.get(name), "after": value}
            for u in self.updates[:limit]
            for name, value in u.properties.items()
        ]
        return pd.DataFrame(rows, columns=["record_id", "field", "before", "after"])

    def summary(self) -> str:
        creating = f", {len(self.creates):,} contacts to create" if self.creates else ""
        if self.held:
            creating += f", {len(self.held):,} held back (the CRM refused these values; see crm_rejections)"
        mode = " (full reconcile against the CRM's current values)" if self.reconcile else ""
        return (
            f"{self.object_type}: {len(self.desired):,} records in scope, {len(self.updates):,} to update "
            f"({self.field_values:,} field values), {len(self.unchanged):,} unchanged{creating}{mode}"
        )


@dataclass
class SyncResult:
    plan: SyncPlan
    counts: dict[str, int]
    outcomes: list[RecordOutcome]
    created: list[CreateOutcome]
    write_calls: int | None = None


def read_state_rows(wh: Warehouse, object_type: str | None = None) -> pd.DataFrame:
    """The sync state (upgraded from the older one-row-per-field format when needed)."""
    if not wh.table_exists(SYNC_STATE):
        return pd.DataFrame(columns=STATE_COLUMNS)
    rows = upgrade_state(wh.read_table(SYNC_STATE))
    return rows[rows["object_type"] == object_type] if object_type else rows


def reconcile_due(wh: Warehouse, object_type: str, every_days: int, now: datetime, has_state: bool) -> bool:
    """Time for a full reconcile: the last one (or the first full write) is older than `every_days`."""
    if not has_state:
        return False  # a first sync writes every field of every record: the CRM then holds our values
    if every_days == 0:
        return True
    if not wh.table_exists(SYNC_RUNS):
        return True
    last = wh.scalar(
        f"SELECT MAX(finished_at) FROM {SYNC_RUNS} WHERE object_type = :o AND reconciled",
        {"o": object_type},
    )
    return last is None or pd.Timestamp(last).to_pydatetime() < now.replace(tzinfo=None) - timedelta(days=every_days)


def plan_sync(
    wh: Warehouse,
    client: CrmClient,
    field_map: CrmFieldMap,
    object_type: str,
    *,
    reconcile: bool | None = None,
    retry_rejected: bool = False,
    now: datetime | None = None,
) -> SyncPlan:
    """What the sync of `object_type` would write. reconcile None: when due (crm_fields.yaml). Records the CRM
    refused with the same values are held back (lib/sync_rejections.py) unless `retry_rejected`."""
    now = now or datetime.now(UTC)
    spec = field_map.objects[object_type]
    source = wh.read_table(spec.source_table)
    creates: list[NewContact] = []
    if object_type == "contacts" and field_map.create_missing_contacts:
        creates = missing_contacts(wh)
    source = source.drop_duplicates(spec.key_column)
    desired = desired_values(source, spec.key_column, spec.fields)
    held: dict[str, str] = {}
    rejections = read_rejections(wh, object_type) if not retry_rejected else pd.DataFrame()
    if not rejections.empty:
        # only refused records are hashed here: the unchanged check below hashes every record anyway
        refused = set(rejections["record_id"].astype(str))
        contacts = {person_key(c.key): c for c in creates}
        hashes = {r: fields_hash(desired[r]) for r in refused if r in desired} | {
            key: new_contact_hash(contacts[key]) for key in refused if key in contacts
        }
        held = held_records(hashes, rejections, now.replace(tzinfo=None), field_map.retry_rejected_after_days)
        creates = [c for c in creates if person_key(c.key) not in held]

    state = read_state_rows(wh, object_type)
    if reconcile is None:
        reconcile = reconcile_due(wh, object_type, field_map.reconcile_every_days, now, has_state=not state.empty)
    owned = [f.name for f in spec.fields]
    crm_current: dict[str, dict[str, str | None]] = {}
    last_written = read_state(state)
    if reconcile:
        crm_current = crm_values(client, object_type, list(desired), owned)
        synced = crm_current
        same = {r for r, values in desired.items() if all(synced.get(r, {}).get(k) == v for k, v in values.items())}
    else:
        synced = last_written
        same = unchanged_ids(desired, dict(zip(state["record_id"].astype(str), state["fields_hash"], strict=True)))
    changed = {r: v for r, v in desired.items() if r not in same and r not in held}
    updates = diff_records(changed, {r: synced[r] for r in changed if r in synced})
    if reconcile:
        # a record the CRM holds, but whose values were never ours, gets only its differing fields
        updates = [u for u in updates if u.properties]

    skipped: dict[str, list[str]] = {}
    if_empty = {f.name for f in spec.fields if f.mode == "if_empty"}
    needs_crm = [u.record_id for u in updates if if_empty & set(u.properties)]
    if needs_crm:
        current = crm_current or crm_values(client, object_type, needs_crm, owned)
        updates, skipped = keep_if_empty_fields(updates, spec.fields, current, last_written)
    return SyncPlan(
        object_type, desired, synced, updates, sorted(same), skipped, creates, held, reconcile,
        first_sync=state.empty,
    )


def crm_values(
    client: CrmClient, object_type: str, record_ids: Sequence[str], fields: Sequence[str]
) -> dict[str, dict[str, str | None]]:
    """The CRM's current values of the owned fields, unset ones as None, for `record_ids`."""
    rows = client.read_properties(object_type, list(record_ids)) if record_ids else pd.DataFrame(
        columns=["record_id", "name", "value"]
    )
    current: dict[str, dict[str, str | None]] = {r: dict.fromkeys(fields) for r in record_ids}
    for record_id, name, value in rows[["record_id", "name", "value"]].itertuples(index=False):
        if name in fields and str(record_id) in current:
            current[str(record_id)][name] = None if value is None or value == "" or pd.isna(value) else str(value)
    return current


def missing_contacts(wh: Warehouse) -> list[NewContact]:
    """buyers_missing_from_crm as contacts to create (lib/missing_contacts.py decides who)."""
    if not wh.table_exists(BUYERS_MISSING_FROM_CRM):
        return []
    missing = wh.read_table(BUYERS_MISSING_FROM_CRM, MISSING_CONTACT_COLUMNS)
    return [
        NewContact(str(r.person_id), str(r.email), str(r.crm_company_id), _text(r.first_name), _text(r.last_name),
                   _text(r.title))
        for r in missing.itertuples(index=False)
    ]


def guard_verdict(wh: Warehouse, field_map: CrmFieldMap, plan: SyncPlan | None = None) -> GuardVerdict:
    """The guard over the companies sync: tiers it would change against what was synced, the previous run's
    rejected share, and the approvals on record."""
    spec = field_map.objects.get("companies")
    tier_field = next((f.name for f in spec.fields if f.source_column == TIER_SOURCE_COLUMN), None) if spec else None
    desired_tiers: dict[str, str | None] = {}
    synced_tiers: dict[str, str | None] = {}
    if spec is not None and tier_field is not None:
        if plan is None:
            source = wh.read_table(spec.source_table, [spec.key_column, TIER_SOURCE_COLUMN])
            source = source[source[spec.key_column].notna()].drop_duplicates(spec.key_column)
            desired_tiers = dict(zip(source[spec.key_column].astype(str), source[TIER_SOURCE_COLUMN], strict=True))
            desired_tiers = {k: (None if pd.isna(v) else str(v)) for k, v in desired_tiers.items()}
        else:
            desired_tiers = {r: v.get(tier_field) for r, v in plan.desired.items()}
        synced = read_state(read_state_rows(wh, "companies"))
        synced_tiers = {r: v.get(tier_field) for r, v in synced.items() if tier_field in v}
    return evaluate_guard(desired_tiers, synced_tiers, previous_run(wh), field_map.guard, approvals(wh))


def previous_run(wh: Warehouse) -> PreviousRun | None:
    """Sent and rejected counts of the newest sync run on record."""
    runs = finished_runs(wh)
    if runs.empty:
        return None
    last_id = runs.sort_values("finished_at").iloc[-1]["run_id"]
    last = runs[runs["run_id"] == last_id]
    return PreviousRun(str(last_id), int(last["sent"].sum()), int(last["rejected"].sum()))


def approvals(wh: Warehouse) -> set[str]:
    if not wh.table_exists(SYNC_APPROVALS):
        return set()
    return set(wh.read_table(SYNC_APPROVALS, ["fingerprint"])["fingerprint"].astype(str))


def approve(wh: Warehouse, verdict: GuardVerdict, now: datetime | None = None) -> None:
    """Record a person's approval of exactly the pending change the verdict describes."""
    wh.ensure_tables([approvals_table(sa.MetaData())])
    wh.append(SYNC_APPROVALS, pd.DataFrame([{
        "fingerprint": verdict.fingerprint,
        "approved_at": (now or datetime.now(UTC)).replace(tzinfo=None),
        "summary": " ".join(verdict.problems),
    }]))


def run_sync(
    wh: Warehouse,
    client: CrmClient,
    field_map: CrmFieldMap,
    plan: SyncPlan,
    *,
    run_id: str | None,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
) -> SyncResult:
    """Carry out a plan: create contacts (when allowed), provision fields, write updates in chunks. Every answer
    of the CRM is recorded as it arrives (sync_ledger.py), so a run killed midway re-sends at most one chunk."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    spec = field_map.objects[plan.object_type]
    ledger = SyncLedger(wh, plan.object_type, run_id, now)
    ledger.begin(log)
    outcomes: list[RecordOutcome] = []
    created: list[CreateOutcome] = []
    try:
        if plan.creates:
            created = _create_contacts(wh, client, field_map, plan, log)
            ledger.record_creates(created, plan.creates)
        client.ensure_properties(plan.object_type, spec.fields, field_map.group_name, field_map.group_label)
        if plan.updates:
            progress = Progress(len(plan.updates), f"{plan.object_type} sync", "records", log)
            fields_of = {u.record_id: u.properties for u in plan.updates}
            size = field_map.write_chunk_records
            for start in range(0, len(plan.updates), size):
                chunk = plan.updates[start : start + size]
                answered = client.update_records(plan.object_type, chunk)
                ledger.record_batch(answered, plan.desired, fields_of)
                outcomes += answered
                progress.advance(len(chunk), items=len(chunk))
        written = {u.record_id for u in plan.updates}
        skipped = {r: f for r, f in plan.skipped.items() if r not in written}
        # skipped records are settled as they are; a reconcile found the unchanged ones already holding our values
        settled = {r: plan.desired[r] for r in skipped if r in plan.desired}
        if plan.reconcile:
            settled.update({r: plan.desired[r] for r in plan.unchanged})
        in_scope = set(plan.desired) | set(plan.held) | {person_key(c.key) for c in plan.creates}
        ledger.record_rest(plan.unchanged, skipped, plan.held, settled, in_scope)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to see
            ledger.fail()
        raise
    # a first sync sets every field to our values: it counts as a reconcile for the next one's schedule
    counts = ledger.finish(reconciled=plan.reconcile or plan.first_sync)
    http = getattr(client, "http", None)
    return SyncResult(plan, counts, outcomes, created, getattr(http, "write_calls", None))


def _create_contacts(
    wh: Warehouse, client: CrmClient, field_map: CrmFieldMap, plan: SyncPlan, log: Callable[[str], None]
) -> list[CreateOutcome]:
    """Create the missing buyers, then add their rows (keyed by the new contact ids) to the plan, so this same
    run writes their pls_* fields. A person the CRM refused stays missing and is tried again next run."""
    outcomes = client.create_contacts(plan.creates)
    spec = field_map.objects["contacts"]
    source = wh.read_table(spec.source_table)
    company_of = {c.key: c.company_id for c in plan.creates}
    new_ids = {o.key: o.record_id for o in outcomes if o.ok and o.record_id}
    person = source["person_id"].astype(str)
    rows = source[person.isin(new_ids) & (source["account_id"].astype(str) == person.map(company_of))]
    rows = rows.assign(**{spec.key_column: rows["person_id"].astype(str).map(new_ids)})
    extra = desired_values(rows, spec.key_column, spec.fields)
    state_hash = {r: fields_hash(v) for r, v in plan.synced.items()}
    for record_id, values in extra.items():
        if record_id in plan.desired or state_hash.get(record_id) == fields_hash(values):
            continue
        plan.desired[record_id] = values
        plan.updates.append(RecordUpdate(record_id, dict(values), dict.fromkeys(values)))
    counts = pd.Series([("created" if o.created else "exists") if o.ok else "failed" for o in outcomes])
    log(f"contacts: created the buyers missing from the CRM: {counts.value_counts().to_dict()}")
    return outcomes


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None

