"""Loading usage events: every reject reason, every input format, idempotent re-runs, late events, both
warehouses. Each test runs on the embedded DuckDB warehouse and on PostgreSQL (files are then judged in an
in-memory DuckDB and copied over), and must give the same answer on both."""

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.events import REJECT_REASONS
from pls_pipelines.resources.event_loader import load_usage_events
from pls_pipelines.resources.usage_source import LandingFiles, WarehouseEvents
from pls_pipelines.resources.warehouse import Warehouse

DAY = date(2026, 11, 20)
NEXT = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 6, 0)
CATALOG = load_event_catalog()


@pytest.fixture(params=["duckdb", "postgres"])
def wh(request, tmp_path) -> Warehouse:
    duckdb_url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    warehouse = Warehouse(duckdb_url if request.param == "duckdb" else request.getfixturevalue("postgres_url"))
    warehouse.replace_table("product_workspaces", pd.DataFrame({"workspace_id": ["w1", "w2"], "name": ["A", "B"]}))
    return warehouse


def event(**overrides) -> dict:
    record = {
        "event_id": "e1",
        "occurred_at": "2026-11-20T10:00:00.000Z",
        "user_id": "u1",
        "workspace_id": "w1",
        "event": "Report Created",
        "properties": {"feature": "reports"},
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not ...}


def write_lines(folder: Path, name: str, lines: list[str | dict]) -> Path:
    path = folder / "events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines), encoding="utf-8")
    return path


def load(wh: Warehouse, folder: Path, start: date = DAY, end: date = DAY):
    return load_usage_events(wh, LandingFiles(folder), CATALOG, start, end, NOW)


def table(wh: Warehouse, name: str) -> pd.DataFrame:
    return wh.read_sql(f'SELECT * FROM "{name}" ORDER BY 1, 2')


def test_every_row_is_accepted_or_rejected_with_its_reason(wh, tmp_path):
    lines = [
        event(),
        "{not json",
        "[1, 2]",
        event(event_id="e2", user_id=...),
        event(event_id=""),
        event(event_id="e4", workspace_id=None),
        event(event_id="e5", event="  "),
        event(event_id="e6", occurred_at="not-a-date"),
        event(event_id="e7", occurred_at="2099-01-01T00:00:00Z"),
        event(event_id="e8", occurred_at="2026-11-19T23:59:59Z"),
        event(event_id="e9", properties={"blob": "x" * 40_000}),
        event(event_id="e10", workspace_id="w_nobody_knows"),
        event(),  # a second copy of e1
    ]
    path = write_lines(tmp_path, "2026-11-20.jsonl", lines)
    with path.open("ab") as handle:  # a line with bytes that are not UTF-8
        handle.write(b'{"event_id": "e11", "user_id": "\xff\xfe"}\n')
    report = load(wh, tmp_path)

    assert report.read == len(lines) + 1 == report.accepted + report.rejected
    assert report.accepted == 1
    assert report.reject_counts() == {
        reason: 1 for reason in REJECT_REASONS if reason not in ("malformed_row",)
    }
    rejected = table(wh, "usage_events_rejected").set_index("reason")
    assert rejected.loc["invalid_json", "raw_line"] == "{not json"
    assert rejected.loc["invalid_json", "line_number"] == 2
    assert rejected.loc["duplicate_event_id", "line_number"] == 13  # the first copy is the one kept
    assert rejected.loc["unknown_workspace", "event_id"] == "e10"
    assert (rejected["source_file"] == "2026-11-20.jsonl").all()
    assert list(table(wh, "usage_events")["event_id"]) == ["e1"]


