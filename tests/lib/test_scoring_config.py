import re

import pytest
import yaml

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import shipped_config
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
    assert list(config.models) == ["pqa", "expansion", "worked_example"]
    pqa, expansion, worked = config.models.values()
    assert [m.applies_to for m in (pqa, expansion, worked)] == ["prospects", "customers", "prospects"]
    tiers = {m.name: [(t.name, t.min_score) for t in m.tiers] for m in (pqa, worked)}
    assert tiers["pqa"] == [("sales", 80), ("success", 60), ("self_serve", 0)]
    assert pqa.pqa_threshold == 80  # defaults to the top tier
    assert tiers["worked_example"] == [("sales", 70), ("success", 50), ("self_serve", 0)]
    assert worked.pqa_threshold == 70
    assert all(re.fullmatch(r"[0-9a-f]{12}", m.version) for m in config.models.values())
    assert len({m.version for m in config.models.values()}) == 3


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
