"""Properties of reading HubSpot records into the canonical CRM frames, over whatever the API hands back.

HubSpot returns every property value as a string a person or an integration typed: names in any script,
domains with URLs in them, employee counts like "12.5" or "lots", dates from year 1 to far beyond 9999 as
epoch milliseconds. A read never fails on a value: each record becomes exactly one row, numbers are numbers
or missing, text is stripped text or missing, and a timestamp is canonical or the text as HubSpot had it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS
from pls_pipelines.resources.hubspot.records import (
    ID_COLUMN,
    NUMERIC_COLUMNS,
    READ_PROPERTIES,
    canonical_frame,
    owner_row,
    primary_company_v3,
    record_row,
)
from pls_pipelines.resources.hubspot.values import iso_date, iso_timestamp
from tests.hypothesis_settings import FAST, OPTIONAL_TEXT, SLOW

CANONICAL_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
CANONICAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
OBJECT_TYPES = ("companies", "contacts", "deals")

# What a HubSpot instant can look like: epoch ms of any size and sign, ISO dates and timestamps with offsets
# at the edges of the calendar, and numbers written every way.
INSTANT = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds") + "Z"),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1e5", "12.5", "-0", "Infinity"]),
)
VALUE = st.one_of(OPTIONAL_TEXT, INSTANT, st.floats().map(str))
PROPERTY_NAMES = sorted({name for props in READ_PROPERTIES.values() for name in props})


@st.composite
def records(draw: st.DrawFn, object_type: str) -> list[dict]:
    ids = draw(st.lists(st.integers(1, 10**12), unique=True, max_size=6))
    out = []
    for record_id in ids:
        names = draw(st.lists(st.sampled_from(PROPERTY_NAMES), unique=True))
        record = {"id": str(record_id), "properties": {name: draw(VALUE) for name in names}}
        if draw(st.booleans()):
            record["createdAt"] = draw(INSTANT)
        if draw(st.booleans()):
            results = draw(st.lists(st.fixed_dictionaries({
                "id": st.integers(1, 10**12),  # HubSpot's ids are numbers
                "type": st.sampled_from(["contact_to_company", "deal_to_company", "contact_to_company_unlabeled"]),
            }), max_size=3))
            record["associations"] = {"companies": {"results": results}}
        out.append(record)
    return out


def assert_instant(value: object) -> None:
    """A canonical timestamp, or (unreadable) the stripped text HubSpot had, or missing."""
    assert value is None or CANONICAL_TIMESTAMP.fullmatch(value) or (value == value.strip() and value)


@FAST
@given(value=st.one_of(st.none(), INSTANT, OPTIONAL_TEXT))
@example(value="99999999999999999999")  # epoch ms past year 9999: OSError from fromtimestamp
@example(value="-99999999999999")  # epoch ms before year 1: ValueError
@example(value="0001-01-01T00:00:00+05:00")  # year 0 in UTC: OverflowError
@example(value="1" * 5000)  # ValueError: int() of more than 4,300 digits
@example(value="0999-01-01T00:00:00Z")  # was "999-01-01T00:00:00Z" (strftime's %Y), no ISO 8601
def test_instants_are_canonical_or_kept_as_text(value: str | None) -> None:
    for convert, canonical in ((iso_timestamp, CANONICAL_TIMESTAMP), (iso_date, CANONICAL_DATE)):
        out = convert(value)
        assert out is None or isinstance(out, str)
        if out is not None and not canonical.fullmatch(out):
            assert out == value.strip()  # unreadable: the text as HubSpot had it, for a person to see


@FAST
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_readable_instants_are_read_to_the_second(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    millis = str((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))
    expected = f"{moment.date().isoformat()}T{moment:%H:%M:%S}Z"
    assert iso_timestamp(millis) == iso_timestamp(moment.isoformat()) == expected
    assert iso_date(millis) == moment.date().isoformat()


@SLOW
@given(data=st.data(), object_type=st.sampled_from(OBJECT_TYPES))
def test_every_record_becomes_one_canonical_row(data: st.DataObject, object_type: str) -> None:
    raw = data.draw(records(object_type))
    rows = [record_row(object_type, r, primary_company_v3(object_type, r)) for r in raw]
    frame = canonical_frame(object_type, rows)
    id_column = ID_COLUMN[object_type]
    assert list(frame.columns) == CANONICAL_COLUMNS[object_type]
    assert sorted(frame[id_column]) == sorted(r["id"] for r in raw)  # every record, once
    numeric = NUMERIC_COLUMNS.get(object_type, ())
    for column in numeric:
        assert all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in frame[column])
    for column in set(READ_PROPERTIES[object_type].values()) - set(numeric):
        for value in frame[column]:
            assert value is None or (isinstance(value, str) and value == value.strip() and value)
    for value in frame["created_at"]:
        assert_instant(value)


@FAST
@given(owner=st.fixed_dictionaries({}, optional={
    "id": st.integers(), "firstName": OPTIONAL_TEXT, "lastName": OPTIONAL_TEXT, "email": OPTIONAL_TEXT,
    "teams": st.lists(st.fixed_dictionaries({"name": OPTIONAL_TEXT}, optional={"primary": st.booleans()})),
}))
def test_every_owner_becomes_one_row(owner: dict) -> None:
    frame = canonical_frame("owners", [owner_row(owner)])
    assert len(frame) == 1 and list(frame.columns) == CANONICAL_COLUMNS["owners"]
    assert not any(isinstance(v, float) and math.isnan(v) for v in frame.iloc[0])
