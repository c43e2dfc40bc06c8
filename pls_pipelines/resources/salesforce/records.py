"""Salesforce records as canonical rows: the sObject behind each object type, the fields read, and how Accounts,
Contacts, Opportunities and Users become the canonical frames of crm_client (account types and opportunity
stages as canonical stages, websites as domains).

Separate from values.py (one value's format) because this is the object mapping - one record to one row - and
from the client because it needs no HTTP.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS, CUSTOMER_STAGE, LOST_STAGE, WON_STAGE
from pls_pipelines.resources.salesforce.values import iso_datetime, normalise_domain

SOBJECTS = {"companies": "Account", "contacts": "Contact", "deals": "Opportunity", "owners": "User"}
READ_FIELDS = {
    "companies": ["Id", "Name", "Website", "Industry", "NumberOfEmployees", "BillingCountry", "OwnerId", "Type",
                  "CreatedDate"],
    "contacts": ["Id", "AccountId", "Email", "FirstName", "LastName", "Title", "CreatedDate"],
    "deals": ["Id", "AccountId", "Name", "StageName", "IsWon", "IsClosed", "Amount", "Type", "CreatedDate",
              "CloseDate"],
    "owners": ["Id", "Name", "Email", "Department"],
}


def canonical_frame(object_type: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = CANONICAL_COLUMNS[object_type]
    convert = {
        "companies": _company_row, "contacts": _contact_row, "deals": _deal_row, "owners": _owner_row,
    }[object_type]
    frame = pd.DataFrame([convert(r) for r in rows], columns=columns)
    for column in ("employee_count", "amount"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column])
    return frame.sort_values(columns[0], ignore_index=True)


def _company_row(r: dict[str, Any]) -> list[Any]:
    account_type = r.get("Type")
    stage = None
    if account_type:
        stage = CUSTOMER_STAGE if str(account_type).lower().startswith("customer") else str(account_type).lower()
    return [r["Id"], r.get("Name"), normalise_domain(r.get("Website")), r.get("Industry"), r.get("NumberOfEmployees"),
            r.get("BillingCountry"), r.get("OwnerId"), stage, iso_datetime(r.get("CreatedDate"))]


def _contact_row(r: dict[str, Any]) -> list[Any]:
    email = r.get("Email")
    return [r["Id"], r.get("AccountId"), email.lower() if email else None, r.get("FirstName"), r.get("LastName"),
            r.get("Title"), iso_datetime(r.get("CreatedDate"))]


def _deal_row(r: dict[str, Any]) -> list[Any]:
    stage_name = r.get("StageName")
    if r.get("IsWon") or stage_name == "Closed Won":
        stage = WON_STAGE
    elif stage_name == "Closed Lost" or (r.get("IsClosed") and not r.get("IsWon")):
        stage = LOST_STAGE
    else:
        stage = stage_name
    return [r["Id"], r.get("AccountId"), r.get("Name"), stage, r.get("Amount"), r.get("Type"),
            iso_datetime(r.get("CreatedDate")), r.get("CloseDate")]


def _owner_row(r: dict[str, Any]) -> list[Any]:
    email = r.get("Email")
    return [r["Id"], r.get("Name"), email.lower() if email else None, r.get("Department")]
