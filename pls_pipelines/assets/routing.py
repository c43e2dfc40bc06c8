"""Routing: one motion per account (sales, success, ABM, self-serve, expansion, churn risk) and why."""

import dagster as dg

from pls_pipelines.assets.common import REVOPS_TEAM, SCORES_FRESHNESS, lineage, table_metadata
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.routing import route_accounts
from pls_pipelines.lib.scoring import primary_scores
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import WarehouseResource

ACCOUNT_ROUTING = "account_routing"

SCORE_COLUMNS = ["account_id", "model", "model_version", "score", "tier", "is_pqa", "reasons"]
BUYER_COLUMNS = [
    "account_id",
    "buyer_present",
    "buyer_known",
    "champion_present",
    "economic_buyer_name",
    "economic_buyer_title",
    "champion_name",
    "champion_title",
    # Exact "buyer is a product user" and "buyer and champion are one person" instead of name matching.
    "economic_buyer_is_user",
    "economic_buyer_person_id",
    "champion_person_id",
]


@dg.asset(
    metadata=schema_metadata("account_routing"),
    group_name="routing",
    deps=["account_usage_rollup", "pqa_scores", "account_buyers"],
    kinds={"python", "pandas"},
    owners=[REVOPS_TEAM],
    freshness_policy=SCORES_FRESHNESS,
)
def account_routing(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """The account journey applied: a PQA with a buyer in the product goes to sales; a buyer without PQA
    usage gets white-glove activation from success; no buyer in the user base means ABM and prospecting
    (for PQAs and high-fit accounts) or self-serve; paying customers get expansion or churn-risk plays.
    One motion per account, a one-line reason a seller understands, and who to contact. This is the table
    the CRM sync writes from.
    """
    wh = warehouse.get_warehouse()
    features = wh.read_table("account_usage_rollup")
    scores = primary_scores(wh.read_table("pqa_scores", SCORE_COLUMNS), rules.scoring().primary_models)
    buyers = wh.read_table("account_buyers", BUYER_COLUMNS)
    accounts = features.merge(scores, on="account_id", how="left").merge(buyers, on="account_id", how="left")
    for flag in ("is_pqa", "buyer_present", "buyer_known", "champion_present", "economic_buyer_is_user"):
        accounts[flag] = accounts[flag].fillna(False).astype(bool)
    routed = route_accounts(accounts, rules.routing())
    table = accounts.merge(routed, on="account_id", how="left")
    columns = [
        "account_id",
        "crm_company_id",
        "account_name",
        "domain",
        "segment",
        "employee_count",
        "is_customer",
        "is_consolidation",
        "workspace_count",
        "score",
        "tier",
        "is_pqa",
        "reasons",
        "model",
        "model_version",
        "active_users_28d",
        "motion",
        "motion_reason",
        "recommended_contacts",
        "routing_rule",
        "economic_buyer_name",
        "economic_buyer_title",
        "champion_name",
        "champion_title",
        "as_of_date",
    ]
    table = table[columns].sort_values("account_id").reset_index(drop=True)
    wh.replace_table(ACCOUNT_ROUTING, table)
    motions = table["motion"].value_counts().to_dict()
    context.log.info(f"motions: {motions}")
    return dg.MaterializeResult(
        metadata=table_metadata(
            table,
            preview_rows=10,
            column_lineage=lineage(
                {
                    "score": [("pqa_scores", "score")],
                    "tier": [("pqa_scores", "tier")],
                    "reasons": [("pqa_scores", "reasons")],
                    "motion": [
                        ("pqa_scores", "is_pqa"),
                        ("account_buyers", "buyer_present"),
                        ("account_usage_rollup", "is_customer"),
                        ("account_usage_rollup", "segment"),
                    ],
                    "recommended_contacts": [
                        ("account_buyers", "economic_buyer_name"),
                        ("account_buyers", "champion_name"),
                    ],
                }
            ),
            motions=dg.MetadataValue.json(motions),
        )
    )


@dg.asset_check(asset=ACCOUNT_ROUTING, blocking=True, description="Exactly one known motion per account.")
def account_routing_valid(warehouse: WarehouseResource, rules: RulesResource) -> dg.AssetCheckResult:
    """Blocks the CRM sync when routing is inconsistent: an account routed twice or to no/unknown motion."""
    table = warehouse.get_warehouse().read_table(ACCOUNT_ROUTING, ["account_id", "motion"])
    known = set(rules.routing().motions)
    duplicates = int(table["account_id"].duplicated().sum())
    unrouted = int(table["motion"].isna().sum())
    unknown = sorted(set(table["motion"].dropna()) - known)
    return dg.AssetCheckResult(
        passed=duplicates == 0 and unrouted == 0 and not unknown,
        metadata={
            "accounts": len(table),
            "duplicate_accounts": duplicates,
            "unrouted": unrouted,
            "unknown_motions": dg.MetadataValue.json(unknown),
        },
    )


@dg.asset_check(
    asset=ACCOUNT_ROUTING,
    description="Every account routed to sales names an economic buyer to call.",
)
def sales_accounts_name_a_buyer(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """A seller handed an account with nobody to call wastes the motion: the shipped routing only sends
    accounts with a known economic buyer to sales, so this warns when an edited routing.yaml does otherwise.
    A warning, not a block: the CRM still gets the motion, and RevOps sees which rule did it."""
    table = warehouse.get_warehouse().read_table(
        ACCOUNT_ROUTING, ["account_id", "motion", "economic_buyer_name", "routing_rule"]
    )
    sales = table[table["motion"] == "sales"]
    nameless = sales[sales["economic_buyer_name"].isna() | (sales["economic_buyer_name"].astype(str).str.strip() == "")]
    return dg.AssetCheckResult(
        passed=nameless.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sales_accounts": len(sales),
            "without_a_buyer": len(nameless),
            "by_rule": dg.MetadataValue.json(nameless["routing_rule"].value_counts().to_dict()),
            "examples": dg.MetadataValue.json(nameless["account_id"].head(5).tolist()),
        },
    )
