import numpy as np
import pandas as pd
import pytest
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.scoring import (
    COMPONENT_COLUMNS,
    NO_SIGNAL_REASON,
    SCORE_COLUMNS,
    assign_tiers,
    decay_factors,
    primary_scores,
    required_columns,
    scale_points,
    score_accounts,
    score_all_models,
    score_model,
)
from pls_pipelines.lib.scoring_config import SCOREABLE_COLUMNS, Scale, load_scoring_config, render_reason

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


def components_of(result, account_id: str = "a1") -> dict:
    """{component: {"value", "points", "weight", "contribution"}} of one account, from the component table."""
    table = result.component_table()
    rows = table[table["account_id"] == account_id].set_index("component")
    return {name: {k: (None if pd.isna(v) else v) for k, v in row.items()}
            for name, row in rows[["value", "points", "weight", "contribution"]].iterrows()}


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


def maxed_out() -> dict:
    """Every signal as strong as it gets, today: huge counts and growth, the latest signals 0 days old."""
    return {column: 0 if column.startswith("days_since") else 1_000_000 for column in SCOREABLE_COLUMNS}


def test_an_account_maxing_every_signal_scores_100_in_every_shipped_readiness_model():
    # penalties read velocity too: huge growth maxes velocity and takes no penalty
    table = features(maxed_out() | {"is_customer": False}, maxed_out() | {"is_customer": True, "account_id": "c1"})
    scores = score_all_models(table, SHIPPED).set_index("model")
    readiness = ["expansion", "pqa", "worked_example"]
    assert scores.loc[readiness, "score"].tolist() == [100] * 3
    assert scores.loc[readiness, "tier"].tolist() == ["sales"] * 3
    # the risk model reads it the other way round: thriving is no risk, collapse and silence are the most
    assert scores.loc["churn_risk", ["score", "tier"]].tolist() == [1, "healthy"]
    collapse = {"usage_trend_28d": -0.9, "active_user_trend_28d": -0.8, "days_since_last_active": None,
                "features_used_28d": 0, "velocity_7d": -1.0, "is_customer": True}
    risk = score_accounts(features(collapse), SHIPPED.models["churn_risk"])
    assert risk.loc[0, ["score", "tier", "is_pqa"]].tolist() == [100, "at_risk", True]
    assert risk.loc[0, "reasons"] == ("usage -90% against the previous 28 days (+35); active users -80% against "
                                      "the previous 28 days (+25); no activity in 56 days (+20)")


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
    result = score_model(features({"events_28d": 50, "velocity_7d": -0.25}, {"events_28d": 5,
                                                                             "velocity_7d": -0.9}), model)
    assert result.scores["score"].tolist() == [40, 1]  # 50 - 0.2 * 50; 5 - 0.2 * 100 clipped
    assert components_of(result)["decline"] == {"value": -0.25, "points": 50, "weight": -0.2, "contribution": -10}


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
        ["c1", "churn_risk"], ["c1", "expansion"],
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
        "advanced_features_used_28d", "velocity_7d", "invites_28d", "days_since_last_invite",
        "enterprise_page_views_28d", "days_since_last_enterprise_page_view", "admin_changes_28d",
    ]
    assert "workspace_count" in required_columns(SHIPPED.models["expansion"])  # quoted by a reason


# --- components and reasons -------------------------------------------------------------------------------


def test_the_component_table_has_value_points_weight_and_contribution_per_component():
    result = score_model(features({"active_users_28d": 5, "events_28d": 3000, "velocity_7d": None}), PQA)
    assert list(result.component_table().columns) == COMPONENT_COLUMNS
    components = components_of(result)
    assert list(components) == sorted(c.name for c in PQA.components)
    assert components["team_size"] == {"value": 5, "points": 70, "weight": 0.3, "contribution": 21}
    assert components["usage_volume"] == {"value": 3000, "points": 100, "weight": 0.2, "contribution": 20}
    assert components["velocity"] == {"value": None, "points": 0, "weight": 0.1, "contribution": 0}
    assert result.scores.loc[0, "score"] == 41
    assert result.points_table().loc[0, "team_size"] == 70


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


def test_every_account_keeps_its_own_reasons_when_some_have_none():
    # regression: an Arrow join that skips nulls dropped accounts with no reasons and shifted the rest
    table = features({"active_users_28d": 9}, {}, {"invites_28d": 1}, {})
    reasons = score_accounts(table, PQA, max_missing_reasons=0)["reasons"].tolist()
    assert reasons == ["9 active users in 28 days (+30)", NO_SIGNAL_REASON, "invited 1 teammate (+4)",
                       NO_SIGNAL_REASON]


