"""Weights learned from outcomes: which components earn weight, rounding to 1.0, the baseline, user-facing errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from pls_pipelines.lib.fitting import _round_weights, fit_weights

pytestmark = pytest.mark.filterwarnings("error")

EQUAL = {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}


def synthetic(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Closed-won depends on A strongly, B weakly, C not at all, and D against (per point: .05, .015, 0, -.03)."""
    rng = np.random.default_rng(seed)
    points = pd.DataFrame({c: rng.uniform(0, 100, n) for c in "ABCD"}, index=[f"acc{i}" for i in range(n)])
    logit = -1 + 0.05 * (points.A - 50) + 0.015 * (points.B - 50) - 0.03 * (points.D - 50)
    won = pd.Series(rng.random(n) < 1 / (1 + np.exp(-logit)), index=points.index)
    return points, won


@pytest.fixture(scope="module")
def fitted():
    points, won = synthetic()
    return fit_weights(points, won, current_weights=EQUAL)


def test_weights_follow_the_effect_on_winning(fitted):
    assert fitted.weights["A"] > fitted.weights.get("B", 0) > 0
    assert "D" in fitted.dropped and "D" not in fitted.weights
    assert "C" in fitted.dropped or fitted.weights["C"] < fitted.weights["B"]
    assert set(fitted.weights) | set(fitted.dropped) == set("ABCD")


def test_weights_are_two_decimals_summing_to_exactly_one(fitted):
    hundredths = [w * 100 for w in fitted.weights.values()]
    assert all(h == round(h) for h in hundredths)
    assert sum(round(h) for h in hundredths) == 100
    assert math.fsum(fitted.weights.values()) == 1.0
    assert all(w > 0 for w in fitted.weights.values())


def test_coefficients_are_per_point_of_the_component(fitted):
    # The synthetic effect of one point of A is +0.05 log-odds, of D -0.03: recovered on the points scale,
    # not per standard deviation (which would be ~29x larger for uniform 0-100 points).
    assert fitted.coefficients["A"] == pytest.approx(0.05, abs=0.012)
    assert fitted.coefficients["D"] == pytest.approx(-0.03, abs=0.01)
    assert abs(fitted.coefficients["C"]) < 0.01
    shares = {k: v / sum(c for c in fitted.coefficients.values() if c > 0) for k, v in fitted.coefficients.items()}
    assert fitted.weights["A"] == pytest.approx(shares["A"], abs=0.011)


def test_learned_weights_beat_equal_weights_out_of_sample(fitted):
    assert fitted.folds == 5
    assert fitted.cv_auc_mean > fitted.baseline_cv_auc_mean + 0.1
    assert 0.5 < fitted.cv_auc_mean <= 1 and fitted.cv_auc_std >= 0
    assert (fitted.accounts, fitted.won) == (600, int(synthetic()[1].sum()))


def test_baseline_is_the_current_weights_on_the_same_folds():
    points, won = synthetic()
    good = fit_weights(points, won, current_weights={"A": 0.8, "B": 0.2})
    bad = fit_weights(points, won, current_weights={"D": 1.0})
    assert bad.baseline_cv_auc_mean < 0.5 < good.baseline_cv_auc_mean
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(points, won)
    current = 0.8 * points.A + 0.2 * points.B
    by_hand = [roc_auc_score(won.iloc[test], current.iloc[test]) for _, test in folds]
    assert good.baseline_cv_auc_mean == pytest.approx(np.mean(by_hand))
    assert good.cv_auc_mean == bad.cv_auc_mean  # the learned model does not depend on the current weights


def test_same_seed_same_result(fitted):
    points, won = synthetic()
    assert fit_weights(points, won, current_weights=EQUAL) == fitted
    assert json.loads(json.dumps(fitted.to_dict(), allow_nan=False))["dropped"] == list(fitted.dropped)


def test_missing_points_count_as_zero_and_unknown_outcomes_are_left_out():
    points, won = synthetic(200, seed=4)
    points.iloc[:10, 0] = np.nan
    outcome = won.astype("boolean")
    outcome.iloc[-20:] = pd.NA
    result = fit_weights(points, outcome, current_weights=EQUAL)
    assert result.accounts == 180
    zeroed = fit_weights(points.fillna(0), outcome, current_weights=EQUAL)
    assert result == zeroed


def test_outcome_is_matched_to_points_by_account():
    points, won = synthetic(200, seed=4)
    shuffled = won.sample(frac=1, random_state=1)
    assert fit_weights(points, shuffled, current_weights=EQUAL) == fit_weights(points, won, current_weights=EQUAL)


def test_too_few_wins_to_cross_validate_is_explained():
    points, _ = synthetic(60)
    won = pd.Series([True] * 3 + [False] * 57, index=points.index)
    with pytest.raises(ValueError) as error:
        fit_weights(points, won, current_weights=EQUAL)
    assert str(error.value) == "need at least 5 closed-won and 5 other accounts to cross-validate; found 3 closed-won."
    with pytest.raises(ValueError, match=r"need at least 3 closed-won and 3 other .*; found 1 closed-won and 2 other"):
        fit_weights(points.iloc[:3], pd.Series([True, False, False], index=points.index[:3]),
                    current_weights=EQUAL, folds=3)


def test_no_component_predicting_wins_is_an_error():
    points, won = synthetic()
    with pytest.raises(ValueError, match=r"no component predicts closed-won .*\(D -0\.0\d+\)"):
        fit_weights(points[["D"]], won, current_weights={"D": 1.0})


def test_current_weights_must_name_known_components():
    points, won = synthetic(100)
    with pytest.raises(ValueError, match="current weights name 'team_size', which points does not have"):
        fit_weights(points, won, current_weights={"team_size": 1.0})


@pytest.mark.parametrize(
    ("coefficients", "weights"),
    [
        ({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.34, "b": 0.33, "c": 0.33}),  # remainder on the largest (first)
        ({"a": 0.2, "b": 0.5, "c": 0.3}, {"a": 0.2, "b": 0.5, "c": 0.3}),
        ({"a": 0.3333, "b": 0.6667}, {"a": 0.33, "b": 0.67}),
        ({"a": 0.996, "b": 0.004}, {"a": 1.0}),  # a share that rounds to 0.00 is no weight
        ({"a": 0.125, "b": 0.125, "c": 0.125, "d": 0.125, "e": 0.5}, {"a": 0.12, "b": 0.12, "c": 0.12, "d": 0.12,
                                                                      "e": 0.52}),
    ],
)
def test_rounding_to_hundredths(coefficients, weights):
    rounded = _round_weights(coefficients)
    assert rounded == weights
    assert math.fsum(rounded.values()) == 1.0
