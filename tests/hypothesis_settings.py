"""Shared hypothesis settings and strategies for the property tests of bad input (tests/**/test_*_properties.py).

Deterministic on purpose: `derandomize=True` draws the same examples on every run and every machine, and
`database=None` keeps no example database, so CI never fails on an example a developer's machine remembered (or
the reverse). A property that fails locally fails the same way in CI, with the same minimal example.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Pure functions (titles, domains, frames): cheap examples, so many of them.
FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None, print_blob=True)
# Examples that touch a DuckDB file or write YAML files: fewer, each slower.
SLOW = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text a person or a broken client could put in a field: any unicode (surrogates excluded: they cannot be
# encoded as UTF-8, so no file, API response or database can hold them), with the nasty cases weighted in.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
SPECIAL_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\t\n", "\u200b", "\ufeff", "\u202e\u0645\u0631\u062d\u0628\u0627",  # RTL
    "👩‍💻🚀", "İstanbul", "ß", "ﬁ", "Ω", "𝐕𝐏 𝐨𝐟 𝐒𝐚𝐥𝐞𝐬", "ＶＰ", "\r\n", "NaN", "None", "null", "-1", "1e400", "０１２",
])
# 40k-120k characters: a pasted document. One draw in ten, as each is slow to push through regexes and SQL.
LONG_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=3).map(lambda s: s * 40_000)
NASTY_TEXT = st.sampled_from([ANY_TEXT] * 6 + [SPECIAL_TEXT] * 3 + [LONG_TEXT]).flatmap(lambda strategy: strategy)
OPTIONAL_TEXT = st.one_of(st.none(), NASTY_TEXT)