def test_timestamps_with_offsets_and_epoch_millis_are_normalised_to_utc(wh, tmp_path):
    write_lines(
        tmp_path,
        "2026-11-20.jsonl",
        [
            event(event_id="a", occurred_at="2026-11-20T12:00:00+02:00"),
            event(event_id="b", occurred_at=1_763_640_000_000),  # 2025-11-20 12:00 UTC: another day
            event(event_id="d", occurred_at="2026-11-20 23:30:00"),  # no offset: UTC
        ],
    )
    report = load(wh, tmp_path)
    events = table(wh, "usage_events").set_index("event_id")
    assert pd.Timestamp(events.loc["a", "occurred_at"]) == pd.Timestamp("2026-11-20 10:00")
    assert pd.Timestamp(events.loc["d", "occurred_at"]) == pd.Timestamp("2026-11-20 23:30")
    assert report.reject_counts() == {"outside_partition": 1}


def test_page_views_get_a_normalised_page_name(wh, tmp_path):
    write_lines(tmp_path, "2026-11-20.jsonl", [event(event="Page Viewed", properties={"name": "Pricing "})])
    load(wh, tmp_path)
    assert table(wh, "usage_events")["page"].tolist() == ["pricing"]


def test_segment_track_identify_group_and_page_calls(wh, tmp_path):
    base = {"timestamp": "2026-11-20T09:00:00Z", "userId": "u1", "context": {"groupId": "w2"}}
    write_lines(
        tmp_path,
        "2026-11-20.jsonl",
        [
            {**base, "type": "track", "messageId": "m1", "event": "Dashboard Created", "properties": {"n": 1}},
            {**base, "type": "identify", "messageId": "m2", "traits": {"title": "CTO"}},
            {"type": "group", "messageId": "m3", "userId": "u1", "groupId": "w2", "timestamp": base["timestamp"],
             "traits": {"plan": "team"}},
            {**base, "type": "page", "messageId": "m4", "name": "Security", "properties": {"path": "/security"}},
            {**base, "type": "track", "messageId": "m5", "event": "Report Created", "anonymousId": "anon",
             "userId": None},
        ],
    )
    report = load(wh, tmp_path)
    events = table(wh, "usage_events").set_index("event_id")
    assert events.loc["m1", ["event", "workspace_id", "user_id"]].tolist() == ["Dashboard Created", "w2", "u1"]
    assert json.loads(events.loc["m2", "properties"]) == {"title": "CTO"} and events.loc["m2", "event"] == "$identify"
    assert events.loc["m3", ["event", "workspace_id"]].tolist() == ["$group", "w2"]
    assert events.loc["m4", ["event", "page"]].tolist() == ["Page Viewed", "security"]
    assert report.reject_counts() == {"missing_user_id": 1}  # anonymous events cannot be attributed


def test_csv_files_including_malformed_rows(wh, tmp_path):
    path = tmp_path / "events" / "2026-11-20.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "event_id,occurred_at,user_id,workspace_id,event,properties\n"
        'c1,2026-11-20T08:00:00Z,u1,w1,Query Run,"{""rows"": 3}"\n'
        "c2,2026-11-20T08:00:00Z,u1,w1\n"  # too few columns
        "c3,2026-11-20T08:01:00Z,u2,w2,Signed In,\n"
    )
    report = load(wh, tmp_path)
    events = table(wh, "usage_events").set_index("event_id")
    assert sorted(events.index) == ["c1", "c3"]
    assert json.loads(events.loc["c1", "properties"]) == {"rows": 3}
    assert report.reject_counts() == {"malformed_row": 1}
    rejected = table(wh, "usage_events_rejected")
    assert rejected["raw_line"].tolist() == ["c2,2026-11-20T08:00:00Z,u1,w1"]


def test_parquet_files_with_typed_columns(wh, tmp_path):
    folder = tmp_path / "events" / "2026-11-20"
    folder.mkdir(parents=True)
    rows = pa.table(
        {
            "event_id": ["p1", "p2", "p3"],
            "occurred_at": pa.array([datetime(2026, 11, 20, 7), datetime(2026, 11, 20, 8), None], pa.timestamp("ms")),
            "user_id": ["u1", "u1", "u1"],
            "workspace_id": ["w1", "w1", "w1"],
            "event": ["Alert Created", "Page Viewed", "Alert Created"],
            "properties": ['{"a": 1}', '{"name": "Terms"}', None],
        }
    )
    pq.write_table(rows, folder / "part-0.parquet")
    report = load(wh, tmp_path)
    events = table(wh, "usage_events").set_index("event_id")
    assert sorted(events.index) == ["p1", "p2"] and events.loc["p2", "page"] == "terms"
    assert report.reject_counts() == {"bad_timestamp": 1}
    assert table(wh, "usage_events_rejected")["line_number"].tolist() == [3]


