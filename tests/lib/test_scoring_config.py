import re

import pandas as pd
import pytest
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.lib.scoring import score_all
from pls_pipelines.lib.scoring_config import load_scoring_config, render_reason

SHIPPED_TEXT = shipped_config("scoring_models.yaml").read_text(encoding="utf-8")

MINIMAL = """\
version: 1
models:
  pqa:
    applies_to: prospects
    components:
      team_size:
        feature: active_users_28d
        weight: 0.6
        scale: {kind: buckets, points: [[1, 10], [7, 100]]}
        reason: "{value:.0f} active users"
      usage_volume:
        feature: events_28d
        weight: 0.4
        scale: {kind: log, max: 3000}
        reason: "{value:,.0f} events"
    tiers:
      - {name: sales, min_score: 80}
      - {name: success, min_score: 60}
      - {name: self_serve, min_score: 0}
"""


def load_text(tmp_path, text: str):
    path = tmp_path / "scoring_models.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scoring_config(path)


def config_error(tmp_path, old: str, new: str) -> str:
    assert old in MINIMAL
    with pytest.raises(ConfigError) as raised:
        load_text(tmp_path, MINIMAL.replace(old, new, 1))
    return str(raised.value)


def test_the_shipped_models_load_with_their_documented_settings():
    config = load_scoring_config()
    assert config.path.name == "scoring_models.yaml"
    assert list(config.models) == ["pqa", "expansion", "churn_risk", "worked_example"]
    assert config.primary_models == ("pqa", "expansion")
    pqa, expansion, churn, worked = config.models.values()
    assert [m.applies_to for m in (pqa, expansion, churn, worked)] == ["prospects", "customers", "customers",
                                                                      "prospects"]
    assert [(t.name, t.min_score) for t in churn.tiers] == [("at_risk", 70), ("watch", 40), ("healthy", 0)]
    tiers = {m.name: [(t.name, t.min_score) for t in m.tiers] for m in (pqa, worked)}
    assert tiers["pqa"] == [("sales", 80), ("success", 60), ("self_serve", 0)]
    assert pqa.pqa_threshold == 80  # defaults to the top tier
    assert tiers["worked_example"] == [("sales", 70), ("success", 50), ("self_serve", 0)]
    assert worked.pqa_threshold == 70
    assert all(re.fullmatch(r"[0-9a-f]{12}", m.version) for m in config.models.values())
    assert len({m.version for m in config.models.values()}) == 4
    enterprise = pqa.rules_for("enterprise")
    assert (enterprise.tiers[0].min_score, enterprise.pqa_threshold, enterprise.weights["team_size"]) == (70, 70, 0.25)
    assert pqa.rules_for("smb") == pqa.rules_for(None) == pqa.base_rules  # no smb overrides


def test_a_minimal_model_gets_defaults_for_what_it_leaves_out(tmp_path):
    model = load_text(tmp_path, MINIMAL).models["pqa"]
    team_size = model.components[0]
    assert (team_size.direction, team_size.columns, team_size.missing_reason) == (
        "positive", ("active_users_28d",), "no data for team size"
    )
    assert model.pqa_threshold == 80


# --- model version ----------------------------------------------------------------------------------------


def test_the_model_version_changes_when_a_rule_changes(tmp_path):
    before = load_scoring_config().models
    moved = SHIPPED_TEXT.replace("weight: 0.30", "weight: 0.25", 1).replace("weight: 0.20", "weight: 0.25", 1)
    after = load_text(tmp_path, moved).models
    assert after["pqa"].version != before["pqa"].version
    assert after["worked_example"].version == before["worked_example"].version  # other models untouched


def test_the_model_version_ignores_comments_spacing_descriptions_and_number_spelling(tmp_path):
    before = {name: m.version for name, m in load_scoring_config().models.items()}
    data = yaml.safe_load(SHIPPED_TEXT)
    data["models"]["pqa"]["description"] = "reworded by RevOps"
    data["models"]["pqa"]["components"]["team_size"]["weight"] = 0.300
    reformatted = "# a new comment\n" + yaml.safe_dump(data, default_flow_style=False, indent=4, width=200)
    assert {name: m.version for name, m in load_text(tmp_path, reformatted).models.items()} == before


