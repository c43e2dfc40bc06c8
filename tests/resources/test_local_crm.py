import pandas as pd
import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import FieldSpec, NewContact, RecordUpdate
from pls_pipelines.resources.crm import build_crm_client
from pls_pipelines.resources.local_crm import LocalCrm

FIELD = FieldSpec("pls_pqa_score", "PQA score", "number", "account_routing", "score")


@pytest.fixture
def crm(tmp_path):
    client = LocalCrm(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    client.seed(
        pd.DataFrame({"owner_id": ["o1"], "name": ["Sam"], "email": ["sam@vendor.com"], "team": ["sales"]}),
        pd.DataFrame(
            {
                "company_id": ["c1", "c2"],
                "name": ["Acme", "Beta"],
                "domain": ["acme.com", "beta.io"],
                "industry": ["Software"] * 2,
                "employee_count": [120, 4000],
                "country": ["US"] * 2,
                "owner_id": ["o1"] * 2,
                "lifecycle_stage": ["lead", "customer"],
                "created_at": ["2026-01-01"] * 2,
            }
        ),
        pd.DataFrame(
            {
                "contact_id": ["k1"],
                "company_id": ["c1"],
                "email": ["dana@acme.com"],
                "first_name": ["Dana"],
                "last_name": ["Ruiz"],
                "title": ["VP Engineering"],
                "created_at": ["2026-01-01"],
            }
        ),
        pd.DataFrame(
            columns=[
                "deal_id",
                "company_id",
                "name",
                "stage",
                "amount",
                "deal_type",
                "created_at",
                "close_date",
            ]
        ),
    )
    yield client
    client.close()


def test_properties_must_be_defined_before_they_are_written(crm):
    outcome = crm.update_records("companies", [RecordUpdate("c1", {"pls_pqa_score": "80"})])
    assert not outcome[0].ok and outcome[0].error.startswith("PROPERTY_DOESNT_EXIST")
    assert crm.ensure_properties("companies", [FIELD], "product_led_sales") == 1
    assert crm.ensure_properties("companies", [FIELD], "product_led_sales") == 0  # unchanged: no write


def test_a_bad_record_fails_alone_and_history_is_kept(crm):
    crm.ensure_properties("companies", [FIELD], "product_led_sales")
    outcomes = crm.update_records(
        "companies",
        [
            RecordUpdate("c1", {"pls_pqa_score": "80"}),
            RecordUpdate("nope", {"pls_pqa_score": "10"}),
            RecordUpdate("c2", {"pls_pqa_score": "55"}),
        ],
    )
    assert [(o.record_id, o.ok) for o in outcomes] == [("c1", True), ("nope", False), ("c2", True)]
    assert "OBJECT_NOT_FOUND" in outcomes[1].error
    crm.update_records("companies", [RecordUpdate("c1", {"pls_pqa_score": "85"})])
    props = crm.read_properties("companies", ["c1"])
    assert props.to_dict("records") == [{"record_id": "c1", "name": "pls_pqa_score", "value": "85"}]
    definitions = crm.property_definitions("companies")
    assert "account_routing" in definitions["description"].item()


def test_created_contacts_join_their_company_and_a_retry_never_duplicates(crm):
    new = [
        NewContact("u1", "lee@acme.com", "c1", "Lee", "Wong", "Engineering Manager"),
        NewContact("u2", "DANA@acme.com", "c1", "Dana", "Ruiz", None),  # already a contact, other case
        NewContact("u3", "kim@nowhere.io", "c404", "Kim", None, None),  # no such company
    ]
    first = crm.create_contacts(new)
    assert [(o.key, o.ok, o.created) for o in first] == [("u1", True, True), ("u2", True, False), ("u3", False, False)]
    assert first[1].record_id == "k1"
    assert first[2].record_id is None and first[2].error.startswith("ASSOCIATION_TARGET_NOT_FOUND")
    again = crm.create_contacts(new[:1])  # a retried run after a crash: the same contact, not a second one
    assert (again[0].record_id, again[0].created) == (first[0].record_id, False)
    contacts = crm.read("contacts")
    assert len(contacts) == 2
    lee = contacts[contacts["contact_id"] == first[0].record_id].iloc[0]
    assert (lee["company_id"], lee["email"], lee["first_name"], lee["title"]) == (
        "c1", "lee@acme.com", "Lee", "Engineering Manager"
    )


def test_companies_are_found_by_domain_id_or_name(crm):
    assert crm.find_company("WWW.ACME.com")["company_id"] == "c1"
    assert crm.find_company("c2")["name"] == "Beta"
    assert crm.find_company("beta")["company_id"] == "c2"
    assert crm.find_company("unknown.org") is None


def test_unknown_crm_kind_names_the_setting_and_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"PLS_CRM='pipedrive' is not a CRM pls-pipelines knows.*local"):
        build_crm_client("pipedrive", f"sqlite:///{tmp_path / 'x.sqlite'}")
