"""The column schema of every table the assets write, declared on the asset definitions (`dagster/column_schema`)
so the Dagster UI shows each table's columns before anything ran, and lineage can point at them.

Written as compact "name:type - description" lines, one table per entry. Tables whose columns follow the event
catalog (one `f_<feature>` / `used_<feature>` column per feature in product_events.yaml) declare their fixed
columns and say so in the table description. tests/test_end_to_end.py checks every declaration against the
table the asset actually wrote, so a column added in code and not here fails a test.
"""

from __future__ import annotations

import dagster as dg

from pls_pipelines.lib.accounts import ROLLUP_COLUMNS
from pls_pipelines.lib.feature_columns import feature_descriptions

# Columns named by the event catalog, not declared one by one (prefixes of the catalog-driven columns)
CATALOG_COLUMN_PREFIXES = ("f_", "used_")

_TABLES: dict[str, str] = {
    "usage_events": """
        event_id:string - The event's id in the product's tracking (duplicates are quarantined)
        occurred_at:timestamp - When the event happened (UTC)
        event_date:date - Day of occurred_at: the daily partition
        user_id:string - Product user who did it
        workspace_id:string - Workspace it happened in
        event:string - Event name, e.g. Report Created
        page:string - Page name for page views (pricing, security, ...)
        properties:json - The event's other properties
        source_file:string - Landing file it came from""",
    "product_users": """
        user_id:string - Product user
        workspace_id:string - Their workspace
        email:string - Sign-in email (domains tie workspaces to companies)
        name:string - Display name
        title:string - Job title given at signup
        role:string - Workspace role (owner, admin, member)
        signed_up_at:string - Signup time (ISO 8601)""",
    "product_workspaces": """
        workspace_id:string - Product workspace
        name:string - Workspace name
        created_at:string - Creation time (ISO 8601): the account's signup
        plan:string - Product plan (free, trial, paid)
        crm_company_id:string - CRM company id a billing integration stored, if any""",
    "crm_companies": """
        company_id:string - CRM company id
        name:string - Company name
        domain:string - Website domain
        industry:string - Industry
        employee_count:int - Employees: the segment
        country:string - Country
        owner_id:string - Account owner (seller)
        lifecycle_stage:string - Lifecycle stage (customer marks a paying company)
        created_at:string - Created in the CRM (ISO 8601)""",
    "crm_contacts": """
        contact_id:string - CRM contact id
        company_id:string - The contact's primary company
        email:string - Email (matched to product users)
        first_name:string - First name
        last_name:string - Last name
        title:string - Job title
        created_at:string - Created in the CRM (ISO 8601)""",
    "crm_deals": """
        deal_id:string - CRM deal id
        company_id:string - The deal's company
        name:string - Deal name
        stage:string - Stage; closedwon / closedlost when closed
        amount:float - Amount (annual contract value)
        deal_type:string - newbusiness or existingbusiness (expansion, renewal)
        created_at:string - Created (ISO 8601)
        close_date:string - Close date (ISO date)""",
    "account_map": """
        workspace_id:string - Product workspace
        account_id:string - Its account: the CRM company id, or ws:<workspace id> when no company matches
        crm_company_id:string - Matched CRM company
        match_method:string - How: override, crm_id, email_domain, override_domain, unmatched
        domain:string - The company domain the workspace's users share
        member_count:int - Users in the workspace
        company_domain_members:int - Of them, with that company domain
        workspace_count:int - Workspaces of the same account
        is_consolidation:bool - Several workspaces of one company""",
    "user_daily_activity": """
        activity_date:date - Day (daily partition)
        workspace_id:string - Workspace
        user_id:string - User
        events:int - Events that day
        invites:int - Invites sent
        users_added:int - Users added
        admin_changes:int - Admin and role changes
        enterprise_page_views:int - Pricing, security, SSO, terms and privacy page views
        pricing_page_views:int - Pricing page views
        core_feature_events:int - Events of core features
        advanced_feature_events:int - Events of advanced features""",
    "pqa_scores": """
        account_id:string - The account
        model:string - Scoring model (pqa, expansion, churn_risk, ...)
        model_version:string - Hash of the model's effective rules
        segment:string - smb, mid_market or enterprise
        score:int - 1-100
        tier:string - sales, success or self_serve
        is_pqa:bool - At or above the model's PQA threshold
        reasons:string - Top drivers in plain words, within the CRM field's length
        account_name:string - Account name
        as_of_date:date - Usage day the score is for""",
    "pqa_score_components": """
        account_id:string - The account
        model:string - Scoring model
        component:string - Component of the model
        value:float - Its input value
        points:float - 0-100 points after scaling and decay
        weight:float - Weight for the account's segment (negative: a penalty)
        contribution:float - points x weight""",
    "pqa_score_history": """
        snapshot_date:date - Day of the snapshot (daily partition)
        account_id:string - The account
        model:string - Scoring model
        model_version:string - Hash of the model's rules that day
        segment:string - Segment
        score:int - 1-100
        tier:string - Tier
        is_pqa:bool - PQA that day
        reasons:string - Top drivers that day""",
    "buyer_candidates": """
        person_id:string - Product user id, or CRM contact id for contacts who do not use the product
        account_id:string - The account
        user_id:string - Product user (empty for CRM-only contacts)
        contact_id:string - CRM contact (empty when not a contact)
        email:string - Email
        name:string - Name
        title:string - Job title (the CRM's when known)
        role:string - Workspace role
        is_free_mail:bool - Free-mail address: never a buyer
        events_28d:int - Product events, 28 days
        invites_sent_28d:int - Invites sent, 28 days
        users_added_28d:int - Users added, 28 days
        admin_changes_28d:int - Admin changes, 28 days
        enterprise_page_views_28d:int - Pricing/security/SSO/terms page views, 28 days
        is_first_user:bool - First user of the account
        activity_rank:int - 1 = most active in the account
        seniority:string - c_level, vp, head, director, manager, senior_ic, ic, unknown
        department:string - Department from the title
        persona:string - economic_buyer, champion, influencer or end_user
        buying_power:int - 0-100
        evidence:string - Why, in plain words
        is_buyer:bool - Economic buyer with a company email
        is_champion:bool - Champion (active, pulls the team in)
        is_pql:bool - Buyer or champion inside a PQA""",
    "account_buyers": """
        account_id:string - The account
        buyer_present:bool - An economic buyer among the product users
        buyer_known:bool - An economic buyer among the users or the CRM contacts
        economic_buyer_person_id:string - The chosen buyer
        economic_buyer_name:string - Name
        economic_buyer_email:string - Email
        economic_buyer_title:string - Title
        economic_buyer_evidence:string - Why this person
        economic_buyer_is_user:bool - The buyer uses the product
        champion_present:bool - A champion in the account
        champion_person_id:string - The chosen champion
        champion_name:string - Name
        champion_email:string - Email
        champion_title:string - Title
        champion_evidence:string - Why this person""",
    "buyers_missing_from_crm": """
        account_id:string - The account (a CRM company)
        crm_company_id:string - Company to attach the contact to
        person_id:string - The product user
        user_id:string - The product user
        email:string - Work email (normalised)
        first_name:string - First name
        last_name:string - Last name
        title:string - Job title
        persona:string - economic_buyer or champion
        buying_power:int - 0-100
        is_pql:bool - Inside a PQA
        evidence:string - Why they matter
        why:string - economic buyer, or champion in a PQA""",
    "account_routing": """
        account_id:string - The account
        crm_company_id:string - CRM company (empty for unmatched workspaces)
        account_name:string - Name
        domain:string - Domain
        segment:string - Segment
        employee_count:int - Employees
        is_customer:bool - Paying customer
        is_consolidation:bool - Several workspaces of one company
        workspace_count:int - Workspaces
        score:int - Primary score, 1-100
        tier:string - Tier
        is_pqa:bool - PQA
        reasons:string - Score drivers
        model:string - Model of the primary score
        model_version:string - Its version
        active_users_28d:int - Active users, 28 days
        motion:string - sales, success, abm, self_serve, expansion, churn_risk
        motion_reason:string - Why, in one line
        recommended_contacts:string - Who to call first
        routing_rule:string - Rule (> override) that decided
        economic_buyer_name:string - Best economic buyer
        economic_buyer_title:string - Their title
        champion_name:string - Best champion
        champion_title:string - Their title
        as_of_date:date - Usage day""",
    "score_validation": """
        kind:string - score, tier or signal
        name:string - Model, tier or signal name
        accounts:float - Accounts measured
        won:float - Of them, closed-won within the horizon
        conversion_rate:float - won / accounts
        lift:float - Conversion over the average
        lift_ci_low:float - 95% bootstrap interval, low
        lift_ci_high:float - 95% bootstrap interval, high
        auc:float - ROC AUC (score and signals)
        auc_ci_low:float - 95% interval, low
        auc_ci_high:float - 95% interval, high
        verdict:string - The conclusion in plain words
        model:string - Model validated
        model_version:string - Its version
        as_of_date:date - Scored as of
        horizon_days:int - Days after as_of_date a win counts""",
    "pls_metrics": """
        metric:string - Metric id
        label:string - Plain-words name
        value:float - The figure (empty when not computable)
        unit:string - share, days, count, currency or ratio
        detail:string - What it was computed from, or why not
        definition:string - What it means
        sources:string - Warehouse columns it reads
        as_of_date:date - Usage day""",
    "crm_sync_log": """
        run_id:string - Dagster run
        synced_at:timestamp - When
        object_type:string - companies or contacts
        record_id:string - CRM record (person:<id> for a contact that could not be created)
        status:string - sent, unchanged, rejected, failed, skipped, created, exists, held (refused before: not re-sent)
        error:string - The CRM's reason
        fields:string - Fields written""",
    "pls_report": """
        rank:int - Position in the call list
        account:string - Account name and domain
        score:int - Score
        tier:string - Tier
        motion:string - Motion
        why_it_scored:string - Reasons
        economic_buyer:string - Buyer, with title
        champion:string - Champion, with title""",
}

