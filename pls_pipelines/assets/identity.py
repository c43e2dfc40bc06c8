"""Identity: which CRM company each product workspace belongs to."""

import dagster as dg

from pls_pipelines.assets.common import DATA_TEAM, lineage, table_metadata
from pls_pipelines.lib.identity import (
    MATCH_CRM_ID,
    MATCH_EMAIL_DOMAIN,
    MATCH_NONE,
    build_account_map,
    match_rates,
)
from pls_pipelines.resources.warehouse import WarehouseResource


@dg.asset(
    group_name="identity",
    deps=["product_workspaces", "product_users", "crm_companies"],
    kinds={"python", "sql"},
    owners=[DATA_TEAM],
)
def account_map(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Workspace -> account: by the CRM company id on the workspace, else by the dominant company email domain
    of its members (free-mail and disposable domains never count). Unmatched workspaces keep an account of
    their own (`ws:<id>`) with the proposed domain, for ABM; several workspaces of one company are flagged
    as a consolidation opportunity.
    """
    wh = warehouse.get_warehouse()
    workspaces = wh.read_table("product_workspaces", ["workspace_id", "crm_company_id"])
    users = wh.read_table("product_users", ["user_id", "workspace_id", "email"])
    companies = wh.read_table("crm_companies", ["company_id", "domain"])
    frame = build_account_map(workspaces, users, companies)
    wh.replace_table("account_map", frame)

    rates = match_rates(frame, users)
    methods = frame["match_method"].value_counts().to_dict()
    context.log.info(
        f"{len(frame):,} workspaces: {methods.get(MATCH_CRM_ID, 0):,} by CRM id, "
        f"{methods.get(MATCH_EMAIL_DOMAIN, 0):,} by email domain, {methods.get(MATCH_NONE, 0):,} unmatched; "
        f"user match rate {rates['user_match_rate']:.1%}"
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            frame,
            preview_rows=5,
            column_lineage=lineage(
                {
                    "workspace_id": [("product_workspaces", "workspace_id")],
                    "crm_company_id": [
                        ("product_workspaces", "crm_company_id"),
                        ("crm_companies", "company_id"),
                    ],
                    "domain": [("product_users", "email"), ("crm_companies", "domain")],
                }
            ),
            matched_by_crm_id=int(methods.get(MATCH_CRM_ID, 0)),
            matched_by_email_domain=int(methods.get(MATCH_EMAIL_DOMAIN, 0)),
            unmatched_workspaces=int(methods.get(MATCH_NONE, 0)),
            consolidation_accounts=int(frame.loc[frame["is_consolidation"], "account_id"].nunique()),
            **rates,
        )
    )