# --- errors name the model, component, key and fix ------------------------------------------------------


def test_a_component_missing_its_weight(tmp_path):
    message = config_error(tmp_path, "        weight: 0.6\n", "")
    assert "line 6: models.pqa.components.team_size: missing 'weight' -- add e.g. weight: 0.3" in message


def test_a_misspelt_key_suggests_the_right_one(tmp_path):
    message = config_error(tmp_path, "weight: 0.6", "weigth: 0.6")
    assert "models.pqa.components.team_size.weigth: unknown key 'weigth' -- did you mean 'weight'?" in message


def test_an_unknown_top_level_key(tmp_path):
    message = config_error(tmp_path, "models:", "model:")
    assert "model: unknown key 'model' -- did you mean 'models'?" in message


def test_an_unknown_scale_kind_lists_the_kinds(tmp_path):
    message = config_error(tmp_path, "kind: log", "kind: exponential")
    assert "models.pqa.components.usage_volume.scale.kind: 'exponential' is not allowed here" in message
    assert "buckets, linear, log" in message


def test_weights_that_do_not_sum_to_1_name_the_model_and_the_sum(tmp_path):
    message = config_error(tmp_path, "weight: 0.4", "weight: 0.35")
    assert "models.pqa.components: the weights of scoring model 'pqa' sum to 0.950" in message
    assert "(team_size 0.6 + usage_volume 0.35)" in message and "sum to 1.0" in message


def test_weights_within_the_tolerance_are_accepted(tmp_path):
    assert load_text(tmp_path, MINIMAL.replace("weight: 0.4", "weight: 0.4009"))


def test_penalties_are_not_part_of_the_weight_sum(tmp_path):
    penalty = """      decline:
        feature: velocity_7d
        direction: negative
        weight: 0.2
        scale: {kind: linear, min: -0.2, max: -0.7}
        reason: "usage {value:+.0%}"
    tiers:"""
    model = load_text(tmp_path, MINIMAL.replace("    tiers:", penalty)).models["pqa"]
    assert [c.sign for c in model.components] == [1, 1, -1]


def test_tiers_out_of_order(tmp_path):
    message = config_error(tmp_path, "min_score: 60", "min_score: 85")
    assert "models.pqa.tiers[1].min_score (rule 'success'): " in message
    assert "tier 'success' starts at 85, not below 'sales' (80)" in message
    assert "highest min_score down" in message


def test_a_last_tier_above_0_leaves_scores_without_a_tier(tmp_path):
    message = config_error(tmp_path, "min_score: 0", "min_score: 20")
    assert "the last tier starts at 20, so scores 1-19 get no tier -- start the last tier at 0" in message


def test_a_feature_that_is_not_a_column_suggests_the_closest_and_lists_the_known_ones(tmp_path):
    message = config_error(tmp_path, "feature: active_users_28d", "feature: active_user_28d")
    assert "models.pqa.components.team_size.feature: 'active_user_28d' is not a column of the account " \
           "features table -- did you mean 'active_users_28d'?" in message
    assert "invites_28d" in message and "velocity_7d" in message  # the known columns are listed


def test_a_weighted_sum_of_features_is_checked_column_by_column(tmp_path):
    message = config_error(tmp_path, "feature: events_28d", "features: {events_28d: 1, event_7d: 2}")
    assert "models.pqa.components.usage_volume.features.event_7d: 'event_7d' is not a column" in message
    assert "did you mean 'events_7d'?" in message


def test_a_component_needs_exactly_one_of_feature_and_features(tmp_path):
    assert "team_size: missing 'feature' -- add e.g. feature: active_users_28d" in config_error(
        tmp_path, "        feature: active_users_28d\n", "")
    assert "has both 'feature' and 'features'" in config_error(
        tmp_path, "feature: active_users_28d", "feature: active_users_28d\n        features: {events_28d: 1}")


def test_buckets_must_reach_100_and_ascend(tmp_path):
    message = config_error(tmp_path, "[7, 100]", "[7, 70]")
    assert "team_size.scale.points: the best bucket gives 70 points, so this component can never reach 100" \
           in message
    message = config_error(tmp_path, "[[1, 10], [7, 100]]", "[[7, 10], [1, 100]]")
    assert "team_size.scale.points[1]: threshold 1 is not above the previous threshold 7" in message


