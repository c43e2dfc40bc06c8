"""Properties of the incremental CRM read: the changed records replace the held ones, and nothing is lost.

Keys and values are whatever the CRM holds (ids are text to us; names in any script, with NULs, very long).
Afterwards every held record that did not change is still there, every changed record is there as read, and
no key appears twice - the table looks like a full read would.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

from pls_pipelines.lib.crm_reads import replace_changed_rows
from tests.hypothesis_settings import FAST, NASTY_TEXT, OPTIONAL_TEXT

KEY = "company_id"
KEYS = st.one_of(NASTY_TEXT, st.integers(0, 20).map(str))
COLUMNS = ["company_id", "name", "domain", "employee_count"]


def frame(rows: dict[str, tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([(key, *values) for key, values in rows.items()], columns=columns)


def plain(row: pd.Series) -> list:
    """A row's values with every kind of missing (None, NaN, NA) as None, so rows compare by content."""
    return [None if pd.isna(v) else v for v in row.tolist()]


ROW_VALUES = st.tuples(OPTIONAL_TEXT, OPTIONAL_TEXT, st.one_of(st.none(), st.integers(0, 10**6)))


@FAST
@given(held=st.dictionaries(KEYS, ROW_VALUES, max_size=6), changed=st.dictionaries(KEYS, ROW_VALUES, max_size=6),
       held_columns=st.sampled_from([COLUMNS, [*COLUMNS, "extra"], COLUMNS[:-1]]))
# a table from an older release without employee_count: KeyError on every incremental read
@example(held={"1": ("A", "a.com", 1)}, changed={"2": ("B", "b.com", 2)}, held_columns=COLUMNS[:-1])
def test_every_held_and_changed_record_is_accounted_for(
    held: dict[str, tuple], changed: dict[str, tuple], held_columns: list[str]
) -> None:
    # held_columns: the warehouse table may be from an older release, with a column less (or one more)
    held_frame = frame({k: (*v, "x")[: len(held_columns) - 1] for k, v in held.items()}, held_columns)
    changed_frame = frame(changed, COLUMNS)
    merged = replace_changed_rows(held_frame, changed_frame, KEY)
    if not changed:
        assert sorted(merged[KEY]) == sorted(held)
        return
    assert list(merged.columns) == COLUMNS
    assert merged[KEY].is_unique
    assert set(merged[KEY]) == set(held) | set(changed)
    by_key = merged.set_index(KEY)
    for key, values in changed.items():  # changed rows as read
        assert plain(by_key.loc[key]) == list(values)
    shared = [c for c in COLUMNS[1:] if c in held_columns]
    held_by_key = held_frame.set_index(KEY)
    for key in set(held) - set(changed):  # untouched rows as held
        assert plain(by_key.loc[key, shared]) == plain(held_by_key.loc[key, shared])
    assert list(merged[KEY]) == sorted(merged[KEY])
