"""The landing format of one event: a flat JSON object per line, in a fixed key order.

`event_line` formats one record; `render_event_lines` formats a whole events frame the same way, vectorised
(a million events are rendered in about a second), so malformed demo lines built from real events look like
their well-formed neighbours except for the defect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EVENT_FIELDS = ("event_id", "occurred_at", "user_id", "workspace_id", "event", "properties")
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def event_line(record: Mapping[str, object]) -> str:
    """One JSONL line; keys absent from `record` are left out (that is how broken demo lines lose a field)."""
    return _dumps({key: record[key] for key in EVENT_FIELDS if key in record})


def _json_strings(values: pd.Series) -> pa.Array:
    """JSON string literals of a text column; only values that need escaping go through json.dumps."""
    text = pa.array(values.astype("str"), type=pa.string())
    if pc.any(pc.match_substring_regex(text, _NEEDS_ESCAPE)).as_py():
        return pa.array([_dumps(v) for v in text.to_pylist()], type=pa.string())
    return pc.binary_join_element_wise('"', text, '"', "")


def _properties_json(values: pd.Series) -> pa.Array:
    """JSON of each properties dict; equal objects shared between rows are serialised once."""
    objects = values.to_numpy(dtype=object)
    identity = np.fromiter(map(id, objects), dtype=np.int64, count=len(objects))
    _, first_row, inverse = np.unique(identity, return_index=True, return_inverse=True)
    rendered = [_dumps(objects[i] if isinstance(objects[i], dict) else {}) for i in first_row]
    return pa.array(rendered, type=pa.string()).take(pa.array(inverse))


def render_event_lines(events: pd.DataFrame) -> np.ndarray:
    """`event_line` of every row of an events frame, as an object array of str (no trailing newline)."""
    if events.empty:
        return np.array([], dtype=object)
    pieces: list[object] = []
    for index, key in enumerate(EVENT_FIELDS):
        pieces.append(("{" if index == 0 else ",") + f'"{key}":')
        column = events[key]
        pieces.append(_properties_json(column) if key == "properties" else _json_strings(column))
    pieces.append("}")
    joined = pc.binary_join_element_wise(*pieces, "")
    return joined.to_numpy(zero_copy_only=False).astype(object)
