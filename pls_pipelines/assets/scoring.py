"""Scoring: PQA scores from the YAML models (with components, tier and reasons), and their daily history."""

from collections.abc import Sequence
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pls_pipelines.assets.common import (
    REVOPS_TEAM,
    SCORES_FRESHNESS,
    daily_partitions,
    lineage,
    partition_dates,
    single_run_backfill,
    table_metadata,
)
from pls_pipelines.assets.rollups import AccountFacts, account_features_for_days
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.event_catalog import EventCatalog
from pls_pipelines.lib.progress import Progress
from pls_pipelines.lib.score_history import HISTORY_COLUMNS, SCORE_HISTORY, score_history_table
from pls_pipelines.lib.scoring import combine_components, combine_scores, score_all
from pls_pipelines.lib.scoring_config import ScoringConfig
from pls_pipelines.lib.segments import SegmentThresholds
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

PQA_SCORES = "pqa_scores"
PQA_SCORE_COMPONENTS = "pqa_score_components"
SCORING = "scoring"
# The score history computes this many days per warehouse query and scoring pass, fewer when accounts x days
# would pass HISTORY_CHUNK_ROWS: memory stays bounded on large data while the demo's 90 days take 3 queries.
HISTORY_CHUNK_DAYS = 30
HISTORY_CHUNK_ROWS = 1_000_000

SCORE_DESCRIPTIONS = {
    "account_id": "The account (CRM company id or ws:<workspace id>)",
    "model": "Scoring model (config/scoring_models.yaml): pqa, expansion, churn_risk, worked_example",
    "model_version": "Hash of the model's rules: changes when a rule changes",
    "segment": "Segment whose overrides (if any) the account was scored with",
    "score": "1-100",
    "tier": "The model's tier for the score (sales / success / self_serve for pqa and expansion)",
    "is_pqa": "Score at or above the model's PQA threshold (for churn_risk: at risk)",
    "reasons": "Top drivers in plain words with the points they moved, for the CRM",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PQA_SCORES,
            metadata=schema_metadata(PQA_SCORES),
            group_name=SCORING,
            deps=["account_usage_rollup"],
            kinds={"python", "pandas"},
            owners=[REVOPS_TEAM],
            freshness_policy=SCORES_FRESHNESS,
            description="How ready each account is for a sales conversation: a 1-100 score per scoring model "
            "(config/scoring_models.yaml, owned by RevOps), the tier (80+ sales, 60-79 success white-glove, "
            "below 60 self-serve by default; other thresholds per segment where the model says so) and the top "
            "reasons in plain words. Every row carries the model version (a hash of the rules), so a change of "
            "rules is visible in history and in the CRM.",
        ),
        dg.AssetSpec(
            PQA_SCORE_COMPONENTS,
            metadata=schema_metadata(PQA_SCORE_COMPONENTS),
            freshness_policy=SCORES_FRESHNESS,
            group_name=SCORING,
            deps=["account_usage_rollup"],
            kinds={"python", "pandas"},
            owners=[REVOPS_TEAM],
            description="Why each account scored what it did: per account, model and component the input "
            "value, the 0-100 points it earned, the weight it was scored with and the points it contributed. "
            "`pls explain <account>` prints it; analysts can sum it back to the score.",
        ),
    ],
)
def pqa_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource):
    wh = warehouse.get_warehouse()
    config = rules.scoring()
    features = wh.read_table("account_usage_rollup")
    results = score_all(features, config)
    scores = combine_scores(results)
    scores = scores.merge(features[["account_id", "account_name", "as_of_date"]], on="account_id", how="left")
    components = combine_components(results)
    wh.replace_table(PQA_SCORES, scores)
    wh.replace_table(PQA_SCORE_COMPONENTS, components)

    tier_counts = {
        model: group["tier"].value_counts().to_dict() for model, group in scores.groupby("model", sort=True)
    }
    versions = {result.model.name: result.model.version for result in results}
    context.log.info(f"scored {scores['account_id'].nunique():,} accounts; tiers by model: {tier_counts}")
    yield dg.MaterializeResult(
        asset_key=PQA_SCORES,
        metadata=table_metadata(
            scores,
            preview_rows=10,
            descriptions=SCORE_DESCRIPTIONS,
            column_lineage=lineage(
                {
                    "score": [("account_usage_rollup", c) for c in _feature_columns(config)],
                    "account_id": [("account_usage_rollup", "account_id")],
                    "segment": [("account_usage_rollup", "segment")],
                }
            ),
            tiers_by_model=dg.MetadataValue.json(tier_counts),
            model_versions=dg.MetadataValue.json(versions),
            primary_models=", ".join(config.primary_models),
            pqa_accounts=int(scores.loc[scores["model"] == config.primary_models[0], "is_pqa"].sum()),
        ),
    )
    yield dg.MaterializeResult(
        asset_key=PQA_SCORE_COMPONENTS,
        metadata=table_metadata(components, model_versions=dg.MetadataValue.json(versions)),
    )


