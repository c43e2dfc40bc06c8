"""Scoring a table with several rows per account, one per day (`by=`): the same as scoring each day alone."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pls_pipelines.lib.scoring import (
    COMPONENT_COLUMNS,
    SCORE_COLUMNS,
    combine_components,
    combine_scores,
    score_all,
    score_model,
)
from pls_pipelines.lib.scoring_config import SCOREABLE_COLUMNS, load_scoring_config

SHIPPED = load_scoring_config()
DAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(5)]


def day_tables(accounts: int = 300, seed: int = 3) -> pd.DataFrame:
    """`accounts` accounts on each of DAYS with random features: counts, trends with NaN, days-since with NaN,
    customers and prospects (some switching between days), three segments and unknown ones."""
    rng = np.random.default_rng(seed)
    n = accounts * len(DAYS)
    table = pd.DataFrame({column: rng.poisson(rng.lognormal(1.0, 1.5, n)).astype(float)
                          for column in SCOREABLE_COLUMNS})
    for column in ("velocity_7d", "usage_trend_28d", "active_user_trend_28d"):
        table[column] = np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 0.6, n).round(4))
    for column in ("days_since_last_active", "days_since_last_invite", "days_since_last_enterprise_page_view"):
        table[column] = pd.array(np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 56, n)), dtype="Int64")
    table["is_consolidation"] = rng.random(n) < 0.05
    table.insert(0, "account_id", [f"a{i:04d}" for i in range(accounts)] * len(DAYS))
    table["as_of_date"] = np.repeat(np.array(DAYS, dtype=object), accounts)
    table["is_customer"] = rng.random(n) < 0.2
    table["segment"] = pd.array(rng.choice(["smb", "mid_market", "enterprise", None], n), dtype="string")
    return table


def test_scoring_by_day_equals_scoring_each_day_alone_for_every_shipped_model():
    table = day_tables()
    shuffled = table.sample(frac=1, random_state=1)  # row order must not matter
    options = {"reasons_max_chars": 60}  # short: the rare cut-between-reasons path runs too
    many = score_all(shuffled, SHIPPED, by="as_of_date", **options)
    scores, components = combine_scores(many), combine_components(many)
    assert list(scores.columns) == ["as_of_date", *SCORE_COLUMNS]
    assert list(components.columns) == ["as_of_date", *COMPONENT_COLUMNS]
    sorted_keys = scores[["as_of_date", "account_id", "model"]].apply(tuple, axis=1)
    assert sorted_keys.is_monotonic_increasing
    for day in DAYS:
        alone = score_all(table[table["as_of_date"] == day], SHIPPED, **options)
        of_day = scores[scores["as_of_date"] == day].drop(columns="as_of_date").reset_index(drop=True)
        pd.testing.assert_frame_equal(of_day, combine_scores(alone), check_exact=True, obj=str(day))
        day_components = components[components["as_of_date"] == day].drop(columns="as_of_date")
        pd.testing.assert_frame_equal(day_components.reset_index(drop=True), combine_components(alone),
                                      check_exact=True)
    for by_day, alone_result in zip(many, score_all(table[table["as_of_date"] == DAYS[2]], SHIPPED, **options),
                                    strict=True):
        points = by_day.points_table()
        assert list(points.columns[:2]) == ["as_of_date", "account_id"]
        of_day = points[points["as_of_date"] == DAYS[2]].drop(columns="as_of_date").reset_index(drop=True)
        pd.testing.assert_frame_equal(of_day, alone_result.points_table(), check_exact=True)


def test_an_account_twice_on_one_day_is_refused_but_once_a_day_is_fine():
    table = day_tables(accounts=20)
    score_model(table, SHIPPED.models["pqa"], by="as_of_date")  # 20 accounts x 5 days: one row each
    twice = pd.concat([table, table[(table["account_id"] == "a0007") & (table["as_of_date"] == DAYS[3])]])
    twice["is_customer"] = False
    with pytest.raises(ValueError, match=r"several rows for \(as_of_date, account_id\) \[\('2026-10-04', 'a0007'\)\]"):
        score_model(twice, SHIPPED.models["pqa"], by="as_of_date")
    with pytest.raises(ValueError, match="several rows for account_id"):  # without by, days are no excuse
        score_model(table.assign(is_customer=False), SHIPPED.models["pqa"])


def test_a_by_column_must_exist_be_filled_and_not_be_a_scored_column():
    table = day_tables(accounts=5)
    pqa = SHIPPED.models["pqa"]
    with pytest.raises(ValueError, match="no such column"):
        score_model(table, pqa, by="snapshot_date")
    with pytest.raises(ValueError, match="cannot tell rows apart"):
        score_model(table, pqa, by="account_id")
    with pytest.raises(ValueError, match="cannot tell rows apart"):
        score_model(table, pqa, by=pqa.components[0].columns[0])
    with pytest.raises(ValueError, match="rows without as_of_date"):
        score_model(table.assign(as_of_date=table["as_of_date"].where(table.index != 3)), pqa, by="as_of_date")


def test_scores_keyed_by_day_and_not_do_not_mix_and_empty_tables_keep_the_day_column():
    table = day_tables(accounts=5)
    pqa = SHIPPED.models["pqa"]
    with pytest.raises(ValueError, match="different row keys"):
        combine_scores([score_model(table, pqa, by="as_of_date"),
                        score_model(table[table["as_of_date"] == DAYS[0]], pqa)])
    nobody = score_all(table.iloc[:0], SHIPPED, by="as_of_date")
    assert list(combine_scores(nobody).columns) == ["as_of_date", *SCORE_COLUMNS]
    assert list(combine_components(nobody).columns) == ["as_of_date", *COMPONENT_COLUMNS]
