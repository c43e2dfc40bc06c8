import json

import numpy as np
import pandas as pd
import pytest
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.scoring import (
    NO_SIGNAL_REASON,
    SCORE_COLUMNS,
    assign_tiers,
    required_columns,
    scale_points,
    score_accounts,
    score_all_models,
)
from pls_pipelines.lib.scoring_config import SCOREABLE_COLUMNS, Scale, load_scoring_config

SHIPPED = load_scoring_config()
PQA = SHIPPED.models["pqa"]
TIERS = [{"name": "sales", "min_score": 80}, {"name": "success", "min_score": 60},
         {"name": "self_serve", "min_score": 0}]


def features(*rows: dict) -> pd.DataFrame:
    """An account features table: every scoreable column 0 unless a row says otherwise; prospects."""
    base = {column: 0 for column in SCOREABLE_COLUMNS} | {"velocity_7d": 0.0, "is_customer": False}
    return pd.DataFrame([base | {"account_id": f"a{i}"} | row for i, row in enumerate(rows, start=1)])


def make_model(tmp_path, components: dict, tiers=TIERS, applies_to="all", **settings):
    document = {"version": 1, "models": {"m": {"applies_to": applies_to, "components": components,
                                               "tiers": tiers, **settings}}}
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_scoring_config(path).models["m"]


def direct(weight=1.0, feature="events_28d", **extra) -> dict:
    """A component whose points are its value (linear 0..100): the score is whatever the test puts in."""
    return {"feature": feature, "weight": weight, "scale": {"kind": "linear", "min": 0, "max": 100},
            "reason": "{value:.1f} points of " + feature} | extra


def components_of(row) -> dict:
    return json.loads(row["components"])


# --- scales -----------------------------------------------------------------------------------------------


def test_buckets_give_the_points_of_the_highest_threshold_reached():
    scale = Scale("buckets", points=((1, 10), (3, 40), (5, 70), (7, 100)))
    values = np.array([0, 0.99, 1, 2.99, 3, 6, 7, 250, np.nan])
    assert scale_points(scale, values).tolist() == [0, 0, 10, 10, 40, 70, 100, 100, 0]


def test_linear_scale_is_clipped_to_0_100_and_can_run_downhill():
    rising = Scale("linear", low=0, high=10)
    assert scale_points(rising, np.array([-5, 0, 2.5, 10, 99])).tolist() == [0, 0, 25, 100, 100]
    # "less is better": 21 days inactive earns nothing, 3 days or fewer earns everything
    falling = Scale("linear", low=21, high=3)
    assert scale_points(falling, np.array([30, 21, 12, 3, 0])).tolist() == [0, 0, 50, 100, 100]


def test_log_scale_reaches_100_at_max_with_diminishing_returns():
    scale = Scale("log", high=3000)
    zero, a_tenth, at_max, beyond, negative = scale_points(scale, np.array([0, 300, 3000, 1e6, -4]))
    assert (zero, at_max, beyond, negative) == (0, 100, 100, 0)
    assert 70 < a_tenth < 72  # a tenth of the volume already earns most of the points


def test_missing_and_infinite_values_earn_zero_points():
    scales = (Scale("linear", low=-1, high=1), Scale("log", high=10), Scale("buckets", points=((-5, 100),)))
    for scale in scales:
        assert scale_points(scale, np.array([np.nan, np.inf, -np.inf])).tolist() == [0, 0, 0]


# --- scores and tiers -------------------------------------------------------------------------------------


def test_an_account_maxing_every_signal_scores_100_in_every_shipped_model():
    # penalties read velocity too: huge growth maxes velocity and takes no penalty
    maxed = {column: 1_000_000 for column in SCOREABLE_COLUMNS}
    table = features(maxed | {"is_customer": False}, maxed | {"is_customer": True, "account_id": "c1"})
    scores = score_all_models(table, SHIPPED)
    assert set(scores["model"]) == set(SHIPPED.models)
    assert scores["score"].tolist() == [100] * len(scores)
    assert scores["tier"].tolist() == ["sales"] * len(scores)


def test_an_account_with_no_usage_scores_the_minimum_of_1():
    scored = score_accounts(features({}), PQA)
    assert scored.loc[0, ["score", "tier", "is_pqa"]].tolist() == [1, "self_serve", False]


def test_score_is_the_weighted_sum_rounded_half_up_and_the_tier_follows_the_rounded_score(tmp_path):
    model = make_model(tmp_path, {"signal": direct()})
    values = [79.4, 79.5, 78.5, 80, 59.49, 59.5, 0.4, 100]  # 78.5: half up (79), not half to even (78)
    scored = score_accounts(features(*({"events_28d": v} for v in values)), model)
    assert scored["score"].tolist() == [79, 80, 79, 80, 59, 60, 1, 100]
    assert scored["tier"].tolist() == [
        "success", "sales", "success", "sales", "self_serve", "success", "self_serve", "sales"
    ]
    assert scored["is_pqa"].tolist() == [False, True, False, True, False, False, False, True]


