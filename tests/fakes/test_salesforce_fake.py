"""The Salesforce fake follows the contract (crm_api_contracts.md section 2 and the section 4 checklist), checked
with plain HTTP calls so a connector bug cannot hide a fake bug."""

from __future__ import annotations

import csv
import io
import socket
import ssl
from datetime import UTC, datetime

import pytest
import requests

from tests.fakes.salesforce_fake import SalesforceFake, is_salesforce_id, parse_soql, to_18

V = "/services/data/v59.0"
AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def server():
    with SalesforceFake(access_token="test-token") as running:
        yield running


@pytest.fixture
def fake(server):
    server.reset()  # one running fake per module, fresh state per test
    return server


@pytest.fixture
def api(fake):
    session = requests.Session()
    session.headers.update(AUTH)
    session.verify = fake.ca_path

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, f"{fake.instance_url}{path}", verify=fake.ca_path, **kwargs)

    yield call
    session.close()


def _query(api, soql: str, **kwargs) -> requests.Response:
    return api("GET", f"{V}/query", params={"q": soql}, **kwargs)


# -- transport, auth, limits ---------------------------------------------------------------------------------------
def test_serves_tls_on_loopback_only_and_verifies_against_the_test_ca(fake):
    assert fake.instance_url.startswith("https://127.0.0.1:")
    with socket.create_connection(("127.0.0.1", fake.port)) as sock:
        assert sock.getpeername()[0] == "127.0.0.1"
    trusted = ssl.create_default_context(cafile=fake.ca_path)
    with socket.create_connection(("127.0.0.1", fake.port)) as sock, \
            trusted.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
        assert tls.version() is not None
    untrusted = ssl.create_default_context()
    untrusted.load_default_certs()
    with socket.create_connection(("127.0.0.1", fake.port)) as sock, pytest.raises(ssl.SSLCertVerificationError):
        untrusted.wrap_socket(sock, server_hostname="127.0.0.1")


