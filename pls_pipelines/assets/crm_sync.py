"""CRM sync: write the pls_* fields to CRM companies and contacts - only what changed since the last success.

The work is sync_engine's (shared with `pls sync`); these assets add the Dagster side: run config (dry run,
reconcile now), the guard as a blocking check in front of the write, and what the run reports.
"""

import dagster as dg
import pandas as pd

from pls_pipelines.assets.buyers import BUYERS_MISSING_FROM_CRM
from pls_pipelines.assets.common import REVOPS_TEAM, SYNC_FRESHNESS
from pls_pipelines.assets.routing import ACCOUNT_ROUTING
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.privacy import mask_email, mask_frame_emails
from pls_pipelines.lib.sync_rejections import rejection_summary
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import WarehouseResource
from pls_pipelines.sync_engine import guard_verdict, plan_sync, read_rejections, run_sync

# Both sync assets talk to the CRM API: same owners, freshness, retries, and one shared pool so that only one
# step at a time spends the CRM's rate limit.
SYNC_ASSET_OPTIONS = {
    "group_name": "crm_sync",
    "kinds": {"python"},
    "owners": [REVOPS_TEAM],
    "freshness_policy": SYNC_FRESHNESS,
    "retry_policy": dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    "pool": "crm_api",
}
PREVIEW_RECORDS = 10


class CrmSyncConfig(dg.Config):
    """Run config of the sync assets (Launchpad in the UI, or `pls sync --dry-run / --reconcile`)."""

    dry_run: bool = False  # show the creates and updates with field-level before -> after; write nothing
    reconcile: bool = False  # compare with the CRM's current values now instead of when due
    retry_rejected: bool = False  # send again the records the CRM refused, although their values did not change


def sync_object(
    context: dg.AssetExecutionContext,
    config: CrmSyncConfig,
    warehouse: WarehouseResource,
    crm: CrmResource,
    rules: RulesResource,
    object_type: str,
) -> dg.MaterializeResult:
    """Plan, then (unless a dry run) write and record; report the counts and a masked preview."""
    wh = warehouse.get_warehouse()
    field_map = rules.crm_fields()
    client = crm.get_client()
    try:
        plan = plan_sync(wh, client, field_map, object_type, reconcile=True if config.reconcile else None,
                         retry_rejected=config.retry_rejected)
        context.log.info(("DRY RUN - nothing is written. " if config.dry_run else "") + plan.summary())
        preview = plan.changes(PREVIEW_RECORDS)
        metadata: dict[str, object] = {
            "crm": crm.kind,
            "dry_run": config.dry_run,
            "reconcile": plan.reconcile,
            "records_in_scope": len(plan.desired),
            "records_changed": len(plan.updates),
            "field_values_to_write": plan.field_values,
            "dagster/row_count": dg.MetadataValue.int(len(plan.desired)),
            "changes_preview": dg.MetadataValue.md(
                mask_frame_emails(preview).to_markdown(index=False) if not preview.empty else "no changes"
            ),
        }
        if config.dry_run:
            metadata["contacts_to_create"] = len(plan.creates)
            metadata["records_held"] = len(plan.held)
            return dg.MaterializeResult(metadata=metadata)
        if object_type == "companies":
            verdict = guard_verdict(wh, field_map, plan)
            if not verdict.passed:  # the blocking check stops this first; this covers runs that skip checks
                raise dg.Failure(description=verdict.message, metadata={"fingerprint": verdict.fingerprint})
        result = run_sync(wh, client, field_map, plan, run_id=context.run.run_id, log=context.log.info)
    finally:
        client.close()

    counts = result.counts
    problems = counts["rejected"] + counts["failed"]
    if problems:
        first = [o for o in result.outcomes if not o.ok][:3]
        context.log.warning(
            f"{object_type}: {counts['rejected']:,} rejected by the CRM (held back until their values change; see "
            f"the crm_rejections check) and {counts['failed']:,} failed (retried next run); reasons in crm_sync_log; "
            "first: " + "; ".join(f"{o.record_id}: {mask_email(o.error or '')}" for o in first)
        )
    metadata.update({f"records_{status}": n for status, n in counts.items()})
    metadata["records_written"] = counts["sent"]
    metadata["records_failed"] = problems
    if result.write_calls is not None:
        metadata["crm_write_calls"] = result.write_calls
    if object_type == "contacts" and field_map.create_missing_contacts:
        metadata["contacts_created"] = counts["created"]
        metadata["contacts_create_failed"] = sum(1 for c in result.created if not c.ok)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(deps=[ACCOUNT_ROUTING], metadata=schema_metadata("crm_company_sync"), **SYNC_ASSET_OPTIONS)
