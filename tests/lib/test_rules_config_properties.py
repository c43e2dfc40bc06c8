"""Properties of the RevOps-owned YAML files: any edit either loads or fails with a ConfigError naming the key.

RevOps edit these files by hand, so the failure that matters is the one they will make: a deleted key, a
number where a list was, a negative threshold, a pasted paragraph, a null, a typo'd or unknown key, a value
nested one level too deep. Starting from each shipped file, one such edit at a random place either still loads
or raises ConfigError whose message names the edited key (or the key above it) - never a KeyError, TypeError,
ValueError or AttributeError traceback from deep inside a loader. Text that is not YAML at all, or not UTF-8,
is a ConfigError too.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.lib.crm_fields import load_crm_fields
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.identity import load_identity_overrides
from pls_pipelines.lib.personas import load_persona_rules
from pls_pipelines.lib.routing import load_routing_rules
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.lib.scoring_config import load_scoring_config
from pls_pipelines.lib.titles import load_title_rules
from tests.hypothesis_settings import ANY_TEXT, NASTY_TEXT, SLOW

SEGMENTS = load_routing_rules().segments
LOADERS: dict[str, Callable[[Path], Any]] = {
    "scoring_models.yaml": lambda path: load_scoring_config(path, segments=SEGMENTS),
    "personas.yaml": load_persona_rules,
    "routing.yaml": load_routing_rules,
    "crm_fields.yaml": load_crm_fields,
    "product_events.yaml": load_event_catalog,
    "identity_overrides.example.yaml": load_identity_overrides,
}
EVERY_LOADER: tuple[Callable[[Path], Any], ...] = (*LOADERS.values(), load_title_rules)

Path_ = tuple[str | int, ...]


def paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every key and list position in a parsed YAML document, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def numbers(node: Any) -> Iterator[float]:
    """Every float in a parsed YAML document."""
    if isinstance(node, float):
        yield node
    for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
        yield from numbers(child)


def parent_of(data: Any, path: Path_) -> Any:
    node = data
    for key in path[:-1]:
        node = node[key]
    return node


# Values a person might leave in the wrong place: wrong types, signs and sizes, text of any kind, nothing.
WRONG_VALUES = st.one_of(
    st.sampled_from([
        None, True, False, 0, -1, -1_000_000, 10**30, 1.5, -0.5, math.nan, math.inf, -math.inf, "", " ", "{",
        "}{", "{value", "{nope}", "[a-z", "(?P<", [], {}, [1, 2], {"x": 1}, [[1]], [None], {"": None},
        date(2026, 2, 1),
    ]),
    NASTY_TEXT,
    st.integers(),
    st.lists(ANY_TEXT, max_size=3),
)


@dataclass(frozen=True)
class Edit:
    """One edit of a parsed file: what was done where, and the keys an error about it may name."""

    kind: str
    path: Path_
    names: frozenset[str]


def nearest_keys(path: Path_, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The edited key (when it is a name, not a list position) and the nearest name above it."""
    names = [str(k) for k in path if isinstance(k, str)]
    own = [str(path[-1])] if path and isinstance(path[-1], str) else []
    above = names[-2:-1] if own else names[-1:]
    return frozenset([*own, *above, *extra])


@st.composite
def edits(draw: st.DrawFn, data: dict) -> tuple[dict, Edit]:
    """The document with one edit applied at a random place."""
    data = copy.deepcopy(data)
    path = draw(st.sampled_from(list(paths(data))))
    parent, key = parent_of(data, path), path[-1]
    kind = draw(st.sampled_from(["delete", "replace", "replace", "add_key", "wrap_list", "wrap_dict", "rename"]))
    extra: tuple[str, ...] = ()
    if kind == "delete":
        del parent[key]
    elif kind == "replace":
        parent[key] = draw(WRONG_VALUES)
    elif kind == "wrap_list":
        parent[key] = [parent[key]]
    elif kind == "wrap_dict":  # nested one level too deep, under its own name or another one
        inner = draw(st.sampled_from([str(key), "value", "items"]))
        parent[key] = {inner: parent[key]}
        extra = (inner,)
    elif kind == "add_key" and (isinstance(parent[key], dict) or isinstance(parent, dict)):
        target = parent[key] if isinstance(parent[key], dict) else parent
        new_key = draw(st.one_of(st.sampled_from(["extra", "weigth", "Name", "mode "]), NASTY_TEXT))
        target[new_key] = draw(WRONG_VALUES)
        path = (*path, new_key) if target is not parent else (*path[:-1], new_key)
        extra = (new_key,)
    elif kind == "add_key":  # an item of a list of plain values: nowhere to add a key, so replace it
        parent[key] = draw(WRONG_VALUES)
    elif kind == "rename" and isinstance(parent, dict):
        new_key = draw(st.one_of(st.just(f"{key}x"), st.just(str(key).upper()), NASTY_TEXT))
        parent[new_key] = parent.pop(key)
        extra = (new_key,)
    else:  # rename a list position: swap it with its neighbour instead
        other = (key + 1) % len(parent)
        parent[key], parent[other] = parent[other], parent[key]
    return data, Edit(kind, path, nearest_keys(path, extra))