def test_bearer_check_answers_401_invalid_session_id_with_limit_header(fake, api):
    response = api("GET", f"{V}/limits", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert api("GET", f"{V}/limits").status_code == 200


def test_oauth_password_and_client_credentials_flows(fake):
    url = f"{fake.instance_url}/services/oauth2/token"
    good = {"grant_type": "password", "client_id": fake.client_id, "client_secret": fake.client_secret,
            "username": fake.username, "password": fake.password + fake.security_token}
    response = requests.post(url, data=good, verify=fake.ca_path)
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == fake.instance_url and body["token_type"] == "Bearer"
    assert requests.get(f"{fake.instance_url}{V}/limits", verify=fake.ca_path,
                        headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200

    bad = requests.post(url, data={**good, "password": fake.password}, verify=fake.ca_path)  # no security token
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "authentication failure"}

    client = {"grant_type": "client_credentials", "client_id": fake.client_id, "client_secret": fake.client_secret}
    assert requests.post(url, data=client, verify=fake.ca_path).status_code == 200
    wrong_secret = requests.post(url, data={**client, "client_secret": "nope"}, verify=fake.ca_path)
    assert wrong_secret.status_code == 400 and wrong_secret.json()["error"] == "invalid_client"


def test_every_api_call_counts_against_the_daily_usage_header(fake, api):
    headers = [_query(api, "SELECT Id FROM Account").headers, api("GET", f"{V}/sobjects/Account/describe").headers,
               api("GET", f"{V}/nope").headers]
    assert [h["Sforce-Limit-Info"] for h in headers] == ["api-usage=1/100000", "api-usage=2/100000",
                                                         "api-usage=2/100000"]
    assert fake.api_usage == 2


def test_exhausted_daily_limit_refuses_with_403(fake, api):
    fake.daily_limit = 2
    calls = [api("GET", f"{V}/limits") for _ in range(3)]
    assert [c.status_code for c in calls] == [200, 200, 403]
    assert calls[1].json() == {"DailyApiRequests": {"Max": 2, "Remaining": 0}}
    assert calls[2].json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert calls[2].headers["Sforce-Limit-Info"] == "api-usage=2/2"


def test_injected_503_and_limit_errors_hit_the_next_matching_requests(fake, api):
    fake.fail_next(1, route="/services/data/{version}/limits", retry_after="3")
    fake.limit_exceeded_next(1, method="GET")
    first = api("GET", f"{V}/limits")
    assert first.status_code == 503 and first.headers["Retry-After"] == "3"
    second = api("GET", f"{V}/limits")
    assert second.status_code == 403 and second.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert api("GET", f"{V}/limits").status_code == 200
    assert fake.count("GET", "/services/data/{version}/limits") == 3


def test_timeout_after_commit_applies_the_write_but_holds_the_answer(fake, api):
    account = fake.seed(accounts=[{"Name": "Acme"}])["Account"][0]
    fake.timeout_after_commit(1, method="PATCH", delay=1.0)
    with pytest.raises(requests.Timeout):
        api("PATCH", f"{V}/composite/sobjects", timeout=0.3, json={"allOrNone": False, "records": [
            {"attributes": {"type": "Account"}, "id": account, "pls_pqa_score__c": 42}]})
    assert fake.get("Account", account)["pls_pqa_score__c"] == 42.0


# -- ids and SOQL --------------------------------------------------------------------------------------------------
def test_ids_are_18_char_with_key_prefixes_and_salesforce_checksum(fake):
    ids = fake.seed(accounts=[{}], contacts=[{}], opportunities=[{}], users=[{}])
    for sobject, prefix in (("Account", "001"), ("Contact", "003"), ("Opportunity", "006"), ("User", "005")):
        record_id = ids[sobject][0]
        assert len(record_id) == 18 and record_id.startswith(prefix) and is_salesforce_id(record_id)
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # a documented example id pair


def test_soql_parser_subset():
    soql = parse_soql("SELECT Id, Name FROM Account WHERE Name IN ('a', 'b\\'c') AND NumberOfEmployees >= 10 "
                      "ORDER BY Name DESC NULLS LAST LIMIT 5")
    assert soql.fields == ["Id", "Name"] and soql.sobject == "Account" and soql.limit == 5
    assert [c.op for c in soql.where] == ["IN", ">="]
    assert soql.order_by == [("Name", True, True)]
    assert parse_soql("SELECT COUNT() FROM Contact").count


def test_query_pages_with_next_records_url_honouring_batch_size(fake, api):
    fake.seed(accounts=[{"Name": f"A{i:04d}"} for i in range(2101)])
    first = _query(api, "SELECT Id, Name FROM Account ORDER BY Name", headers={"Sforce-Query-Options": "batchSize=50"})
    body = first.json()
    assert body["totalSize"] == 2101 and body["done"] is False
    assert len(body["records"]) == 200  # batchSize is clamped to Salesforce's minimum of 200
    assert body["records"][0]["attributes"]["type"] == "Account"
    assert body["records"][0]["attributes"]["url"].startswith(f"{V}/sobjects/Account/001")
    names = [r["Name"] for r in body["records"]]
    pages = 1
    while not body["done"]:
        body = api("GET", body["nextRecordsUrl"]).json()
        names += [r["Name"] for r in body["records"]]
        pages += 1
    assert pages == 11 and names == [f"A{i:04d}" for i in range(2101)]

    default = _query(api, "SELECT Id FROM Account").json()
    assert len(default["records"]) == 2000 and default["nextRecordsUrl"].startswith(f"{V}/query/01g")


def test_query_where_in_like_order_limit_count_and_datetime_filters(fake, api):
    fake.clock = lambda: datetime(2026, 11, 1, 12, tzinfo=UTC)
    ids = fake.seed(accounts=[
        {"Name": "Acme", "Website": "https://www.acme.com", "NumberOfEmployees": 50},
        {"Name": "Beta", "Website": "beta.io", "NumberOfEmployees": 5},
        {"Name": "Gamma", "NumberOfEmployees": None},
    ])["Account"]
    fake.clock = lambda: datetime(2026, 11, 2, 12, tzinfo=UTC)
    fake.delete("Account", ids[2])

    def names(soql: str) -> list[str]:
        response = _query(api, soql)
        assert response.status_code == 200, response.text
        return [r["Name"] for r in response.json()["records"]]

    assert names("SELECT Name FROM Account WHERE NumberOfEmployees > 10") == ["Acme"]
    assert names(f"SELECT Name FROM Account WHERE Id IN ('{ids[1]}', '{ids[0][:15]}') ORDER BY Name DESC") == \
        ["Beta", "Acme"]
    assert names("SELECT Name FROM Account WHERE Website LIKE '%acme.com%'") == ["Acme"]
    assert names("SELECT Name FROM Account WHERE name = 'ACME'") == ["Acme"]  # case-insensitive text
    assert names("SELECT Name FROM Account ORDER BY Name LIMIT 1") == ["Acme"]
    assert names("SELECT Name FROM Account WHERE SystemModstamp > 2026-11-01T12:00:00Z") == []
    assert _query(api, "SELECT COUNT() FROM Account").json()["totalSize"] == 2
    deleted = api("GET", f"{V}/queryAll", params={"q": "SELECT Name, IsDeleted FROM Account WHERE IsDeleted = true"})
    assert [r["Name"] for r in deleted.json()["records"]] == ["Gamma"]
    created = _query(api, "SELECT CreatedDate FROM Account LIMIT 1").json()["records"][0]["CreatedDate"]
    assert created == "2026-11-01T12:00:00.000+0000"


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD"),
    ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
    ("SELEKT Id FROM Account", "MALFORMED_QUERY"),
    ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_QUERY_FILTER_OPERATOR"),
])
def test_bad_soql_is_a_400_with_the_salesforce_error_code(api, soql, code):
    response = _query(api, soql)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == code