def test_bucket_points_outside_0_100_are_refused(tmp_path):
    message = config_error(tmp_path, "[7, 100]", "[7, 150]")
    assert "team_size.scale.points[1][1]" in message and "150" in message


def test_linear_scale_needs_distinct_min_and_max(tmp_path):
    message = config_error(tmp_path, "{kind: log, max: 3000}", "{kind: linear, min: 5, max: 5}")
    assert "usage_volume.scale.max: min and max are both 5" in message


def test_a_scale_key_of_another_kind_is_refused(tmp_path):
    message = config_error(tmp_path, "{kind: log, max: 3000}", "{kind: log, min: 1, max: 3000}")
    assert "usage_volume.scale.min: unknown key 'min'" in message


def test_a_weight_must_be_above_0(tmp_path):
    message = config_error(tmp_path, "weight: 0.4", "weight: 0")
    assert "models.pqa.components.usage_volume.weight" in message and "above 0" in message


def test_reason_templates_are_checked_when_loading(tmp_path):
    message = config_error(tmp_path, "{value:.0f} active users", "{valeu:.0f} active users")
    assert "team_size.reason: unknown placeholder {valeu} in the reason -- did you mean 'value'?" in message
    message = config_error(tmp_path, "{value:.0f} active users", "{value:d} active users")
    assert "team_size.reason: the reason does not render for a number" in message


def test_a_duplicated_component_is_refused_instead_of_silently_replacing_the_first(tmp_path):
    with pytest.raises(ConfigError, match="duplicate key 'team_size'"):
        load_text(tmp_path, MINIMAL.replace("      usage_volume:", "      team_size:"))


def test_every_problem_the_schema_finds_is_reported_at_once(tmp_path):
    message = config_error(tmp_path, "applies_to: prospects", "applies_to: prospect\n    pqa_treshold: 70")
    assert "2 problems" in message
    assert "did you mean 'prospects'?" in message and "did you mean 'pqa_threshold'?" in message


def test_asking_for_a_model_that_does_not_exist_suggests_one():
    with pytest.raises(ConfigError, match=r"no scoring model 'pqs' -- did you mean 'pqa'\?"):
        load_scoring_config().model("pqs")


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_scoring_config(tmp_path / "nope.yaml")


# --- reason templates -------------------------------------------------------------------------------------


def test_reason_templates_format_numbers_and_pick_singular_or_plural():
    template = "invited {value:.0f} {value:teammate|teammates}, usage {velocity_7d:+.0%}"
    assert render_reason(template, {"value": 1.0, "velocity_7d": -0.35}) == "invited 1 teammate, usage -35%"
    assert render_reason(template, {"value": 4.0, "velocity_7d": 0.5}) == "invited 4 teammates, usage +50%"
    assert render_reason("{value:,.0f} events", {"value": 12345.0}) == "12,345 events"
    # a quoted column with no value never shows "nan" to a seller
    assert render_reason("{workspace_count:.0f} workspaces", {"workspace_count": float("nan")}) == "? workspaces"


# --- segments, decay, primary models, custom columns ------------------------------------------------------

SEGMENT = """    segments:
      enterprise:
        weights: {team_size: 0.7, usage_volume: 0.3}
        tiers: {sales: 70, success: 50}
"""


def with_segment(text: str = SEGMENT) -> str:
    return MINIMAL + text


def test_a_segment_override_changes_only_what_it_lists(tmp_path):
    model = load_text(tmp_path, with_segment()).models["pqa"]
    enterprise = model.rules_for("enterprise")
    assert enterprise.weights == {"team_size": 0.7, "usage_volume": 0.3}
    assert [(t.name, t.min_score) for t in enterprise.tiers] == [("sales", 70), ("success", 50), ("self_serve", 0)]
    assert enterprise.pqa_threshold == 70
    assert model.rules_for("smb") == model.base_rules and model.base_rules.pqa_threshold == 80
    assert model.version != load_text(tmp_path, MINIMAL).models["pqa"].version


