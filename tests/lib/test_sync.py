from datetime import date

import numpy as np
import pandas as pd

from pls_pipelines.lib.sync import (
    FieldSpec,
    RecordOutcome,
    accepted_state_rows,
    desired_values,
    diff_records,
    synced_state_frame,
    to_crm_value,
)

FIELDS = [
    FieldSpec("pls_score", "Score", "number", "account_routing", "score"),
    FieldSpec("pls_tier", "Tier", "string", "account_routing", "tier"),
]


def test_values_are_rendered_canonically_so_reruns_do_not_see_fake_changes():
    assert to_crm_value(42.0) == "42" and to_crm_value(np.int64(42)) == "42"
    assert to_crm_value(True) == "true" and to_crm_value(np.bool_(False)) == "false"
    assert to_crm_value(float("nan")) is None and to_crm_value(None) is None and to_crm_value(pd.NA) is None
    assert to_crm_value(date(2026, 1, 2)) == "2026-01-02"
    assert to_crm_value(0.1234567) == "0.123457"


def test_only_changed_records_and_fields_are_sent():
    source = pd.DataFrame(
        {
            "crm_company_id": ["c1", "c2", "c3", None],
            "score": [80.0, 50, 70, 99],
            "tier": ["sales", "self_serve", "success", "sales"],
        }
    )
    desired = desired_values(source, "crm_company_id", FIELDS)
    assert set(desired) == {"c1", "c2", "c3"}  # unmatched account (no CRM id) is never written
    synced = {
        "c1": {"pls_score": "80", "pls_tier": "sales"},
        "c2": {"pls_score": "55", "pls_tier": "self_serve"},
    }
    updates = diff_records(desired, synced)
    assert [(u.record_id, u.properties, u.previous) for u in updates] == [
        ("c2", {"pls_score": "50"}, {"pls_score": "55"}),
        ("c3", {"pls_score": "70", "pls_tier": "success"}, {"pls_score": None, "pls_tier": None}),
    ]
    assert diff_records(desired, {**synced, "c2": desired["c2"], "c3": desired["c3"]}) == []


def test_failed_records_do_not_advance_the_synced_state():
    desired = {"c1": {"pls_score": "80"}, "c2": {"pls_score": "60"}}
    updates = diff_records(desired, {})
    state = accepted_state_rows(updates, [RecordOutcome("c1", True), RecordOutcome("c2", False, "boom")])
    assert state.to_dict("records") == [{"record_id": "c1", "field": "pls_score", "value": "80"}]
    again = diff_records(desired, synced_state_frame(state))
    assert [u.record_id for u in again] == ["c2"]