_DESCRIPTIONS = {
    "account_usage_rollup": "Account features (lib/feature_columns.py), plus one used_<feature> column per "
    "feature of the event catalog.",
    "user_daily_activity": "One row per user and day, plus one f_<feature> event count per catalog feature.",
    "crm_company_sync": "Writes the crm_sync_log rows of companies; the CRM fields it writes are in crm_fields.yaml.",
    "crm_contact_sync": "Writes the crm_sync_log rows of contacts.",
    "pls_report": "An HTML file; its table is the call list.",
}


def _parse(block: str) -> list[dg.TableColumn]:
    columns = []
    for line in block.strip().splitlines():
        head, _, description = line.strip().partition(" - ")
        name, _, kind = head.partition(":")
        columns.append(dg.TableColumn(name.strip(), kind.strip(), description=description.strip() or None))
    return columns


_ROLLUP_EXTRA = {
    "account_name": ("string", "CRM company name, else the workspace's"),
    "domain": ("string", "Company domain"),
    "crm_company_id": ("string", "Matched CRM company"),
    "is_crm_matched": ("bool", "A CRM company matches the account"),
    "industry": ("string", "Industry (CRM)"),
    "owner_id": ("string", "Account owner (CRM)"),
    "as_of_date": ("date", "Usage day the windows end on"),
}
_TEXT_OR_FLAG = {"account_id": "string", "segment": "string", "is_customer": "bool", "is_consolidation": "bool"}
_FLOATS = ("velocity_7d", "usage_trend_28d", "active_user_trend_28d")


