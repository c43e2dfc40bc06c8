"""Scoring: PQA scores from the YAML models, with components, tier and reasons for every account."""

import dagster as dg

from pls_pipelines.assets.common import FRESHNESS_26H, REVOPS_TEAM, lineage, table_metadata
from pls_pipelines.lib.scoring import score_all_models
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import WarehouseResource

PQA_SCORES = "pqa_scores"


@dg.asset(
    group_name="scoring",
    deps=["account_usage_rollup"],
    kinds={"python", "pandas"},
    owners=[REVOPS_TEAM],
    freshness_policy=FRESHNESS_26H,
)
def pqa_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource):
    """How ready each account is for a sales conversation: a 1-100 score per scoring model (config/
    scoring_models.yaml, owned by RevOps), its components, the tier (80+ sales, 60-79 success white-glove,
    below 60 self-serve by default) and the top reasons in plain words. Every row carries the model version
    (a hash of the rules), so a change of rules is visible in history and in the CRM.
    """
    wh = warehouse.get_warehouse()
    config = rules.scoring()
    features = wh.read_table("account_usage_rollup")
    scores = score_all_models(features, config)
    scores = scores.merge(features[["account_id", "account_name", "as_of_date"]], on="account_id", how="left")
    wh.replace_table(PQA_SCORES, scores)

    tier_counts = {
        model: group["tier"].value_counts().to_dict() for model, group in scores.groupby("model", sort=True)
    }
    versions = scores.groupby("model")["model_version"].first().to_dict()
    context.log.info(f"scored {scores['account_id'].nunique():,} accounts; tiers by model: {tier_counts}")
    return dg.MaterializeResult(
        metadata=table_metadata(
            scores,
            preview_rows=10,
            column_lineage=lineage(
                {
                    "score": [("account_usage_rollup", c) for c in _feature_columns(config)],
                    "account_id": [("account_usage_rollup", "account_id")],
                }
            ),
            tiers_by_model=dg.MetadataValue.json(tier_counts),
            model_versions=dg.MetadataValue.json(versions),
            pqa_accounts=int(scores["is_pqa"].sum()),
        )
    )


def _feature_columns(config) -> list[str]:
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
