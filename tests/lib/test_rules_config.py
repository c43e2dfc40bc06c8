"""The shared YAML + JSON Schema loader: every failure names the file, line, key path and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import (
    closest_match,
    config_error,
    did_you_mean,
    format_key_path,
    load_yaml_config,
    require_unique_names,
)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["models"],
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "weight"],
                "properties": {
                    "name": {"type": "string"},
                    "weight": {"type": "number", "examples": [0.3]},
                    "motion": {"enum": ["sales", "success", "abm"]},
                    "points": {"type": "integer"},
                },
            },
        },
    },
}


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    path = tmp_path / "models.schema.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, schema: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_yaml_config(path, schema)
    return str(err.value)


def test_valid_file_returns_its_mapping_in_order(tmp_path, schema):
    path = write(tmp_path, "models:\n  - {name: b, weight: 1}\n  - {name: a, weight: 0.5, motion: abm}\n")
    assert load_yaml_config(path, schema) == {
        "models": [{"name": "b", "weight": 1}, {"name": "a", "weight": 0.5, "motion": "abm"}]
    }


def test_missing_key_says_what_to_add_with_an_example(tmp_path, schema):
    path = write(tmp_path, "models:\n  - name: pqa\n    points: 3\n")
    assert load_error(path, schema) == (
        f"{path}, line 2: models[0] (rule 'pqa'): missing 'weight' -- add e.g. weight: 0.3"
    )


def test_unknown_key_points_at_its_line_and_suggests_the_closest(tmp_path, schema):
    path = write(tmp_path, "models:\n  - name: pqa\n    weight: 1\n    wieght: 2\n")
    message = load_error(path, schema)
    assert message.startswith(f"{path}, line 4: models[0].wieght (rule 'pqa'): unknown key 'wieght'")
    assert "did you mean 'weight'?" in message


def test_enum_typo_suggests_the_allowed_value(tmp_path, schema):
    path = write(tmp_path, "models:\n  - {name: pqa, weight: 1, motion: salse}\n")
    message = load_error(path, schema)
    assert "models[0].motion (rule 'pqa'): 'salse' is not allowed here -- did you mean 'sales'?" in message
    assert "(allowed: abm, sales, success)" in message


def test_wrong_type_says_what_to_write(tmp_path, schema):
    path = write(tmp_path, "models:\n  - {name: pqa, weight: heavy}\n")
    assert "models[0].weight (rule 'pqa'): expected a number, got a string 'heavy' -- write a number" in (
        load_error(path, schema)
    )


def test_all_problems_are_reported_at_once(tmp_path, schema):
    path = write(tmp_path, "models:\n  - {name: a}\n  - {name: b, weight: 1, points: 1.5}\nextra: 1\n")
    message = load_error(path, schema)
    assert message.splitlines()[0] == f"{path}: 3 problems"
    assert "missing 'weight'" in message and "points" in message and "unknown key 'extra'" in message


def test_missing_file(tmp_path, schema):
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found -- check the path"):
        load_yaml_config(tmp_path / "nope.yaml", schema)


def test_broken_yaml_names_line_and_column(tmp_path, schema):
    path = write(tmp_path, "models:\n  - name: a\n   weight: 1\n")
    assert f"{path}: not valid YAML: line 3, column" in load_error(path, schema)


def test_duplicate_keys_are_refused_instead_of_silently_dropped(tmp_path, schema):
    path = write(tmp_path, "models: []\nmodels:\n  - {name: a, weight: 1}\n")
    message = load_error(path, schema)
    assert "duplicate key 'models' (first on line 1)" in message and "line 2" in message


def test_top_level_must_be_a_mapping(tmp_path, schema):
    path = write(tmp_path, "- a\n- b\n")
    assert load_error(path, schema) == f"{path}: expected a mapping of settings at the top level, got a list"


def test_shipped_schema_by_file_name_or_stem(tmp_path):
    path = write(tmp_path, "segments: {smb: 0}\nrules: [{name: d, when: {}, motion: sales, reason: x}]\n")
    assert load_yaml_config(path, "routing.schema.json") == load_yaml_config(path, "routing")


def test_config_error_for_checks_beyond_the_schema(tmp_path):
    path = write(tmp_path, "models:\n  - name: a\n    weight: 2\n")
    data = {"models": [{"name": "a", "weight": 2}]}
    error = config_error(path, data, ["models", 0, "weight"], "weights add up to 2", "make them add up to 1")
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"{path}, line 3: models[0].weight (rule 'a'): weights add up to 2 -- make them add up to 1"
    )


def test_unique_names(tmp_path):
    path = write(tmp_path, "models:\n  - name: a\n  - name: a\n")
    data = {"models": [{"name": "a"}, {"name": "a"}]}
    names = ((["models", i, "name"], m["name"]) for i, m in enumerate(data["models"]))
    with pytest.raises(ConfigError, match=r"line 3: models\[1\]\.name \(rule 'a'\): the name 'a' is already"):
        require_unique_names(path, data, names)


def test_helpers():
    assert format_key_path(["rules", 2, "when", "any_of", 0]) == "rules[2].when.any_of[0]"
    assert format_key_path([]) == "(top level)"
    assert closest_match("trend_belo", ["trend_below", "trend_at_least"]) == "trend_below"
    assert closest_match("zzz", ["sales"]) is None
    assert did_you_mean("zzz", ["b", "a"]) == "use one of: a, b"
