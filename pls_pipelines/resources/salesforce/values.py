"""Value conversions between the canonical strings of the sync and Salesforce's field values.

Our fields' API names (name + "__c"), website domains, Salesforce's datetime format, and a canonical string as the
JSON value a field's describe type expects (and back). Separate because these are pure functions of one value
that the reads, the writes and the demo loader all need to agree on.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from pls_pipelines.lib.sync import to_crm_value
from pls_pipelines.resources.salesforce.soql import soql_datetime

CUSTOM_SUFFIX = "__c"
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})


# ---------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------
def custom_field_name(name: str) -> str:
    """The API name of one of our fields: pls_pqa_score -> pls_pqa_score__c."""
    return name if name.endswith(CUSTOM_SUFFIX) else f"{name}{CUSTOM_SUFFIX}"


def normalise_domain(value: object) -> str | None:
    """A website as a bare lower-case domain: "https://www.Acme.com/about" -> "acme.com"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    except ValueError:
        # "acme.com [old site]" or "http://[::1" reads as a broken IPv6 literal: one such Website used to fail
        # the whole Account read. Keep the text, as HubSpot's domain field is kept; identity resolution
        # (lib/identity.normalize_domain) splits it and drops what is no domain.
        host = text
    host = host.removeprefix("www.").strip(".")
    return host or None


def iso_datetime(value: object) -> str | None:
    """Salesforce's "2026-11-30T12:00:00.000+0000" as canonical "2026-11-30T12:00:00Z"."""
    if value in (None, ""):
        return None
    text = str(value)
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_api_value(value: str | None, field_type: str | None) -> Any:
    """A canonical string as the JSON value Salesforce expects for the field's describe type. ValueError when the
    value cannot be one (the record then fails alone, without a call)."""
    if value is None or value == "":
        return None
    if field_type in NUMBER_TYPES:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return int(number) if number.is_integer() else number
    if field_type == "boolean":
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if field_type == "date":
        return date.fromisoformat(value[:10]).isoformat()
    if field_type == "datetime":
        return soql_datetime(value)
    return str(value)


def from_api_value(value: Any, field_type: str | None) -> str | None:
    """A value read from Salesforce as the canonical string (what `to_crm_value` made of the value written)."""
    if value is None:
        return None
    if field_type == "datetime":
        return iso_datetime(value)
    return to_crm_value(value)


def clean_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value
