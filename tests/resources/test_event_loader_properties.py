"""Properties of loading landing files of usage events, over whatever a broken client or export writes.

Lines that are not JSON, JSON of the wrong shape or types, missing ids, any unicode, NULs, very long strings,
properties blobs of hundreds of kilobytes, timestamps beyond any calendar, Segment calls of every type, bytes
that are not UTF-8, CSV rows with the wrong number of cells. Whatever the day's files hold, the load never
raises, and every line read is accounted for: accepted into usage_events, or rejected into
usage_events_rejected with a reason and the line it came from.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.events import MAX_RAW_LINE_CHARS, REJECT_REASONS
from pls_pipelines.resources.event_loader import load_usage_events
from pls_pipelines.resources.usage_source import LandingFiles
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from tests.hypothesis_settings import ANY_TEXT, NASTY_TEXT, SLOW

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 6, 0)
CATALOG = load_event_catalog()
KNOWN_WORKSPACES = ("w1", "w2")

# --- lines --------------------------------------------------------------------------------------------------

JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), NASTY_TEXT)
JSON_VALUE = st.recursive(
    JSON_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(ANY_TEXT, inner, max_size=3)),
    max_leaves=6,
)
TIMESTAMP = st.one_of(
    st.datetimes(min_value=datetime(2026, 11, 20), max_value=datetime(2026, 11, 20, 23, 59, 59)).map(
        lambda d: d.isoformat() + "Z"
    ),
    st.sampled_from([
        "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "0001-01-01", "-1", "294277-01-01T00:00:00Z",
        "2026-11-20T25:61:61Z", "2026-11-20T10:00:00+99:00", "", " ", "2026-11-20\x00", "NaN",
    ]),
    st.sampled_from([1_795_000_000_000, -1, 0, 10**20, -(10**20), 1.5e300, -1e308, 2**63, 2**64, 1_795_000_000.5]),
    JSON_VALUE,
)
ID = st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=8), NASTY_TEXT, JSON_VALUE)
HUGE_PROPERTIES = st.sampled_from([
    {"blob": "x" * 120_000}, {"blob": "é" * 60_000}, {"list": list(range(30_000))}, {"\x00": "\x00" * 40_000},
])


def flat_event(draw: st.DrawFn) -> dict:
    """Our flat schema, each field any JSON value or missing."""
    fields = {
        "event_id": ID, "occurred_at": TIMESTAMP, "user_id": ID, "workspace_id": st.one_of(
            st.sampled_from([*KNOWN_WORKSPACES, " w1 ", "W1", "w3"]), ID),
        "event": st.one_of(st.sampled_from(["Report Created", "Page Viewed", "  "]), ID),
        "properties": st.one_of(JSON_VALUE, HUGE_PROPERTIES, st.just('{"name": "Pricing"}')),
        "page": NASTY_TEXT, "extra": JSON_VALUE,
    }
    return {name: draw(value) for name, value in fields.items() if draw(st.integers(0, 4))}


def segment_call(draw: st.DrawFn) -> dict:
    """A Segment payload of any type, with the fields Segment puts where it puts them (or not)."""
    call = {
        "type": draw(st.one_of(st.sampled_from(["track", "identify", "group", "page", "screen", "alias", "TRACK"]),
                               JSON_VALUE)),
        "messageId": draw(ID), "timestamp": draw(TIMESTAMP), "originalTimestamp": draw(TIMESTAMP),
        "userId": draw(ID), "anonymousId": draw(ID), "event": draw(ID), "name": draw(NASTY_TEXT),
        "context": draw(st.one_of(st.fixed_dictionaries({"groupId": st.one_of(st.sampled_from(KNOWN_WORKSPACES),
                                                                               ID)}), JSON_VALUE)),
        "groupId": draw(st.one_of(st.sampled_from(KNOWN_WORKSPACES), ID)),
        "properties": draw(st.one_of(JSON_VALUE, HUGE_PROPERTIES)), "traits": draw(JSON_VALUE),
    }
    return {k: v for k, v in call.items() if draw(st.integers(0, 3))}


def valid_event(event_id: str, draw: st.DrawFn) -> dict:
    """An event nothing is wrong with: it must be accepted, whatever junk surrounds it."""
    moment = draw(st.datetimes(min_value=datetime(2026, 11, 20), max_value=datetime(2026, 11, 20, 23, 59, 59)))
    return {
        "event_id": event_id, "occurred_at": moment.isoformat() + "Z", "user_id": draw(NASTY_TEXT) + "u",
        "workspace_id": draw(st.sampled_from(KNOWN_WORKSPACES)), "event": draw(NASTY_TEXT) + "e",
        # small properties (a long text could pass the size limit, a NaN is no JSON)
        "properties": draw(st.dictionaries(ANY_TEXT, st.one_of(st.none(), st.booleans(), st.integers(), ANY_TEXT),
                                           max_size=3)),
    }


@dataclass
class Line:
    """One line of a JSON Lines file: its bytes, and whether it is an event that must be accepted."""

    data: bytes
    valid: bool = False

    @property
    def blank(self) -> bool:
        """Blank lines are skipped, not read (an editor's trailing newline is no event)."""
        return self.data.rstrip(b"\r").strip(b" ") == b""


@st.composite
def jsonl_lines(draw: st.DrawFn, file_tag: str) -> list[Line]:
    """Lines of one file; its valid events have ids of their own (valid-<file_tag>-<i>), so that they are no
    duplicates of another file's."""
    lines = []
    for i in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["text", "json", "flat", "flat", "segment", "segment", "valid", "bytes"]))
        if kind == "text":  # anything but a newline (which ends the line)
            text = draw(st.one_of(ANY_TEXT, NASTY_TEXT)).replace("\n", " ")
            lines.append(Line(text.encode("utf-8")))
        elif kind == "json":  # valid JSON that is not an event object
            lines.append(Line(json.dumps(draw(JSON_VALUE), ensure_ascii=draw(st.booleans())).encode("utf-8")))
        elif kind == "bytes":  # not UTF-8 (or, sometimes, a raw NUL or a lone CR)
            noise = draw(st.binary(min_size=1, max_size=20)).replace(b"\n", b" ")
            lines.append(Line(b'{"event_id": "' + noise + b'"}'))
        else:
            make = {"flat": flat_event, "segment": segment_call}.get(
                kind, lambda d, i=i: valid_event(f"valid-{file_tag}-{i}", d)
            )
            record = make(draw)
            if kind != "valid" and str(record.get("event_id", record.get("messageId", ""))).startswith("valid-"):
                record.pop("event_id", None)
            text = json.dumps(record, ensure_ascii=draw(st.booleans()), allow_nan=True)
            lines.append(Line(text.encode("utf-8"), valid=kind == "valid"))
        if draw(st.integers(0, 9)) == 0:
            lines.append(Line(draw(st.sampled_from([b"", b"  ", b"\r"]))))  # blank lines between events
    return lines


