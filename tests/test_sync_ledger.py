"""The sync's records, written batch by batch: what a killed run leaves behind is consistent and explained."""

from __future__ import annotations

from datetime import datetime

import pytest

from pls_pipelines.lib.sync import RecordOutcome
from pls_pipelines.lib.sync_state import SYNC_STATE, read_state
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.sync_ledger import SYNC_LOG, SYNC_RUNS, SyncLedger, finished_runs, read_rejections

T1, T2 = datetime(2026, 11, 1, 9), datetime(2026, 11, 2, 9)


@pytest.fixture
def wh(tmp_path):
    yield Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    dispose_all_engines()


def state(wh: Warehouse, object_type: str) -> dict:
    rows = wh.read_table(SYNC_STATE)
    return read_state(rows[rows["object_type"] == object_type])


def test_a_batch_moves_the_state_of_confirmed_records_only_and_keeps_other_objects(wh):
    contacts = SyncLedger(wh, "contacts", "run-0", T1)
    contacts.begin(print)
    contacts.record_batch([RecordOutcome("c1", True)], {"c1": {"y": "1"}}, {"c1": ["y"]})
    first = SyncLedger(wh, "companies", "run-1", T1)
    first.begin(print)
    first.record_batch([RecordOutcome("c1", True), RecordOutcome("c2", True)], {"c1": {"x": "1"}, "c2": {"x": "2"}},
                       {})
    second = SyncLedger(wh, "companies", "run-2", T2)
    second.begin(print)
    second.record_batch(
        [RecordOutcome("c2", True), RecordOutcome("c3", False, "INVALID_OPTION: no such tier")],
        {"c2": {"x": "3"}, "c3": {"x": "4"}}, {},
    )
    assert state(wh, "companies") == {"c1": {"x": "1"}, "c2": {"x": "3"}}  # c3 was refused: not synced
    assert state(wh, "contacts") == {"c1": {"y": "1"}}  # same id, other object: untouched
    assert read_rejections(wh, "companies")["record_id"].tolist() == ["c3"]


def test_a_killed_attempt_is_found_marked_interrupted_and_reported_by_the_next(wh):
    killed = SyncLedger(wh, "companies", "run-1", T1)
    killed.begin(print)
    killed.record_batch([RecordOutcome("c1", True)], {"c1": {"x": "1"}}, {"c1": ["x"]})
    # ... SIGKILL here: finish() never runs

    lines: list[str] = []
    resumed = SyncLedger(wh, "companies", "run-2", T2)
    resumed.begin(lines.append)
    resumed.record_batch([RecordOutcome("c2", True)], {"c2": {"x": "2"}}, {"c2": ["x"]})
    resumed.record_rest(["c1"], {}, {}, {}, {"c1", "c2"})
    assert resumed.finish(reconciled=False)["sent"] == 1

    assert lines == ["companies: sync attempt run-1 was interrupted before it finished (1 records confirmed and "
                     "recorded); this run sends what it had not confirmed"]
    runs = wh.read_table(SYNC_RUNS).set_index("run_id")
    assert runs.loc["run-1", "status"] == "interrupted" and runs.loc["run-2", "status"] == "finished"
    assert finished_runs(wh)["run_id"].tolist() == ["run-2"]  # the guard's "previous run" is a finished one
    log = wh.read_table(SYNC_LOG)
    assert sorted(zip(log["run_id"], log["record_id"], log["status"], strict=True)) == [
        ("run-1", "c1", "sent"), ("run-2", "c1", "unchanged"), ("run-2", "c2", "sent"),
    ]


def test_a_batch_is_recorded_all_or_nothing(wh, monkeypatch):
    ledger = SyncLedger(wh, "companies", "run-1", T1)
    ledger.begin(print)
    original = wh.append

    def append_failing_on_state(table, frame, conn=None):
        if table == SYNC_STATE:
            raise OSError("disk full")
        return original(table, frame, conn)

    monkeypatch.setattr(wh, "append", append_failing_on_state)
    with pytest.raises(OSError):
        ledger.record_batch([RecordOutcome("c1", True)], {"c1": {"x": "1"}}, {"c1": ["x"]})
    monkeypatch.undo()
    # no log row claims c1 was synced while its state says otherwise: the next run simply sends it again
    assert not wh.table_exists(SYNC_LOG) or wh.read_table(SYNC_LOG).empty
    assert state(wh, "companies") == {}
