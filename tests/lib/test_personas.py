"""Personas, buying power, evidence, best contacts and PQLs with the shipped persona rules."""

from __future__ import annotations

import pandas as pd
import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.personas import (
    best_contacts_per_account,
    flag_pqls,
    identify_personas,
    load_persona_rules,
)
from pls_pipelines.lib.rules_config import shipped_config


@pytest.fixture(scope="module")
def rules():
    return load_persona_rules()


def person(person_id: str, title: str | None, **overrides) -> dict:
    """A product user in account a1 with a company email and no notable behaviour, unless overridden."""
    row = {
        "account_id": "a1", "person_id": person_id, "user_id": person_id, "contact_id": None,
        "email": f"{person_id}@acme.com", "name": person_id.title(), "title": title, "is_free_mail": False,
        "invites_sent_28d": 0, "users_added_28d": 0, "admin_changes_28d": 0, "enterprise_page_views_28d": 0,
        "events_28d": 10, "is_first_user": False, "activity_rank": 9, "role": "member",
    }
    row.update(overrides)
    return row


def classify(rules, *rows: dict) -> pd.DataFrame:
    return identify_personas(pd.DataFrame(list(rows)), rules).set_index("person_id")


def test_vp_finance_with_company_email_is_an_economic_buyer(rules):
    out = classify(rules, person("dana", "VP Finance"))
    assert out.loc["dana", "persona"] == "economic_buyer"
    assert out.loc["dana", "is_buyer"]
    assert out.loc["dana", "evidence"] == "VP in finance"


def test_free_mail_is_never_a_buyer_but_can_champion(rules):
    out = classify(
        rules,
        person("vp", "VP Finance", email="vp@gmail.com", is_free_mail=True),
        person("fan", "Analyst", email="fan@gmail.com", is_free_mail=True, invites_sent_28d=3),
    )
    assert not out["is_buyer"].any()
    assert out.loc["vp", "evidence"] == "VP in finance; free-mail address (not counted as buyer)"
    assert out.loc["fan", "is_champion"]
    assert out.loc["fan", "persona"] == "champion"
    assert out.loc["fan", "evidence"].endswith("invited teammates 3x; free-mail address")


def test_unknown_free_mail_flag_or_missing_email_does_not_make_a_buyer(rules):
    out = classify(
        rules, person("a", "CEO", is_free_mail=None), person("b", "CEO", email=None), person("c", "CEO")
    )
    assert out["is_buyer"].to_dict() == {"a": False, "b": False, "c": True}


def test_inviter_is_a_champion_with_plain_evidence(rules):
    out = classify(rules, person("lee", "Data Analyst", invites_sent_28d=4, activity_rank=1))
    assert out.loc["lee", "persona"] == "champion"
    assert out.loc["lee", "is_champion"]
    assert out.loc["lee", "evidence"] == "IC in data; invited teammates 4x; #1 most active user"


@pytest.mark.parametrize(
    "behaviour",
    [{"admin_changes_28d": 1}, {"users_added_28d": 2}, {"activity_rank": 3}, {"is_first_user": True},
     {"role": "owner"}, {"role": "admin"}],
)
def test_each_champion_signal_makes_a_champion(rules, behaviour):
    assert classify(rules, person("x", "Designer", **behaviour)).loc["x", "is_champion"]


def test_fourth_most_active_or_viewing_pricing_alone_is_not_a_champion(rules):
    out = classify(rules, person("x", "Designer", activity_rank=4, enterprise_page_views_28d=5))
    assert not out.loc["x", "is_champion"]
    assert out.loc["x", "persona"] == "end_user"


def test_inactive_first_user_is_no_longer_a_champion(rules):
    out = classify(rules, person("old", "Designer", is_first_user=True, role="owner", events_28d=0))
    assert not out.loc["old", "is_champion"]
    assert "no product activity in 28 days" in out.loc["old", "evidence"]


def test_buyer_title_outranks_champion_behaviour_but_keeps_both_flags(rules):
    out = classify(rules, person("cto", "CTO", invites_sent_28d=2))
    assert out.loc["cto", "persona"] == "economic_buyer"
    assert out.loc["cto", "is_buyer"] and out.loc["cto", "is_champion"]


@pytest.mark.parametrize(
    ("title", "persona"),
    [("Senior Software Engineer", "influencer"), ("IT Support Technician", "influencer"),
     ("Security Analyst", "influencer"), ("IT Manager", "economic_buyer"),
     ("Procurement Manager", "economic_buyer"), ("Marketing Manager", "end_user"),
     ("Account Executive", "end_user"), (None, "end_user"),
     # budget-holding seniority in a buying department; seniors elsewhere influence
     ("VP Engineering", "economic_buyer"), ("Director of Data", "economic_buyer"), ("Director", "economic_buyer"),
     ("CMO", "economic_buyer"), ("VP Marketing", "influencer"), ("Head of Sales", "influencer")],
)
def test_persona_from_title(rules, title, persona):
    assert classify(rules, person("x", title)).loc["x", "persona"] == persona


def test_buying_power_adds_capped_behaviour_to_title_weight(rules):
    out = classify(
        rules,
        person("vp", "VP Engineering", enterprise_page_views_28d=3),
        person("vp_many", "VP Engineering", enterprise_page_views_28d=50),
        person("ic", "Software Engineer"),
        person("ceo", "CEO", enterprise_page_views_28d=9, invites_sent_28d=9, users_added_28d=9,
               admin_changes_28d=9),
    )
    power = out["buying_power"].to_dict()
    assert power["vp"] == 62 + 15  # 3 views x 5 points
    assert power["vp_many"] == 62 + 15  # capped at max_points
    assert power["ic"] == 15
    assert power["ceo"] == 100  # never above 100
    assert out["buying_power"].dtype == "int64"


