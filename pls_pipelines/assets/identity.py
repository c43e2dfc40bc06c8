"""Identity: which CRM company each product workspace belongs to, and how much of the usage that attributes."""

import dagster as dg
import pandas as pd

from pls_pipelines.assets.common import DATA_TEAM, USAGE_FRESHNESS, lineage, table_metadata
from pls_pipelines.assets.schemas import schema_metadata
from pls_pipelines.lib.identity import (
    ADDITIONAL_DOMAINS_COLUMN,
    MATCH_CRM_ID,
    MATCH_EMAIL_DOMAIN,
    MATCH_METHODS,
    MATCH_NONE,
    MATCH_OVERRIDE,
    MATCH_OVERRIDE_DOMAIN,
    build_account_map,
    match_rates,
    unused_overrides,
)
from pls_pipelines.resources.rules import RulesResource
from pls_pipelines.resources.warehouse import Warehouse, WarehouseResource

ACCOUNT_MAP = "account_map"
USER_DAILY_ACTIVITY = "user_daily_activity"
# Below half of the workspaces matched, most usage scores `ws:` placeholders no seller owns: usually a CRM
# without domains, a broken CRM id on the workspaces, or landing files from another tenant. A warning, not a
# block: unmatched accounts are still worked (ABM), so the CRM sync may go ahead.
MIN_WORKSPACE_MATCH_RATE = 0.5
MAX_LOGGED_UNUSED_OVERRIDES = 20


@dg.asset(
    freshness_policy=USAGE_FRESHNESS,
    metadata=schema_metadata("account_map"),
    group_name="identity",
    deps=["product_workspaces", "product_users", "crm_companies"],
    kinds={"python", "sql"},
    owners=[DATA_TEAM],
)
def account_map(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource
) -> dg.MaterializeResult:
    """Workspace -> account: a RevOps pin from the overrides file (PLS_IDENTITY_OVERRIDES) first, else the CRM
    company id on the workspace, else the dominant company email domain of its members (subdomains count for
    their company, free-mail and disposable domains never count), else a RevOps domain alias. Unmatched
    workspaces keep an account of their own (`ws:<id>`) with the proposed domain, for ABM; several workspaces
    of one company are flagged as a consolidation opportunity. Match rates of workspaces, users and events are
    in the metadata.
    """
    overrides = rules.identity()  # a malformed file fails here, before any read
    wh = warehouse.get_warehouse()
    workspaces = wh.read_table("product_workspaces", ["workspace_id", "crm_company_id"])
    users = wh.read_table("product_users", ["user_id", "workspace_id", "email"])
    company_columns = ["company_id", "domain"]
    if ADDITIONAL_DOMAINS_COLUMN in wh.columns("crm_companies"):  # HubSpot's hs_additional_domains, if synced
        company_columns.append(ADDITIONAL_DOMAINS_COLUMN)
    companies = wh.read_table("crm_companies", company_columns)
    frame = build_account_map(workspaces, users, companies, overrides)
    wh.replace_table(ACCOUNT_MAP, frame)

    rates = match_rates(frame, users, _workspace_events(wh))
    methods = {m: int(n) for m, n in frame["match_method"].value_counts().items()}
    unused = unused_overrides(frame, overrides)
    for row in unused[:MAX_LOGGED_UNUSED_OVERRIDES]:
        context.log.warning(
            f"{row.location}: override {row.kind} {row.workspace_id or row.domain} -> {row.crm_company_id} "
            "decided no workspace (workspace not in the product data, domain unused, or the CRM already "
            "lists the domain)"
        )
    context.log.info(
        f"{len(frame):,} workspaces: "
        + ", ".join(f"{methods.get(m, 0):,} {m}" for m in MATCH_METHODS)
        + "; "
        + ", ".join(f"{name} {rate:.1%}" for name, rate in rates.items())
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
            matched_by_override=methods.get(MATCH_OVERRIDE, 0),
            matched_by_crm_id=methods.get(MATCH_CRM_ID, 0),
            matched_by_email_domain=methods.get(MATCH_EMAIL_DOMAIN, 0),
            matched_by_override_domain=methods.get(MATCH_OVERRIDE_DOMAIN, 0),
            unmatched_workspaces=methods.get(MATCH_NONE, 0),
            consolidation_accounts=int(frame.loc[frame["is_consolidation"], "account_id"].nunique()),
            overrides_file=overrides.source or "none",
            overrides_rows=len(overrides.rows),
            overrides_unused=len(unused),
            **rates,
        )
    )


def _workspace_events(wh: Warehouse) -> pd.DataFrame | None:
    """Events per workspace from the user-day rollup, when it exists - None on a first run.

    Read, not a dependency: the rollup is partitioned and joins account_map downstream, so an edge would only
    complicate the graph. The rate therefore reflects the rollup as of the previous run of that asset.
    """
    if not wh.table_exists(USER_DAILY_ACTIVITY):
        return None
    return wh.read_sql(
        f'SELECT "workspace_id", SUM("events") AS "events" FROM "{USER_DAILY_ACTIVITY}" GROUP BY "workspace_id"'
    )


@dg.asset_check(
    asset=account_map,
    description=f"Warns when fewer than {MIN_WORKSPACE_MATCH_RATE:.0%} of workspaces match a CRM company.",
)
def account_map_match_rate(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """A low match rate means most usage scores placeholder accounts no seller owns - worth a look (CRM
    domains missing, CRM ids on workspaces broken, overrides needed), but not worth stopping the sync."""
    wh = warehouse.get_warehouse()
    frame = wh.read_table(ACCOUNT_MAP, ["workspace_id", "crm_company_id"])
    users = wh.read_table("product_users", ["workspace_id"])
    rates = match_rates(frame, users, _workspace_events(wh))
    return dg.AssetCheckResult(
        passed=rates["workspace_match_rate"] >= MIN_WORKSPACE_MATCH_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"workspaces": len(frame), "threshold": MIN_WORKSPACE_MATCH_RATE, **rates},
    )
