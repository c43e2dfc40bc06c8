"""Small hand-built input tables of the report: every table the report reads, with every case worth drawing."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

AS_OF = date(2026, 12, 2)
HOSTILE_REASON = "<script>alert('x')</script> 9 active users in 28 days (+30)"
EMAIL = "dana.ruiz@acme.com"


def routing() -> pd.DataFrame:
    rows = [
        # account_id, name, domain, segment, score, tier, is_pqa, model, motion, buyer, champion, reasons
        ("c1", "Atlas Bio & Co", "atlas-bio.co", "mid_market", 98, "sales", True, "pqa", "sales",
         ("Nora Patel", "Chief Data Officer"), ("Chen Okafor", "Lead Data Scientist"), HOSTILE_REASON),
        ("c2", "Oak Commerce", "oak-commerce.com", "enterprise", 91, "sales", True, "pqa", "sales",
         ("Chloe Novak", "COO"), (None, None), f"contact {EMAIL}; 1,408 product events in 28 days (+18)"),
        ("c3", "Quartz Logistics", "quartz.io", "smb", 84, "sales", True, "pqa", "self_serve",
         (None, None), ("Ana Schmidt", "Data Team Lead"), "uses 5 core features (+20)"),
        ("c4", "Blue Retail", "blue-retail.fr", None, 72, "success", False, "pqa", "success",
         ("Maja Santos", "DSI"), (None, None), "3 active users in 28 days (+12)"),
        ("c5", "Ridge Networks", "ridge.com", "mid_market", 65, "success", False, "pqa", "abm",
         (None, None), (None, None), "visited pricing (+5)"),
        ("c6", "Delta Bank", "deltabank.fr", "enterprise", 40, "self_serve", False, "pqa", "abm",
         (None, None), (None, None), "1 active user in 28 days (+3)"),
        ("c7", "Crest Cloud", "crest.in", "smb", 12, "self_serve", False, "pqa", "self_serve",
         (None, None), (None, None), "no product events in 28 days"),
        ("c8", "Slate Energy", "slate.example", "enterprise", 88, "sales", True, "expansion", "expansion",
         ("Alejandro Thomas", "CFO"), ("Victor Nguyen", "Product Manager"), "seats 90% used (+25)"),
        ("c9", "Indigo Data", "indigo.example", "smb", 30, "self_serve", False, "expansion", "churn_risk",
         (None, None), (None, None), "usage -40% week over week (-10)"),
    ]
    return pd.DataFrame([{
        "account_id": a, "crm_company_id": a, "account_name": name, "domain": domain, "segment": segment,
        "employee_count": 100.0, "is_customer": model == "expansion", "is_consolidation": False,
        "workspace_count": 1, "score": score, "tier": tier, "is_pqa": pqa, "reasons": reasons, "model": model,
        "model_version": "v-" + model, "active_users_28d": 5, "motion": motion,
        "motion_reason": f"{motion} because <rules>", "recommended_contacts": "",
        "routing_rule": "rule", "economic_buyer_name": buyer[0], "economic_buyer_title": buyer[1],
        "champion_name": champ[0], "champion_title": champ[1], "as_of_date": pd.Timestamp(AS_OF),
    } for a, name, domain, segment, score, tier, pqa, model, motion, buyer, champ, reasons in rows])


def history(days: int = 5) -> pd.DataFrame:
    current = routing()
    rows = []
    for offset in range(days):
        day = pd.Timestamp(AS_OF - timedelta(days=days - 1 - offset))
        for r in current.itertuples(index=False):
            score = max(1, r.score - 2 * (days - 1 - offset))
            tier = "sales" if score >= 80 else "success" if score >= 60 else "self_serve"
            for model in (r.model, "worked_example"):
                rows.append({"snapshot_date": day, "account_id": r.account_id, "model": model,
                             "model_version": "v", "segment": r.segment, "score": score, "tier": tier,
                             "is_pqa": score >= 80, "reasons": ""})
    return pd.DataFrame(rows)


def validation() -> pd.DataFrame:
    nan = math.nan
    rows = [
        ("score", "pqa", 400, 30, 0.075, nan, nan, nan, 0.67, 0.62, 0.72,
         "The score predicts closed-won deals: ROC AUC 0.67; sales-tier accounts convert at 3.1x the average."),
        ("tier", "sales", 40, 9, 0.225, 3.0, 2.0, 4.3, nan, nan, nan, None),
        ("tier", "success", 60, 7, 0.1167, 1.56, 1.1, 2.0, nan, nan, nan, None),
        ("tier", "self_serve", 300, 14, 0.0467, 0.62, 0.4, 0.9, nan, nan, nan, None),
        ("signal", "team_size", nan, nan, nan, nan, nan, nan, 0.64, 0.6, 0.7, "predicts wins"),
    ]
    columns = ["kind", "name", "accounts", "won", "conversion_rate", "lift", "lift_ci_low", "lift_ci_high", "auc",
               "auc_ci_low", "auc_ci_high", "verdict"]
    return pd.DataFrame(rows, columns=columns).assign(
        model="pqa", model_version="v-pqa", as_of_date=pd.Timestamp(AS_OF - timedelta(days=60)), horizon_days=60)


def metrics() -> pd.DataFrame:
    rows = [
        ("accounts", "Accounts scored", 1961.0, "count", "1,961 accounts in the history"),
        ("pqas_current", "PQAs now", 87.0, "count", "accounts at or above the PQA threshold today"),
        ("pqa_share", "Accounts reaching PQA", 0.177, "share", "347 of 1,961 accounts"),
        ("time_to_pqa_days_median", "Signup to PQA (median)", 34.0, "days", "from 320 accounts"),
        ("pqa_to_won_conversion", "PQA to closed-won", 0.045, "share", "4 of 87 PQAs"),
        ("pq_won_amount", "Won from PQAs", 1204500.0, "currency", "43 won deals"),
        ("net_revenue_retention", "Net revenue retention", math.nan, "ratio", "no customers paying a year ago"),
        ("expansion_arr", "Expansion ARR", 1.08, "ratio", f"ask {EMAIL}"),
    ]
    frame = pd.DataFrame(rows, columns=["metric", "label", "value", "unit", "detail"])
    return frame.assign(definition="One sentence.", sources="pqa_score_history.is_pqa", as_of_date=AS_OF)


def breakdowns() -> pd.DataFrame:
    rows = [("pqas_created", "month", "2026-11", 12.0, "count"), ("pqas_created", "month", "2026-09", 5.0, "count"),
            ("pqas_created", "month", "2026-10", 9.0, "count")]
    rows += [("time_to_pqa_days", "account", f"c{i}", float(d), "days") for i, d in enumerate([3, 10, 34, 34, 90])]
    rows += [("feature_adoption", segment, feature, share, "share")
             for segment, base in (("all", 0.5), ("smb", 0.3), ("enterprise", 0.8))
             for feature, share in (("dashboards", base), ("sso", base / 2))]
    return pd.DataFrame(rows, columns=["metric", "dimension", "key", "value", "unit"])


def all_tables() -> dict[str, pd.DataFrame]:
    """Table name -> frame, as the warehouse holds them."""
    return {"account_routing": routing(), "pqa_score_history": history(), "score_validation": validation(),
            "pls_metrics": metrics(), "pls_metric_breakdowns": breakdowns()}


def daily_tiers(model: str = "pqa") -> pd.DataFrame:
    """pqa_score_history counted per day and tier, as read_inputs asks the warehouse for it."""
    rows = history()
    rows = rows[rows["model"] == model]
    return rows.groupby(["snapshot_date", "tier"]).size().rename("accounts").reset_index()