def _feature_columns(config: ScoringConfig) -> list[str]:
    return sorted({col for m in config.models.values() for c in m.components for col in c.columns})


@dg.asset_check(
    asset=PQA_SCORES, blocking=True, description="Scores are 1-100 and one per account per model."
)
def pqa_scores_valid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Blocks the CRM sync when a scoring bug would write nonsense: scores outside 1..100, missing tiers,
    or the same account scored twice by one model."""
    scores = warehouse.get_warehouse().read_table(PQA_SCORES, ["account_id", "model", "score", "tier"])
    out_of_range = int((~scores["score"].between(1, 100)).sum())
    missing_tier = int(scores["tier"].isna().sum())
    duplicate_keys = int(scores.duplicated(["account_id", "model"]).sum())
    null_keys = int(scores["account_id"].isna().sum())
    return dg.AssetCheckResult(
        passed=out_of_range == 0 and missing_tier == 0 and duplicate_keys == 0 and null_keys == 0,
        metadata={
            "rows": len(scores),
            "out_of_range": out_of_range,
            "missing_tier": missing_tier,
            "duplicate_keys": duplicate_keys,
            "null_keys": null_keys,
            "score_min": int(scores["score"].min()) if len(scores) else 0,
            "score_max": int(scores["score"].max()) if len(scores) else 0,
        },
    )


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata("pqa_score_history"),
    group_name=SCORING,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    deps=["user_daily_activity", "account_map", "product_workspaces", "crm_companies", "crm_deals"],
    kinds={"sql", "pandas"},
    owners=[REVOPS_TEAM],
)
def pqa_score_history(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """Every account's score, tier, reasons and model version as they stood at the end of each day: the
    features of that day (usage windows ending then, paying customers by the deals won by then) scored with
    the current rules. From it come when an account became a PQA, time to PQA, tier moves, PQAs created per
    month, and the point-in-time scores `score_validation` checks against later wins. Re-running a day (or
    backfilling a range) replaces exactly those days.
    """
    start, end = partition_dates(context)
    wh = warehouse.get_warehouse()
    config, catalog, segments = rules.scoring(), rules.catalog(), rules.routing().segments
    facts = AccountFacts.read(wh)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    progress = Progress(len(days), "pqa_score_history", "days", context.log.info)
    history = score_history_for_days(wh, facts, config, catalog, segments, days, progress)
    table = score_history_table(sa.MetaData())
    wh.ensure_tables([table])
    wh.replace_window(SCORE_HISTORY, history, "snapshot_date", start, end)

    primary = history[history["model"] == config.primary_models[0]]
    pqas_by_day = primary.groupby("snapshot_date")["is_pqa"].sum()
    return dg.MaterializeResult(
        metadata={
            **table_metadata(history.head(0), descriptions={**SCORE_DESCRIPTIONS,
                                                            "snapshot_date": "The day the scores stood"}),
            "dagster/row_count": dg.MetadataValue.int(len(history)),
            "window": f"{start} .. {end}",
            "days": len(days),
            f"{config.primary_models[0]}_pqas_last_day": int(pqas_by_day.iloc[-1]) if len(pqas_by_day) else 0,
        }
    )


def history_chunk_days(accounts: int) -> int:
    """Days per chunk of the score history: HISTORY_CHUNK_DAYS, fewer when that many days of `accounts` rows
    would pass HISTORY_CHUNK_ROWS (at least one day)."""
    return max(1, min(HISTORY_CHUNK_DAYS, HISTORY_CHUNK_ROWS // max(accounts, 1)))


def score_history_for_days(
    wh: Warehouse,
    facts: AccountFacts,
    config: ScoringConfig,
    catalog: EventCatalog,
    segments: SegmentThresholds,
    days: Sequence[date],
    progress: Progress | None = None,
) -> pd.DataFrame:
    """History rows (HISTORY_COLUMNS) of `days`: each day's account features scored with every model, sorted
    by day, account and model - the rows scoring each day's account_features_as_of on its own gives.

    Chunks of days, each one warehouse query (account_features_for_days) and one vectorised scoring pass
    (score_all by as_of_date); one query and one scoring call per day made the 90-day history a minute.
    """
    chunk = history_chunk_days(facts.account_map["account_id"].nunique())
    parts = []
    for first in range(0, len(days), chunk):
        chunk_days = list(days[first : first + chunk])
        features = account_features_for_days(wh, facts, catalog, segments, chunk_days)
        scores = combine_scores(score_all(features, config, by="as_of_date"))
        parts.append(scores.rename(columns={"as_of_date": "snapshot_date"})[HISTORY_COLUMNS])
        if progress is not None:
            progress.advance(len(chunk_days), items=len(scores))
    if not parts:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    return pd.concat(parts, ignore_index=True)
