"""The HubSpot client against the contract-faithful fake (tests/fakes/hubspot_fake.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pls_pipelines.lib.sync import FieldSpec, NewContact, RecordUpdate
from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS, CrmClient
from pls_pipelines.resources.crm_http import CrmApiError
from pls_pipelines.resources.hubspot import HubSpotCrm
from pls_pipelines.resources.hubspot import client as hubspot_client
from tests.fakes.hubspot_fake import HubSpotFake

TOKEN = "test-token"
FIELDS = [
    FieldSpec("pls_pqa_score", "PQA score (1-100)", "number", "account_routing", "score"),
    FieldSpec("pls_pqa_tier", "PQA tier", "string", "account_routing", "tier"),
    FieldSpec("pls_is_pqa", "Product-qualified account", "bool", "account_routing", "is_pqa"),
    FieldSpec("pls_score_date", "Score as of", "date", "account_routing", "as_of_date"),
]
GROUP = ("product_led_sales", "Product-Led Sales")


class Sleeps(list):
    """An injected sleep: records the retry waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake():
    with HubSpotFake(token=TOKEN, rate_limit=(190, 10.0), search_rate_per_second=100) as server:
        yield server


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def crm(fake, sleeps):
    client = HubSpotCrm(TOKEN, fake.base_url, timeout=5.0, sleep=sleeps)
    client.throttle.search_per_second = 100
    yield client
    client.close()


def _companies(fake, n: int) -> list[str]:
    return fake.seed(companies=[{"name": f"Company {i}", "domain": f"c{i}.example"} for i in range(n)])["companies"]


def _provisioned(crm, fake, n: int) -> list[str]:
    ids = _companies(fake, n)
    crm.ensure_properties("companies", FIELDS, *GROUP)
    return ids


def _update(record_id: str, score: str = "87", **extra) -> RecordUpdate:
    return RecordUpdate(record_id, {"pls_pqa_score": score, "pls_pqa_tier": "A", **extra})


def test_is_a_crm_client(crm):
    assert isinstance(crm, CrmClient) and crm.kind == "hubspot"


