"""Properties of reading Salesforce records into the canonical CRM frames, over whatever an org holds.

Salesforce types its fields (NumberOfEmployees is a number, CreatedDate a datetime), but the text fields are
whatever people typed: a Website like "acme.com [old site]", names in any script, emails with blanks. A read
never fails on a value: each record becomes exactly one row, with the canonical columns.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS, CUSTOMER_STAGE, LOST_STAGE, WON_STAGE
from pls_pipelines.resources.salesforce.records import canonical_frame
from pls_pipelines.resources.salesforce.values import iso_datetime, normalise_domain
from tests.hypothesis_settings import FAST, NASTY_TEXT, OPTIONAL_TEXT, SLOW

CANONICAL_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
WEBSITE = st.one_of(
    OPTIONAL_TEXT,
    st.sampled_from([
        "https://www.Acme.com/about", "acme.com [old site]", "http://[::1", "www.", "acme.com; acme.de",
        "ftp://user@host.example:21/x", "//", "[", "]",
    ]),
)
# Salesforce's datetime format, over the years an org can hold (1700-4000)
SF_DATETIME = st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(4000, 12, 31),
                           timezones=st.timezones()).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}" + d.strftime("%z")
)
NUMBER = st.one_of(st.none(), st.integers(-(10**8), 10**8), st.floats(allow_nan=False, allow_infinity=False))
ID = st.text(st.sampled_from("0123456789ABCDEFabcdef"), min_size=15, max_size=18)

FIELDS = {
    "companies": {"Name": OPTIONAL_TEXT, "Website": WEBSITE, "Industry": OPTIONAL_TEXT,
                  "NumberOfEmployees": st.one_of(st.none(), st.integers(0, 99_999_999)),
                  "BillingCountry": OPTIONAL_TEXT, "OwnerId": st.one_of(st.none(), ID),
                  "Type": st.one_of(OPTIONAL_TEXT, st.sampled_from(["Customer - Direct", "Prospect"])),
                  "CreatedDate": SF_DATETIME},
    "contacts": {"AccountId": st.one_of(st.none(), ID), "Email": OPTIONAL_TEXT, "FirstName": OPTIONAL_TEXT,
                 "LastName": OPTIONAL_TEXT, "Title": OPTIONAL_TEXT, "CreatedDate": SF_DATETIME},
    "deals": {"AccountId": st.one_of(st.none(), ID), "Name": OPTIONAL_TEXT,
              "StageName": st.one_of(OPTIONAL_TEXT, st.sampled_from(["Closed Won", "Closed Lost"])),
              "IsWon": st.booleans(), "IsClosed": st.booleans(), "Amount": NUMBER, "Type": OPTIONAL_TEXT,
              "CreatedDate": SF_DATETIME, "CloseDate": st.one_of(st.none(), st.dates().map(str))},
    "owners": {"Name": OPTIONAL_TEXT, "Email": OPTIONAL_TEXT, "Department": OPTIONAL_TEXT},
}


@st.composite
def records(draw: st.DrawFn, object_type: str) -> list[dict]:
    ids = draw(st.lists(ID, unique=True, max_size=6))
    return [{"Id": record_id, **draw(st.fixed_dictionaries(FIELDS[object_type]))} for record_id in ids]


@FAST
@given(website=WEBSITE)
@example(website="acme.com [old site]")  # ValueError from urlsplit: failed the whole Account read
@example(website="http://[::1")
def test_a_website_becomes_a_lower_case_domain_text_or_none(website: str | None) -> None:
    domain = normalise_domain(website)
    assert domain is None or (isinstance(domain, str) and domain == domain.lower() and domain == domain.strip())
    assert domain is None or not domain.startswith("www.")


@FAST
@given(value=SF_DATETIME)
def test_salesforce_datetimes_are_canonical(value: str) -> None:
    out = iso_datetime(value)
    assert CANONICAL_TIMESTAMP.fullmatch(out)
    instant = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").replace(microsecond=0)
    assert datetime.fromisoformat(out.replace("Z", "+00:00")) == instant


@SLOW
@given(data=st.data(), object_type=st.sampled_from(sorted(FIELDS)))
def test_every_record_becomes_one_canonical_row(data: st.DataObject, object_type: str) -> None:
    raw = data.draw(records(object_type))
    frame = canonical_frame(object_type, raw)
    columns = CANONICAL_COLUMNS[object_type]
    assert list(frame.columns) == columns
    assert sorted(frame[columns[0]]) == sorted(r["Id"] for r in raw)  # every record, once
    if object_type == "companies":
        for stage in frame["lifecycle_stage"].dropna():
            assert stage == CUSTOMER_STAGE or stage == stage.lower()
    if object_type == "deals":
        stages = dict(zip(frame["deal_id"], frame["stage"], strict=True))
        for r in raw:
            if r["IsWon"] or r["StageName"] == "Closed Won":
                assert stages[r["Id"]] == WON_STAGE
            elif r["IsClosed"] or r["StageName"] == "Closed Lost":
                assert stages[r["Id"]] == LOST_STAGE
    for column in ("employee_count", "amount"):
        if column in frame.columns:
            assert pd.api.types.is_numeric_dtype(frame[column]) or frame[column].isna().all()


@FAST
@given(name=NASTY_TEXT)
def test_any_text_as_an_email_is_read_lower_cased(name: str) -> None:
    frame = canonical_frame("contacts", [{"Id": "003000000000001", "Email": name, "CreatedDate": None}])
    assert frame.loc[0, "email"] == (name.lower() if name else None)
