import numpy as np
import pandas as pd
import pytest
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.feature_check import prepare_features
from pls_pipelines.lib.scoring import required_columns, score_accounts, score_model
from pls_pipelines.lib.scoring_config import load_scoring_config

CONFIG = load_scoring_config()
PQA = CONFIG.models["pqa"]
EXPANSION = CONFIG.models["expansion"]
CHURN = CONFIG.models["churn_risk"]
WORKED = CONFIG.models["worked_example"]
SEGMENTS = {"smb": 0, "mid_market": 200, "enterprise": 1000}
PQA_OPTIONAL = ["core_features_used_28d", "advanced_features_used_28d", "velocity_7d", "invites_28d",
                "days_since_last_invite", "enterprise_page_views_28d", "days_since_last_enterprise_page_view",
                "admin_changes_28d"]


def minimal(**extra) -> pd.DataFrame:
    """A features table with only the required columns: a dbt model that tracks people and events, nothing else."""
    return pd.DataFrame({"account_id": ["a1", "a2"], "active_users_28d": [9, 2], "events_28d": [2500, 10]} | extra)


def full_pqa_table(**extra) -> pd.DataFrame:
    row = dict.fromkeys(required_columns(PQA), 0) | {"account_id": "a1", "is_customer": False, "velocity_7d": 0.0,
                                                     "segment": "smb"}
    return pd.DataFrame([row | extra])


def custom_config(tmp_path):
    """The shipped models plus one reading a custom column (seats_purchased) declared in custom_columns."""
    document = yaml.safe_load(CONFIG.path.read_text())
    document["custom_columns"] = ["seats_purchased", "unused_custom"]
    document["models"]["seats"] = {
        "applies_to": "all",
        "components": {
            "seats": {"feature": "seats_purchased", "weight": 0.5, "scale": {"kind": "linear", "min": 0, "max": 50},
                      "reason": "{value:.0f} seats"},
            "team": {"feature": "active_users_28d", "weight": 0.5, "scale": {"kind": "linear", "min": 0, "max": 10},
                     "reason": "{value:.0f} active users"},
        },
        "tiers": [{"name": "sales", "min_score": 80}, {"name": "self_serve", "min_score": 0}],
    }
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_scoring_config(path)


# --- required columns -------------------------------------------------------------------------------------


def test_every_missing_required_column_is_listed_in_one_error(tmp_path):
    config = custom_config(tmp_path)
    table = pd.DataFrame({"Account ID": ["a1"], "users": [3], "invites_28d": [1]})
    with pytest.raises(ConfigError) as error:
        prepare_features(table, [config.models["pqa"], config.models["seats"]], SEGMENTS, config.custom_columns)
    message = str(error.value)
    assert "['account_id', 'active_users_28d', 'events_28d', 'seats_purchased']" in message
    assert "Account ID, users, invites_28d" in message  # what the table has: a rename is the usual fix
    assert "unused_custom" not in message  # declared, but no model reads it


def test_a_missing_account_id_alone_fails():
    with pytest.raises(ConfigError, match=r"\['account_id'\]"):
        prepare_features(minimal().drop(columns="account_id"), [PQA], SEGMENTS)


def test_a_custom_column_is_required_only_by_a_model_that_reads_it(tmp_path):
    config = custom_config(tmp_path)
    frame, check = prepare_features(minimal(), [config.models["pqa"]], SEGMENTS, config.custom_columns)
    assert "seats_purchased" not in frame.columns and "seats_purchased" not in check.missing_optional
    with pytest.raises(ConfigError, match="seats_purchased"):
        prepare_features(minimal(), [config.models["seats"]], SEGMENTS, config.custom_columns)
    frame, check = prepare_features(minimal(seats_purchased=[50, 0]), [config.models["seats"]], SEGMENTS,
                                    config.custom_columns)
    assert check.missing_optional == [] and check.notes == []  # applies to all: is_customer not needed
    assert list(score_accounts(frame, config.models["seats"])["score"]) == [95, 10]


# --- optional columns -------------------------------------------------------------------------------------


def test_missing_optional_columns_are_reported_with_the_points_at_stake():
    frame, check = prepare_features(minimal(is_customer=[False, False]), [PQA], SEGMENTS)
    assert check.missing_optional == PQA_OPTIONAL
    assert "no invites_28d column: scored as no data by pqa.invites (up to 10 points)" in check.notes
    assert "no admin_changes_28d column: scored as no data by pqa.admin_changes (up to 5 points)" in check.notes
    assert ("no velocity_7d column: scored as no data by pqa.velocity (up to 10 points), "
            "pqa.usage_decline (a penalty of up to 10 points)") in check.notes
    assert all(frame[column].isna().all() for column in PQA_OPTIONAL)  # no data, not zero


def test_points_at_stake_are_the_heaviest_weight_any_segment_gives():
    # evaluation_pages weighs 0.05, but 0.15 for enterprise accounts
    _, check = prepare_features(minimal(), [PQA], SEGMENTS)
    assert ("no enterprise_page_views_28d column: scored as no data by pqa.evaluation_pages (up to 15 points)"
            in check.notes)


def test_a_missing_decay_age_only_costs_the_fading_not_the_points():
    frame, check = prepare_features(full_pqa_table(invites_28d=5).drop(columns="days_since_last_invite"), [PQA],
                                    SEGMENTS)
    assert check.missing_optional == ["days_since_last_invite"]
    assert check.notes == [
        "no days_since_last_invite column: pqa.invites not faded by age (scored as if the signal were recent)"
    ]
    invites = score_model(frame, PQA).component_table().set_index("component").loc["invites"]
    assert invites["points"] == 100 and invites["contribution"] == 10  # full points, undecayed


