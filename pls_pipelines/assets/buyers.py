"""Buyers: who in each account can buy (economic buyer), who pulls the team in (champion), and PQLs."""

import dagster as dg
import sqlalchemy as sa

from pls_pipelines.assets.common import REVOPS_TEAM, SCORES_FRESHNESS, lineage, table_metadata
from pls_pipelines.assets.rollups import latest_activity_date
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.missing_contacts import buyers_missing_from_crm
from pls_pipelines.lib.people import build_people
from pls_pipelines.lib.personas import best_contacts_per_account, flag_pqls, identify_personas
from pls_pipelines.lib.rollup_sql import (
    user_daily_activity_table,
    user_window_query,
    window_bounds,
)
from pls_pipelines.lib.scoring import primary_scores
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import WarehouseResource

BUYERS = "buyers"


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata("buyer_candidates"),
    group_name=BUYERS,
    deps=["product_users", "crm_contacts", "account_map", "user_daily_activity", "pqa_scores"],
    kinds={"python", "pandas"},
    owners=[REVOPS_TEAM],
)
def buyer_candidates(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """Every person of every account - product users and CRM contacts joined by email - with seniority and
    department parsed from the title, a persona (economic buyer, champion, influencer, end user), a buying-power
    score, the evidence behind it, and the PQL flag (a buyer or champion inside a PQA). Free-mail users can be
    champions but never buyers.
    """
    wh = warehouse.get_warehouse()
    as_of = latest_activity_date(wh)
    catalog = rules.catalog()
    query = user_window_query(user_daily_activity_table(sa.MetaData(), catalog), catalog)
    people = build_people(
        wh.read_table("product_users"),
        wh.read_table("account_map", ["workspace_id", "account_id"]),
        wh.read_sql(query, window_bounds(as_of)),
        wh.read_table("crm_contacts"),
    )
    personas = identify_personas(people, rules.personas())
    # PQAs by the primary models only: a comparison model (worked_example) must not make PQLs
    scores = primary_scores(wh.read_table("pqa_scores", ["account_id", "model", "is_pqa"]),
                            rules.scoring().primary_models)
    personas["is_pql"] = flag_pqls(personas, set(scores.loc[scores["is_pqa"].astype(bool), "account_id"]))
    wh.replace_table("buyer_candidates", personas)

    counts = personas["persona"].value_counts().to_dict()
    context.log.info(f"{len(personas):,} people; personas {counts}; {int(personas['is_pql'].sum()):,} PQLs")
    return dg.MaterializeResult(
        metadata=table_metadata(
            personas[personas["persona"] != "end_user"],
            preview_rows=10,
            column_lineage=lineage(
                {
                    "title": [("crm_contacts", "title"), ("product_users", "title")],
                    "email": [("product_users", "email"), ("crm_contacts", "email")],
                    "invites_sent_28d": [("user_daily_activity", "invites")],
                    "is_pql": [("pqa_scores", "is_pqa")],
                }
            ),
            personas=dg.MetadataValue.json(counts),
            pqls=int(personas["is_pql"].sum()),
            people=len(personas),
        )
    )


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata("account_buyers"),
    group_name=BUYERS,
    deps=["buyer_candidates"],
    kinds={"python", "pandas"},
    owners=[REVOPS_TEAM],
)
def account_buyers(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per account, the best economic buyer and the best champion with the reasons they were chosen - the
    two names a seller needs before the first call. Accounts with no buyer in the user base go to ABM."""
    wh = warehouse.get_warehouse()
    best = best_contacts_per_account(wh.read_table("buyer_candidates"))
    wh.replace_table("account_buyers", best)
    with_buyer = int(best["buyer_present"].sum())
    context.log.info(f"{with_buyer:,} of {len(best):,} accounts have an economic buyer among their product users")
    return dg.MaterializeResult(
        metadata=table_metadata(best, preview_rows=10, accounts_with_buyer=with_buyer)
    )


BUYERS_MISSING_FROM_CRM = "buyers_missing_from_crm"


@dg.asset(
    freshness_policy=SCORES_FRESHNESS,
    metadata=schema_metadata(BUYERS_MISSING_FROM_CRM),
    name=BUYERS_MISSING_FROM_CRM,
    group_name=BUYERS,
    deps=["buyer_candidates", "crm_companies"],
    kinds={"python", "pandas"},
    owners=[REVOPS_TEAM],
)
def buyers_missing_from_crm_asset(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """Economic buyers and PQA champions who use the product with a work email but are no CRM contact yet:
    the people a seller would otherwise add by hand. Listed on every run; the contact sync creates them only
    when crm_fields.yaml says `create_missing_contacts: {enabled: true}`."""
    wh = warehouse.get_warehouse()
    companies = wh.read_table("crm_companies", ["company_id"])
    missing = buyers_missing_from_crm(wh.read_table("buyer_candidates"), set(companies["company_id"].astype(str)))
    wh.replace_table(BUYERS_MISSING_FROM_CRM, missing)
    creating = rules.crm_fields().create_missing_contacts
    by_reason = missing["why"].value_counts().to_dict()
    context.log.info(
        f"{len(missing):,} buyers use the product but are no CRM contact yet {by_reason}; "
        + ("the contact sync creates them" if creating else "listed only (create_missing_contacts is off)")
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            missing,
            preview_rows=10,
            column_lineage=lineage(
                {
                    "email": [("buyer_candidates", "email")],
                    "persona": [("buyer_candidates", "persona")],
                    "crm_company_id": [("buyer_candidates", "account_id"), ("crm_companies", "company_id")],
                }
            ),
            by_reason=dg.MetadataValue.json(by_reason),
            will_be_created=creating,
        )
    )