@st.composite
def csv_rows(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV file in the flat columns (cells any text, quoted as needed) plus rows with too few cells."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # Excel's; "\r" and "\n" in a cell get quoted
    writer.writerow(["event_id", "occurred_at", "user_id", "workspace_id", "event", "properties"])
    n = 0
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 3)) == 0:
            bad = draw(st.sampled_from(["c9,2026-11-20T08:00:00Z,u1,w1", "just one cell"]))
            out.write(bad + draw(st.sampled_from(["\r\n", "\n"])))  # "\n": line endings mixed in one file
        else:
            cell = st.one_of(st.sampled_from(["u1", "w1", "2026-11-20T08:00:00Z", '{"a": 1}', ""]), ANY_TEXT)
            writer.writerow([draw(cell) for _ in range(6)])
        n += 1
    return out.getvalue().encode("utf-8"), n


# --- the property -------------------------------------------------------------------------------------------


@contextmanager
def warehouse() -> Iterator[tuple[Warehouse, Path]]:
    """A fresh landing folder and DuckDB warehouse per example (pytest's tmp_path is one per test, not per
    example, so examples would see each other's files)."""
    with tempfile.TemporaryDirectory(prefix="pls-prop-") as folder:
        root = Path(folder)
        wh = Warehouse(f"duckdb:///{root / 'wh.duckdb'}")
        wh.replace_table("product_workspaces", pd.DataFrame({"workspace_id": list(KNOWN_WORKSPACES)}))
        try:
            yield wh, root / "landing"
        finally:
            dispose_all_engines()