# -- describe ------------------------------------------------------------------------------------------------------
def test_describe_lists_field_attributes_and_the_configured_custom_fields(fake, api):
    body = api("GET", f"{V}/sobjects/Account/describe").json()
    fields = {f["name"]: f for f in body["fields"]}
    assert body["keyPrefix"] == "001"
    score = fields["pls_pqa_score__c"]
    assert score["type"] == "double" and score["custom"] and score["updateable"] and score["createable"]
    assert fields["pls_pqa_tier__c"]["type"] == "string" and fields["pls_pqa_tier__c"]["length"] == 255
    assert fields["pls_is_pqa__c"]["type"] == "boolean" and fields["pls_score_date__c"]["type"] == "date"
    assert fields["Id"]["updateable"] is False and fields["Name"]["nillable"] is False
    assert {"value": "Prospect", "label": "Prospect", "active": True, "defaultValue": False} in \
        fields["Type"]["picklistValues"]
    contact = {f["name"] for f in api("GET", f"{V}/sobjects/Contact/describe").json()["fields"]}
    assert {"pls_persona__c", "pls_buying_power__c", "pls_is_pql__c", "pls_evidence__c"} <= contact

    fake.remove_field("Account", "pls_pqa_tier__c")
    fake.set_field("Account", "pls_pqa_score__c", updateable=False)
    fields = {f["name"]: f for f in api("GET", f"{V}/sobjects/Account/describe").json()["fields"]}
    assert "pls_pqa_tier__c" not in fields and fields["pls_pqa_score__c"]["updateable"] is False


def test_custom_fields_are_configurable_at_construction():
    with SalesforceFake(custom_fields={"Account": [{"name": "Only__c", "type": "string", "custom": True}]}) as fake:
        body = requests.get(f"{fake.instance_url}{V}/sobjects/Account/describe", headers=AUTH,
                            verify=fake.ca_path).json()
    names = {f["name"] for f in body["fields"]}
    assert "Only__c" in names and "pls_pqa_score__c" not in names


# -- sObject Collections -------------------------------------------------------------------------------------------
def _update(api, records, all_or_none=False):
    return api("PATCH", f"{V}/composite/sobjects", json={"allOrNone": all_or_none, "records": records})


