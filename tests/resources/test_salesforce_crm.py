"""SalesforceCrm against the contract-faithful Salesforce fake (TLS on 127.0.0.1): reads, the describe check, writes
through sObject Collections and Bulk API 2.0, retries, limits, auth and idempotent creates."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import requests

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import FieldSpec, NewContact, RecordUpdate
from pls_pipelines.resources.crm_client import CANONICAL_COLUMNS, CrmClient
from pls_pipelines.resources.crm_http import CrmApiError
from pls_pipelines.resources.salesforce import SalesforceCrm, SalesforceThrottle
from pls_pipelines.resources.salesforce.values import normalise_domain, to_api_value
from tests.fakes.salesforce_fake import SalesforceFake, default_custom_fields

TOKEN = "test-token-5ecr3t"
COMPOSITE = ("PATCH", "/services/data/{version}/composite/sobjects")
CREATE = ("POST", "/services/data/{version}/composite/sobjects")
BULK_CREATE = ("POST", "/services/data/{version}/jobs/ingest")


@pytest.fixture(scope="module")
def server():
    with SalesforceFake(access_token=TOKEN) as running:
        yield running


@pytest.fixture
def fake(server):
    server.reset()  # one running fake per module, fresh state per test
    return server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_crm(fake, sleeps):
    clients: list[SalesforceCrm] = []

    def make(**kwargs) -> SalesforceCrm:
        options = {"verify": fake.ca_path, "sleep": sleeps.append, "poll_interval": 0.01, **kwargs}
        client = SalesforceCrm(fake.instance_url, TOKEN, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def crm(make_crm) -> SalesforceCrm:
    return make_crm()


def _accounts(fake, n: int, **values) -> list[str]:
    return fake.seed(accounts=[{"Name": f"Account {i}", **values} for i in range(n)])["Account"]


def _updates(ids, **properties) -> list[RecordUpdate]:
    return [RecordUpdate(record_id, dict(properties)) for record_id in ids]


# -- reads ---------------------------------------------------------------------------------------------------------
def test_is_a_crm_client(crm):
    assert isinstance(crm, CrmClient) and crm.kind == "salesforce"


def test_reads_map_to_canonical_columns_and_page_past_2000_records(fake, make_crm):
    fake.clock = lambda: datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)
    user = fake.seed(users=[{"FirstName": "Ann", "LastName": "Lee", "Email": "Ann.Lee@Example.com",
                             "Department": "Sales"}])["User"][0]
    rows = [{"Name": f"Co {i:04d}", "Website": f"https://www.co{i}.com/about", "NumberOfEmployees": i,
             "Industry": "Software", "BillingCountry": "NL", "OwnerId": user,
             "Type": "Customer - Direct" if i % 2 else "Prospect"} for i in range(2345)]
    accounts = fake.seed(accounts=rows)["Account"]
    fake.seed(
        contacts=[{"AccountId": accounts[0], "Email": "Bo@Co0.com", "FirstName": "Bo", "LastName": "Ek",
                   "Title": "CTO"}],
        opportunities=[
            {"AccountId": accounts[0], "Name": "Won", "StageName": "Closed Won", "Amount": 1200.5,
             "Type": "New Business", "CloseDate": "2026-10-01"},
            {"AccountId": accounts[1], "Name": "Lost", "StageName": "Closed Lost", "CloseDate": "2026-10-02"},
            {"AccountId": accounts[1], "Name": "Open", "StageName": "Negotiation/Review", "CloseDate": "2026-12-24"},
        ],
    )
    crm = make_crm(query_batch_size=500)

    companies = crm.read("companies")
    assert list(companies.columns) == CANONICAL_COLUMNS["companies"]
    assert len(companies) == 2345 and companies["company_id"].is_monotonic_increasing
    assert crm.http.calls[("GET", "/services/data/v59.0/query/{locator}")] == 4  # 5 pages of 500
    first = companies.set_index("company_id").loc[accounts[1]]
    assert first["domain"] == "co1.com" and first["lifecycle_stage"] == "customer"
    assert first["employee_count"] == 1 and first["owner_id"] == user and first["country"] == "NL"
    assert first["created_at"] == "2026-11-30T12:00:00Z"
    assert companies.set_index("company_id").loc[accounts[2], "lifecycle_stage"] == "prospect"

    contacts = crm.read("contacts")
    assert list(contacts.columns) == CANONICAL_COLUMNS["contacts"]
    assert contacts.iloc[0][["company_id", "email", "first_name", "last_name", "title"]].tolist() == \
        [accounts[0], "bo@co0.com", "Bo", "Ek", "CTO"]

    deals = crm.read("deals").set_index("name")
    assert deals.loc["Won", "stage"] == "closedwon" and deals.loc["Lost", "stage"] == "closedlost"
    assert deals.loc["Open", "stage"] == "Negotiation/Review"
    assert deals.loc["Won", "amount"] == 1200.5 and deals.loc["Won", "close_date"] == "2026-10-01"
    assert deals.loc["Won", "deal_type"] == "New Business"
    assert list(crm.read("deals").columns) == CANONICAL_COLUMNS["deals"]

    owners = crm.read("owners")
    assert owners.to_dict("records") == [{"owner_id": user, "name": "Ann Lee", "email": "ann.lee@example.com",
                                          "team": "Sales"}]


def test_read_modified_since_uses_system_modstamp(fake, crm):
    fake.clock = lambda: datetime(2026, 11, 1, tzinfo=UTC)
    ids = _accounts(fake, 3)
    fake.clock = lambda: datetime(2026, 11, 5, tzinfo=UTC)
    crm.update_records("companies", _updates(ids[1:2], pls_pqa_tier="A"))
    changed = crm.read_modified_since("companies", datetime(2026, 11, 3, tzinfo=UTC))
    assert changed["company_id"].tolist() == [ids[1]]
    assert crm.read_modified_since("companies", "2026-10-01T00:00:00Z")["company_id"].tolist() == ids


def test_find_company_and_count(fake, crm):
    ids = fake.seed(accounts=[{"Name": "Acme Corp", "Website": "http://WWW.Acme.com/x"}, {"Name": "acmeco"}])
    acme = ids["Account"][0]
    assert crm.find_company("www.acme.com")["company_id"] == acme
    assert crm.find_company("ACME.COM")["domain"] == "acme.com"
    assert crm.find_company(acme)["name"] == "Acme Corp"
    assert crm.find_company("acme corp")["company_id"] == acme
    assert crm.find_company("nothing.example") is None
    assert crm.count_records("companies") == 2 and crm.count_records("contacts") == 0


def test_normalise_domain():
    assert normalise_domain("https://www.Acme.com/about?x=1") == "acme.com"
    assert normalise_domain("acme.io") == "acme.io"
    assert normalise_domain("http://shop.acme.co.uk:8080") == "shop.acme.co.uk"
    assert normalise_domain(None) is None and normalise_domain("") is None


# -- schema check --------------------------------------------------------------------------------------------------
def _specs(*names_types) -> list[FieldSpec]:
    return [FieldSpec(name, f"Label of {name}", kind, "account_routing", name) for name, kind in names_types]


def test_ensure_properties_returns_zero_when_every_field_exists(crm):
    specs = _specs(("pls_pqa_score", "number"), ("pls_pqa_tier", "string"), ("pls_is_pqa", "bool"),
                   ("pls_score_date", "date"))
    assert crm.ensure_properties("companies", specs, "product_led_sales", "Product-Led Sales") == 0


def test_ensure_properties_lists_every_missing_or_read_only_field_with_its_definition():
    fields = default_custom_fields()
    fields["Account"] = [f for f in fields["Account"] if f["name"] not in ("pls_pqa_score__c", "pls_score_date__c")]
    for f in fields["Account"]:
        if f["name"] == "pls_pqa_tier__c":
            f["updateable"] = False
        if f["name"] == "pls_is_pqa__c":
            f["type"] = "string"
    with SalesforceFake(access_token=TOKEN, custom_fields=fields) as fake:
        crm = SalesforceCrm(fake.instance_url, TOKEN, verify=fake.ca_path)
        specs = _specs(("pls_pqa_score", "number"), ("pls_pqa_tier", "string"), ("pls_is_pqa", "bool"),
                       ("pls_score_date", "date"), ("pls_motion", "string"))
        with pytest.raises(ConfigError) as error:
            crm.ensure_properties("companies", specs, "product_led_sales", "Product-Led Sales")
        crm.close()
    message = str(error.value)
    assert "Salesforce Account lacks 4 field(s)" in message and "Setup > Object Manager > Account" in message
    assert 'pls_pqa_score__c (missing): Field Label "Label of pls_pqa_score", Field Name pls_pqa_score, ' \
           'Data Type Number(18, 2), Description "Set by pls-pipelines from the warehouse table account_routing' \
           in message
    assert "pls_score_date__c (missing)" in message and "Data Type Date" in message
    assert "pls_pqa_tier__c (exists but is read-only" in message and "Data Type Text(255)" in message
    assert "pls_is_pqa__c (exists with type string" in message and "Checkbox" in message
    assert "pls_motion__c" not in message


# -- small syncs: sObject Collections ------------------------------------------------------------------------------
def test_small_sync_uses_collections_in_chunks_of_200_and_a_bad_record_fails_alone(fake, crm):
    ids = _accounts(fake, 450)
    fake.add_validation_rule("Account", lambda r: r.get("pls_pqa_tier__c") == "retired", "Tier retired",
                             ["pls_pqa_tier__c"])
    updates = _updates(ids, pls_pqa_score="87", pls_is_pqa="true", pls_score_date="2026-12-02", pls_pqa_tier="A")
    updates[7] = RecordUpdate(ids[7], {"pls_pqa_tier": "retired"})
    updates.append(RecordUpdate("001Dn0000000zzzAAA", {"pls_pqa_tier": "A"}))
    outcomes = crm.update_records("companies", updates)

    assert [o.record_id for o in outcomes] == [u.record_id for u in updates]
    assert fake.count(*COMPOSITE) == 3 and fake.count(*BULK_CREATE) == 0
    assert outcomes[7].ok is False and outcomes[7].retryable is False
    assert outcomes[7].error == "FIELD_CUSTOM_VALIDATION_EXCEPTION: Tier retired"
    assert outcomes[-1].ok is False and outcomes[-1].error.startswith("ENTITY_IS_DELETED")
    assert sum(o.ok for o in outcomes) == 449
    stored = fake.get("Account", ids[0])
    assert stored["pls_pqa_score__c"] == 87.0 and stored["pls_is_pqa__c"] is True
    assert stored["pls_score_date__c"] == "2026-12-02" and stored["pls_pqa_tier__c"] == "A"
    assert fake.get("Account", ids[7])["pls_pqa_tier__c"] is None

    back = crm.read_properties("companies", ids[:2])
    assert back[back["record_id"] == ids[0]].set_index("name")["value"].to_dict() == {
        "pls_is_pqa": "true", "pls_pqa_score": "87", "pls_pqa_tier": "A", "pls_score_date": "2026-12-02"}
    assert set(back["record_id"]) == {ids[0], ids[1]}


def test_values_convert_both_ways_and_none_clears(fake, crm):
    account = _accounts(fake, 1, pls_motion__c="sales-led")[0]
    outcomes = crm.update_records("companies", [RecordUpdate(account, {
        "pls_pqa_score": "42.5", "pls_is_pqa": "false", "pls_motion": None, "pls_active_users_28d": "12"})])
    assert outcomes[0].ok, outcomes[0]
    stored = fake.get("Account", account)
    assert stored["pls_pqa_score__c"] == 42.5 and stored["pls_is_pqa__c"] is False and stored["pls_motion__c"] is None
    values = crm.read_properties("companies").set_index("name")["value"].to_dict()
    assert values == {"pls_pqa_score": "42.5", "pls_is_pqa": "false", "pls_active_users_28d": "12"}
    assert to_api_value("87", "double") == 87 and isinstance(to_api_value("87", "double"), int)
    assert to_api_value("2026-12-02T00:00:00", "date") == "2026-12-02"
    with pytest.raises(ValueError):
        to_api_value("maybe", "boolean")


def test_a_value_that_cannot_have_the_field_type_fails_without_a_call(fake, crm):
    account = _accounts(fake, 1)[0]
    crm.describe("Account")
    outcome = crm.update_records("companies", [RecordUpdate(account, {"pls_pqa_score": "high"})])[0]
    assert outcome.ok is False and outcome.error.startswith("INVALID_TYPE_ON_FIELD_IN_RECORD")
    assert fake.count(*COMPOSITE) == 0


def test_unable_to_lock_row_is_retried_to_success(fake, crm, sleeps):
    ids = _accounts(fake, 5)
    fake.lock_record(ids[2], times=2)
    outcomes = crm.update_records("companies", _updates(ids, pls_pqa_tier="B"))
    assert all(o.ok for o in outcomes), outcomes
    assert fake.count(*COMPOSITE) == 3  # first pass, then two passes of just the locked record
    assert fake.get("Account", ids[2])["pls_pqa_tier__c"] == "B"
    assert len(sleeps) == 2


def test_a_row_lock_that_outlasts_the_retries_is_retryable(fake, make_crm):
    ids = _accounts(fake, 2)
    fake.lock_record(ids[0], times=10)
    outcomes = make_crm(lock_retries=2).update_records("companies", _updates(ids, pls_pqa_tier="B"))
    assert outcomes[0].ok is False and outcomes[0].retryable is True
    assert outcomes[0].error.startswith("UNABLE_TO_LOCK_ROW")
    assert outcomes[1].ok is True
    assert fake.count(*COMPOSITE) == 3


def test_a_merged_record_is_written_to_the_survivor(fake, crm):
    master, loser = _accounts(fake, 2)
    fake.merge("Account", master, loser)
    outcome = crm.update_records("companies", [RecordUpdate(loser, {"pls_pqa_tier": "A"})])[0]
    assert outcome.ok and outcome.record_id == loser and outcome.merged_into == master
    assert fake.get("Account", master)["pls_pqa_tier__c"] == "A"


# -- big syncs: Bulk API 2.0 ---------------------------------------------------------------------------------------
def test_big_sync_goes_through_bulk_and_correlates_shuffled_results_by_id(fake, make_crm):
    ids = _accounts(fake, 130, pls_motion__c="seeded", pls_pqa_score__c=1.0)
    fake.add_validation_rule("Account", lambda r: r.get("pls_pqa_tier__c") == "bad", "No bad tiers")
    fake.lock_record(ids[11], times=1)
    updates = [RecordUpdate(record_id, {"pls_pqa_tier": f"T{i}", "pls_pqa_score": str(i)})
               for i, record_id in enumerate(ids)]
    updates[5] = RecordUpdate(ids[5], {"pls_pqa_tier": "bad"})
    updates[9] = RecordUpdate(ids[9], {"pls_pqa_score": None, "pls_motion": "bulk"})
    crm = make_crm(bulk_threshold=100)
    outcomes = crm.update_records("companies", updates)

    assert fake.count(*BULK_CREATE) == 1 and fake.count(*COMPOSITE) == 1  # the locked record's second pass
    assert fake.count("PUT", "/services/data/{version}/jobs/ingest/{job_id}/batches") == 1
    job = next(iter(fake.jobs.values()))
    assert [r["Id"] for r in job.successful] != [i for n, i in enumerate(ids) if n not in (5, 11)]  # shuffled
    assert [o.record_id for o in outcomes] == ids
    assert outcomes[5].ok is False and outcomes[5].error == "FIELD_CUSTOM_VALIDATION_EXCEPTION: No bad tiers"
    assert outcomes[11].ok is True
    assert all(o.ok for n, o in enumerate(outcomes) if n != 5)
    for n in (0, 42, 129):
        assert fake.get("Account", ids[n])["pls_pqa_tier__c"] == f"T{n}"
        assert fake.get("Account", ids[n])["pls_pqa_score__c"] == float(n)
    assert fake.get("Account", ids[9])["pls_pqa_score__c"] is None  # None is sent as #N/A: cleared
    assert fake.get("Account", ids[9])["pls_pqa_tier__c"] is None and fake.get("Account", ids[9])["pls_motion__c"] \
        == "bulk"
    assert fake.get("Account", ids[0])["pls_motion__c"] == "seeded"  # an empty cell leaves a field alone


def test_bulk_failed_job_reports_unprocessed_records_as_retryable(fake, make_crm):
    ids = _accounts(fake, 30)
    fake.fail_next_bulk_job("InternalServerError : retry later", after=12)
    outcomes = make_crm(bulk_threshold=10).update_records("companies", _updates(ids, pls_pqa_tier="X"))
    ok = [o for o in outcomes if o.ok]
    unprocessed = [o for o in outcomes if not o.ok]
    assert len(ok) == 12 and len(unprocessed) == 18
    assert all(o.retryable and o.error.startswith("UNPROCESSED") for o in unprocessed)
    assert "InternalServerError : retry later" in unprocessed[0].error
    written = {o.record_id for o in ok}
    assert written == {i for i in ids if fake.get("Account", i)["pls_pqa_tier__c"] == "X"}


# -- limits, faults, throttle --------------------------------------------------------------------------------------
def test_request_limit_exceeded_backs_off_for_minutes_then_succeeds(fake, crm, sleeps):
    ids = _accounts(fake, 3)
    crm.describe("Account")
    fake.limit_exceeded_next(2, method="PATCH")
    outcomes = crm.update_records("companies", _updates(ids, pls_pqa_tier="A"))
    assert all(o.ok for o in outcomes)
    assert sleeps == [300.0, 300.0]
    assert fake.count(*COMPOSITE) == 3


def test_an_exhausted_daily_limit_ends_as_retryable_outcomes(fake, make_crm, sleeps):
    ids = _accounts(fake, 450)
    crm = make_crm(max_attempts=2, limit_backoff=120.0)
    crm.describe("Account")
    fake.daily_limit = fake.api_usage  # every further call is refused
    outcomes = crm.update_records("companies", _updates(ids, pls_pqa_tier="A"))
    assert all(not o.ok and o.retryable for o in outcomes)
    assert "REQUEST_LIMIT_EXCEEDED" in outcomes[0].error
    assert fake.count(*COMPOSITE) == 2  # the first chunk's two attempts; the other chunks are not sent
    assert 120.0 in sleeps


def test_503_is_retried(fake, crm, sleeps):
    ids = _accounts(fake, 1)
    fake.fail_next(2, status=503, method="PATCH", retry_after="7")
    assert crm.update_records("companies", _updates(ids, pls_pqa_tier="A"))[0].ok
    assert sleeps == [7.0, 7.0]


def test_throttle_slows_down_as_the_daily_allocation_runs_low(fake, crm, sleeps):
    _accounts(fake, 1)
    fake.api_usage = 99_000  # 1% left of 100,000
    crm.read("companies")
    crm.read("companies")
    assert crm.throttle.remaining == 100_000 - 99_002
    assert len(sleeps) == 1 and 1.0 < sleeps[0] < 2.0


def test_throttle_unit_waits_long_when_spent_and_not_after_a_refusal():
    waits: list[float] = []
    throttle = SalesforceThrottle(waits.append, limit_backoff=600.0)

    def response(status: int, usage: str, body: bytes = b"[]") -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = status, body
        r.headers["Sforce-Limit-Info"] = usage
        return r

    throttle.before_request("GET", "/x")
    throttle.after_response(response(200, "api-usage=10/100000; per-app-api-usage=2/250(appName=x)"))
    throttle.before_request("GET", "/x")
    assert waits == [] and throttle.remaining == 99_990
    throttle.after_response(response(200, "api-usage=100000/100000"))
    throttle.before_request("GET", "/x")
    assert waits == [600.0]
    refusal = b'[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]'
    throttle.after_response(response(403, "api-usage=100000/100000", refusal))
    throttle.before_request("GET", "/x")
    assert waits == [600.0]  # the retry's own back-off covers a refusal


# -- TLS, auth, secrets --------------------------------------------------------------------------------------------
def test_tls_is_verified_against_the_test_ca_only(fake, sleeps):
    _accounts(fake, 1)
    trusted = SalesforceCrm(fake.instance_url, TOKEN, verify=fake.ca_path)
    assert trusted.count_records("companies") == 1
    trusted.close()
    untrusted = SalesforceCrm(fake.instance_url, TOKEN, max_attempts=1, sleep=sleeps.append)
    with pytest.raises(CrmApiError, match="SSLError"):
        untrusted.count_records("companies")
    untrusted.close()
    with pytest.raises(ConfigError, match="https"):
        SalesforceCrm(fake.instance_url.replace("https", "http"), TOKEN)


def test_oauth_username_password_flow(fake):
    crm = SalesforceCrm(username=fake.username, password=fake.password, security_token=fake.security_token,
                        client_id=fake.client_id, client_secret=fake.client_secret, login_url=fake.instance_url,
                        verify=fake.ca_path)
    assert crm.instance_url == fake.instance_url
    assert crm.count_records("companies") == 0
    fake.revoke_tokens()  # session expired: the client logs in again
    assert crm.count_records("companies") == 0
    assert fake.count("POST", "/services/oauth2/token") == 2
    assert crm.http.write_calls == 0  # logging in is not a write
    crm.close()


def test_client_credentials_flow_and_missing_settings(fake):
    crm = SalesforceCrm(client_id=fake.client_id, client_secret=fake.client_secret, login_url=fake.instance_url,
                        verify=fake.ca_path)
    assert crm.count_records("owners") == 0
    crm.close()
    with pytest.raises(ConfigError, match=r"SALESFORCE_INSTANCE_URL.*SALESFORCE_CLIENT_ID"):
        SalesforceCrm(username="someone@example.com", password="pw")  # no connected app: cannot log in


def test_wrong_oauth_credentials_give_a_config_error_without_secrets(fake):
    with pytest.raises(ConfigError) as error:
        SalesforceCrm(username=fake.username, password="hunter2-wrong", security_token="TOKENXYZ",
                      client_id=fake.client_id, client_secret="s3cr3t-client", login_url=fake.instance_url,
                      verify=fake.ca_path)
    message = str(error.value)
    assert "invalid_client" in message
    assert "hunter2" not in message and "TOKENXYZ" not in message and "s3cr3t" not in message
    with pytest.raises(ConfigError, match="invalid_grant"):
        SalesforceCrm(username=fake.username, password="wrong", client_id=fake.client_id,
                      client_secret=fake.client_secret, login_url=fake.instance_url, verify=fake.ca_path)


def test_a_wrong_token_gives_a_clear_error_without_the_token(fake):
    crm = SalesforceCrm(fake.instance_url, "00Dwrong!TOKENVALUE", verify=fake.ca_path)
    with pytest.raises(CrmApiError) as error:
        crm.read("companies")
    message = str(error.value)
    assert error.value.status == 401 and "INVALID_SESSION_ID" in message and "access token" in message
    assert "TOKENVALUE" not in message and "TOKENVALUE" not in repr(crm) and "TOKENVALUE" not in repr(error.value)
    crm.close()


# -- creates -------------------------------------------------------------------------------------------------------
def test_create_contacts_is_an_upsert_by_email(fake, crm):
    account = _accounts(fake, 1)[0]
    existing = fake.seed(contacts=[{"Email": "Old@Acme.com", "LastName": "Old", "AccountId": account}])["Contact"][0]
    batch = [NewContact("p1", "new@acme.com", account, "New", "Person", "CFO"),
             NewContact("p2", "old@acme.com", account, "Old", "Timer"),
             NewContact("p3", "NEW@acme.com ", account),
             NewContact("p4", "lost@acme.com", "001Dn0000000zzzAAA", "Lost", "Company")]
    first = crm.create_contacts(batch)
    assert [(o.key, o.ok, o.created) for o in first] == [("p1", True, True), ("p2", True, False),
                                                         ("p3", True, False), ("p4", False, False)]
    assert first[1].record_id == existing and first[0].record_id == first[2].record_id
    assert first[3].error.startswith("INVALID_CROSS_REFERENCE_KEY")
    created = fake.get("Contact", first[0].record_id)
    assert created["AccountId"] == account and created["Title"] == "CFO" and created["LastName"] == "Person"

    again = crm.create_contacts(batch[:3])
    assert [(o.record_id, o.created) for o in again] == [(first[0].record_id, False), (existing, False),
                                                         (first[0].record_id, False)]
    assert len(fake.records("Contact")) == 2


def test_create_contacts_after_a_timeout_after_commit_makes_no_duplicate(fake, make_crm, sleeps):
    account = _accounts(fake, 1)[0]
    crm = make_crm(timeout=0.3)
    fake.timeout_after_commit(1, method="POST", route="/services/data/{version}/composite/sobjects", delay=0.8)
    outcome = crm.create_contacts([NewContact("p1", "a@acme.com", account, "A", "B")])[0]
    assert outcome.ok and outcome.created is True
    assert [c["Email"] for c in fake.records("Contact")] == ["a@acme.com"]
    assert fake.count(*CREATE) == 1 and fake.count("GET", "/services/data/{version}/query") == 2
    assert len(sleeps) == 1


# -- demo data -----------------------------------------------------------------------------------------------------
def test_load_demo_upserts_and_is_idempotent(fake, crm):
    user = fake.seed(users=[{"Email": "rep@pls.example", "LastName": "Rep"}])["User"][0]
    owners = pd.DataFrame({"owner_id": ["o_1", "o_2"], "name": ["Rep", "Ghost"],
                           "email": ["REP@pls.example", "ghost@pls.example"], "team": ["sales", "sales"]})
    companies = pd.DataFrame({
        "company_id": ["c1", "c2"], "name": ["Acme", "Beta"], "domain": ["acme.com", "www.beta.io"],
        "industry": ["Software", None], "employee_count": [120, 8], "country": ["NL", "DE"],
        "owner_id": ["o_1", "o_2"], "lifecycle_stage": ["customer", "lead"], "created_at": ["2026-01-01"] * 2,
    })
    contacts = pd.DataFrame({"contact_id": ["k1", "k2"], "company_id": ["c1", "c2"],
                             "email": ["ann@acme.com", "bo@beta.io"], "first_name": ["Ann", "Bo"],
                             "last_name": ["Lee", None], "title": ["CTO", None], "created_at": ["2026-01-02"] * 2})
    deals = pd.DataFrame({"deal_id": ["d1", "d2"], "company_id": ["c1", "c2"], "name": ["Acme - New", "Beta - New"],
                          "stage": ["closedwon", "qualifiedtobuy"], "amount": [5000.0, float("nan")],
                          "deal_type": ["newbusiness", "newbusiness"], "created_at": ["2026-01-03"] * 2,
                          "close_date": ["2026-02-01", None]})
    first = crm.load_demo(owners, companies, contacts, deals)
    assert first["owners"] == {"o_1": user}
    assert set(first["companies"]) == {"c1", "c2"} and set(first["contacts"]) == {"k1", "k2"}
    assert set(first["deals"]) == {"d1", "d2"}
    acme = fake.get("Account", first["companies"]["c1"])
    assert acme["OwnerId"] == user and acme["Type"] == "Customer - Direct" and acme["NumberOfEmployees"] == 120
    read = crm.read("deals").set_index("deal_id")
    assert read.loc[first["deals"]["d1"], "stage"] == "closedwon"
    assert read.loc[first["deals"]["d1"], "company_id"] == first["companies"]["c1"]
    assert crm.read("companies").set_index("company_id").loc[first["companies"]["c1"], "lifecycle_stage"] == \
        "customer"

    writes = fake.write_calls
    second = crm.load_demo(owners, companies, contacts, deals)
    assert second == first
    assert fake.write_calls == writes  # nothing changed: no writes
    assert [len(fake.records(s)) for s in ("Account", "Contact", "Opportunity")] == [2, 2, 2]

    companies.loc[1, "employee_count"] = 9
    crm.load_demo(owners, companies, contacts, deals)
    assert fake.get("Account", first["companies"]["c2"])["NumberOfEmployees"] == 9
    assert len(fake.records("Account")) == 2
