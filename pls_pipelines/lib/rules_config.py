"""Load a RevOps-owned YAML file and validate it against its JSON Schema, with errors a person can act on.

Every rule file under pls_pipelines/config/ goes through `load_yaml_config`, so they all fail the same way:
the message names the file, the line, the key path (`rules[2].when.usage_trend_belo`) and the fix
(`did you mean 'usage_trend_below'?`). A raw jsonschema traceback in a failed scheduled run tells a data
engineer nothing; this does. Loaders that check more than a schema can (a regex compiles, thresholds
ascend) raise through `config_error` so their messages look the same.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from pls_pipelines.lib.errors import ConfigError

CONFIG_PACKAGE = "pls_pipelines.config"
SCHEMA_SUFFIX = ".schema.json"
MAX_REPORTED_ERRORS = 10

KeyPath = Sequence[str | int]


def shipped_config(file_name: str) -> Path:
    """Path of a default rule file shipped in pls_pipelines/config/ (used when no override is configured)."""
    return Path(str(resources.files(CONFIG_PACKAGE).joinpath(file_name)))


def load_yaml_config(path: Path | str, schema_name: str | Path) -> dict:
    """Read `path`, check it against config/<schema_name> and return the parsed mapping.

    `schema_name` is a schema file name in pls_pipelines/config/ ("routing.schema.json"; the stem "routing"
    works too) or a Path to a schema file elsewhere.
    Raises ConfigError for a missing file, invalid YAML, a duplicated key or any schema violation - all of
    them in one message, so a user fixes the file in one go.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found -- check the path in your settings, or unset it for the shipped default"
        ) from None
    except UnicodeDecodeError as exc:  # was a bare UnicodeDecodeError (a file saved as Latin-1, or not text)
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}) -- save the file as UTF-8"
        ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:  # PyYAML's parser recurses per nesting level: "[[[[..." thousands deep
        raise ConfigError(f"{path}: not valid YAML: nested too deeply -- check the brackets") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {_kind(data)}")
    for keys, value in _non_finite_numbers(data):
        raise ConfigError(_format(path, data, text, keys, f"{_yaml_inline(value)} is not a number",
                                  "write a finite number"))

    errors = list(_validator(schema_name).iter_errors(data))
    if not errors:
        return data
    described = sorted(_describe(path, data, text, _most_specific(e)) for e in errors)  # in file order
    lines = [message for _, message in described[:MAX_REPORTED_ERRORS]]
    if len(errors) > MAX_REPORTED_ERRORS:
        lines.append(f"... and {len(errors) - MAX_REPORTED_ERRORS} more problems")
    if len(lines) == 1:
        raise ConfigError(lines[0])
    raise ConfigError(f"{path}: {len(errors)} problems\n" + "\n".join(f"  - {line}" for line in lines))


def _non_finite_numbers(node: Any, keys: tuple = ()) -> Iterable[tuple[list, float]]:
    """(key path, value) of every .nan / .inf in a parsed file. YAML has them, JSON Schema cannot refuse them
    (a "number" is any float), and the loaders' checks let them through: a weight of .nan passed the
    weights-sum-to-1 check (NaN compares false) and made every score NaN."""
    if isinstance(node, float) and not math.isfinite(node):
        yield list(keys), node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _non_finite_numbers(child, (*keys, key))


def config_error(path: Path | str, data: Any, keys: KeyPath, problem: str, fix: str) -> ConfigError:
    """A ConfigError for a check beyond the schema, worded like the schema errors (file, line, key, fix).

    `data` is the parsed file (to name the rule a key belongs to); the line is looked up only now, on the
    error path, so loading a valid file never re-reads it.
    """
    text = _read_quietly(Path(path))
    return ConfigError(_format(Path(path), data, text, list(keys), problem, fix))


def require_unique_names(path: Path | str, data: Any, named: Iterable[tuple[KeyPath, str]]) -> None:
    """Rule names must be unique: results and explanations refer to rules by name."""
    seen: dict[str, str] = {}
    for keys, name in named:
        if name in seen:
            raise config_error(path, data, keys, f"the name '{name}' is already used at {seen[name]}",
                               "give every rule its own name")
        seen[name] = format_key_path(keys)


def closest_match(word: str, choices: Iterable[str]) -> str | None:
    """The allowed value a typo most likely meant ("salse" -> "sales"), or None when nothing is close."""
    matches = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' -- did you mean 'x'?' style hint plus the allowed values, for fix texts."""
    choices = sorted(set(choices))
    guess = closest_match(word, choices)
    allowed = ", ".join(choices)
    return f"did you mean '{guess}'? (allowed: {allowed})" if guess else f"use one of: {allowed}"


def format_key_path(keys: KeyPath) -> str:
    """['rules', 2, 'when'] -> 'rules[2].when' (how users see the key in their editor)."""
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"


# --- schema errors -> plain words ---------------------------------------------------------------------


@cache
def _validator(schema_name: str | Path) -> jsonschema.protocols.Validator:
    if isinstance(schema_name, Path):
        schema_file = schema_name
    else:
        schema_file = shipped_config(schema_name.removesuffix(SCHEMA_SUFFIX) + SCHEMA_SUFFIX)
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _most_specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For anyOf/oneOf failures, the branch error that explains most (jsonschema's own relevance)."""
    if error.context:
        return _most_specific(jsonschema.exceptions.best_match(error.context))
    return error