def test_collection_update_returns_ordered_results_with_per_record_status_codes(fake, api):
    ids = fake.seed(accounts=[{"Name": "A"}, {"Name": "B"}, {"Name": "C"}])["Account"]
    fake.delete("Account", ids[2])
    fake.add_validation_rule("Account", lambda r: (r.get("pls_pqa_tier__c") or "") == "Z", "Tier Z is retired",
                             ["pls_pqa_tier__c"])
    response = _update(api, [
        {"attributes": {"type": "Account"}, "id": ids[0], "pls_pqa_score__c": 87, "pls_is_pqa__c": True,
         "pls_score_date__c": "2026-12-02"},
        {"attributes": {"type": "Account"}, "id": ids[1], "Nope__c": "x"},
        {"attributes": {"type": "Account"}, "id": "001notanid"},
        {"attributes": {"type": "Account"}, "id": ids[2], "pls_pqa_tier__c": "A"},
        {"attributes": {"type": "Account"}, "id": ids[1], "pls_pqa_tier__c": "Z"},
        {"attributes": {"type": "Account"}, "id": ids[1], "pls_pqa_tier__c": "B"},
    ])
    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"id": ids[0], "success": True, "errors": []}
    codes = [r["errors"][0]["statusCode"] if r["errors"] else None for r in results]
    assert codes == [None, "INVALID_FIELD", "MALFORMED_ID", "ENTITY_IS_DELETED", "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                     None]
    assert results[4]["errors"][0]["message"] == "Tier Z is retired"
    stored = fake.get("Account", ids[0])
    assert stored["pls_pqa_score__c"] == 87.0 and stored["pls_is_pqa__c"] is True
    assert stored["pls_score_date__c"] == "2026-12-02"
    assert fake.get("Account", ids[1])["pls_pqa_tier__c"] == "B"


def test_collection_all_or_none_rolls_back_every_record(fake, api):
    ids = fake.seed(accounts=[{"Name": "A"}, {"Name": "B"}])["Account"]
    results = _update(api, [
        {"attributes": {"type": "Account"}, "id": ids[0], "pls_pqa_tier__c": "A"},
        {"attributes": {"type": "Account"}, "id": ids[1], "Name": None},
    ], all_or_none=True).json()
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert fake.get("Account", ids[0])["pls_pqa_tier__c"] is None


def test_collection_limits_types_locks_and_creates(fake, api):
    account = fake.seed(accounts=[{"Name": "A"}])["Account"][0]
    too_many = [{"attributes": {"type": "Account"}, "id": account}] * 201
    over = _update(api, too_many)
    assert over.status_code == 400 and over.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    wrong_type = _update(api, [{"attributes": {"type": "Account"}, "id": account, "pls_pqa_tier__c": "first"},
                               {"attributes": {"type": "Account"}, "id": account, "pls_pqa_score__c": "87"}])
    assert wrong_type.status_code == 400 and wrong_type.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert fake.get("Account", account)["pls_pqa_tier__c"] is None  # nothing applied

    fake.lock_record(account, times=1)
    record = [{"attributes": {"type": "Account"}, "id": account, "pls_pqa_tier__c": "A"}]
    assert _update(api, record).json()[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert _update(api, record).json()[0]["success"] is True

    created = api("POST", f"{V}/composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "Lee", "Email": "a@x.com", "AccountId": account},
        {"attributes": {"type": "Contact"}, "Email": "b@x.com"},
        {"attributes": {"type": "Contact"}, "LastName": "Ng", "AccountId": "001Dn0000000zzzAAA"},
    ]}).json()
    assert created[0]["success"] and created[0]["id"].startswith("003")
    assert created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert created[2]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert fake.get("Contact", created[0]["id"])["AccountId"] == account


def test_write_calls_and_request_counts_by_route(fake, api):
    account = fake.seed(accounts=[{"Name": "A"}])["Account"][0]
    _query(api, "SELECT Id FROM Account")
    _update(api, [{"attributes": {"type": "Account"}, "id": account, "pls_pqa_tier__c": "A"}])
    assert fake.count("GET", "/services/data/{version}/query") == 1
    assert fake.count("PATCH", "/services/data/{version}/composite/sobjects") == 1
    assert fake.write_calls == 1


# -- Bulk API 2.0 --------------------------------------------------------------------------------------------------
def _job(api, operation="update", sobject="Account"):
    response = api("POST", f"{V}/jobs/ingest", json={"object": sobject, "operation": operation, "contentType": "CSV",
                                                     "lineEnding": "LF", "columnDelimiter": "COMMA"})
    assert response.status_code == 200
    return response.json()


