from datetime import date

import pandas as pd
import pytest

from pls_pipelines.lib.score_history import HISTORY_COLUMNS, pqa_milestones, pqas_created_per_month


def day(month: int, d: int) -> date:
    return date(2026, month, d)


def history(*rows: tuple, model: str = "pqa") -> pd.DataFrame:
    """History rows from (snapshot_date, account_id, score, tier[, model]); is_pqa is score >= 80."""
    records = []
    for row in rows:
        snapshot_date, account_id, score, tier, *rest = row
        records.append({
            "snapshot_date": snapshot_date,
            "account_id": account_id,
            "model": rest[0] if rest else model,
            "model_version": "v1",
            "segment": None,
            "score": score,
            "tier": tier,
            "is_pqa": score >= 80,
            "reasons": "",
        })
    return pd.DataFrame(records, columns=HISTORY_COLUMNS)


# Three weeks of a prospect climbing to PQA and slipping back, one already a PQA when the history starts, one
# that never gets there, and one that becomes a PQA in February.
HISTORY = history(
    (day(1, 1), "climber", 10, "self_serve"),
    (day(1, 2), "climber", 65, "success"),
    (day(1, 3), "climber", 65, "success"),
    (day(1, 4), "climber", 85, "sales"),
    (day(1, 5), "climber", 90, "sales"),
    (day(1, 6), "climber", 70, "success"),
    (day(1, 1), "veteran", 90, "sales"),
    (day(1, 2), "veteran", 92, "sales"),
    (day(1, 6), "veteran", 88, "sales"),
    (day(1, 1), "idle", 5, "self_serve"),
    (day(1, 6), "idle", 30, "self_serve"),
    (day(1, 31), "late", 50, "self_serve"),
    (day(2, 2), "late", 82, "sales"),
)
SIGNED_UP = pd.Series({"climber": date(2025, 12, 1), "veteran": date(2025, 6, 1),
                       "idle": date(2025, 12, 31), "late": day(1, 30)})


def by_account(milestones: pd.DataFrame) -> dict[str, dict]:
    return milestones.set_index("account_id").to_dict("index")


# --- milestones -------------------------------------------------------------------------------------------


def test_milestones_first_and_last_snapshot_and_when_it_became_a_pqa():
    m = by_account(pqa_milestones(HISTORY, "pqa"))
    assert sorted(m) == ["climber", "idle", "late", "veteran"]
    assert (m["climber"]["first_snapshot"], m["climber"]["last_snapshot"]) == (day(1, 1), day(1, 6))
    assert m["climber"]["became_pqa_at"] == day(1, 4)  # the first PQA day, not the later ones
    assert not m["climber"]["pqa_on_first_snapshot"]
    assert m["late"]["became_pqa_at"] == day(2, 2) and m["late"]["first_snapshot"] == day(1, 31)


def test_an_account_already_pqa_on_its_first_snapshot_is_flagged_not_counted_as_zero_days():
    m = by_account(pqa_milestones(HISTORY, "pqa", SIGNED_UP))
    assert m["veteran"]["became_pqa_at"] == day(1, 1)
    assert m["veteran"]["pqa_on_first_snapshot"]
    assert pd.isna(m["veteran"]["days_to_pqa"])  # unknown: it may have been a PQA long before the history


def test_tier_moves_count_days_the_tier_changed_and_current_tier_is_the_last_day():
    m = by_account(pqa_milestones(HISTORY, "pqa"))
    # self_serve -> success -> (success) -> sales -> (sales) -> success
    assert m["climber"]["tier_moves"] == 3
    assert (m["climber"]["current_tier"], m["climber"]["current_score"]) == ("success", 70)
    assert m["veteran"]["tier_moves"] == 0 and m["idle"]["tier_moves"] == 0
    assert (m["idle"]["current_tier"], m["idle"]["current_score"]) == ("self_serve", 30)


