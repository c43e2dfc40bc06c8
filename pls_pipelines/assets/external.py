"""The systems outside the pipeline, as external assets: the product's event stream and user/workspace exports
upstream, the CRM's objects upstream (read) and downstream (the pls_* fields written). They make the lineage
graph read from source to CRM, and their descriptions say who owns them; Dagster never materializes them.
"""

import dagster as dg

from pls_pipelines.assets.common import DATA_TEAM, REVOPS_TEAM

SOURCES = "sources"
# The written CRM fields get their own group: in `sources` they would make the group graph loop back on itself
# (sources -> ingest -> ... -> crm_sync -> sources), which the UI cannot lay out top to bottom.
CRM_FIELDS = "crm_fields"

product_sources = [
    dg.AssetSpec(
        ["product", name],
        group_name=SOURCES,
        owners=[DATA_TEAM],
        kinds={"file"},
        description=description,
        metadata={"location": "PLS_USAGE_PATH landing files, or the warehouse tables of PLS_USAGE_SOURCE=warehouse"},
    )
    for name, description in (
        ("events", "Product usage events exported by the product's tracking (Segment, RudderStack or the "
                   "product database): one JSON line per event, a file per day."),
        ("users", "The product's users: email, workspace, role and title."),
        ("workspaces", "The product's workspaces, with the CRM company id a billing integration stored."),
    )
]

crm_sources = [
    dg.AssetSpec(
        ["crm", name],
        group_name=SOURCES,
        owners=[REVOPS_TEAM],
        kinds={"hubspot", "salesforce"},
        description=f"{label} in the CRM (PLS_CRM: HubSpot, Salesforce or the embedded CRM), as read by the "
        "pipeline.",
    )
    for name, label in (("companies", "Companies (Salesforce Accounts)"), ("contacts", "Contacts"),
                        ("deals", "Deals (Salesforce Opportunities)"))
]

crm_sinks = [
    dg.AssetSpec(
        ["crm", f"{name}_pls_fields"],
        group_name=CRM_FIELDS,
        owners=[REVOPS_TEAM],
        kinds={"hubspot", "salesforce"},
        deps=[sync],
        description=f"The pls_* fields on CRM {name} that sellers see, in the 'Product-Led Sales' property "
        f"group; written by {sync}, each field's description names the warehouse column it comes from.",
    )
    for name, sync in (("companies", "crm_company_sync"), ("contacts", "crm_contact_sync"))
]

external_assets = [*product_sources, *crm_sources, *crm_sinks]