def shipped(name: str) -> dict:
    return yaml.safe_load(shipped_config(name).read_text(encoding="utf-8"))


def load_edited(name: str, data: Any) -> tuple[str | None, Path]:
    """Write `data` as the file and load it: None when it loads, else the ConfigError's message."""
    with tempfile.TemporaryDirectory(prefix="pls-yaml-") as folder:
        path = Path(folder) / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        try:
            LOADERS[name](path)
        except ConfigError as exc:
            return str(exc), path
        return None, path


@pytest.mark.parametrize("name", sorted(LOADERS))
@SLOW
@given(data=st.data())
def test_one_edit_loads_or_fails_naming_the_key(name: str, data: st.DataObject) -> None:
    edited, edit = data.draw(edits(shipped(name)), label="edit")
    message, path = load_edited(name, edited)
    if message is None:  # loaded: then the edit left only numbers a rule can compute with
        assert all(math.isfinite(v) for v in numbers(edited)), f"{edit} loaded with a .nan or .inf"
        return
    assert path.name in message  # the file ...
    assert any(key in message for key in edit.names), f"{edit}: {message}"  # ... and the key


def _mutated(name: str, path: Path_, value: Any) -> dict:
    data = shipped(name)
    parent_of(data, path)[path[-1]] = value
    return data


# Found by the properties above; each raised a bare exception from inside a loader before the fix.
REGRESSIONS = [
    ("routing.yaml", ("rules", 0, "reason"), "{"),  # ValueError from string.Formatter
    ("personas.yaml", ("signals", "invited_teammates", "evidence"), "invited {n"),  # same, in the evidence
    ("scoring_models.yaml", ("models", "pqa", "components", "team_size", "weight"), math.nan),  # loaded: NaN scores
]


@pytest.mark.parametrize(("name", "path", "value"), REGRESSIONS)
def test_found_regressions_are_config_errors_naming_the_key(name: str, path: Path_, value: Any) -> None:
    message, _ = load_edited(name, _mutated(name, path, value))
    assert message is not None and str(path[-1]) in message


# --- text that is not a rules file at all ---------------------------------------------------------------------

YAML_TEXT = st.one_of(
    ANY_TEXT,
    NASTY_TEXT,
    st.sampled_from([
        "", "---", "...", "~", "[", "{", "a: b: c", "- a\n- b", "? [a, b]\n: 1", "{[a]: 1}", "a: &x 1\nb: *y",
        "!!python/object:os.system {}", "a: !!binary ZZZ", "a: 2001-02-30", "a: 1\na: 2", "\t- a", "a:\n\t- b",
        "[" * 5000 + "]" * 5000, "a: " + "[" * 5000, "\x00", "\ufeffa: 1", "%YAML 9.9\n---\na: 1",
    ]),
)


@SLOW
@given(text=YAML_TEXT, name=st.sampled_from(sorted(LOADERS)))
@example(text="? [a, b]\n: 1", name="routing.yaml")  # TypeError: unhashable key in the duplicate-key check
@example(text="a: 2001-02-30", name="routing.yaml")  # ValueError from PyYAML's date constructor
@example(text="[" * 5000 + "]" * 5000, name="routing.yaml")  # RecursionError in the composer
@example(text="a: " + "1" * 5000, name="routing.yaml")  # ValueError: int of more than 4,300 digits
def test_any_text_loads_or_is_a_config_error(text: str, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="pls-yaml-") as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        for loader in (LOADERS[name],) if name != "personas.yaml" else (load_persona_rules, load_title_rules):
            try:
                loader(path)
            except ConfigError as exc:
                assert path.name in str(exc)


@SLOW
@given(data=st.binary(min_size=1, max_size=200), name=st.sampled_from(sorted(LOADERS)))
@example(data=b"a: \xff\xfe", name="routing.yaml")  # UnicodeDecodeError, not a ConfigError
def test_bytes_that_are_not_utf8_are_a_config_error(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="pls-yaml-") as folder:
        path = Path(folder) / name
        path.write_bytes(b"enabled: true\n" + data)
        try:
            LOADERS[name](path)
        except ConfigError as exc:
            assert path.name in str(exc)
