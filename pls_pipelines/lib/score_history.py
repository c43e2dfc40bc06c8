"""The daily score history: one snapshot of every account's score per day, and what can be read from it.

A score alone says where an account is today; the history says how it got there. From it come the moments
RevOps reports on - when an account first became a PQA, how long that took from signup, how often accounts
move between tiers, how many new PQAs each month brings - and the point-in-time scores a backtest needs (what
did the score say on 1 September, before we knew who would buy?). Snapshots carry the model version, so a
change of rules shows up as a change of version in the history rather than as an unexplained jump.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

SCORE_HISTORY = "pqa_score_history"
HISTORY_COLUMNS = ["snapshot_date", "account_id", "model", "model_version", "segment", "score", "tier", "is_pqa",
                   "reasons"]


def score_history_table(metadata: sa.MetaData) -> sa.Table:
    """The history's DDL, declared rather than inferred from the first frame (an empty first day would
    otherwise type every column as text)."""
    return sa.Table(
        SCORE_HISTORY,
        metadata,
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("segment", sa.Text),
        sa.Column("score", sa.BigInteger, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("is_pqa", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.Text),
    )


def pqa_milestones(history: pd.DataFrame, model: str, signed_up: pd.Series | None = None) -> pd.DataFrame:
    """Per account of `model`: first and last snapshot, when it first became a PQA, tier moves, current tier.

    became_pqa_at is the first snapshot with is_pqa; an account that was a PQA on the first snapshot we have
    was perhaps one earlier, so `pqa_on_first_snapshot` flags it (its time to PQA is unknown, not zero).
    `signed_up` (account_id -> signup date) adds days_to_pqa, counted from signup.
    tier_moves counts the days the tier differed from the day before.
    """
    rows = history[history["model"] == model].sort_values(["account_id", "snapshot_date"], kind="stable")
    columns = ["account_id", "first_snapshot", "last_snapshot", "became_pqa_at", "pqa_on_first_snapshot",
               "tier_moves", "current_tier", "current_score", "days_to_pqa"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    by_account = rows.groupby("account_id", sort=True)
    result = pd.DataFrame({
        "first_snapshot": by_account["snapshot_date"].min(),
        "last_snapshot": by_account["snapshot_date"].max(),
        "became_pqa_at": rows[rows["is_pqa"].astype(bool)].groupby("account_id")["snapshot_date"].min(),
        "tier_moves": (rows["tier"] != by_account["tier"].shift()).groupby(rows["account_id"]).sum() - 1,
        "current_tier": by_account["tier"].last(),
        "current_score": by_account["score"].last(),
    })
    result["pqa_on_first_snapshot"] = result["became_pqa_at"] == result["first_snapshot"]
    result["days_to_pqa"] = pd.array([pd.NA] * len(result), dtype="Int64")
    if signed_up is not None:
        signup = pd.to_datetime(result.index.map(signed_up), errors="coerce")
        became = pd.to_datetime(result["became_pqa_at"], errors="coerce")
        known = ~result["pqa_on_first_snapshot"] & became.notna() & signup.notna()
        days = (became - signup).dt.days.where(known)
        result["days_to_pqa"] = days.astype("Int64")
    return result.reset_index()[columns]


def pqas_created_per_month(milestones: pd.DataFrame) -> pd.DataFrame:
    """New PQAs per calendar month (by became_pqa_at), leaving out accounts already PQA on the first snapshot:
    they were created before the history began, not in its first month."""
    new = milestones[milestones["became_pqa_at"].notna() & ~milestones["pqa_on_first_snapshot"].astype(bool)]
    months = pd.to_datetime(new["became_pqa_at"]).dt.to_period("M").astype(str)
    counts = months.value_counts().sort_index()
    return pd.DataFrame({"month": counts.index.tolist(), "new_pqas": counts.to_numpy(dtype="int64")})
