"""CRM sync: write the pls_* fields to CRM companies and contacts - only what changed since the last success."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from pls_pipelines.assets.buyers import BUYERS_MISSING_FROM_CRM
from pls_pipelines.assets.common import FRESHNESS_26H, REVOPS_TEAM
from pls_pipelines.lib.privacy import mask_frame_emails
from pls_pipelines.lib.sync import (
    NewContact,
    accepted_state_rows,
    desired_values,
    diff_records,
    synced_state_frame,
)
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

SYNC_STATE = "crm_sync_state"
SYNC_LOG = "crm_sync_log"
# Both sync assets talk to the CRM API: same owners, freshness, retries, and one shared pool so that only one
# step at a time spends the CRM's rate limit.
SYNC_ASSET_OPTIONS = {
    "group_name": "crm_sync",
    "kinds": {"python"},
    "owners": [REVOPS_TEAM],
    "freshness_policy": FRESHNESS_26H,
    "retry_policy": dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    "pool": "crm_api",
}
STATE_COLUMNS = ["object_type", "record_id", "field", "value", "synced_at", "run_id"]
LOG_COLUMNS = ["run_id", "synced_at", "object_type", "record_id", "status", "error", "fields"]
CREATED_FIELDS = "email,first_name,last_name,title,company"


def create_missing_contacts(
    context: dg.AssetExecutionContext, wh: Warehouse, client: LocalCrm, source: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Create buyers_missing_from_crm as CRM contacts; returns the contacts source with their rows keyed by
    the new contact ids (so this same sync writes their pls_* fields) and the create outcomes as log rows.

    A person the CRM refused stays missing and is tried again next run; one the CRM already had (an earlier
    run created it but stopped before recording it) is taken as it is: creates are upserts by email.
    """
    missing = wh.read_table(BUYERS_MISSING_FROM_CRM)
    if missing.empty:
        return source, pd.DataFrame(columns=LOG_COLUMNS)
    outcomes = client.create_contacts([
        NewContact(str(r.person_id), str(r.email), str(r.crm_company_id), _text(r.first_name), _text(r.last_name),
                   _text(r.title))
        for r in missing.itertuples(index=False)
    ])
    new_ids = {o.key: o.record_id for o in outcomes if o.ok}
    company_of = dict(zip(missing["person_id"].astype(str), missing["crm_company_id"].astype(str), strict=True))
    person = source["person_id"].astype(str)
    rows = source[person.isin(new_ids) & (source["account_id"].astype(str) == person.map(company_of))]
    rows = rows.assign(contact_id=rows["person_id"].astype(str).map(new_ids))
    log = pd.DataFrame(
        [
            {
                "object_type": "contacts",
                "record_id": o.record_id if o.ok else f"person:{o.key}",
                "status": ("created" if o.created else "exists") if o.ok else "failed",
                "error": o.error,
                "fields": CREATED_FIELDS,
            }
            for o in outcomes
        ],
        columns=LOG_COLUMNS,
    )
    counts = log["status"].value_counts().to_dict()
    context.log.info(f"contacts: created the buyers missing from the CRM: {counts}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        context.log.warning(
            f"contacts: {len(failed):,} could not be created (tried again next run); first errors: "
            + "; ".join(f"person {o.key}: {o.error}" for o in failed[:3])
        )
    return pd.concat([rows, source], ignore_index=True), log


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _read_state(wh: Warehouse) -> pd.DataFrame:
    if not wh.table_exists(SYNC_STATE):
        return pd.DataFrame(columns=STATE_COLUMNS, dtype=object)
    return wh.read_table(SYNC_STATE)