def _csv(response):
    return list(csv.DictReader(io.StringIO(response.text)))


def test_bulk_update_lifecycle_with_shuffled_results(fake, api):
    ids = fake.seed(accounts=[{"Name": f"A{i}"} for i in range(40)])["Account"]
    fake.add_validation_rule("Account", lambda r: r.get("pls_pqa_tier__c") == "bad", "no bad tiers")
    job = _job(api)
    assert job["state"] == "Open" and job["id"].startswith("750") and job["jobType"] == "V2Ingest"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    rows = "Id,pls_pqa_tier__c,pls_pqa_score__c\n" + "".join(
        f"{record_id},{'bad' if i == 3 else 'T' + str(i)},{i}\n" for i, record_id in enumerate(ids))
    path = f"{V}/jobs/ingest/{job['id']}"
    assert api("PUT", f"{path}/batches", data=rows, headers={"Content-Type": "text/csv"}).status_code == 201
    assert api("PUT", f"{path}/batches", data=rows, headers={"Content-Type": "text/csv"}).status_code == 409
    assert api("GET", f"{path}/successfulResults").status_code == 409  # not complete yet
    assert api("PATCH", path, json={"state": "UploadComplete"}).json()["state"] == "UploadComplete"
    assert api("GET", path).json()["state"] == "InProgress"
    done = api("GET", path).json()
    assert done["state"] == "JobComplete"
    assert done["numberRecordsProcessed"] == 40 and done["numberRecordsFailed"] == 1

    successful = _csv(api("GET", f"{path}/successfulResults"))
    assert list(successful[0]) == ["sf__Id", "sf__Created", "Id", "pls_pqa_tier__c", "pls_pqa_score__c"]
    assert len(successful) == 39 and all(r["sf__Created"] == "false" for r in successful)
    assert [r["Id"] for r in successful] != [i for n, i in enumerate(ids) if n != 3]  # shuffled
    failed = _csv(api("GET", f"{path}/failedResults"))
    assert [r["Id"] for r in failed] == [ids[3]]
    assert failed[0]["sf__Error"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION:no bad tiers: --"
    assert _csv(api("GET", f"{path}/unprocessedrecords")) == []
    assert fake.get("Account", ids[5])["pls_pqa_tier__c"] == "T5"
    assert fake.get("Account", ids[5])["pls_pqa_score__c"] == 5.0


def test_bulk_empty_cell_leaves_a_field_and_na_clears_it(fake, api):
    account = fake.seed(accounts=[{"Name": "A", "pls_pqa_tier__c": "keep", "pls_motion__c": "clear"}])["Account"][0]
    job = _job(api)
    path = f"{V}/jobs/ingest/{job['id']}"
    api("PUT", f"{path}/batches", data=f"Id,pls_pqa_tier__c,pls_motion__c\n{account},,#N/A\n",
        headers={"Content-Type": "text/csv"})
    api("PATCH", path, json={"state": "UploadComplete"})
    while api("GET", path).json()["state"] != "JobComplete":
        pass
    stored = fake.get("Account", account)
    assert stored["pls_pqa_tier__c"] == "keep" and stored["pls_motion__c"] is None


def test_bulk_failed_job_reports_unprocessed_records(fake, api):
    ids = fake.seed(accounts=[{"Name": f"A{i}"} for i in range(10)])["Account"]
    fake.fail_next_bulk_job("InternalServerError : try again", after=4)
    job = _job(api)
    path = f"{V}/jobs/ingest/{job['id']}"
    api("PUT", f"{path}/batches", data="Id,pls_pqa_tier__c\n" + "".join(f"{i},X\n" for i in ids),
        headers={"Content-Type": "text/csv"})
    api("PATCH", path, json={"state": "UploadComplete"})
    states = [api("GET", path).json() for _ in range(2)]
    assert states[-1]["state"] == "Failed" and states[-1]["errorMessage"] == "InternalServerError : try again"
    assert len(_csv(api("GET", f"{path}/successfulResults"))) == 4
    unprocessed = _csv(api("GET", f"{path}/unprocessedrecords"))
    assert sorted(r["Id"] for r in unprocessed) == sorted(ids[4:])
    assert list(unprocessed[0]) == ["Id", "pls_pqa_tier__c"]


def test_bulk_unknown_column_fails_the_job_and_bad_transitions_are_refused(fake, api):
    ids = fake.seed(accounts=[{"Name": "A"}])["Account"]
    job = _job(api)
    path = f"{V}/jobs/ingest/{job['id']}"
    api("PUT", f"{path}/batches", data=f"Id,Nope__c\n{ids[0]},x\n", headers={"Content-Type": "text/csv"})
    api("PATCH", path, json={"state": "UploadComplete"})
    assert api("PATCH", path, json={"state": "UploadComplete"}).status_code == 409
    api("GET", path)
    failed = api("GET", path).json()
    assert failed["state"] == "Failed" and failed["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    assert len(_csv(api("GET", f"{path}/unprocessedrecords"))) == 1
    assert api("PUT", f"{V}/jobs/ingest/{_job(api)['id']}/batches", data="Id\n",
               headers={"Content-Type": "application/json"}).status_code == 415


def test_bulk_insert_and_upsert_by_an_id_lookup_field(fake, api):
    account = fake.seed(accounts=[{"Name": "A"}])["Account"][0]
    existing = fake.seed(contacts=[{"Email": "old@x.com", "LastName": "Old"}])["Contact"][0]
    refused = api("POST", f"{V}/jobs/ingest", json={"object": "Contact", "operation": "upsert",
                                                    "externalIdFieldName": "Title"})
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "INVALIDJOB"
    job = api("POST", f"{V}/jobs/ingest", json={"object": "Contact", "operation": "upsert",
                                                "externalIdFieldName": "Email"}).json()
    path = f"{V}/jobs/ingest/{job['id']}"
    data = f"Email,LastName,AccountId\nOLD@x.com,Renamed,{account}\nnew@x.com,New,{account}\n"
    api("PUT", f"{path}/batches", data=data, headers={"Content-Type": "text/csv"})
    api("PATCH", path, json={"state": "UploadComplete"})
    api("GET", path)
    assert api("GET", path).json()["state"] == "JobComplete"
    results = {r["Email"]: r for r in _csv(api("GET", f"{path}/successfulResults"))}
    assert results["OLD@x.com"]["sf__Id"] == existing and results["OLD@x.com"]["sf__Created"] == "false"
    assert results["new@x.com"]["sf__Created"] == "true"
    assert fake.get("Contact", existing)["LastName"] == "Renamed"
    assert fake.get("Contact", results["new@x.com"]["sf__Id"])["AccountId"] == account

    insert = _job(api, operation="insert")
    path = f"{V}/jobs/ingest/{insert['id']}"
    api("PUT", f"{path}/batches", data="Name,NumberOfEmployees\nNew Co,12\n,3\n", headers={"Content-Type": "text/csv"})
    api("PATCH", path, json={"state": "UploadComplete"})
    api("GET", path)
    assert api("GET", path).json()["numberRecordsFailed"] == 1
    failed = _csv(api("GET", f"{path}/failedResults"))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]")
    assert [r["NumberOfEmployees"] for r in fake.records("Account") if r["Name"] == "New Co"] == [12]


def test_single_record_resources(fake, api):
    created = api("POST", f"{V}/sobjects/Account", json={"Name": "Solo", "pls_pqa_score__c": 5})
    assert created.status_code == 201 and created.json()["success"] is True
    record_id = created.json()["id"]
    got = api("GET", f"{V}/sobjects/Account/{record_id}", params={"fields": "Name,pls_pqa_score__c"}).json()
    assert got["Name"] == "Solo" and got["pls_pqa_score__c"] == 5.0
    assert api("PATCH", f"{V}/sobjects/Account/{record_id}", json={"Name": "Duo"}).status_code == 204
    bad = api("PATCH", f"{V}/sobjects/Account/{record_id}", json={"Name": None})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert api("DELETE", f"{V}/sobjects/Account/{record_id}").status_code == 204
    assert api("GET", f"{V}/sobjects/Account/{record_id}").status_code == 404
    assert api("PUT", f"{V}/sobjects/Account/{record_id}").status_code == 405