def test_a_column_a_model_counts_as_the_worst_when_missing_says_so():
    # churn_risk scores "no activity data" as full risk: without the column every customer gets those points
    table = minimal(is_customer=[True, True], usage_trend_28d=[0.0, 0.0], active_user_trend_28d=[0.0, 0.0],
                    features_used_28d=[6, 6], velocity_7d=[0.0, 0.0])
    frame, check = prepare_features(table, [CHURN], SEGMENTS)
    assert check.notes == ["no days_since_last_active column: scored as no data by churn_risk.gone_quiet "
                           "(no data earns 100 of 100 points, up to +20 for every account)"]
    scores = score_accounts(frame, CHURN)
    assert list(scores["score"]) == [20, 20]
    assert (scores["reasons"] == "no activity in 56 days (+20)").all()


def test_a_column_only_quoted_in_a_reason_is_reported_as_such():
    table = minimal(is_customer=[True, True], advanced_features_used_28d=[0, 0], is_consolidation=[1, 0],
                    velocity_7d=[0.0, 0.0], invites_28d=[0, 0])
    _, check = prepare_features(table, [EXPANSION], SEGMENTS)
    assert check.missing_optional == ["workspace_count"]
    assert check.notes == ["no workspace_count column: scored as no data by expansion.consolidation (its reason "
                           "text)"]


def test_an_account_scored_without_optional_columns_still_scores_and_its_reasons_name_the_missing_data():
    frame, _ = prepare_features(minimal(is_customer=[False, False], employee_count=[50, 50]), [PQA], SEGMENTS)
    scores = score_accounts(frame, PQA).set_index("account_id")
    # team_size 9 users = 100 x 0.30, usage_volume log1p(2500)/log1p(3000) = 97.7 x 0.20; the rest earns nothing
    assert scores.loc["a1", "score"] == 50 and scores.loc["a1", "tier"] == "self_serve"
    assert scores.loc["a1", "reasons"] == ("9 active users in 28 days (+30); 2,500 product events in 28 days (+20); "
                                           "no data for feature breadth (0 of 20 points)")
    assert scores.loc["a2", "score"] >= 1 and "no data for feature breadth" in scores.loc["a2", "reasons"]


def test_a_table_with_every_column_has_nothing_to_report():
    table = full_pqa_table()
    frame, check = prepare_features(table, [PQA], SEGMENTS)
    assert check.missing_optional == [] and check.notes == []
    pd.testing.assert_frame_equal(frame, table)


def test_the_callers_table_is_left_unchanged():
    table = minimal(employee_count=[10, 5000])
    before = table.copy()
    prepare_features(table, CONFIG.models.values(), SEGMENTS)
    pd.testing.assert_frame_equal(table, before)


# --- segment ----------------------------------------------------------------------------------------------


def test_segment_is_derived_from_employee_count_when_absent():
    sizes = [50, 199, 200, 999, 1000, None]
    table = pd.DataFrame({"account_id": [f"a{i}" for i in range(6)], "active_users_28d": 9, "events_28d": 2500,
                          "employee_count": sizes, "is_customer": False})
    frame, check = prepare_features(table, [PQA], SEGMENTS)
    assert frame["segment"].tolist()[:5] == ["smb", "smb", "mid_market", "mid_market", "enterprise"]
    assert pd.isna(frame["segment"].iloc[5])  # unknown size: no segment, not a guess
    assert "segment derived from employee_count with the segments of config/routing.yaml" in check.notes
    reasons = score_accounts(frame, PQA).set_index("account_id")["reasons"]
    assert reasons["a4"].startswith("9 active users in 28 days (+25)")  # enterprise weighs team_size 0.25
    assert reasons["a0"].startswith("9 active users in 28 days (+30)")


def test_a_segment_column_in_the_table_wins_over_employee_count():
    frame, check = prepare_features(minimal(segment=["enterprise", "smb"], employee_count=[10, 10]), [PQA],
                                    SEGMENTS)
    assert frame["segment"].tolist() == ["enterprise", "smb"]
    assert not any("segment" in note for note in check.notes)


def test_without_segment_or_employee_count_overrides_are_not_applied():
    _, check = prepare_features(minimal(), [PQA], SEGMENTS)
    assert "no segment or employee_count column: segment overrides are not applied" in check.notes
    _, check = prepare_features(minimal(), [WORKED], SEGMENTS)  # a model without overrides loses nothing
    assert not any("segment" in note for note in check.notes)


# --- is_customer ------------------------------------------------------------------------------------------


def test_without_is_customer_everyone_is_scored_as_a_prospect():
    frame, check = prepare_features(minimal(), [PQA, EXPANSION], SEGMENTS)
    assert "no is_customer column: every account is scored as a prospect" in check.notes
    assert not frame["is_customer"].any()
    assert "is_customer" not in check.missing_optional
    assert list(score_accounts(frame, PQA)["account_id"]) == ["a1", "a2"]
    assert score_accounts(frame, EXPANSION).empty


def test_an_is_customer_column_is_respected():
    frame, check = prepare_features(minimal(is_customer=[True, False]), [PQA, EXPANSION], SEGMENTS)
    assert not any("is_customer" in note for note in check.notes)
    assert list(score_accounts(frame, PQA)["account_id"]) == ["a2"]
    assert list(score_accounts(frame, EXPANSION)["account_id"]) == ["a1"]


def test_missing_values_inside_a_present_column_are_no_data_too():
    frame, check = prepare_features(full_pqa_table(velocity_7d=np.nan), [PQA], SEGMENTS)
    assert check.missing_optional == [] and check.notes == []
    scores = score_accounts(frame, PQA)
    assert scores["score"].iloc[0] == 1
    assert scores["reasons"].iloc[0] == "no usage the week before, so no trend yet (0 of 10 points)"