def sync_object(
    context: dg.AssetExecutionContext, wh: Warehouse, crm: CrmResource, rules: RulesResource, object_type: str
) -> dg.MaterializeResult:
    """Diff desired values against the last *successful* sync, push the changes, record every outcome."""
    field_map = rules.crm_fields()
    spec = field_map.objects[object_type]
    source = wh.read_table(spec.source_table)
    now = datetime.now(UTC).replace(tzinfo=None)
    client = crm.get_client()
    try:
        created = pd.DataFrame(columns=LOG_COLUMNS)
        if object_type == "contacts" and field_map.create_missing_contacts:
            source, created = create_missing_contacts(context, wh, client, source)
        source = source.drop_duplicates(spec.key_column)
        desired = desired_values(source, spec.key_column, spec.fields)

        state = _read_state(wh)
        mine = state["object_type"] == object_type
        updates = diff_records(desired, synced_state_frame(state[mine]))
        context.log.info(
            f"{object_type}: {len(desired):,} records in scope, {len(updates):,} changed, "
            f"{sum(len(u.properties) for u in updates):,} field values to write"
        )
        definitions_written = client.ensure_properties(object_type, spec.fields, field_map.group_name)
        outcomes = client.update_records(object_type, updates) if updates else []
    finally:
        client.close()

    # The outcome log first: if storing the state then fails, the retry re-sends (CRM writes are
    # idempotent) instead of losing the record of what was written.
    by_id = {u.record_id: u for u in updates}
    log = pd.DataFrame(
        [
            {
                "run_id": context.run.run_id,
                "synced_at": now,
                "object_type": object_type,
                "record_id": o.record_id,
                "status": "ok" if o.ok else "failed",
                "error": o.error,
                "fields": ",".join(sorted(by_id[o.record_id].properties)),
            }
            for o in outcomes
        ],
        columns=LOG_COLUMNS,
    )
    log = pd.concat([created.assign(run_id=context.run.run_id, synced_at=now), log], ignore_index=True)
    if not log.empty:
        wh.append(SYNC_LOG, log[LOG_COLUMNS].astype({"error": object}))
    accepted = accepted_state_rows(updates, outcomes)
    if not accepted.empty:
        accepted = accepted.assign(object_type=object_type, synced_at=now, run_id=context.run.run_id)
        key = ["object_type", "record_id", "field"]
        kept = state.merge(accepted[key], on=key, how="left", indicator=True)
        kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
        new_state = pd.concat([kept, accepted[STATE_COLUMNS]], ignore_index=True)
        wh.replace_table(SYNC_STATE, new_state[STATE_COLUMNS].astype({"value": object}))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        context.log.warning(
            f"{object_type}: {len(failed):,} records failed and stay unsynced (retried next run); first errors: "
            + "; ".join(f"{o.record_id}: {o.error}" for o in failed[:3])
        )
    changes = pd.DataFrame(
        [
            {"record_id": u.record_id, "field": name, "before": u.previous.get(name), "after": value}
            for u in updates[:10]
            for name, value in u.properties.items()
        ],
        columns=["record_id", "field", "before", "after"],
    )
    return dg.MaterializeResult(
        metadata={
            "crm": crm.kind,
            "records_in_scope": len(desired),
            "records_changed": len(updates),
            "records_written": len(outcomes) - len(failed),
            "records_failed": len(failed),
            "field_values_written": len(accepted),
            **({"contacts_created": int((created["status"] == "created").sum()),
                "contacts_create_failed": int((created["status"] == "failed").sum())}
               if object_type == "contacts" and field_map.create_missing_contacts else {}),
            "property_definitions_written": definitions_written,
            "dagster/row_count": dg.MetadataValue.int(len(desired)),
            "changes_preview": dg.MetadataValue.md(
                mask_frame_emails(changes).to_markdown(index=False) if not changes.empty else "no changes"
            ),
        }
    )


@dg.asset(
    deps=["account_routing"],
    **SYNC_ASSET_OPTIONS,
)
def crm_company_sync(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource, rules: RulesResource
) -> dg.MaterializeResult:
    """The CRM company records sellers see: PQA score, tier, motion and its reason, the top score drivers and
    who to talk to, written to pls_* properties in the "Product-Led Sales" group. Only records and fields that
    changed since the last successful sync are written; a failed record stays unsynced and is retried."""
    return sync_object(context, warehouse.get_warehouse(), crm, rules, "companies")


@dg.asset(
    deps=["buyer_candidates", BUYERS_MISSING_FROM_CRM, "crm_company_sync"],
    **SYNC_ASSET_OPTIONS,
)
def crm_contact_sync(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource, rules: RulesResource
) -> dg.MaterializeResult:
    """CRM contacts get their persona (economic buyer, champion, influencer), buying power, the evidence and
    the PQL flag, so a seller opening a contact knows why to call them. Same diff-only contract as companies.
    With create_missing_contacts enabled (crm_fields.yaml) it first creates the buyers_missing_from_crm."""
    return sync_object(context, warehouse.get_warehouse(), crm, rules, "contacts")