def test_a_half_point_lost_to_floating_point_still_rounds_up(tmp_path):
    # 0.7 * 85 is 59.49999999999999 in binary floating point; RevOps wrote 59.5, which must give 60
    model = make_model(tmp_path, {
        "team_size": direct(0.3, "active_users_28d"),
        "usage": direct(0.7, "events_28d", scale={"kind": "buckets", "points": [[1, 85], [2, 100]]}),
    })
    scored = score_accounts(features({"events_28d": 1}), model)
    assert scored.loc[0, ["score", "tier"]].tolist() == [60, "success"]


def test_pqa_threshold_can_differ_from_the_top_tier(tmp_path):
    model = make_model(tmp_path, {"signal": direct()}, pqa_threshold=75)
    scored = score_accounts(features({"events_28d": 76}, {"events_28d": 74}), model)
    assert scored["tier"].tolist() == ["success", "success"]
    assert scored["is_pqa"].tolist() == [True, False]


def test_a_penalty_subtracts_weight_times_points_and_the_score_never_drops_below_1(tmp_path):
    model = make_model(tmp_path, {
        "usage": direct(),
        "decline": {"feature": "velocity_7d", "weight": 0.2, "direction": "negative",
                    "scale": {"kind": "linear", "min": 0, "max": -0.5}, "reason": "usage {value:+.0%}"},
    })
    scored = score_accounts(features({"events_28d": 50, "velocity_7d": -0.25}, {"events_28d": 5,
                                                                                "velocity_7d": -0.9}), model)
    assert scored["score"].tolist() == [40, 1]  # 50 - 0.2 * 50; 5 - 0.2 * 100 clipped
    assert components_of(scored.iloc[0])["decline"] == {"value": -0.25, "points": 50, "weight": 0.2,
                                                        "contribution": -10}


def test_worked_example_preset_is_more_generous_than_the_default_pqa_model():
    worked = SHIPPED.models["worked_example"]
    assert [c.weight for c in sorted(worked.components, key=lambda c: -c.weight)] == [0.4, 0.3, 0.2, 0.1]
    assert worked.pqa_threshold == 70 and PQA.pqa_threshold == 80
    assert assign_tiers(np.array([72, 55, 45]), worked.tiers).tolist() == ["sales", "success", "self_serve"]
    assert assign_tiers(np.array([72, 55, 45]), PQA.tiers).tolist() == ["success", "self_serve", "self_serve"]
    # a mid-sized team with steady usage is a PQA by the worked example, not by the default model
    team = features({"active_users_28d": 5, "events_28d": 1000, "features_used_28d": 5,
                     "core_features_used_28d": 3, "advanced_features_used_28d": 2, "velocity_7d": 0.1})
    scores = score_all_models(team, SHIPPED).set_index("model")
    assert scores.loc["worked_example", ["score", "tier", "is_pqa"]].tolist() == [75, "sales", True]
    assert scores.loc["pqa", ["score", "tier", "is_pqa"]].tolist() == [54, "self_serve", False]


# --- which accounts, which rows ---------------------------------------------------------------------------


def test_models_score_only_the_accounts_they_apply_to():
    table = features({"account_id": "p1"}, {"account_id": "c1", "is_customer": True},
                     {"account_id": "unknown", "is_customer": None})
    scores = score_all_models(table, SHIPPED)
    assert scores[["account_id", "model"]].values.tolist() == [
        ["c1", "expansion"],
        ["p1", "pqa"], ["p1", "worked_example"],
        ["unknown", "pqa"], ["unknown", "worked_example"],  # nobody recorded a payment: a prospect
    ]


def test_output_has_the_documented_columns_sorted_by_account_id_whatever_the_input_order():
    table = features({"account_id": "b", "active_users_28d": 3}, {"account_id": "a", "active_users_28d": 9})
    scored = score_accounts(table, PQA)
    assert list(scored.columns) == SCORE_COLUMNS
    assert scored["account_id"].tolist() == ["a", "b"]
    assert scored["model"].tolist() == ["pqa", "pqa"] and set(scored["model_version"]) == {PQA.version}
    assert scored["score"].dtype == "int64" and scored["is_pqa"].dtype == bool
    pd.testing.assert_frame_equal(scored, score_accounts(table.iloc[::-1], PQA))


def test_an_empty_features_table_gives_an_empty_score_table():
    scores = score_all_models(features({}).head(0), SHIPPED)
    assert list(scores.columns) == SCORE_COLUMNS and scores.empty


def test_a_model_reading_columns_the_table_lacks_fails_naming_them():
    with pytest.raises(ConfigError, match=r"'pqa' reads \['invites_28d'\].*rebuild account_usage_rollup"):
        score_accounts(features({}).drop(columns="invites_28d"), PQA)