def crm_company_sync(
    context: dg.AssetExecutionContext,
    config: CrmSyncConfig,
    warehouse: WarehouseResource,
    crm: CrmResource,
    rules: RulesResource,
) -> dg.MaterializeResult:
    """The CRM company records sellers see: PQA score, tier, motion and its reason, the top score drivers and
    who to talk to, written to pls_* properties in the "Product-Led Sales" group. Only records and fields that
    changed since the last successful sync are written; a failed record stays unsynced and is retried; every
    record's outcome is in crm_sync_log. Stopped by crm_sync_guard when the change looks wrong."""
    return sync_object(context, config, warehouse, crm, rules, "companies")


@dg.asset(
    deps=["buyer_candidates", BUYERS_MISSING_FROM_CRM, "crm_company_sync"],
    metadata=schema_metadata("crm_contact_sync"),
    **SYNC_ASSET_OPTIONS,
)
def crm_contact_sync(
    context: dg.AssetExecutionContext,
    config: CrmSyncConfig,
    warehouse: WarehouseResource,
    crm: CrmResource,
    rules: RulesResource,
) -> dg.MaterializeResult:
    """CRM contacts get their persona (economic buyer, champion, influencer), buying power, the evidence and
    the PQL flag, so a seller opening a contact knows why to call them. Same diff-only contract as companies.
    With create_missing_contacts enabled (crm_fields.yaml) it first creates the buyers_missing_from_crm."""
    return sync_object(context, config, warehouse, crm, rules, "contacts")


@dg.asset_check(
    asset=ACCOUNT_ROUTING,
    blocking=True,
    description="Stops the CRM sync when too many companies would change tier at once, or the CRM rejected "
    "too many records last time (limits in crm_fields.yaml guard:; approve with `pls sync --approve`).",
)
def crm_sync_guard(warehouse: WarehouseResource, rules: RulesResource) -> dg.AssetCheckResult:
    """The guard in front of the CRM write (lib/sync_guard.py): a bad scoring change never floods the CRM."""
    verdict = guard_verdict(warehouse.get_warehouse(), rules.crm_fields())
    examples = pd.DataFrame(verdict.examples, columns=["record_id", "synced_tier", "new_tier"])
    return dg.AssetCheckResult(
        passed=verdict.passed,
        description=verdict.message,
        metadata={
            "tier_changes": verdict.tier_changes,
            "companies_compared": verdict.comparable,
            "previous_rejected_share": verdict.rejected_share if verdict.rejected_share is not None else 0.0,
            "approved": verdict.approved,
            "fingerprint": verdict.fingerprint,
            "examples": dg.MetadataValue.md(examples.to_markdown(index=False) if not examples.empty else "none"),
        },
    )


def _rejections_check(asset: dg.AssetsDefinition, object_type: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="crm_rejections",
        description=f"Warns while the CRM refuses {object_type} records: they are held back (not re-sent every run) "
        "until their values change, so someone has to fix the cause; lists the CRM's reasons.",
    )
    def _check(warehouse: WarehouseResource, rules: RulesResource) -> dg.AssetCheckResult:
        held = read_rejections(warehouse.get_warehouse(), object_type)
        by_reason, oldest = rejection_summary(held)
        retry_days = rules.crm_fields().retry_rejected_after_days
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in list(by_reason.items())[:5])
        return dg.AssetCheckResult(
            passed=held.empty,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"The CRM accepts every {object_type} record." if held.empty else
                f"{len(held):,} {object_type} records refused by the CRM ({reasons}). Fix the cause in the CRM or "
                f"upstream, then run `pls sync --retry-rejected` (they are retried by themselves after "
                f"{retry_days} days, or when their values change). Table: crm_sync_rejections."
            ),
            metadata={
                "records_refused": len(held),
                "by_reason": dg.MetadataValue.json(by_reason),
                "oldest": dg.MetadataValue.md(
                    mask_frame_emails(oldest).to_markdown(index=False) if not oldest.empty else "none"
                ),
            },
        )

    return _check


crm_company_rejections = _rejections_check(crm_company_sync, "companies")
crm_contact_rejections = _rejections_check(crm_contact_sync, "contacts")