def test_segment_weights_must_still_sum_to_1(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_text(tmp_path, with_segment(SEGMENT.replace("usage_volume: 0.3", "usage_volume: 0.2")))
    assert "models.pqa.segments.enterprise.weights: the weights of scoring model 'pqa' for segment " \
           "'enterprise' sum to 0.900 (team_size 0.7 + usage_volume 0.2)" in str(raised.value)


def test_a_segment_override_naming_an_unknown_component_or_tier_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError, match=r"segments.enterprise.weights.team_sise: 'team_sise' is not a component "
                                          r"of this model -- did you mean 'team_size'\?"):
        load_text(tmp_path, with_segment(SEGMENT.replace("team_size: 0.7", "team_sise: 0.7")))
    with pytest.raises(ConfigError, match=r"segments.enterprise.tiers.sale: 'sale' is not a tier of this model "
                                          r"-- did you mean 'sales'\?"):
        load_text(tmp_path, with_segment(SEGMENT.replace("sales: 70", "sale: 70")))


def test_segment_tiers_must_still_descend(tmp_path):
    with pytest.raises(ConfigError, match=r"segments.enterprise.tiers.success: tier 'success' starts at 75, "
                                          r"not below 'sales' \(70\)"):
        load_text(tmp_path, with_segment(SEGMENT.replace("success: 50", "success: 75")))


def test_segments_are_checked_against_the_routing_segments_when_given(tmp_path):
    path = tmp_path / "scoring_models.yaml"
    path.write_text(with_segment(SEGMENT.replace("enterprise:", "enterprize:")), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"segments.enterprize: 'enterprize' is not a segment of "
                                          r"config/routing.yaml -- did you mean 'enterprise'\?"):
        load_scoring_config(path, segments=["smb", "mid_market", "enterprise"])


def test_decay_needs_a_known_age_column_and_a_positive_half_life(tmp_path):
    decay = '        reason: "{value:,.0f} events"\n        decay: {age: days_since_last_invte, half_life_days: 7}\n'
    with pytest.raises(ConfigError, match=r"usage_volume.decay.age: 'days_since_last_invte' is not a column .* "
                                          r"did you mean 'days_since_last_invite'\?"):
        load_text(tmp_path, MINIMAL.replace('        reason: "{value:,.0f} events"\n', decay))
    with pytest.raises(ConfigError, match=r"usage_volume.decay.half_life_days"):
        load_text(tmp_path, MINIMAL.replace('        reason: "{value:,.0f} events"\n',
                                            decay.replace("invte", "invite").replace(": 7}", ": 0}")))


def test_primary_models_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"primary_models\[1\]: there is no model 'expansoin' -- use one of: pqa"):
        load_text(tmp_path, MINIMAL.replace("models:", "primary_models: [pqa, expansoin]\nmodels:"))
    assert load_text(tmp_path, MINIMAL).primary_models == ("pqa",)  # default: the first model


def test_custom_columns_let_a_model_read_a_teams_own_features(tmp_path):
    text = MINIMAL.replace("models:", "custom_columns: [seats_purchased]\nmodels:").replace(
        "feature: events_28d", "feature: seats_purchased")
    config = load_text(tmp_path, text)
    assert config.custom_columns == ("seats_purchased",)
    assert config.models["pqa"].components[1].columns == ("seats_purchased",)
    message = config_error(tmp_path, "feature: events_28d", "feature: seats_purchased")
    assert "'seats_purchased' is not a column" in message and "custom_columns" in message


def test_the_reasons_settings_reach_the_scorer_and_default_to_a_salesforce_text_field(tmp_path):
    assert load_text(tmp_path, MINIMAL).reason_options == {"reasons_max_chars": 255}
    config = load_text(tmp_path, MINIMAL.replace("models:", "reasons: {max_chars: 40, max_positive: 1}\nmodels:"))
    assert config.reason_options == {"reasons_max_chars": 40, "max_positive_reasons": 1}
    table = pd.DataFrame({"account_id": ["a"], "is_customer": [False], "active_users_28d": [9],
                          "events_28d": [5000]})
    reasons = score_all(table, config)[0].scores.loc[0, "reasons"]
    assert reasons == "9 active users (+60)"  # one positive driver, within 40 characters
    message = config_error(tmp_path, "models:", "reasons: {max_chars: 5}\nmodels:")
    assert "reasons.max_chars" in message
