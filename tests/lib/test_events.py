import json
from datetime import date, datetime

from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.events import parse_event_lines

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 6, 0)
CATALOG = load_event_catalog()


def line(**overrides):
    event = {
        "event_id": "e1",
        "occurred_at": "2026-11-20T10:00:00.000Z",
        "user_id": "u1",
        "workspace_id": "w1",
        "event": "Report Created",
        "properties": {"feature": "reports"},
    }
    event.update(overrides)
    return json.dumps({k: v for k, v in event.items() if v is not ...})


def parse(lines):
    return parse_event_lines(lines, DAY, "2026-11-20.jsonl", CATALOG, NOW)


def test_every_line_is_accepted_or_rejected_with_a_reason():
    lines = [
        line(),
        "{not json",
        "[1, 2]",
        line(event_id="e2", user_id=...),
        line(event_id=""),
        line(event_id="e4", workspace_id=None),
        line(event_id="e5", event="  "),
        line(event_id="e6", occurred_at="not-a-date"),
        line(event_id="e7", occurred_at="2099-01-01T00:00:00Z"),
        line(event_id="e8", occurred_at="2026-11-19T23:59:59Z"),
        line(event_id="e9", properties={"blob": "x" * 40_000}),
        line(),  # duplicate of e1
    ]
    result = parse(lines)
    assert result.read == len(lines)
    assert list(result.accepted["event_id"]) == ["e1"]
    assert result.reject_counts() == {
        "bad_timestamp": 1,
        "duplicate_event_id": 1,
        "future_timestamp": 1,
        "invalid_json": 1,
        "missing_event_id": 1,
        "missing_event_name": 1,
        "missing_user_id": 1,
        "missing_workspace_id": 1,
        "not_an_object": 1,
        "outside_partition": 1,
        "oversized_properties": 1,
    }
    assert result.rejected.loc[result.rejected["reason"] == "invalid_json", "raw_line"].item() == "{not json"
    assert result.rejected.loc[result.rejected["reason"] == "invalid_json", "line_number"].item() == 2


def test_timestamps_with_offsets_and_epoch_millis_are_normalised_to_utc():
    result = parse(
        [
            line(event_id="a", occurred_at="2026-11-20T12:00:00+02:00"),
            line(
                event_id="b", occurred_at=1_763_640_000_000
            ),  # 2025-11-20 12:00 UTC: another day -> rejected
        ]
    )
    assert result.accepted["occurred_at"].iloc[0] == datetime(2026, 11, 20, 10, 0)
    assert result.reject_counts() == {"outside_partition": 1}


def test_page_views_get_a_normalised_page_name():
    result = parse([line(event="Page Viewed", properties={"name": "Pricing", "path": "/pricing"})])
    assert result.accepted["page"].item() == "pricing"


def test_duplicates_are_detected_across_days_of_one_run():
    seen: set[str] = set()
    first = parse_event_lines([line()], DAY, "a", CATALOG, NOW, seen_event_ids=seen)
    second = parse_event_lines([line()], DAY, "b", CATALOG, NOW, seen_event_ids=seen)
    assert len(first.accepted) == 1 and second.reject_counts() == {"duplicate_event_id": 1}