def test_signal_reading_a_missing_column_names_it(rules):
    people = pd.DataFrame([person("x", "CTO")]).drop(columns=["invites_sent_28d"])
    with pytest.raises(ConfigError, match=r"signals\.invited_teammates\.column.*'invites_sent_28d'"):
        identify_personas(people, rules)


def test_signal_with_two_tests_is_a_config_error(tmp_path):
    text = shipped_config("personas.yaml").read_text(encoding="utf-8")
    old = "{column: is_first_user, equals: true,"
    assert old in text
    path = tmp_path / "personas.yaml"
    path.write_text(text.replace(old, "{column: is_first_user, equals: true, at_least: 1,"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"signals\.first_user.*has 2 tests .*-- give exactly one of"):
        load_persona_rules(path)


# --- best contacts ---------------------------------------------------------------------------------------


def contacts(rules, *rows: dict) -> pd.Series:
    best = best_contacts_per_account(identify_personas(pd.DataFrame(list(rows)), rules))
    assert len(best) == 1
    return best.iloc[0]


def test_best_buyer_ties_break_on_activity_then_person_id(rules):
    best = contacts(
        rules,
        person("p3", "VP Finance", activity_rank=2),
        person("p2", "VP Finance", activity_rank=5),
        person("p1", "VP Finance", activity_rank=5),
    )
    assert best["economic_buyer_person_id"] == "p3"
    best = contacts(
        rules, person("p2", "VP Finance", activity_rank=5), person("p1", "VP Finance", activity_rank=5)
    )
    assert best["economic_buyer_person_id"] == "p1"


def test_higher_buying_power_wins_over_activity(rules):
    best = contacts(
        rules, person("dir", "Director of IT", activity_rank=1), person("ceo", "CEO", activity_rank=7)
    )
    assert best["economic_buyer_person_id"] == "ceo"
    assert best["economic_buyer_title"] == "CEO"
    assert best["economic_buyer_evidence"] == "C-level executive"


def test_buyer_in_the_product_beats_a_crm_only_buyer(rules):
    best = contacts(
        rules,
        person("crm_ceo", "CEO", user_id=None, contact_id="c1", activity_rank=None, events_28d=0),
        person("vp", "VP Engineering"),
    )
    assert best["economic_buyer_person_id"] == "vp"
    assert best["buyer_present"]


def test_crm_only_buyer_is_named_but_not_present(rules):
    best = contacts(
        rules,
        person("crm_cfo", "CFO", user_id=None, contact_id="c1", activity_rank=None, events_28d=0),
        person("lee", "Analyst", invites_sent_28d=1),
    )
    assert best["economic_buyer_name"] == "Crm_Cfo"
    assert not best["buyer_present"] and not best["economic_buyer_is_user"]
    assert best["buyer_known"]  # the CRM knows a buyer: enterprise PQAs can go to sales top-down
    assert best["champion_person_id"] == "lee" and best["champion_present"]


def test_champion_is_someone_else_than_the_buyer_when_possible(rules):
    best = contacts(
        rules,
        person("vp", "VP Engineering", invites_sent_28d=5, activity_rank=1),
        person("lee", "Analyst", activity_rank=2),
    )
    assert (best["economic_buyer_person_id"], best["champion_person_id"]) == ("vp", "lee")
    alone = contacts(rules, person("vp", "VP Engineering", invites_sent_28d=5, activity_rank=1))
    assert (alone["economic_buyer_person_id"], alone["champion_person_id"]) == ("vp", "vp")


def test_account_without_buyer_or_champion(rules):
    best = contacts(rules, person("x", "Designer", events_28d=0))
    assert not best["buyer_present"] and not best["champion_present"] and not best["buyer_known"]
    assert pd.isna(best["economic_buyer_name"]) and pd.isna(best["champion_name"])


def test_nullable_integer_activity_rank_as_built_upstream(rules):
    people = pd.DataFrame([
        person("crm", "CEO", user_id=pd.NA, activity_rank=pd.NA, events_28d=0),
        person("u2", "CEO", activity_rank=2), person("u1", "CEO", activity_rank=1),
    ])
    people["activity_rank"] = people["activity_rank"].astype("Int64")
    best = best_contacts_per_account(identify_personas(people, rules)).iloc[0]
    assert best["economic_buyer_person_id"] == "u1"


def test_one_row_per_account(rules):
    rows = [person("a", "CTO"), person("b", "CTO", account_id="a2"), person("c", "Designer", account_id="a3")]
    best = best_contacts_per_account(identify_personas(pd.DataFrame(rows), rules))
    assert best["account_id"].tolist() == ["a1", "a2", "a3"]
    assert best["buyer_present"].tolist() == [True, True, False]


def test_pql_is_a_buyer_or_champion_inside_a_pqa(rules):
    rows = [
        person("buyer", "CTO"), person("fan", "Analyst", invites_sent_28d=1), person("user", "Designer"),
        person("other_buyer", "CTO", account_id="a2"),
    ]
    personas = identify_personas(pd.DataFrame(rows), rules)
    pql = flag_pqls(personas, {"a1"})
    assert dict(zip(personas["person_id"], pql, strict=True)) == {
        "buyer": True, "fan": True, "user": False, "other_buyer": False,
    }