def test_two_rows_for_one_account_are_refused():
    with pytest.raises(ValueError, match="several rows for account_id"):
        score_accounts(features({"account_id": "a"}, {"account_id": "a"}), PQA)


def test_required_columns_are_what_the_model_reads():
    assert required_columns(PQA) == [
        "account_id", "is_customer", "active_users_28d", "events_28d", "core_features_used_28d",
        "advanced_features_used_28d", "velocity_7d", "invites_28d", "enterprise_page_views_28d",
        "admin_changes_28d",
    ]
    assert "workspace_count" in required_columns(SHIPPED.models["expansion"])  # quoted by a reason


# --- components and reasons -------------------------------------------------------------------------------


def test_components_json_has_value_points_weight_and_contribution_per_component():
    scored = score_accounts(features({"active_users_28d": 5, "events_28d": 3000, "velocity_7d": None}), PQA)
    components = components_of(scored.iloc[0])
    assert list(components) == sorted(c.name for c in PQA.components)
    assert components["team_size"] == {"value": 5, "points": 70, "weight": 0.3, "contribution": 21}
    assert components["usage_volume"] == {"value": 3000, "points": 100, "weight": 0.2, "contribution": 20}
    assert components["velocity"] == {"value": None, "points": 0, "weight": 0.1, "contribution": 0}
    assert scored.loc[0, "score"] == 41


def test_reasons_name_the_drivers_in_plain_words_with_their_points():
    account = {"active_users_28d": 9, "invites_28d": 4, "velocity_7d": -0.35, "events_28d": 0}
    scored = score_accounts(features(account), PQA)
    assert scored.loc[0, "reasons"] == (
        "9 active users in 28 days (+30); invited 4 teammates (+8); usage -35% week over week (-3)"
    )
    assert scored.loc[0, "score"] == 35


def test_reasons_are_ordered_by_points_moved_with_at_most_3_positive_and_1_negative():
    account = {"active_users_28d": 1, "events_28d": 3000, "core_features_used_28d": 5,
               "advanced_features_used_28d": 3, "invites_28d": 1, "admin_changes_28d": 3, "velocity_7d": -0.7}
    reasons = score_accounts(features(account), PQA).loc[0, "reasons"].split("; ")
    assert reasons == [
        "uses 5 core and 3 advanced features (+20)",  # ties keep component-name order
        "3,000 product events in 28 days (+20)",
        "usage -70% week over week (-10)",  # the penalty moved more points than the third positive
        "3 admin/role changes (+5)",  # invites (+4) and team size (+3) did not make the top 3
    ]
    fewer = score_accounts(features(account), PQA, max_positive_reasons=1, max_negative_reasons=0)
    assert fewer.loc[0, "reasons"] == "uses 5 core and 3 advanced features (+20)"


def test_a_missing_value_earns_zero_points_and_the_reasons_say_so():
    new_account = {"active_users_28d": 3, "velocity_7d": np.nan}  # no usage the week before: no velocity
    scored = score_accounts(features(new_account), PQA)
    assert scored.loc[0, "reasons"] == (
        "3 active users in 28 days (+12); no usage the week before, so no trend yet (0 of 10 points)"
    )


def test_reasons_are_cut_between_reasons_never_inside_one():
    account = {"active_users_28d": 9, "invites_28d": 4, "velocity_7d": -0.35}
    full = score_accounts(features(account), PQA).loc[0, "reasons"]
    first_two = "9 active users in 28 days (+30); invited 4 teammates (+8)"
    assert full.startswith(first_two + "; ")
    for limit in (len(first_two), len(full) - 1):
        assert score_accounts(features(account), PQA, reasons_max_chars=limit).loc[0, "reasons"] == first_two
    # a first reason longer than the whole field is the only one ever cut, and it says so
    tiny = score_accounts(features(account), PQA, reasons_max_chars=10).loc[0, "reasons"]
    assert tiny == "9 active …"


def test_an_account_where_nothing_earned_points_says_so_instead_of_an_empty_field():
    assert score_accounts(features({}), PQA).loc[0, "reasons"] == NO_SIGNAL_REASON


def test_reasons_can_quote_other_columns_and_pick_singular_or_plural(tmp_path):
    model = make_model(tmp_path, {"workspaces": {
        "feature": "is_consolidation", "weight": 1.0, "scale": {"kind": "buckets", "points": [[1, 100]]},
        "reason": "{workspace_count:.0f} {workspace_count:workspace|workspaces} of one company",
    }})
    scored = score_accounts(features({"is_consolidation": True, "workspace_count": 3}), model)
    assert scored.loc[0, "reasons"] == "3 workspaces of one company (+100)"
    invites = score_accounts(features({"invites_28d": 1}), PQA).loc[0, "reasons"]
    assert invites == "invited 1 teammate (+4)"
