"""Backtest of scores against closed-won: AUC and lift with intervals, PQA precision/recall, verdicts, edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pls_pipelines.lib.validation import BacktestReport, _resample_statistic, backtest

# A warning is a failure here: degenerate histories must give a clear report, not warning spam.
pytestmark = pytest.mark.filterwarnings("error")

TIERS = ("sales", "success", "self_serve")


def tier_of(score: float) -> str:
    return "sales" if score >= 80 else "success" if score >= 60 else "self_serve"


def table(scores, won, **signals) -> pd.DataFrame:
    return pd.DataFrame({"score": scores, "tier": [tier_of(s) for s in scores], "outcome": won, **signals})


def run(frame: pd.DataFrame, **kwargs) -> BacktestReport:
    kwargs = {"tiers": TIERS, "pqa_threshold": 80, "n_resamples": 300, **kwargs}
    return backtest(frame, **kwargs)


# The hand-checked table: 16 accounts, 5 closed-won.
#   sales      95 90 85 80      won 1 1 1 0   -> 3/4 = 75%,  lift 0.75 / 0.3125 = 2.4
#   success    78 72 65 60      won 0 1 0 0   -> 1/4 = 25%,  lift 0.8
#   self_serve 50 45 ... 10     won only 30   -> 1/8 = 12.5%, lift 0.4
HAND_SCORES = [95, 90, 85, 80, 78, 72, 65, 60, 50, 45, 40, 35, 30, 25, 20, 10]
HAND_WON = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]


def test_tier_conversion_and_lift_by_hand():
    report = run(table(HAND_SCORES, HAND_WON), tiers=(*TIERS, "dormant"))
    assert (report.accounts, report.won, report.base_rate) == (16, 5, 5 / 16)
    sales, success, self_serve, dormant = report.tiers
    assert [t.tier for t in report.tiers] == ["sales", "success", "self_serve", "dormant"]
    assert (sales.accounts, sales.won) == (4, 3)
    assert sales.conversion_rate == pytest.approx(0.75)
    assert sales.lift == pytest.approx(2.4)
    assert (success.accounts, success.won, success.conversion_rate) == (4, 1, 0.25)
    assert success.lift == pytest.approx(0.8)
    assert (self_serve.accounts, self_serve.won) == (8, 1)
    assert self_serve.lift == pytest.approx(0.4)
    # A tier nobody is in: counted as empty, its rates undefined rather than 0.
    assert (dormant.accounts, dormant.won) == (0, 0)
    assert all(math.isnan(v) for v in (dormant.conversion_rate, dormant.lift, dormant.lift_ci_low))
    for tier in (sales, success, self_serve):
        assert tier.lift_ci_low <= tier.lift <= tier.lift_ci_high


def test_precision_recall_and_auc_by_hand():
    report = run(table(HAND_SCORES, HAND_WON), pqa_threshold=70)
    # score >= 70: 95 90 85 80 78 72, of which 95 90 85 72 won; 5 won in all (30 is missed).
    assert (report.pqa_threshold, report.pqa_accounts, report.pqa_won) == (70, 6, 4)
    assert report.precision == pytest.approx(4 / 6)
    assert report.recall == pytest.approx(4 / 5)
    # Won-vs-other pairs where the won account scores higher: 11 + 11 + 11 + 9 + 3 of 5 x 11.
    assert report.auc == pytest.approx(45 / 55)
    assert report.auc_ci_low <= report.auc <= report.auc_ci_high


def test_perfect_score_has_auc_one_and_top_tier_lift_above_one():
    scores = [99, 97, 95, 93, 91, 89, 87, 85, 83, 81, 55, 50, 45, 40, 35, 30, 25, 20, 15, 10]
    report = run(table(scores, [True] * 10 + [False] * 10))
    assert report.auc == 1.0
    assert (report.auc_ci_low, report.auc_ci_high) == (1.0, 1.0)
    sales = report.tiers[0]
    assert sales.lift == pytest.approx(2.0)
    assert sales.lift_ci_low > 1
    assert report.verdict.startswith("The score predicts closed-won deals: ROC AUC 1.00 (95% CI 1.00-1.00)")
    assert "sales-tier accounts convert at 2.0x the average rate." in report.verdict
    assert "cannot be told apart" not in report.verdict
    assert (report.precision, report.recall) == (1.0, 1.0)


def test_random_outcome_shows_no_lift():
    rng = np.random.default_rng(7)
    scores = rng.integers(1, 101, 400)
    report = run(table(scores, rng.random(400) < 0.2))
    assert report.auc_ci_low <= 0.5 <= report.auc_ci_high
    assert report.verdict.startswith("The score shows no lift: its ROC AUC ")
    assert report.verdict.endswith("is indistinguishable from chance.")
    assert f"(95% CI {report.auc_ci_low:.2f}-{report.auc_ci_high:.2f})" in report.verdict


def test_reversed_score_predicts_the_opposite():
    scores = list(range(10, 100, 5))
    report = run(table(scores, [s < 50 for s in scores]))
    assert report.auc == 0.0
    assert report.verdict.startswith("The score predicts the opposite of closed-won deals")


def test_top_tier_lift_that_could_be_chance_is_called_out():
    # The score ranks well overall, but only 3 accounts reach sales (1 won): its lift is no evidence.
    rng = np.random.default_rng(3)
    low = rng.integers(1, 80, 300)
    won = rng.random(300) < low / 100
    report = run(table([*low, 90, 85, 81], [*won, True, False, False]))
    assert report.auc_ci_low > 0.5
    sales = report.tiers[0]
    assert sales.accounts == 3
    assert sales.lift_ci_low <= 1 <= sales.lift_ci_high
    assert "But the sales tier's lift (95% CI" in report.verdict
    assert "cannot be told apart from the average." in report.verdict


def test_no_top_tier_accounts_is_said():
    scores = list(range(10, 80, 5))
    report = run(table(scores, [s >= 50 for s in scores]))
    assert report.tiers[0].accounts == 0
    assert "no account is in the sales tier" in report.verdict


@pytest.mark.parametrize(
    ("scores", "won", "verdict"),
    [
        ([], [], "Cannot validate: there are no accounts to backtest."),
        ([90, 50, 20], [False, False, False],
         "Cannot validate: no account in the sample closed-won, so there is nothing to predict."),
        ([90, 50, 20], [True, True, True],
         "Cannot validate: every account in the sample closed-won, so there is nothing to tell apart."),
        ([64, 64, 64, 64], [True, False, True, False],
         "Cannot validate: every account has the same score (64), so the score ranks nothing."),
        ([90], [True], "Cannot validate: every account in the sample closed-won, so there is nothing to tell apart."),
    ],
    ids=["no accounts", "no wins", "all won", "constant score", "one account"],
)
def test_degenerate_history_gives_a_clear_verdict(scores, won, verdict):
    frame = table(scores, pd.Series(won, dtype=bool), signal=[1.0] * len(scores))
    report = run(frame, signal_columns=["signal"])
    assert report.verdict == verdict
    assert math.isnan(report.auc) and math.isnan(report.auc_ci_low) and math.isnan(report.auc_ci_high)
    assert report.accounts == len(scores)
    assert len(report.tiers) == 3
    json.dumps(report.to_dict(), allow_nan=False)
    assert report.to_text().startswith(verdict)


def test_degenerate_history_numbers():
    no_wins = run(table([90, 50, 20], [0, 0, 0]))
    assert (no_wins.base_rate, no_wins.pqa_accounts, no_wins.pqa_won) == (0.0, 1, 0)
    assert math.isnan(no_wins.tiers[0].lift) and no_wins.tiers[0].conversion_rate == 0.0
    assert no_wins.precision == 0.0 and math.isnan(no_wins.recall)  # nothing won to recall
    all_won = run(table([90, 70, 20], [1, 1, 1]))
    assert [t.lift for t in all_won.tiers] == [1.0, 1.0, 1.0]
    nobody = run(table([], []))
    assert nobody.accounts == 0 and math.isnan(nobody.base_rate) and math.isnan(nobody.precision)
    assert [t.accounts for t in nobody.tiers] == [0, 0, 0]


def test_missing_outcomes_are_dropped_and_counted():
    frame = table([90, 85, 50, 40, 30], pd.array([True, pd.NA, False, pd.NA, False], dtype="boolean"))
    report = run(frame)
    assert (report.accounts, report.won, report.dropped_no_outcome) == (3, 1, 2)
    assert report.to_dict()["dropped_no_outcome"] == 2
    only_unknown = run(table([90, 50], [np.nan, np.nan]))
    assert only_unknown.verdict == "Cannot validate: none of the 2 accounts has a known outcome."


def test_outcome_as_zero_one_floats_with_gaps():
    report = run(table([90, 70, 50, 30], [1.0, np.nan, 0.0, 1.0]))
    assert (report.accounts, report.won, report.dropped_no_outcome) == (3, 2, 1)


def test_signal_verdicts_and_order():
    rng = np.random.default_rng(11)
    n = 300
    won = rng.random(n) < 0.3
    noise = rng.normal(size=n)
    frame = table(
        rng.integers(1, 101, n), won,
        usage=np.where(won, 3.0, 0.0) + noise,  # predicts wins
        logins=rng.normal(size=n),  # predicts nothing
        tickets=np.where(won, -3.0, 0.0) + rng.normal(size=n),  # predicts the opposite
        seats=np.where(won, rng.integers(5, 10, n), np.nan),  # no data (NaN) counts as 0
    )
    report = run(frame, signal_columns=["logins", "tickets", "usage", "seats"])
    by_name = {s.signal: s for s in report.signals}
    assert by_name["usage"].verdict == "predicts wins"
    assert by_name["logins"].verdict == "predicts nothing"
    assert by_name["logins"].auc_ci_low <= 0.5 <= by_name["logins"].auc_ci_high
    assert by_name["tickets"].verdict == "predicts the opposite"
    assert by_name["tickets"].auc_ci_high < 0.5
    assert by_name["seats"].auc == 1.0
    assert [s.signal for s in report.signals] == ["seats", "usage", "logins", "tickets"]
    assert by_name["usage"].auc == pytest.approx(roc_auc_score(won, frame["usage"]))


def test_signals_cannot_be_judged_without_both_outcomes():
    report = run(table([90, 50, 20], [0, 0, 0], usage=[3.0, 2.0, 1.0]), signal_columns=["usage"])
    assert report.signals[0].verdict == "cannot tell"
    assert math.isnan(report.signals[0].auc)


def test_same_seed_same_report_other_seed_other_intervals():
    rng = np.random.default_rng(5)
    scores = rng.integers(1, 101, 200)
    frame = table(scores, rng.random(200) < scores / 150, usage=rng.normal(size=200))
    first = run(frame, signal_columns=["usage"], seed=1)
    assert run(frame, signal_columns=["usage"], seed=1) == first
    other = run(frame, signal_columns=["usage"], seed=2)
    assert other.auc == first.auc
    assert (other.auc_ci_low, other.auc_ci_high) != (first.auc_ci_low, first.auc_ci_high)


def test_confidence_level_widens_the_interval_and_is_reported():
    rng = np.random.default_rng(9)
    scores = rng.integers(1, 101, 200)
    frame = table(scores, rng.random(200) < scores / 150)
    narrow, wide = run(frame, confidence=0.8), run(frame, confidence=0.99)
    assert wide.auc_ci_low < narrow.auc_ci_low and wide.auc_ci_high > narrow.auc_ci_high
    assert "99% CI" in wide.verdict and wide.confidence == 0.99


def test_resampled_auc_matches_sklearn_on_the_original_sample():
    # The bootstrap computes AUC from per-value counts; on the sample itself it must equal sklearn's,
    # with ties (integer scores) and with continuous values (where runs of one class are merged).
    rng = np.random.default_rng(2)
    y = (rng.random(500) < 0.25).astype(np.int8)
    ties = rng.integers(1, 20, 500).astype(float) + 3 * y
    continuous = rng.normal(size=500) + y
    keys, statistic, _ = _resample_statistic(y, {"top": ties >= 15}, {"ties": ties, "continuous": continuous})
    values = statistic(np.arange(500)[None, :])[:, 0]
    assert keys == ["tier:top", "ties", "continuous"]
    assert values[0] == pytest.approx(y[ties >= 15].mean() / y.mean())
    assert values[1] == pytest.approx(roc_auc_score(y, ties))
    assert values[2] == pytest.approx(roc_auc_score(y, continuous))


def test_report_serialises_and_reads():
    report = run(table(HAND_SCORES, HAND_WON, usage=range(16)), tiers=(*TIERS, "dormant"), signal_columns=["usage"])
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["tiers"][3] == {
        "tier": "dormant", "accounts": 0, "won": 0, "conversion_rate": None, "lift": None,
        "lift_ci_low": None, "lift_ci_high": None,
    }
    assert data["signals"][0]["signal"] == "usage" and data["verdict"] == report.verdict
    out = report.to_text()
    assert out.splitlines()[0] == report.verdict
    assert "Sample: 16 accounts with a known outcome, 5 closed-won (31.2%)." in out
    assert "PQA (score >= 80): 4 accounts, 3 closed-won; precision 75.0%, recall 60.0%" in out
    sales_row = next(line for line in out.splitlines() if line.startswith("sales "))
    assert sales_row.split()[:5] == ["sales", "4", "3", "75.0%", "2.4x"]
    assert any(line.startswith("dormant") and "n/a" in line for line in out.splitlines())


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="backtest needs the columns 'outcome'"):
        backtest(pd.DataFrame({"score": [1], "tier": ["x"]}), tiers=TIERS, pqa_threshold=80)
    with pytest.raises(ValueError, match=r"must hold True/False or 1/0 .*'won'"):
        run(table([90, 50], ["won", "lost"]))
    with pytest.raises(ValueError, match="1 accounts have no numeric score"):
        run(table([90, 50], [1, 0]).assign(score=[90, None]))
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        run(table([90, 50], [1, 0]), confidence=95)


def test_small_sample_no_lift_says_more_history_could_tell():
    report = run(table(HAND_SCORES, HAND_WON))
    assert report.auc_ci_low <= 0.5 <= report.auc_ci_high
    assert report.verdict.startswith("The score shows no lift: its ROC AUC 0.82 (95% CI ")
    assert report.verdict.endswith(
        "is indistinguishable from chance. With 5 closed-won of 16 accounts the interval is wide; "
        "more history could tell."
    )