def _rollup_columns() -> list[dg.TableColumn]:
    """account_usage_rollup: the documented features contract (lib/feature_columns.py) in table order."""
    described = feature_descriptions()
    names = list(ROLLUP_COLUMNS)
    names.insert(names.index("employee_count") + 1, "segment")  # the rollup asset adds it (assets/rollups.py)
    columns = []
    for name in names:
        kind, text = _ROLLUP_EXTRA.get(name, (None, described.get(name)))
        kind = kind or _TEXT_OR_FLAG.get(name) or ("float" if name in _FLOATS else "int")
        columns.append(dg.TableColumn(name, kind, description=text))
    return columns


def table_schema(asset: str) -> dg.TableSchema:
    """The declared column schema of the table `asset` writes (crm sync assets: their crm_sync_log rows)."""
    if asset == "account_usage_rollup":
        return dg.TableSchema(columns=_rollup_columns())
    key = "crm_sync_log" if asset in ("crm_company_sync", "crm_contact_sync") else asset
    return dg.TableSchema(columns=_parse(_TABLES[key]))


def schema_metadata(asset: str) -> dict[str, object]:
    """Definition metadata for an asset: its declared column schema (and a note on catalog columns)."""
    metadata: dict[str, object] = {"dagster/column_schema": table_schema(asset)}
    if asset in _DESCRIPTIONS:
        metadata["table_note"] = _DESCRIPTIONS[asset]
    return metadata


def declared_columns(asset: str) -> list[str]:
    return [c.name for c in table_schema(asset).columns]