def test_milestones_do_not_depend_on_the_row_order_of_the_history():
    shuffled = HISTORY.sample(frac=1, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(pqa_milestones(shuffled, "pqa", SIGNED_UP), pqa_milestones(HISTORY, "pqa", SIGNED_UP))


def test_days_to_pqa_counts_from_signup():
    m = by_account(pqa_milestones(HISTORY, "pqa", SIGNED_UP))
    assert m["climber"]["days_to_pqa"] == 34  # 2025-12-01 -> 2026-01-04
    assert m["late"]["days_to_pqa"] == 3  # 2026-01-30 -> 2026-02-02
    assert pd.isna(m["idle"]["days_to_pqa"])  # never a PQA


def test_days_to_pqa_is_unknown_without_signups_or_for_an_account_missing_from_them():
    assert pqa_milestones(HISTORY, "pqa")["days_to_pqa"].isna().all()
    partial = by_account(pqa_milestones(HISTORY, "pqa", SIGNED_UP.drop("late")))
    assert pd.isna(partial["late"]["days_to_pqa"]) and partial["climber"]["days_to_pqa"] == 34


def test_days_to_pqa_with_datetime_snapshots_as_read_back_from_a_warehouse():
    as_timestamps = HISTORY.assign(snapshot_date=pd.to_datetime(HISTORY["snapshot_date"]))
    m = by_account(pqa_milestones(as_timestamps, "pqa", pd.to_datetime(SIGNED_UP)))
    assert (m["climber"]["days_to_pqa"], m["late"]["days_to_pqa"]) == (34, 3)
    assert m["veteran"]["pqa_on_first_snapshot"] and not m["climber"]["pqa_on_first_snapshot"]


def test_an_account_never_pqa_has_no_pqa_date():
    m = by_account(pqa_milestones(HISTORY, "pqa", SIGNED_UP))
    assert pd.isna(m["idle"]["became_pqa_at"])
    assert not m["idle"]["pqa_on_first_snapshot"]
    nobody = pqa_milestones(HISTORY[HISTORY["account_id"] == "idle"], "pqa", SIGNED_UP)
    assert list(nobody["account_id"]) == ["idle"] and nobody["became_pqa_at"].isna().all()
    assert pqas_created_per_month(nobody).empty


def test_only_the_asked_model_is_counted():
    other = history(
        (day(1, 1), "climber", 95, "at_risk"),  # churn_risk flags everyone from day one
        (day(1, 2), "climber", 20, "healthy"),
        (day(1, 1), "idle", 99, "at_risk"),
        (day(1, 3), "churn_only", 99, "at_risk"),
        model="churn_risk",
    )
    mixed = pd.concat([HISTORY, other], ignore_index=True)
    pd.testing.assert_frame_equal(pqa_milestones(mixed, "pqa", SIGNED_UP), pqa_milestones(HISTORY, "pqa", SIGNED_UP))
    risk = by_account(pqa_milestones(mixed, "churn_risk"))
    assert sorted(risk) == ["churn_only", "climber", "idle"]
    assert risk["climber"]["tier_moves"] == 1 and risk["climber"]["current_tier"] == "healthy"


def test_a_model_with_no_history_gives_an_empty_table_with_the_columns():
    empty = pqa_milestones(HISTORY, "expansion")
    assert empty.empty
    assert list(empty.columns) == ["account_id", "first_snapshot", "last_snapshot", "became_pqa_at",
                                   "pqa_on_first_snapshot", "tier_moves", "current_tier", "current_score",
                                   "days_to_pqa"]
    per_month = pqas_created_per_month(empty)
    assert per_month.empty and list(per_month.columns) == ["month", "new_pqas"]


# --- PQAs per month ---------------------------------------------------------------------------------------


def test_pqas_created_per_month_leaves_out_accounts_pqa_before_the_history_began():
    per_month = pqas_created_per_month(pqa_milestones(HISTORY, "pqa"))
    # climber (January) and late (February); veteran was a PQA on its first snapshot, idle never
    assert per_month.to_dict("list") == {"month": ["2026-01", "2026-02"], "new_pqas": [1, 1]}


@pytest.mark.parametrize("as_timestamps", [False, True])
def test_pqas_created_per_month_counts_each_account_once_in_its_month(as_timestamps):
    rows = history(
        (day(1, 1), "old", 90, "sales"),  # PQA on the first snapshot: not new
        (day(1, 1), "a", 10, "self_serve"), (day(1, 20), "a", 80, "sales"), (day(3, 2), "a", 85, "sales"),
        (day(1, 1), "b", 10, "self_serve"), (day(1, 31), "b", 81, "sales"),
        (day(1, 1), "c", 10, "self_serve"), (day(3, 1), "c", 95, "sales"),
        (day(1, 1), "d", 10, "self_serve"), (day(1, 15), "d", 79, "success"),  # one point short
    )
    if as_timestamps:
        rows = rows.assign(snapshot_date=pd.to_datetime(rows["snapshot_date"]))
    per_month = pqas_created_per_month(pqa_milestones(rows, "pqa"))
    assert per_month.to_dict("list") == {"month": ["2026-01", "2026-03"], "new_pqas": [2, 1]}
    assert per_month["new_pqas"].dtype == "int64"
