"""Propose scoring weights learned from closed-won outcomes, and say whether they beat the current ones.

The weights in scoring_models.yaml are RevOps' hypothesis of what makes an account ready to buy. Once deals
have closed, history can test that hypothesis (lib/validation.py) and suggest a better one: fit a logistic
regression of closed-won on the components' 0-100 points and weight each component by how much one point
of it moves the odds of winning.

Choices, and why:

* The model is scikit-learn's LogisticRegression (L2-regularised, the default C) behind a StandardScaler,
  so components on very different spreads converge alike and the penalty treats them fairly. The
  coefficients are converted back to the points scale (divided by each component's standard deviation)
  before they become weights, because the score is sum(weight x points): a weight has to be the effect of
  one point, not of one standard deviation.
* Only components with a positive coefficient get a weight. A zero or negative coefficient means the
  component predicts nothing or the opposite of winning in this history; giving it a weight would lower
  the score of accounts that are more likely to buy. They are listed in `dropped` for RevOps to look at.
* Weights are rounded to two decimals (what a person writes in YAML) and sum to exactly 1.0, as the
  scoring model requires; the rounding remainder goes to the largest weight, where it matters least.
* Whether the proposal is better is judged out of sample: stratified k-fold cross-validated ROC AUC of the
  learned model, next to the AUC of the *current* weights (a fixed sum, nothing to fit) on the very same
  test folds. A proposal that does not beat the baseline out of sample is not worth a config change.
* Too few won (or other) accounts to give every fold one of each is an error with the counts, not a
  NaN: the message is shown to the person who asked for the fit.

Pure: no Dagster, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pls_pipelines.lib.validation import json_safe, outcome_flags


@dataclass(frozen=True)
class FitResult:
    """Proposed weights, what was left out, and how the proposal compares with the current weights."""

    weights: dict[str, float]  # component -> weight, positive-coefficient components only; sums to 1.0
    dropped: tuple[str, ...]  # components left out: coefficient <= 0 (or a share that rounds to 0.00)
    coefficients: dict[str, float]  # logistic-regression coefficient per component, per point (0-100 scale)
    cv_auc_mean: float  # cross-validated ROC AUC of the fitted model
    cv_auc_std: float
    folds: int
    baseline_cv_auc_mean: float  # ROC AUC of the current weights on the same test folds
    accounts: int  # accounts with a known outcome used for the fit
    won: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (NaN -> None)."""
        out = asdict(self)
        out["dropped"] = list(self.dropped)
        return {k: json_safe(v) for k, v in out.items()}


def fit_weights(
    points: pd.DataFrame,
    outcome: pd.Series,
    *,
    current_weights: Mapping[str, float],
    folds: int = 5,
    seed: int = 0,
) -> FitResult:
    """Fit weights for the components in `points` from `outcome` (closed-won or not).

    `points` is accounts x components, 0-100 points each (NaN -> 0). `outcome` is bool or 0/1 per account,
    aligned with `points` by index; accounts with a missing outcome are left out. `current_weights` are the
    model's weights for the same components (a component not named there weighs 0 in the baseline; give a
    penalty a negative weight). Raises ValueError, with a message meant for the user, when there are too
    few won or other accounts to cross-validate or when no component predicts winning.
    """
    if int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be a whole number of at least 2; got {folds}.")
    folds = int(folds)
    if points.shape[1] == 0:
        raise ValueError("points has no component columns to fit weights for.")
    components = [str(c) for c in points.columns]
    if len(set(components)) != len(components):
        raise ValueError(f"component names must be unique; got {components}.")
    unknown = [name for name in current_weights if name not in components]
    if unknown:
        raise ValueError(
            f"current weights name {', '.join(map(repr, unknown))}, which points does not have; "
            f"points has {', '.join(map(repr, components))}."
        )

    flags = outcome_flags(_aligned(outcome, points), "outcome")
    known = flags.notna().to_numpy()
    x = points.loc[known].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(dtype=float)
    y = flags[known].to_numpy(dtype=int)
    won, other = int(y.sum()), int(len(y) - y.sum())
    if won < folds or other < folds:
        short = [f"{count:,} {label}" for count, label in ((won, "closed-won"), (other, "other")) if count < folds]
        raise ValueError(
            f"need at least {folds} closed-won and {folds} other accounts to cross-validate; "
            f"found {' and '.join(short)}."
        )

    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv_auc = cross_val_score(model, x, y, cv=splits, scoring="roc_auc")
    baseline_weights = np.array([float(current_weights.get(name, 0.0)) for name in components])
    baseline_score = x @ baseline_weights
    baseline_auc = [roc_auc_score(y[test], baseline_score[test]) for _, test in splits]

    model.fit(x, y)
    scaler, regression = model[0], model[-1]
    per_point = regression.coef_[0] / scaler.scale_  # scale_ is 1 for a constant column, whose coefficient is 0
    coefficients = {name: float(c) for name, c in zip(components, per_point, strict=True)}
    positive = {name: c for name, c in coefficients.items() if c > 0}
    if not positive:
        listed = ", ".join(f"{name} {c:+.4f}" for name, c in coefficients.items())
        raise ValueError(
            "no component predicts closed-won in this history: every coefficient is zero or negative "
            f"({listed}). Keep the current weights and look at the backtest."
        )
    weights = _round_weights(positive)
    return FitResult(
        weights=weights,
        dropped=tuple(name for name in components if name not in weights),
        coefficients=coefficients,
        cv_auc_mean=float(np.mean(cv_auc)),
        cv_auc_std=float(np.std(cv_auc)),
        folds=folds,
        baseline_cv_auc_mean=float(np.mean(baseline_auc)),
        accounts=len(y),
        won=won,
    )


def _aligned(outcome: pd.Series, points: pd.DataFrame) -> pd.Series:
    """`outcome` in the row order of `points`, matched by index (accounts missing from it are unknown)."""
    outcome = pd.Series(outcome)
    if outcome.index.equals(points.index):
        return outcome
    if not (outcome.index.is_unique and points.index.is_unique):
        raise ValueError("outcome and points must be indexed by the same unique account ids.")
    if len(points) and not points.index.isin(outcome.index).any():
        raise ValueError("outcome has no account of points: index both by the same account ids.")
    return outcome.reindex(points.index)


def _round_weights(positive: Mapping[str, float]) -> dict[str, float]:
    """Shares of the positive coefficients in hundredths summing to exactly 100.

    The rounding remainder goes to the largest share. A share that rounds to 0.00 is left out: the scoring
    model requires weights above 0, and half a percent of the score is noise.
    """
    total = sum(positive.values())
    hundredths = {name: round(100 * c / total) for name, c in positive.items()}
    hundredths = {name: h for name, h in hundredths.items() if h > 0}
    largest = max(positive, key=lambda name: positive[name])
    hundredths[largest] = hundredths.get(largest, 0) + 100 - sum(hundredths.values())
    return {name: h / 100 for name, h in hundredths.items()}
