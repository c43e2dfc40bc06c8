"""HubSpot records as canonical rows: the properties read for each object type, the column each one fills, and
how owners, companies, contacts and deals become the canonical frames of crm_client.

Separate from values.py (one value's format) because this is the object mapping - one record to one row - and
from the client because it needs no HTTP.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS
from pls_pipelines.resources.hubspot.values import iso_date, iso_timestamp, text_or_none

# HubSpot properties read for each object type, and the canonical column each one fills.
READ_PROPERTIES: dict[str, dict[str, str]] = {
    "companies": {"name": "name", "domain": "domain", "industry": "industry", "numberofemployees": "employee_count",
                  "country": "country", "hubspot_owner_id": "owner_id", "lifecyclestage": "lifecycle_stage",
                  "createdate": "created_at"},
    "contacts": {"email": "email", "firstname": "first_name", "lastname": "last_name", "jobtitle": "title",
                 "createdate": "created_at"},
    "deals": {"dealname": "name", "dealstage": "stage", "amount": "amount", "dealtype": "deal_type",
              "createdate": "created_at", "closedate": "close_date"},
}
ID_COLUMN = {"owners": "owner_id", "companies": "company_id", "contacts": "contact_id", "deals": "deal_id"}
LAST_MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
# v3 `associations=companies` type name and v4 type id of the primary company of a contact / deal
PRIMARY_COMPANY = {"contacts": ("contact_to_company", 1), "deals": ("deal_to_company", 5)}
NUMERIC_COLUMNS = {"companies": ("employee_count",), "deals": ("amount",)}


# -------------------------------------------------------------------------------------------------------- mapping
def primary_company_v3(object_type: str, record: dict) -> str | None:
    if object_type not in PRIMARY_COMPANY:
        return None
    results = (((record.get("associations") or {}).get("companies") or {}).get("results")) or []
    primary_name = PRIMARY_COMPANY[object_type][0]
    for item in results:
        if item.get("type") == primary_name:
            return str(item.get("id"))
    return str(results[0].get("id")) if results else None


def owner_row(owner: dict) -> dict:
    name = " ".join(p for p in (text_or_none(owner.get("firstName")), text_or_none(owner.get("lastName"))) if p) or None
    teams = owner.get("teams") or []
    primary = [t for t in teams if t.get("primary")] or teams
    return {"owner_id": str(owner.get("id")), "name": name, "email": text_or_none(owner.get("email")),
            "team": text_or_none(primary[0].get("name")) if primary else None}


def record_row(object_type: str, record: dict, company_id: str | None) -> dict:
    props = record.get("properties") or {}
    row: dict[str, Any] = {ID_COLUMN[object_type]: str(record.get("id"))}
    for name, column in READ_PROPERTIES[object_type].items():
        row[column] = text_or_none(props.get(name))
    row["created_at"] = iso_timestamp(props.get("createdate") or record.get("createdAt"))
    if object_type == "deals":
        row["close_date"] = iso_date(props.get("closedate"))
    if object_type in PRIMARY_COMPANY:
        row["company_id"] = company_id
    return row


def canonical_frame(object_type: str, rows: list[dict]) -> pd.DataFrame:
    columns = CANONICAL_COLUMNS[object_type]
    frame = pd.DataFrame(rows, columns=columns).astype(object)
    frame = frame.where(frame.notna(), None)
    for column in NUMERIC_COLUMNS.get(object_type, ()):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.sort_values(ID_COLUMN[object_type], kind="stable", ignore_index=True)
