"""Data checks between the product and the CRM (lib/data_checks.py) and the freshness checks of the daily
partitions. Checks on what the CRM sync writes from are blocking: a broken table stops the sync, not the seller.
"""

import warnings
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from pls_pipelines.lib.data_checks import (
    CheckOutcome,
    key_problems,
    row_count_change,
    source_staleness,
    tier_order_problems,
)
from pls_pipelines.lib.personas import PERSONAS
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import WarehouseResource
from pls_pipelines.settings import schedule_hour, schedule_timezone, source_max_age_hours

# A table that grows or shrinks by more than this between two runs gets a warning.
MAX_ROW_COUNT_CHANGE = 0.5
# The daily partitions should be complete an hour after the daily schedule (PLS_SCHEDULE_HOUR, in
# PLS_SCHEDULE_TIMEZONE; 06:00 UTC by default) - read with the schedule, so moving one moves the other.
PARTITION_DEADLINE_CRON = f"0 {(schedule_hour() + 1) % 24} * * *"


def _result(outcome: CheckOutcome, **extra: object) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed, description=outcome.description, metadata={**outcome.counts, **extra}
    )


@dg.asset_check(asset="account_map", blocking=True, description="One account per workspace, every workspace once.")
def account_map_keys(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get_warehouse().read_table("account_map", ["workspace_id", "account_id"])
    outcome = key_problems(frame, ["workspace_id"], "account_map")
    missing = int(frame["account_id"].isna().sum())
    if missing:
        outcome = CheckOutcome([*outcome.problems, f"{missing:,} workspaces have no account"], outcome.counts)
    return _result(outcome)


@dg.asset_check(asset="account_usage_rollup", blocking=True, description="One row per account, all keyed.")
def account_usage_rollup_keys(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get_warehouse().read_table("account_usage_rollup", ["account_id"])
    return _result(key_problems(frame, ["account_id"], "account_usage_rollup"))


@dg.asset_check(
    asset="pqa_scores",
    blocking=True,
    description="Tiers are cuts of the score: within a model and segment, a higher tier never scores lower.",
)
def pqa_scores_tiers_consistent(warehouse: WarehouseResource, rules: RulesResource) -> dg.AssetCheckResult:
    scores = warehouse.get_warehouse().read_table("pqa_scores", ["model", "segment", "score", "tier"])
    order = {name: [t.name for t in model.tiers] for name, model in rules.scoring().models.items()}
    return _result(tier_order_problems(scores, order))


@dg.asset_check(
    asset="buyer_candidates",
    blocking=True,
    description="Each person once per account, a known persona, buying power 0-100 (the contact sync writes these).",
)
def buyer_candidates_valid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get_warehouse().read_table("buyer_candidates", ["account_id", "person_id", "persona",
                                                                       "buying_power"])
    outcome = key_problems(frame, ["account_id", "person_id"], "buyer_candidates")
    problems = list(outcome.problems)
    unknown = sorted(set(frame["persona"].dropna()) - set(PERSONAS))
    if unknown:
        problems.append(f"unknown personas {unknown[:3]}")
    power = pd.to_numeric(frame["buying_power"], errors="coerce")
    outside = int((~power.between(0, 100)).sum())
    if outside:
        problems.append(f"{outside:,} buying powers outside 0-100")
    return _result(CheckOutcome(problems, outcome.counts))


@dg.asset_check(
    asset="buyers_missing_from_crm",
    blocking=True,
    description="Contacts to create have a unique email and a company to belong to.",
)
def buyers_missing_from_crm_valid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get_warehouse().read_table("buyers_missing_from_crm", ["email", "crm_company_id"])
    outcome = key_problems(frame, ["email"], "buyers_missing_from_crm")
    orphans = int(frame["crm_company_id"].isna().sum())
    problems = [*outcome.problems, *([f"{orphans:,} have no company"] if orphans else [])]
    return _result(CheckOutcome(problems, outcome.counts))


def _row_count_check(asset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{asset}_row_count_change",
        description=f"Warns when {asset} grows or shrinks by more than {MAX_ROW_COUNT_CHANGE:.0%} between runs.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        current = int(warehouse.get_warehouse().scalar(f'SELECT COUNT(*) FROM "{asset}"') or 0)
        records = context.instance.fetch_materializations(dg.AssetKey(asset), limit=2).records
        previous = None
        if len(records) == 2:  # the newest is this run's own materialization
            metadata = records[1].asset_materialization.metadata if records[1].asset_materialization else {}
            count = metadata.get("dagster/row_count")
            previous = int(count.value) if count is not None else None
        outcome = row_count_change(previous, current, MAX_ROW_COUNT_CHANGE, asset)
        return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN,
                                   description=outcome.description, metadata=outcome.counts)

    return _check


account_routing_row_count_change = _row_count_check("account_routing")
buyer_candidates_row_count_change = _row_count_check("buyer_candidates")
account_usage_rollup_row_count_change = _row_count_check("account_usage_rollup")


@dg.asset_check(
    asset="usage_events",
    description="The newest event in the source is recent (PLS_SOURCE_MAX_AGE_HOURS, default 48): fails on a "
    "stale upstream export even when the ingest ran.",
)
def usage_events_source_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    newest = warehouse.get_warehouse().scalar("SELECT MAX(occurred_at) FROM usage_events")
    newest_at = None if newest is None else pd.Timestamp(newest).tz_localize(None).to_pydatetime()
    outcome = source_staleness(newest_at, datetime.now(UTC).replace(tzinfo=None),
                               timedelta(hours=source_max_age_hours()))
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.WARN,
                               description=outcome.description, metadata=outcome.counts)


# Daily partitions complete an hour after the schedule; the sensor evaluates them.
# Dagster 1.13 calls the sensor "superseded" by FreshnessPolicy (which the assets also carry); the partition
# checks still need it to be evaluated between runs, so the notice is silenced for this one call.
warnings.filterwarnings(
    "ignore", message=r"Function `build_(sensor_for|time_partition)_freshness_checks` is superseded"
)
partition_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=["usage_events", "user_daily_activity", "pqa_score_history"],
    deadline_cron=PARTITION_DEADLINE_CRON,
    timezone=schedule_timezone(),
)
freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=partition_freshness_checks,
    name="freshness_checks_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
