"""Motion routing with the shipped decision table: every branch, its reason, overrides and config errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.routing import CONDITION_KEYS, MOTIONS, load_routing_rules, route_accounts
from pls_pipelines.lib.rules_config import shipped_config


@pytest.fixture(scope="module")
def rules():
    return load_routing_rules()


BASE = {
    "segment": "mid_market", "employee_count": 400, "is_customer": False, "is_pqa": False, "score": 50,
    "tier": "self_serve", "buyer_present": False, "buyer_known": False, "champion_present": False,
    "is_crm_matched": True,
    "is_consolidation": False, "workspace_count": 1, "velocity_7d": np.nan, "active_users_28d": 6,
    "active_users_prior_28d": 6, "events_28d": 100, "events_prior_28d": 100, "advanced_features_used_28d": 0,
    "economic_buyer_name": None, "economic_buyer_title": None, "champion_name": None, "champion_title": None,
}
DANA = {"buyer_present": True, "buyer_known": True, "economic_buyer_name": "Dana Ruiz",
        "economic_buyer_title": "VP Engineering"}
LEE = {"champion_present": True, "champion_name": "Lee Wong"}


def route(rules, **account) -> dict:
    frame = pd.DataFrame([{"account_id": "acc", **BASE, **account}])
    return route_accounts(frame, rules).iloc[0].to_dict()


def test_pqa_with_buyer_goes_to_sales(rules):
    out = route(rules, is_pqa=True, score=86, tier="sales", **DANA, **LEE)
    assert out["motion"] == "sales"
    assert out["routing_rule"] == "pqa_with_buyer"
    assert out["motion_reason"] == (
        "PQA (score 86) with an economic buyer in the product: Dana Ruiz, VP Engineering"
    )
    assert out["recommended_contacts"] == "buyer: Dana Ruiz (VP Engineering); champion: Lee Wong"


def test_buyer_without_pqa_gets_white_glove_activation(rules):
    out = route(rules, score=55, **DANA)
    assert (out["motion"], out["routing_rule"]) == ("success", "buyer_not_yet_pqa")
    assert out["motion_reason"] == (
        "Economic buyer in the product (Dana Ruiz, VP Engineering) but not a PQA yet (score 55): "
        "white-glove activation"
    )


def test_pqa_without_buyer_goes_to_abm_naming_the_champion(rules):
    out = route(rules, is_pqa=True, score=81, **LEE)
    assert (out["motion"], out["routing_rule"]) == ("abm", "pqa_without_buyer")
    assert out["motion_reason"] == (
        "PQA (score 81) with no economic buyer among its users: prospect one; champion: Lee Wong"
    )
    assert out["recommended_contacts"] == "champion: Lee Wong"


def test_high_fit_account_without_buyer_goes_to_abm(rules):
    out = route(rules, score=20, segment="enterprise", employee_count=5000)
    assert (out["motion"], out["routing_rule"]) == ("abm", "high_fit_without_buyer")
    assert out["motion_reason"] == (
        "High fit: enterprise company (5,000 employees) in the product without an economic buyer: "
        "account-based marketing"
    )


def test_low_fit_account_without_buyer_stays_self_serve(rules):
    out = route(rules, score=20, tier="self_serve", segment=None, employee_count=None)
    assert (out["motion"], out["routing_rule"]) == ("self_serve", "default")
    assert out["motion_reason"] == (
        "Score 20 (self_serve) and no economic buyer in the product: stays self-serve"
    )
    assert out["recommended_contacts"] == "no buyer or champion identified yet"


def test_customer_with_falling_usage_is_a_churn_risk(rules):
    out = route(rules, is_customer=True, events_28d=40, events_prior_28d=100, **DANA)
    assert (out["motion"], out["routing_rule"]) == ("churn_risk", "customer_usage_falling")
    assert out["motion_reason"] == (
        "Paying customer, usage -60% vs the prior 28 days: reach out before the renewal"
    )


def test_customer_with_nobody_active_is_a_churn_risk(rules):
    out = route(rules, is_customer=True, active_users_28d=0, events_28d=0, events_prior_28d=0)
    assert (out["motion"], out["routing_rule"]) == ("churn_risk", "customer_inactive")


@pytest.mark.parametrize(
    ("account", "rule", "reason"),
    [
        ({"is_consolidation": True, "workspace_count": 3}, "customer_consolidation",
         "Paying customer with 3 separate workspaces: consolidate into one company-wide contract"),
        ({"active_users_28d": 12, "active_users_prior_28d": 8}, "customer_adding_seats",
         "Paying customer adding people: 12 active users (+50% vs the prior 28 days)"),
        ({"advanced_features_used_28d": 3}, "customer_advanced_features",
         "Paying customer using 3 advanced features: offer the plan built for them"),
    ],
)
def test_customer_expansion_plays(rules, account, rule, reason):
    out = route(rules, is_customer=True, **account)
    assert (out["motion"], out["routing_rule"], out["motion_reason"]) == ("expansion", rule, reason)


def test_customer_with_a_high_expansion_score_is_ready_to_expand(rules):
    out = route(rules, is_customer=True, is_pqa=True, score=95, active_users_28d=40, active_users_prior_28d=40)
    assert (out["motion"], out["routing_rule"]) == ("expansion", "customer_ready_to_expand")
    assert out["motion_reason"] == (
        "Paying customer scoring 95 on the expansion model (40 active users): ready for the next plan"
    )


def test_customer_never_gets_a_new_business_motion(rules):
    # a paying customer with a buyer in the product and a high score: an expansion play, never new business
    for segment in ("smb", "mid_market", "enterprise"):
        out = route(rules, segment=segment, is_customer=True, is_pqa=True, score=95, **DANA)
        assert out["motion"] == "expansion", segment
        assert (route(rules, segment=segment, is_customer=True, score=30, **DANA)["routing_rule"]
                == "customer_steady")


def test_first_matching_rule_wins_when_several_hold(rules):
    # falling usage, several workspaces, growth in people and advanced features all at once: churn risk first
    out = route(rules, is_customer=True, is_pqa=True, score=90, is_consolidation=True, workspace_count=3,
                events_28d=40, events_prior_28d=100, advanced_features_used_28d=4)
    assert out["routing_rule"] == "customer_usage_falling"
    # a prospect PQA with a buyer in the product that is also high fit: sales, not ABM
    out = route(rules, segment="enterprise", employee_count=3000, is_pqa=True, score=90, **DANA)
    assert out["routing_rule"] == "pqa_with_buyer"


def test_score_exactly_at_the_threshold_follows_is_pqa(rules):
    # routing reads the scorer's is_pqa flag, so a tie at the threshold goes the way scoring decided
    assert route(rules, is_pqa=True, score=80, **DANA)["motion"] == "sales"
    assert route(rules, is_pqa=False, score=79, **DANA)["motion"] == "success"


def test_usage_trend_without_prior_usage_does_not_count_as_falling(rules):
    out = route(rules, is_customer=True, events_28d=10, events_prior_28d=0)
    assert out["routing_rule"] == "customer_steady"


def test_consolidation_is_mentioned_for_prospects(rules):
    out = route(rules, is_pqa=True, score=90, is_consolidation=True, workspace_count=4, **DANA)
    assert out["motion_reason"].endswith("; 4 workspaces of one company: consolidation opportunity")


# --- segment overrides -----------------------------------------------------------------------------------


def test_smb_keeps_sales_for_a_pqa_with_buyer(rules):
    out = route(rules, segment="smb", employee_count=40, is_pqa=True, score=88, **DANA)
    assert (out["motion"], out["routing_rule"]) == ("sales", "pqa_with_buyer")


def test_smb_buyer_without_pqa_stays_self_serve(rules):
    out = route(rules, segment="smb", employee_count=40, score=55, **DANA)
    assert out["motion"] == "self_serve"
    assert out["routing_rule"] == "buyer_not_yet_pqa > smb_buyer_stays_self_serve"
    assert out["motion_reason"] == (
        "SMB (40 employees): stays self-serve; Dana Ruiz, VP Engineering is in the product "
        "but the score is 55"
    )


def test_smb_pqa_without_buyer_stays_self_serve(rules):
    out = route(rules, segment="smb", employee_count=40, is_pqa=True, score=85)
    assert out["motion"] == "self_serve"
    assert out["routing_rule"] == "pqa_without_buyer > smb_pqa_stays_self_serve"
    assert out["motion_reason"].endswith("without an economic buyer: stays self-serve; champion: none yet")


KIM_IN_CRM = {"buyer_known": True, "economic_buyer_name": "Kim Lee", "economic_buyer_title": "CFO",
              "economic_buyer_is_user": False}


def test_enterprise_pqa_with_a_crm_buyer_is_hybrid_sales(rules):
    out = route(rules, segment="enterprise", employee_count=5000, is_pqa=True, score=90, **LEE, **KIM_IN_CRM)
    assert (out["motion"], out["routing_rule"]) == ("sales", "pqa_without_buyer > enterprise_pqa_hybrid")
    assert out["motion_reason"] == (
        "Enterprise PQA (score 90, 5,000 employees) with no buyer in the product yet: "
        "sales calls Kim Lee, CFO top-down; champion: Lee Wong"
    )
    assert out["recommended_contacts"] == "buyer to prospect (not a user yet): Kim Lee (CFO); champion: Lee Wong"


def test_enterprise_pqa_with_no_buyer_known_anywhere_stays_abm(rules):
    out = route(rules, segment="enterprise", employee_count=5000, is_pqa=True, score=90, **LEE)
    assert (out["motion"], out["routing_rule"]) == ("abm", "pqa_without_buyer")


def test_mid_market_pqa_with_a_crm_buyer_stays_abm(rules):
    # only enterprise is hybrid: mid-market prospects the CRM buyer through marketing first
    assert route(rules, is_pqa=True, score=85, **KIM_IN_CRM)["motion"] == "abm"


def test_enterprise_non_pqa_keeps_its_table_motion(rules):
    out = route(rules, segment="enterprise", employee_count=5000, score=40, **DANA)
    assert (out["motion"], out["routing_rule"]) == ("success", "buyer_not_yet_pqa")


def test_mid_market_pqa_without_buyer_stays_abm(rules):
    assert route(rules, is_pqa=True, score=85)["motion"] == "abm"


# --- contacts and table behaviour ---------------------------------------------------------------------------


def test_same_person_as_buyer_and_champion_is_named_once(rules):
    out = route(rules, **DANA, champion_present=True, champion_name="Dana Ruiz",
                champion_title="VP Engineering", economic_buyer_person_id="p1", champion_person_id="p1")
    assert out["recommended_contacts"] == "buyer and champion: Dana Ruiz (VP Engineering)"


def test_crm_only_buyer_is_someone_to_prospect(rules):
    out = route(
        rules, economic_buyer_name="Kim Lee", economic_buyer_title="CFO", economic_buyer_is_user=False
    )
    assert out["recommended_contacts"] == "buyer to prospect (not a user yet): Kim Lee (CFO)"


def test_every_row_routed_in_input_order_with_missing_flags_false(rules):
    frame = pd.DataFrame([
        {"account_id": "b", **BASE, "is_pqa": True, **DANA},
        {"account_id": "a", **BASE, "segment": "smb", "is_pqa": pd.NA, "buyer_present": None},
    ], index=[7, 3])
    out = route_accounts(frame, rules)
    assert out.columns.tolist() == [
        "account_id", "motion", "motion_reason", "recommended_contacts", "routing_rule"
    ]
    assert out["account_id"].tolist() == ["b", "a"]
    assert out["motion"].tolist() == ["sales", "self_serve"]


def test_missing_column_is_named(rules):
    frame = pd.DataFrame([{"account_id": "a", **BASE}]).drop(columns=["events_prior_28d"])
    with pytest.raises(ValueError, match=r"lacks columns \['events_prior_28d'\]"):
        route_accounts(frame, rules)


def test_vectorised_result_matches_row_by_row(rules):
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame({
        "account_id": [f"a{i}" for i in range(n)], **{k: [v] * n for k, v in BASE.items()},
    })
    frame["is_pqa"] = rng.random(n) < 0.3
    frame["is_customer"] = rng.random(n) < 0.3
    frame["buyer_present"] = rng.random(n) < 0.4
    frame["events_28d"] = rng.integers(0, 200, n)
    frame["segment"] = rng.choice(["smb", "mid_market", "enterprise"], n)
    together = route_accounts(frame, rules)
    sample = list(range(0, n, 37))
    one_by_one = pd.concat([route_accounts(frame.iloc[[i]], rules) for i in sample], ignore_index=True)
    assert one_by_one.equals(together.iloc[sample].reset_index(drop=True))
    assert set(together["motion"]) <= set(MOTIONS)


# --- configuration ---------------------------------------------------------------------------------------


def test_condition_vocabulary_in_code_and_schema_agree():
    schema = json.loads(shipped_config("routing.schema.json").read_text(encoding="utf-8"))
    assert set(schema["$defs"]["condition"]["properties"]) == set(CONDITION_KEYS)
    assert schema["$defs"]["motion"]["enum"] == list(MOTIONS)


def _routing_with(tmp_path, old: str, new: str):
    text = shipped_config("routing.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "routing.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("motion: success", "motion: sucess",
         r"rules\[8\]\.motion \(rule 'buyer_not_yet_pqa'\): 'sucess' is not allowed here "
         r"-- did you mean 'success'\?"),
        ("usage_trend_below: -0.3", "usage_trend_belo: -0.3",
         r"rules\[0\]\.when\.usage_trend_belo \(rule 'customer_usage_falling'\): "
         r"unknown key 'usage_trend_belo' -- did you mean 'usage_trend_below'\?"),
        ("reason: \"PQA (score {score}) with an", "reason: \"PQA (score {scor}) with an",
         r"rules\[7\]\.reason \(rule 'pqa_with_buyer'\): unknown placeholder \{scor\} "
         r"-- did you mean 'score'\?"),
        ("segments: [enterprise]", "segments: [enterprize]",
         r"segment_overrides\[2\]\.segments \(rule 'enterprise_pqa_hybrid'\): unknown segment 'enterprize' "
         r"-- did you mean 'enterprise'\?"),
        ("    when: {}\n", "    when: {is_pqa: false}\n",
         r"rules\[11\]\.when \(rule 'default'\): the last rule does not match every account "
         r"-- end the table"),
        ("name: customer_inactive", "name: customer_usage_falling",
         r"rules\[1\]\.name .*'customer_usage_falling' is already used at rules\[0\]\.name"),
    ],
)
def test_config_errors_name_the_rule_and_the_fix(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_routing_rules(_routing_with(tmp_path, old, new))
    assert ", line " in str(err.value)


def test_a_routing_change_is_a_yaml_change(tmp_path):
    path = _routing_with(tmp_path, "when: {is_pqa: true, buyer_present: true}",
                         "when: {is_pqa: true, buyer_present: true, score_at_least: 90}")
    out = route(load_routing_rules(path), is_pqa=True, score=86, **DANA)
    assert out["motion"] == "success"


def test_rules_expose_the_known_motions(rules):
    assert set(rules.motions) == {"sales", "success", "abm", "self_serve", "expansion", "churn_risk"}
    assert {r.motion for r in (*rules.rules, *rules.overrides)} <= set(rules.motions)