def test_rerunning_a_window_replaces_it_and_late_events_join_on_rerun(wh, tmp_path):
    write_lines(tmp_path, "2026-11-20.jsonl", [event(event_id="a"), event(event_id="b")])
    write_lines(tmp_path, "2026-11-21.jsonl", [event(event_id="c", occurred_at="2026-11-21T01:00:00Z")])
    first = load(wh, tmp_path, DAY, NEXT)
    assert first.accepted == 3
    assert load(wh, tmp_path, DAY, NEXT).accepted == 3  # a re-run of the range
    assert load(wh, tmp_path, NEXT, NEXT).accepted == 1  # a re-run of one day of it
    assert len(table(wh, "usage_events")) == 3

    # Late delivery for the 20th, re-sending "b" as well: re-running that day picks up "d" and counts "b" once.
    write_lines(tmp_path, "2026-11-20/late-0001.jsonl", [event(event_id="b"), event(event_id="d")])
    rerun = load(wh, tmp_path)
    assert rerun.accepted == 3 and rerun.reject_counts() == {"duplicate_event_id": 1}
    assert sorted(table(wh, "usage_events")["event_id"]) == ["a", "b", "c", "d"]
    assert len(table(wh, "usage_events_rejected")) == 1


def test_a_window_without_files_empties_it(wh, tmp_path):
    write_lines(tmp_path, "2026-11-20.jsonl", [event()])
    load(wh, tmp_path)
    (tmp_path / "events" / "2026-11-20.jsonl").unlink()
    report = load(wh, tmp_path)
    assert report.read == 0 and len(table(wh, "usage_events")) == 0


def test_a_warehouse_table_source_is_validated_the_same_way(wh, tmp_path):
    source_rows = pd.DataFrame(
        {
            "event_id": ["t1", "t2", "t2", "t3", None],
            "occurred_at": pd.to_datetime(["2026-11-20 08:00"] * 4 + ["2026-11-20 09:00"]),
            "user_id": ["u1", "u2", "u2", "u3", "u4"],
            "workspace_id": ["w1", "w1", "w1", "w9", "w1"],
            "event": ["Page Viewed", "Query Run", "Query Run", "Query Run", "Query Run"],
            "properties": ['{"name": "Pricing"}', "{}", "{}", "{}", "{}"],
        }
    )
    wh.replace_table("raw_product_events", source_rows)
    source = WarehouseEvents("raw_product_events", "ws_table", "users_table")
    report = load_usage_events(wh, source, CATALOG, DAY, DAY, NOW)
    events = table(wh, "usage_events").set_index("event_id")
    assert sorted(events.index) == ["t1", "t2"] and events.loc["t1", "page"] == "pricing"
    assert report.reject_counts() == {"duplicate_event_id": 1, "missing_event_id": 1, "unknown_workspace": 1}
    assert set(table(wh, "usage_events_rejected")["source_file"]) == {"raw_product_events"}


def test_a_bad_source_setting_names_the_variable_and_the_fix():
    from pls_pipelines.lib.errors import ConfigError
    from pls_pipelines.resources.usage_source import UsageSourceResource

    with pytest.raises(ConfigError, match=r"PLS_USAGE_SOURCE='ftp'.*'files'.*'warehouse'"):
        UsageSourceResource(kind="ftp").get_source()
    with pytest.raises(ConfigError, match="PLS_USAGE_EVENTS_TABLE"):
        UsageSourceResource(kind="warehouse", workspaces_table="w", users_table="u").get_source()