def test_full_reads_map_to_canonical_columns(fake, crm):
    owners = fake.seed(owners=[{"email": "sam@vendor.com", "firstName": "Sam", "lastName": "Lee", "team": "sales"}])
    owner = owners["owners"][0]
    companies = fake.seed(companies=[
        {"name": "Acme", "domain": "acme.com", "industry": "Software", "numberofemployees": "120", "country": "US",
         "hubspot_owner_id": owner, "lifecyclestage": "customer", "createdate": "2026-01-05T10:00:00Z"},
        {"name": "Beta", "domain": "beta.io"},
    ])["companies"]
    contact = fake.seed(contacts=[{"email": "dana@acme.com", "firstname": "Dana", "lastname": "Ruiz",
                                   "jobtitle": "VP Engineering", "company_id": companies[0],
                                   "createdate": "2026-02-01T00:00:00Z"}])["contacts"][0]
    fake.seed(deals=[{"dealname": "Acme - New Business", "dealstage": "closedwon", "amount": "12000.5",
                      "dealtype": "newbusiness", "closedate": "2026-03-31", "company_id": companies[0]},
                     {"dealname": "Beta - Lost", "dealstage": "closedlost", "company_id": companies[1]}])
    assert crm.read("owners").to_dict("records") == [
        {"owner_id": owner, "name": "Sam Lee", "email": "sam@vendor.com", "team": "sales"}]
    frame = crm.read("companies")
    assert list(frame.columns) == CANONICAL_COLUMNS["companies"]
    acme = frame.iloc[0].to_dict()
    assert acme == {"company_id": companies[0], "name": "Acme", "domain": "acme.com", "industry": "Software",
                    "employee_count": 120, "country": "US", "owner_id": owner, "lifecycle_stage": "customer",
                    "created_at": "2026-01-05T10:00:00Z"}
    assert frame.iloc[1]["owner_id"] is None and pd.isna(frame.iloc[1]["employee_count"])
    contacts = crm.read("contacts")
    assert list(contacts.columns) == CANONICAL_COLUMNS["contacts"]
    assert contacts.to_dict("records") == [{
        "contact_id": contact, "company_id": companies[0], "email": "dana@acme.com", "first_name": "Dana",
        "last_name": "Ruiz", "title": "VP Engineering", "created_at": "2026-02-01T00:00:00Z"}]
    deals = crm.read("deals")
    assert list(deals.columns) == CANONICAL_COLUMNS["deals"]
    columns = ["company_id", "name", "stage", "deal_type", "close_date"]
    assert deals[columns].to_dict("records") == [
        {"company_id": companies[0], "name": "Acme - New Business", "stage": "closedwon",
         "deal_type": "newbusiness", "close_date": "2026-03-31"},
        {"company_id": companies[1], "name": "Beta - Lost", "stage": "closedlost", "deal_type": None,
         "close_date": None},
    ]
    assert deals["amount"].iloc[0] == 12000.5 and pd.isna(deals["amount"].iloc[1])
    assert deals["created_at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()


def test_reads_page_through_every_record_100_at_a_time(fake, crm):
    ids = _companies(fake, 250)
    frame = crm.read("companies")
    assert sorted(frame["company_id"]) == sorted(ids)
    assert crm.http.calls[("GET", "/crm/v3/objects/companies")] == 3
    assert crm.count_records("companies") == 250


def test_contact_company_is_the_primary_association(fake, crm):
    first, second = _companies(fake, 2)
    contact = fake.seed(contacts=[{"email": "a@c1.example", "company_id": second}])["contacts"][0]
    # a second, non-primary company association does not change the contact's company
    fake.associate("contacts", contact, "companies", first, [279])
    assert crm.read("contacts")["company_id"].tolist() == [second]


def test_properties_are_provisioned_once_with_their_source(fake, crm):
    assert crm.ensure_properties("companies", FIELDS, *GROUP) == 4
    assert crm.ensure_properties("companies", FIELDS, *GROUP) == 0
    assert fake.property_groups("companies")["product_led_sales"]["label"] == "Product-Led Sales"
    defs = fake.property_definitions("companies")
    assert (defs["pls_pqa_score"]["type"], defs["pls_pqa_score"]["fieldType"]) == ("number", "number")
    assert (defs["pls_pqa_tier"]["type"], defs["pls_pqa_tier"]["fieldType"]) == ("string", "textarea")
    assert (defs["pls_is_pqa"]["type"], defs["pls_is_pqa"]["fieldType"]) == ("enumeration", "booleancheckbox")
    assert {o["value"] for o in defs["pls_is_pqa"]["options"]} == {"true", "false"}
    assert (defs["pls_score_date"]["type"], defs["pls_score_date"]["fieldType"]) == ("date", "date")
    for spec in FIELDS:
        assert defs[spec.name]["groupName"] == "product_led_sales"
        assert "account_routing" in defs[spec.name]["description"]
        assert spec.source_column in defs[spec.name]["description"]
    renamed = [FieldSpec("pls_pqa_score", "PQA score", "number", "account_routing", "score"), *FIELDS[1:]]
    assert crm.ensure_properties("companies", renamed, *GROUP) == 1
    assert fake.property_definitions("companies")["pls_pqa_score"]["label"] == "PQA score"
    writes = fake.write_calls
    assert crm.ensure_properties("companies", renamed, *GROUP) == 0
    assert fake.write_calls == writes


def test_a_property_of_another_type_is_a_config_error(fake, crm):
    crm.ensure_properties("companies", FIELDS, *GROUP)
    changed = [FieldSpec("pls_pqa_tier", "PQA tier", "number", "account_routing", "tier")]
    with pytest.raises(Exception, match="pls_pqa_tier is string/textarea in HubSpot"):
        crm.ensure_properties("companies", changed, *GROUP)


def test_values_are_written_in_hubspot_formats_and_read_back_canonical(fake, crm):
    ids = _provisioned(crm, fake, 2)
    outcomes = crm.update_records("companies", [
        RecordUpdate(ids[0], {"pls_pqa_score": "87", "pls_is_pqa": "true", "pls_score_date": "2026-12-02",
                              "pls_pqa_tier": "A"}),
        RecordUpdate(ids[1], {"pls_pqa_score": None, "pls_is_pqa": "false"}),
    ])
    assert [o.ok for o in outcomes] == [True, True]
    stored = fake.record("companies", ids[0])["properties"]
    assert stored["pls_score_date"] == str(int(datetime(2026, 12, 2, tzinfo=UTC).timestamp() * 1000))
    assert stored["pls_is_pqa"] == "true" and stored["pls_pqa_score"] == "87"
    back = crm.read_properties("companies", ids)
    assert back.to_dict("records") == [
        {"record_id": ids[0], "name": "pls_is_pqa", "value": "true"},
        {"record_id": ids[0], "name": "pls_pqa_score", "value": "87"},
        {"record_id": ids[0], "name": "pls_pqa_tier", "value": "A"},
        {"record_id": ids[0], "name": "pls_score_date", "value": "2026-12-02"},
        {"record_id": ids[1], "name": "pls_is_pqa", "value": "false"},
    ]
    assert crm.read_properties("companies").equals(back)
    crm.update_records("companies", [RecordUpdate(ids[0], {"pls_pqa_tier": None})])  # None clears
    assert "pls_pqa_tier" not in fake.record("companies", ids[0])["properties"]


def test_a_207_partial_failure_fails_exactly_the_bad_record_with_the_crms_reason(fake, crm):
    ids = _provisioned(crm, fake, 100)
    fake.reject_ids = {ids[41]}
    outcomes = crm.update_records("companies", [_update(i) for i in ids])
    failed = [o for o in outcomes if not o.ok]
    assert [o.record_id for o in failed] == [ids[41]]
    assert failed[0].error.startswith("VALIDATION_ERROR: VALIDATION_RULE_FAILED")
    assert failed[0].retryable is False
    assert [o.record_id for o in outcomes] == ids  # input order despite shuffled results
    assert crm.http.calls[("POST", "/crm/v3/objects/companies/batch/update")] == 1


def test_an_undefined_property_fails_its_records_with_property_doesnt_exist(fake, crm):
    ids = _provisioned(crm, fake, 3)
    outcomes = crm.update_records("companies", [_update(ids[0]), RecordUpdate(ids[1], {"pls_unknown": "1"}),
                                                _update(ids[2])])
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "PROPERTY_DOESNT_EXIST" in outcomes[1].error and "pls_unknown" in outcomes[1].error


def test_ids_missing_from_the_results_are_failures(fake, crm):
    ids = _provisioned(crm, fake, 5)
    fake.drop_ids_from_results = {ids[2]}
    outcomes = crm.update_records("companies", [_update(i) for i in ids])
    assert [o.ok for o in outcomes] == [True, True, False, True, True]
    assert "missing from HubSpot's response" in outcomes[2].error


def test_an_unknown_id_fails_with_object_not_found(fake, crm):
    ids = _provisioned(crm, fake, 1)
    outcomes = crm.update_records("companies", [_update(ids[0]), _update("999999")])
    assert outcomes[0].ok and not outcomes[1].ok
    assert outcomes[1].error.startswith("OBJECT_NOT_FOUND")


def test_a_merged_record_is_followed_to_the_survivor(fake, crm):
    survivor, loser, other = _provisioned(crm, fake, 3)
    fake.merge("companies", survivor, loser)
    outcomes = crm.update_records("companies", [_update(loser, "55"), _update(other, "10")])
    assert outcomes[0].ok and outcomes[0].merged_into == survivor and outcomes[0].record_id == loser
    assert outcomes[1].ok and outcomes[1].merged_into is None
    assert fake.record("companies", survivor)["properties"]["pls_pqa_score"] == "55"
    assert "pls_pqa_score" not in fake.record("companies", loser)["properties"]


def test_a_merged_record_reported_not_found_is_followed_too(fake, crm):
    survivor, loser = _provisioned(crm, fake, 2)
    fake.merge("companies", survivor, loser)
    fake.omit_merged_from_results = False
    outcome = crm.update_records("companies", [_update(loser, "33")])[0]
    assert outcome.ok and outcome.merged_into == survivor
    assert fake.record("companies", survivor)["properties"]["pls_pqa_score"] == "33"


def test_the_survivors_own_update_wins_over_the_merged_records(fake, crm):
    survivor, loser = _provisioned(crm, fake, 2)
    fake.merge("companies", survivor, loser)
    outcomes = crm.update_records("companies", [_update(loser, "1"), _update(survivor, "2")])
    assert all(o.ok for o in outcomes) and outcomes[0].merged_into == survivor
    assert fake.record("companies", survivor)["properties"]["pls_pqa_score"] == "2"


def test_more_than_100_updates_are_split_into_batches_of_at_most_100(fake, crm):
    ids = _provisioned(crm, fake, 250)
    outcomes = crm.update_records("companies", [_update(i) for i in ids])
    assert len(outcomes) == 250 and all(o.ok for o in outcomes)
    sizes = [n for route, n in fake.batch_inputs if route.endswith("/batch/update")]
    assert sizes == [100, 100, 50]
    assert crm.http.calls[("POST", "/crm/v3/objects/companies/batch/update")] == 3
    assert all(fake.write_counts[("companies", i)] == 1 for i in ids)


def test_429s_with_and_without_retry_after_and_5xx_are_retried(fake, crm, sleeps):
    ids = _provisioned(crm, fake, 10)
    fake.fail_next(1, 429, retry_after=3, path_contains="batch/update")
    fake.fail_next(1, 429, path_contains="batch/update")
    fake.fail_next(1, 502, path_contains="batch/update")
    fake.fail_next(1, 503, path_contains="batch/update")
    fake.fail_next(1, 504, path_contains="batch/update")
    outcomes = crm.update_records("companies", [_update(i) for i in ids])
    assert all(o.ok for o in outcomes)
    assert crm.http.calls[("POST", "/crm/v3/objects/companies/batch/update")] == 6
    assert sleeps[0] == 3.0  # Retry-After honoured
    assert 0 < sleeps[1] <= 1.0  # TEN_SECONDLY_ROLLING without Retry-After: wait for the window
    assert len(sleeps) == 5
    assert all(fake.write_counts[("companies", i)] == 1 for i in ids)


def test_transient_failures_that_outlast_the_retries_are_retryable(fake, crm):
    ids = _provisioned(crm, fake, 150)
    fake.fail_next(6, 503, path_contains="batch/update")
    outcomes = crm.update_records("companies", [_update(i) for i in ids])
    assert [o.ok for o in outcomes] == [False] * 100 + [True] * 50
    assert all(o.retryable for o in outcomes[:100])
    assert "503" in outcomes[0].error


def test_a_timeout_after_the_write_was_applied_is_retried_without_duplicates(fake, sleeps):
    crm = HubSpotCrm(TOKEN, fake.base_url, timeout=0.4, sleep=sleeps)
    ids = _provisioned(crm, fake, 20)
    fake.timeout_next(1, delay=1.0, path_contains="batch/update")
    outcomes = crm.update_records("companies", [_update(i, "64") for i in ids])
    assert all(o.ok for o in outcomes)
    assert crm.http.calls[("POST", "/crm/v3/objects/companies/batch/update")] == 2
    assert all(fake.record("companies", i)["properties"]["pls_pqa_score"] == "64" for i in ids)
    assert len(fake.records("companies")) == 20
    company = ids[0]
    fake.timeout_next(1, delay=1.0, path_contains="batch/upsert")
    created = crm.create_contacts([NewContact("p1", "new@c0.example", company, "New", "Person")])
    assert created[0].ok
    assert [c["properties"]["email"] for c in fake.records("contacts")] == ["new@c0.example"]
    assert crm.http.calls[("POST", "/crm/v3/objects/contacts/batch/upsert")] == 2
    crm.close()


def test_a_property_created_before_a_timeout_still_types_the_values_written_to_it(fake, sleeps):
    """The create of pls_score_date is applied, the answer times out, the retry gets 409: the date must still
    go out as HubSpot's epoch milliseconds (found by the 20% fault run: every date was refused as text)."""
    crm = HubSpotCrm(TOKEN, fake.base_url, timeout=0.4, sleep=sleeps)
    ids = _companies(fake, 2)
    crm.ensure_properties("companies", [], *GROUP)  # the group exists: the next POST creates the property
    fake.timeout_next(1, delay=1.0, method="POST", path_contains="/crm/v3/properties/companies")
    crm.ensure_properties("companies", [FIELDS[3]], *GROUP)
    assert crm.http.calls[("POST", "/crm/v3/properties/companies")] == 2  # the retry met 409
    outcomes = crm.update_records("companies", [RecordUpdate(i, {"pls_score_date": "2026-10-31"}) for i in ids])
    assert [o.error for o in outcomes] == [None, None]
    assert fake.record("companies", ids[0])["properties"]["pls_score_date"] == "1793404800000"
    crm.close()


def test_a_whole_batch_400_is_split_to_isolate_the_bad_record(fake, crm):
    ids = _provisioned(crm, fake, 100)
    fake.multi_status = False  # HubSpot failing the whole batch for one bad value
    updates = [_update(i) for i in ids]
    updates[63] = _update(ids[63], "12,5")
    outcomes = crm.update_records("companies", updates)
    assert [o.record_id for o in outcomes if not o.ok] == [ids[63]]
    assert "INVALID_DECIMAL" in outcomes[63].error and outcomes[63].error.startswith("VALIDATION_ERROR")
    calls = crm.http.calls[("POST", "/crm/v3/objects/companies/batch/update")]
    assert calls <= 1 + 2 * 7  # a binary split: two calls per level, seven levels for 100 records
    assert all(fake.record("companies", i)["properties"].get("pls_pqa_score") == "87"
               for n, i in enumerate(ids) if n != 63)


def test_create_contacts_twice_creates_once_and_associates_the_company(fake, crm):
    company = _companies(fake, 1)[0]
    contacts = [NewContact("p1", "Jane@C0.example", company, "Jane", "Doe", "CFO"),
                NewContact("p2", "jane@c0.example", company),
                NewContact("p3", "ghost@nowhere.example", "424242")]
    first = crm.create_contacts(contacts)
    assert [(o.key, o.ok, o.created) for o in first] == [("p1", True, True), ("p2", True, False),
                                                         ("p3", False, False)]
    assert first[0].record_id == first[1].record_id
    assert first[2].error.startswith("ASSOCIATION_TARGET_NOT_FOUND")
    stored = fake.records("contacts")
    assert len(stored) == 1 and stored[0]["properties"]["email"] == "jane@c0.example"
    assert stored[0]["properties"]["jobtitle"] == "CFO"
    assert fake.associations("contacts", first[0].record_id, "companies") == {company: {1, 279}}
    second = crm.create_contacts(contacts[:1])
    assert (second[0].ok, second[0].created, second[0].record_id) == (True, False, first[0].record_id)
    assert len(fake.records("contacts")) == 1
    assert crm.http.calls[("POST", "/crm/v3/objects/contacts/batch/upsert")] == 1


def test_create_contacts_repairs_a_missing_association(fake, crm):
    company = _companies(fake, 1)[0]
    contact = fake.seed(contacts=[{"email": "lone@c0.example"}])["contacts"][0]
    outcome = crm.create_contacts([NewContact("p1", "lone@c0.example", company)])[0]
    assert outcome.ok and not outcome.created and outcome.record_id == contact
    assert fake.associations("contacts", contact, "companies") == {company: {1, 279}}


def test_a_wrong_token_gives_a_clear_error_without_the_token(fake, sleeps):
    secret = "pat-na1-this-is-secret-123"
    crm = HubSpotCrm(secret, fake.base_url, sleep=sleeps)
    with pytest.raises(CrmApiError) as caught:
        crm.read("companies")
    message = str(caught.value)
    assert "401" in message and "HUBSPOT_ACCESS_TOKEN" in message and "INVALID_AUTHENTICATION" in message
    assert secret not in message and secret not in repr(caught.value.body)
    assert secret not in repr(crm) and secret not in repr(crm.http)
    with pytest.raises(CrmApiError, match="401"):
        crm.update_records("companies", [RecordUpdate("1", {"pls_pqa_score": "1"})])
    assert sleeps == []  # an auth error is not retried


def test_the_throttle_keeps_a_burst_under_the_limit_without_429s(sleeps):
    with HubSpotFake(token=TOKEN, rate_limit=(20, 1.0)) as fake:
        ids = _companies(fake, 50)
        crm = HubSpotCrm(TOKEN, fake.base_url, sleep=sleeps, rate_limit=(20, 1.0))
        crm.ensure_properties("companies", FIELDS, *GROUP)
        fake.reset_counters()
        started = datetime.now(UTC)
        for start in range(0, 50, 1):  # 50 batch calls
            assert crm.update_records("companies", [_update(ids[start])])[0].ok
        elapsed = (datetime.now(UTC) - started).total_seconds()
        assert fake.responses[429] == 0 and sleeps == []
        assert fake.requests[("POST", "/crm/v3/objects/companies/batch/update")] == 50
        assert crm.throttle.waits > 0 and elapsed >= 1.0  # it did hold back, at about the limit
        crm.close()


def test_the_throttle_learns_the_accounts_budget_from_the_headers(sleeps):
    with HubSpotFake(token=TOKEN, rate_limit=(10, 1.0)) as fake:
        ids = _companies(fake, 20)
        crm = HubSpotCrm(TOKEN, fake.base_url, sleep=sleeps, rate_limit=(1000, 1.0))  # configured too high
        crm.ensure_properties("companies", FIELDS, *GROUP)
        for record_id in ids:
            assert crm.update_records("companies", [_update(record_id)])[0].ok
        assert fake.responses[429] == 0 and crm.throttle.max_requests == 10
        crm.close()


def test_without_the_throttle_the_same_burst_hits_429s(sleeps):
    with HubSpotFake(token=TOKEN, rate_limit=(10, 1.0)) as fake:
        ids = _companies(fake, 20)
        crm = HubSpotCrm(TOKEN, fake.base_url, sleep=sleeps)
        crm.ensure_properties("companies", FIELDS, *GROUP)
        crm.http.throttle = None
        for record_id in ids:
            crm.update_records("companies", [_update(record_id)])
        assert fake.responses[429] > 0  # the control: the fake does enforce the limit
        crm.close()


def test_read_modified_since_pages_past_the_search_cap(fake, crm, monkeypatch):
    ids = _companies(fake, 45)
    fake.search_result_cap = 20
    monkeypatch.setattr(hubspot_client, "SEARCH_LIMIT", 10)
    since = datetime.now(UTC).replace(year=2020)
    frame = crm.read_modified_since("companies", since)
    assert sorted(frame["company_id"]) == sorted(ids) and list(frame.columns) == CANONICAL_COLUMNS["companies"]
    assert crm.http.calls[("POST", "/crm/v3/objects/companies/search")] == 5
    assert crm.read_modified_since("companies", datetime(2999, 1, 1)).empty


def test_read_modified_since_reads_the_company_of_contacts(fake, crm):
    company = _companies(fake, 1)[0]
    contact = fake.seed(contacts=[{"email": "a@c0.example", "company_id": company}])["contacts"][0]
    frame = crm.read_modified_since("contacts", datetime(2020, 1, 1))
    assert frame[["contact_id", "company_id", "email"]].to_dict("records") == [
        {"contact_id": contact, "company_id": company, "email": "a@c0.example"}]


def test_find_company_by_domain_id_or_name(fake, crm):
    ids = fake.seed(companies=[{"name": "Acme Inc", "domain": "www.acme.com"}, {"name": "Beta", "domain": "beta.io"}])
    acme, beta = ids["companies"]
    assert crm.find_company("ACME.com")["company_id"] == acme
    assert crm.find_company("www.beta.io")["company_id"] == beta
    assert crm.find_company(beta)["name"] == "Beta"
    assert crm.find_company("acme inc")["company_id"] == acme
    assert crm.find_company("nowhere.example") is None


def test_load_demo_is_idempotent(fake, crm):
    sam = fake.seed(owners=[{"email": "sam@vendor.com", "firstName": "Sam", "lastName": "Lee"}])["owners"][0]
    owners = pd.DataFrame({"owner_id": ["o_001", "o_002"], "name": ["Sam Lee", "Kim Park"],
                           "email": ["sam@vendor.com", "kim@vendor.com"], "team": ["sales", "success"]})
    companies = pd.DataFrame({
        "company_id": ["c_1", "c_2"], "name": ["Acme", "Beta"], "domain": ["acme.com", "beta.io"],
        "industry": ["Software", "Retail"], "employee_count": [120, 40], "country": ["US", "DE"],
        "owner_id": ["o_001", "o_002"], "lifecycle_stage": ["customer", "lead"],
        "created_at": ["2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"]})
    contacts = pd.DataFrame({
        "contact_id": ["k_1", "k_2"], "company_id": ["c_1", "c_2"], "email": ["dana@acme.com", "Lee@beta.io"],
        "first_name": ["Dana", "Lee"], "last_name": ["Ruiz", None], "title": ["CTO", ""],
        "created_at": ["2025-03-01T00:00:00Z"] * 2})
    deals = pd.DataFrame({
        "deal_id": ["d_1", "d_2", "d_3"], "company_id": ["c_1", "c_1", "c_2"],
        "name": ["Acme - New Business", "Acme - Renewal", "Acme - New Business"],
        "stage": ["closedwon", "contractsent", "closedlost"], "amount": [12000.0, 3000.0, None],
        "deal_type": ["newbusiness", "existingbusiness", "newbusiness"],
        "created_at": ["2025-04-01T00:00:00Z"] * 3, "close_date": ["2025-05-01", "2026-01-15", "2025-06-30"]})
    first = crm.load_demo(owners, companies, contacts, deals)
    assert first["owners"] == {"o_001": sam}
    assert set(first["companies"]) == {"c_1", "c_2"} and set(first["contacts"]) == {"k_1", "k_2"}
    assert set(first["deals"]) == {"d_1", "d_2", "d_3"}
    second = crm.load_demo(owners, companies, contacts, deals)
    assert second == first
    assert len(fake.records("companies")) == 2 and len(fake.records("contacts")) == 2
    assert len(fake.records("deals")) == 3
    read = crm.read("deals").set_index("deal_id")
    assert read.loc[first["deals"]["d_1"], "company_id"] == first["companies"]["c_1"]
    assert read.loc[first["deals"]["d_3"], "company_id"] == first["companies"]["c_2"]
    assert read.loc[first["deals"]["d_2"], "close_date"] == "2026-01-15"
    people = crm.read("contacts").set_index("contact_id")
    assert people.loc[first["contacts"]["k_2"], "email"] == "lee@beta.io"
    assert people.loc[first["contacts"]["k_2"], "company_id"] == first["companies"]["c_2"]
    companies_read = crm.read("companies").set_index("company_id")
    acme = companies_read.loc[first["companies"]["c_1"]]
    assert acme["owner_id"] == sam and acme["created_at"] == "2025-01-01T00:00:00Z"
    assert companies_read.loc[first["companies"]["c_2"], "owner_id"] is None  # Kim is no HubSpot user
