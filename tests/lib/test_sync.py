"""Diff-based sync decisions: canonical values, the field-ownership modes, and what is sent."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from pls_pipelines.lib.sync import (
    FieldSpec,
    RecordUpdate,
    desired_values,
    diff_records,
    keep_if_empty_fields,
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


def test_never_fields_are_not_written_and_skip_nulls_never_clears():
    fields = [
        FieldSpec("pls_score", "Score", "number", "t", "score"),
        FieldSpec("pls_old", "Retired", "string", "t", "old", mode="never"),
        FieldSpec("pls_contacts", "Contacts", "string", "t", "contacts", skip_nulls=True),
        FieldSpec("pls_reason", "Reason", "string", "t", "reason"),
    ]
    source = pd.DataFrame({"id": ["c1", "c2"], "score": [1, 2], "old": ["x", "y"], "contacts": ["Dana", None],
                           "reason": [None, "r"]})
    desired = desired_values(source, "id", fields)
    assert desired == {
        "c1": {"pls_score": "1", "pls_contacts": "Dana", "pls_reason": None},  # a plain null clears
        "c2": {"pls_score": "2", "pls_reason": "r"},  # skip_nulls: the CRM's value stays
    }


def test_a_missing_source_column_is_named():
    with pytest.raises(KeyError, match="tier"):
        desired_values(pd.DataFrame({"crm_company_id": ["c1"], "score": [1]}), "crm_company_id", FIELDS)


def test_if_empty_fields_yield_to_a_value_a_crm_user_typed():
    fields = [FieldSpec("pls_score", "Score", "number", "t", "score"),
              FieldSpec("pls_note", "Note", "string", "t", "note", mode="if_empty")]
    updates = [
        RecordUpdate("typed", {"pls_score": "9", "pls_note": "ours"}, {"pls_score": "8", "pls_note": None}),
        RecordUpdate("empty", {"pls_note": "ours"}, {"pls_note": None}),
        RecordUpdate("ours_before", {"pls_note": "new"}, {"pls_note": "old"}),
        RecordUpdate("only_note", {"pls_note": "ours"}, {"pls_note": None}),
    ]
    crm = {"typed": {"pls_note": "seller wrote this"}, "empty": {"pls_note": ""}, "ours_before": {"pls_note": "old"},
           "only_note": {"pls_note": "seller"}}
    kept, skipped = keep_if_empty_fields(updates, fields, crm)
    assert [(u.record_id, u.properties) for u in kept] == [
        ("typed", {"pls_score": "9"}),  # the seller's note stays, the score is still ours
        ("empty", {"pls_note": "ours"}),
        ("ours_before", {"pls_note": "new"}),  # the CRM still holds what we wrote: we keep it up to date
    ]
    assert skipped == {"typed": ["pls_note"], "only_note": ["pls_note"]}


def test_long_text_is_cut_at_a_word_boundary_for_the_crm_field():
    from pls_pipelines.lib.sync import fit_text

    reasons = "9 active users in 28 days (+30); invited 4 teammates (+8); usage -35% week over week (-3)"
    assert fit_text(reasons, 200) == reasons
    cut = fit_text(reasons, 40)
    assert len(cut) <= 40 and cut.endswith("…") and cut.startswith("9 active users in 28 days")
    assert fit_text("x" * 300, 255) == "x" * 254 + "…"  # no space to cut at: cut hard
    spec = FieldSpec("pls_reason", "Reason", "string", "t", "reason", max_length=20)
    number = FieldSpec("pls_score", "Score", "number", "t", "score", max_length=20)
    desired = desired_values(pd.DataFrame({"id": ["c1"], "reason": [reasons], "score": [10**30]}), "id",
                             [spec, number])
    assert len(desired["c1"]["pls_reason"]) <= 20 and desired["c1"]["pls_score"] == str(10**30)