def test_vectorised_reasons_read_exactly_like_the_template_rendered_one_by_one(tmp_path):
    template = "{value:,.0f} {value:event|events}, {velocity_7d:+.0%} trend, {points:.1f} points"
    model = make_model(tmp_path, {"volume": {"feature": "events_28d", "weight": 1.0, "reason": template,
                                             "scale": {"kind": "log", "max": 5000}}})
    rng = np.random.default_rng(3)
    rows = [{"events_28d": int(e), "velocity_7d": float(v)}
            for e, v in zip(rng.integers(1, 20000, 200), rng.normal(0, 0.5, 200).round(3), strict=True)]
    result = score_model(features(*rows), model)
    by_account = {f"a{i}": row for i, row in enumerate(rows, start=1)}  # scores come sorted by account_id
    for (_, scored), points in zip(result.scores.iterrows(), result.points[:, 0], strict=True):
        row = by_account[scored["account_id"]]
        expected = render_reason(template, {"value": row["events_28d"], "velocity_7d": row["velocity_7d"],
                                            "points": points})
        assert scored["reasons"] == f"{expected} ({int(scored['score']):+d})"


# --- tier edges, time decay, segments ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "score", "tier", "is_pqa"), [
    (59.49, 59, "self_serve", False),
    (59.99, 60, "success", False),  # the CRM shows 60, so the tier must be success
    (60, 60, "success", False),
    (79.49, 79, "success", False),
    (79.99, 80, "sales", True),
    (80, 80, "sales", True),
])
def test_tier_edges_follow_the_rounded_score(tmp_path, raw, score, tier, is_pqa):
    model = make_model(tmp_path, {"signal": direct()})
    scored = score_accounts(features({"events_28d": raw}), model)
    assert scored.loc[0, ["score", "tier", "is_pqa"]].tolist() == [score, tier, is_pqa]


def test_decay_halves_the_points_every_half_life():
    assert decay_factors(np.array([0, 14, 28, 7, -3, np.nan]), 14).round(4).tolist() == [
        1.0, 0.5, 0.25, 0.7071, 1.0, 1.0  # negative ages (clock skew) and unknown ages do not decay
    ]


def test_a_decaying_signal_counts_less_as_it_gets_older(tmp_path):
    model = make_model(tmp_path, {"pages": direct(feature="enterprise_page_views_28d") | {
        "decay": {"age": "days_since_last_enterprise_page_view", "half_life_days": 10}}})
    table = features(*({"enterprise_page_views_28d": 80, "days_since_last_enterprise_page_view": d}
                       for d in (0, 10, 20)))
    assert score_accounts(table, model)["score"].tolist() == [80, 40, 20]
    assert "days_since_last_enterprise_page_view" in required_columns(model)


def test_missing_points_let_a_risk_model_count_no_data_as_the_worst(tmp_path):
    model = make_model(tmp_path, {"quiet": direct(feature="days_since_last_active") | {
        "missing_points": 100, "missing_reason": "nobody active in 56 days"}})
    scored = score_accounts(features({"days_since_last_active": None}, {"days_since_last_active": 30}), model)
    assert scored["score"].tolist() == [100, 30]
    assert scored.loc[0, "reasons"] == "nobody active in 56 days (+100)"


SEGMENTED = {"team": direct(0.5, "active_users_28d"), "volume": direct(0.5, "events_28d")}


def test_segment_overrides_change_weights_and_thresholds_only_for_that_segment(tmp_path):
    model = make_model(tmp_path, SEGMENTED, segments={
        "enterprise": {"weights": {"team": 0.8, "volume": 0.2}, "tiers": {"sales": 70, "success": 50}}})
    account = {"active_users_28d": 90, "events_28d": 50}
    table = features(account | {"segment": "smb"}, account | {"segment": "enterprise"}, account | {"segment": None})
    scored = score_accounts(table, model)
    assert scored["score"].tolist() == [70, 82, 70]  # 0.5*90 + 0.5*50; 0.8*90 + 0.2*50
    assert scored["tier"].tolist() == ["success", "sales", "success"]
    assert scored["is_pqa"].tolist() == [False, True, False]  # the segment's threshold follows its top tier
    assert scored["segment"].tolist()[:2] == ["smb", "enterprise"] and pd.isna(scored.loc[2, "segment"])
    assert scored.loc[1, "reasons"].startswith("90.0 points of active_users_28d (+72)")


def test_a_segment_override_may_set_its_own_pqa_threshold(tmp_path):
    model = make_model(tmp_path, SEGMENTED, segments={"smb": {"pqa_threshold": 95}})
    scored = score_accounts(features({"events_28d": 100, "active_users_28d": 100, "segment": "smb"}), model)
    assert scored.loc[0, ["score", "tier", "is_pqa"]].tolist() == [100, "sales", True]
    scored = score_accounts(features({"events_28d": 90, "active_users_28d": 90, "segment": "smb"}), model)
    assert scored.loc[0, ["tier", "is_pqa"]].tolist() == ["sales", False]


def test_primary_scores_take_the_first_primary_model_that_scored_each_account():
    scores = pd.DataFrame({"account_id": ["a", "a", "a", "b", "b", "c"],
                           "model": ["worked_example", "pqa", "churn_risk", "churn_risk", "expansion",
                                     "worked_example"]})
    primary = primary_scores(scores, ("pqa", "expansion"))
    assert primary.set_index("account_id")["model"].to_dict() == {"a": "pqa", "b": "expansion"}
