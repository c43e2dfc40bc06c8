"""Names that go into SQL text: one rule for schema, table and column names, checked where they enter.

Values never enter SQL text - they travel as bind parameters. Names cannot be bound, so a name from
configuration or the environment (PLS_USAGE_EVENTS_TABLE, a crm_fields.yaml `key` or `source`, a feature key
of product_events.yaml that becomes a column) is checked against this rule when its setting is loaded, and the
warehouse's quoting (`resources/warehouse.py`) refuses any other name at query time. A name that passes cannot
close a quote or start a statement, whatever the dialect.

The rule is narrower than what databases accept (no spaces, dashes or quotes in names): every warehouse takes
these names unquoted or quoted alike, and a table called `x; DROP TABLE y` is never what a user meant.
"""

from __future__ import annotations

import re

from pls_pipelines.lib.errors import ConfigError

RULE = "letters, digits and underscores, starting with a letter or underscore"
QUALIFIED_RULE = f"{RULE}; optionally schema.table"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_identifier(name: object) -> bool:
    """True for a bare name that follows RULE ("usage_events", "_pls_tmp", "Events2")."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def is_qualified_identifier(name: object) -> bool:
    """True for a name that follows RULE, optionally qualified by one schema ("analytics.product_events")."""
    if not isinstance(name, str):
        return False
    parts = name.split(".")
    return len(parts) <= 2 and all(is_identifier(part) for part in parts)


def check_identifier(name: object, setting: str, *, qualified: bool = False, example: str = "") -> str:
    """`name` when it follows the rule, else a ConfigError naming `setting` and the rule.

    `setting` is what the user edits: an environment variable ("PLS_USAGE_EVENTS_TABLE") or a YAML key path
    ("crm_fields.yaml: objects.companies.key"). `qualified` allows schema.table.
    """
    valid = is_qualified_identifier(name) if qualified else is_identifier(name)
    if valid:
        return str(name)
    rule = QUALIFIED_RULE if qualified else RULE
    hint = f", e.g. {example}" if example else ""
    raise ConfigError(f"{setting}={name!r} is not a valid SQL name: use {rule}{hint}.")


def split_qualified(name: str) -> tuple[str | None, str]:
    """("analytics", "events") for "analytics.events", (None, "events") for "events"; ValueError otherwise."""
    if not is_qualified_identifier(name):
        raise ValueError(f"unsafe SQL identifier: {name!r} (use {QUALIFIED_RULE})")
    schema, _, table = name.rpartition(".")
    return schema or None, table


def quote_identifier(name: str) -> str:
    """The name in double quotes, for SQL text; ValueError for a name that breaks the rule.

    ValueError rather than ConfigError: a name that reaches SQL text unchecked is a bug in the caller, since
    configured names are checked with `check_identifier` when their setting is loaded.
    """
    if not is_identifier(name):
        raise ValueError(f"unsafe SQL identifier: {name!r} (use {RULE})")
    return f'"{name}"'