def write(folder: Path, name: str, data: bytes) -> None:
    path = folder / "events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def read_table(wh: Warehouse, name: str) -> pd.DataFrame:
    return wh.read_sql(f'SELECT * FROM "{name}"')


@SLOW
@given(main=jsonl_lines("main"), late=st.one_of(st.none(), jsonl_lines("late")),
       csv_file=st.one_of(st.none(), csv_rows()))
@example(main=[Line(b'{"event_id": "a", "occurred_at": 1e400}')], late=None, csv_file=None)
@example(main=[Line(json.dumps({"event_id": "n", "user_id": "\x00", "properties": {"b": "x" * 200_000}}).encode())],
         late=None, csv_file=None)
# line endings mixed in one CSV file: DuckDB's sniffer refused it and the whole day failed to load
@example(main=[], late=None, csv_file=(
    b"event_id,occurred_at,user_id,workspace_id,event,properties\nc9,2026-11-20T08:00:00Z,u1,w1\n"
    b"e1,2026-11-20T08:00:00Z,u1,w1,Report Created,{}\r\n", 2))
def test_every_line_is_accepted_or_rejected_with_a_reason(
    main: list[Line], late: list[Line] | None, csv_file: tuple[bytes, int] | None
) -> None:
    files = {"2026-11-20.jsonl": main}
    if late is not None:
        files["2026-11-20/late-1.jsonl"] = late
    with warehouse() as (wh, landing):
        for name, lines in files.items():
            write(landing, name, b"".join(line.data + b"\n" for line in lines))
        if csv_file is not None:
            write(landing, "2026-11-20/part.csv", csv_file[0])
        write(landing, "2026-11-21.jsonl", b"{}\n")  # another day: never read for this window

        report = load_usage_events(wh, LandingFiles(landing), CATALOG, DAY, DAY, NOW)

        expected = {name: [i + 1 for i, line in enumerate(lines) if not line.blank] for name, lines in files.items()}
        read = sum(len(numbers) for numbers in expected.values()) + (csv_file[1] if csv_file else 0)
        assert report.read == read
        accepted, rejected = read_table(wh, "usage_events"), read_table(wh, "usage_events_rejected")
        assert len(accepted) == report.accepted and len(rejected) == report.rejected
        assert len(accepted) + len(rejected) == read  # nothing lost, nothing doubled

        assert rejected["reason"].isin(REJECT_REASONS).all()
        assert (pd.to_datetime(rejected["event_date"]).dt.date == DAY).all()
        assert (pd.to_datetime(accepted["event_date"]).dt.date == DAY).all()
        assert accepted["event_id"].is_unique
        assert accepted[["event_id", "user_id", "workspace_id", "event", "occurred_at"]].notna().all().all()
        assert accepted["workspace_id"].isin(KNOWN_WORKSPACES).all()

        for name, numbers in expected.items():  # a JSON Lines reject points at its line, which holds what it says
            mine = rejected[rejected["source_file"] == name].astype({"line_number": "int64"})
            assert mine["line_number"].is_unique and set(mine["line_number"]) <= set(numbers)
            from_file = accepted[accepted["source_file"] == name]
            assert len(mine) + len(from_file) == len(numbers)
            for number, raw in zip(mine["line_number"], mine["raw_line"], strict=True):
                original = files[name][number - 1].data.decode("utf-8", errors="replace").rstrip("\r")
                assert raw == original[:MAX_RAW_LINE_CHARS]
            valid_ids = {json.loads(line.data)["event_id"] for line in files[name] if line.valid}
            assert valid_ids <= set(from_file["event_id"])  # a good event is never rejected for its neighbours