def _describe(path: Path, data: Any, text: str, error: jsonschema.ValidationError) -> tuple[int, str]:
    """(line, message) of one schema error."""
    keys = list(error.absolute_path)
    if error.validator == "additionalProperties":
        # point at the offending key itself (its line), not at the mapping that contains it
        keys += [k for k in error.instance if k not in error.schema.get("properties", {})][:1]
    problem, fix = _problem_and_fix(error)
    return _line_of(text, keys) or 0, _format(path, data, text, keys, problem, fix)


def _problem_and_fix(error: jsonschema.ValidationError) -> tuple[str, str]:
    schema, value, kind = error.schema, error.instance, error.validator
    hint = f" ({schema['description']})" if isinstance(schema, dict) and schema.get("description") else ""
    if kind == "required":
        missing = [p for p in error.validator_value if p not in value]
        name = missing[0] if missing else "?"
        prop = schema.get("properties", {}).get(name, {})
        example = (prop.get("examples") or [None])[0]
        if example is not None:
            return f"missing '{name}'", f"add e.g. {name}: {_yaml_inline(example)}"
        what = f" ({prop['description']})" if prop.get("description") else ""
        return f"missing '{name}'", f"add {name}{what}"
    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extra = [k for k in value if k not in allowed]
        name = str(extra[0]) if extra else "?"
        if not allowed:
            return f"unknown key '{name}'", "remove it"
        return f"unknown key '{name}'", did_you_mean(name, allowed)
    if kind == "enum":
        allowed = [str(v) for v in schema["enum"]]
        return f"{_show(value)} is not allowed here", did_you_mean(str(value), allowed)
    if kind == "const":
        return f"{_show(value)} is not allowed here", f"use {_yaml_inline(schema['const'])}"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {_article(expected)}, got {_kind(value)} {_show(value)}", (
            f"write {_article(expected)}{hint}"
        )
    if kind == "propertyNames":
        return f"the key {_show(value)} is not a valid name", f"rename it{hint}"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return error.message, f"use a value in range{hint}"
    if kind in ("minItems", "minProperties"):
        return "must not be empty", f"add at least {error.validator_value}{hint}"
    if kind == "pattern":
        return f"{_show(value)} does not have the expected form", (
            f"match the pattern {error.validator_value}{hint}"
        )
    return error.message, f"see the comments in the shipped default file{hint}"


def _format(path: Path, data: Any, text: str, keys: list, problem: str, fix: str) -> str:
    line = _line_of(text, keys)
    where = f"{path}, line {line}" if line else str(path)
    named = _rule_name(data, keys)
    label = format_key_path(keys) + (f" (rule '{named}')" if named else "")
    return f"{where}: {label}: {problem} -- {fix}"


def _rule_name(data: Any, keys: list) -> str | None:
    """The `name:` of the innermost list item on the key path: users know their rules by name, not index."""
    node, name = data, None
    for key in keys:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(key, int) and isinstance(node, dict) and isinstance(node.get("name"), str):
            name = node["name"]
    return name


def _line_of(text: str, keys: list) -> int | None:
    """1-based line of the deepest key on the path that exists in the file (None if unparseable)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key in keys:
        if node is None:
            break
        line = node.start_mark.line + 1
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(key):
                    child, line = value_node, key_node.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
            line = child.start_mark.line + 1
        node = child
    return line


def _read_quietly(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _show(value: Any) -> str:
    """A value as the user wrote it, strings quoted so a stray space or empty string is visible."""
    text = f"'{value}'" if isinstance(value, str) else _yaml_inline(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _yaml_inline(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", int: "a number",
             float: "a number", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _article(word: str) -> str:
    friendly = {"object": "mapping", "array": "list", "integer": "whole number", "null": "nothing"}
    word = " or ".join(friendly.get(w, w) for w in word.split(" or "))
    if word == "boolean":
        return "true or false"
    return ("an " if word[0] in "aeiou" else "a ") + word


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    if " -- " in problem:  # our own messages (duplicate keys) already carry the fix
        return f"{where}{problem}"
    return f"{where}{problem} -- check indentation and quoting there (quote values containing ': ' or '#')"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: PyYAML would silently keep the last one and drop a rule."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:  # "? [a, b]": `key in seen` raised a bare TypeError before PyYAML could say this
            raise yaml.constructor.ConstructorError(
                None, None, "a list or mapping used as a key -- keys are plain names", key_node.start_mark,
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key '{key}' (first on line {seen[key]}) -- each key may appear once; merge them",
                key_node.start_mark,
            )
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _checked_scalar(construct: Any, what: str) -> Any:
    """A PyYAML scalar constructor whose ValueError becomes a YAML error with the line: it raised a bare
    ValueError for a date that does not exist (2026-02-30) or a number of more than 4,300 digits."""

    def constructor(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except ValueError as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"'{shown}' is not {what} ({exc}) -- fix it, or quote it if it is text",
                node.start_mark,
            ) from None

    return constructor


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _checked_scalar(yaml.SafeLoader.construct_yaml_timestamp, "a date")
)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _checked_scalar(yaml.SafeLoader.construct_yaml_int, "a number"))
