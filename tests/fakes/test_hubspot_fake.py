"""The HubSpot fake honours the contract points the client relies on (crm_api_contracts.md sections 1 and 4)."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests.fakes.hubspot_fake import HubSpotFake

TOKEN = "test-token"


@pytest.fixture
def fake():
    with HubSpotFake(token=TOKEN, rate_limit=(190, 10.0), search_rate_per_second=50) as server:
        yield server


@pytest.fixture
def http(fake):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    yield lambda method, path, **kw: session.request(method, fake.base_url + path, timeout=10, **kw)
    session.close()


def _companies(n: int, **extra) -> list[dict]:
    return [{"name": f"Company {i}", "domain": f"c{i}.example", **extra} for i in range(n)]


def test_serves_on_loopback_with_an_ephemeral_port(fake):
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.port not in (None, 0, 80, 8080)


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_wrong_or_missing_token_is_a_401_with_hubspots_body(fake, header):
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{fake.base_url}/crm/v3/objects/companies", headers=headers, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["status"] == "error" and body["correlationId"] and "Authentication credentials" in body["message"]
    assert fake.responses[401] == 1


def test_list_pages_with_opaque_after_and_no_paging_on_the_last_page(fake, http):
    fake.seed(companies=_companies(25))
    first = http("GET", "/crm/v3/objects/companies").json()
    assert len(first["results"]) == 10  # default limit
    cursor = first["paging"]["next"]["after"]
    assert base64.b64decode(cursor)  # opaque base64, not a plain offset
    assert cursor in first["paging"]["next"]["link"] or "after=" in first["paging"]["next"]["link"]
    seen = [r["id"] for r in first["results"]]
    page = first
    while "paging" in page:
        page = http("GET", "/crm/v3/objects/companies", params={"after": page["paging"]["next"]["after"]}).json()
        seen += [r["id"] for r in page["results"]]
    assert len(seen) == len(set(seen)) == 25
    assert "paging" not in page
    assert http("GET", "/crm/v3/objects/companies", params={"limit": 101}).status_code == 400
    full = http("GET", "/crm/v3/objects/companies", params={"limit": 100}).json()
    assert len(full["results"]) == 25 and "paging" not in full


def test_list_returns_requested_properties_associations_and_hides_archived(fake, http):
    ids = fake.seed(companies=_companies(2, industry="Software"))["companies"]
    contacts = fake.seed(contacts=[{"email": "a@c0.example", "company_id": ids[0]}, {"email": "b@c1.example"}])
    fake.archive("companies", ids[1])
    body = http("GET", "/crm/v3/objects/companies", params={"properties": "industry,not_a_property"}).json()
    assert [r["id"] for r in body["results"]] == [ids[0]]
    props = body["results"][0]["properties"]
    assert props["industry"] == "Software" and "not_a_property" not in props and "name" not in props
    assert props["hs_object_id"] == ids[0]
    archived = http("GET", "/crm/v3/objects/companies", params={"archived": "true"}).json()
    assert [r["id"] for r in archived["results"]] == [ids[1]] and archived["results"][0]["archived"] is True
    listed = http("GET", "/crm/v3/objects/contacts", params={"associations": "companies"}).json()["results"]
    by_id = {r["id"]: r for r in listed}
    links = by_id[contacts["contacts"][0]]["associations"]["companies"]["results"]
    assert {(x["id"], x["type"]) for x in links} == {(ids[0], "contact_to_company"),
                                                     (ids[0], "contact_to_company_unlabeled")}
    assert "associations" not in by_id[contacts["contacts"][1]]


def test_owners_page(fake, http):
    fake.seed(owners=[{"email": f"o{i}@vendor.com", "name": f"Owner {i}", "team": "sales"} for i in range(3)])
    first = http("GET", "/crm/v3/owners/", params={"limit": 2}).json()
    assert len(first["results"]) == 2 and first["results"][0]["teams"][0]["name"] == "sales"
    second = http("GET", "/crm/v3/owners/", params={"limit": 2, "after": first["paging"]["next"]["after"]}).json()
    assert len(second["results"]) == 1 and "paging" not in second


def test_batch_cap_is_100_inputs(fake, http):
    ids = fake.seed(companies=_companies(101))["companies"]
    inputs = [{"id": i, "properties": {"name": "x"}} for i in ids]
    response = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"
    assert http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs[:100]}).status_code == 200
    read = http("POST", "/crm/v3/objects/companies/batch/read", json={"inputs": [{"id": i} for i in ids]})
    assert read.status_code == 400


def test_batch_update_207_shapes(fake, http):
    ids = fake.seed(companies=_companies(3))["companies"]
    inputs = [
        {"id": ids[0], "properties": {"name": "Renamed"}, "objectWriteTraceId": "t0"},
        {"id": ids[1], "properties": {"pls_nope": "1"}, "objectWriteTraceId": "t1"},
        {"id": "999", "properties": {"name": "Ghost"}, "objectWriteTraceId": "t2"},
    ]
    response = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 2
    assert [r["id"] for r in body["results"]] == [ids[0]]
    errors = {e["category"]: e for e in body["errors"]}
    assert errors["OBJECT_NOT_FOUND"]["context"]["ids"] == ["999"]
    assert errors["OBJECT_NOT_FOUND"]["context"]["objectWriteTraceId"] == ["t2"]
    invalid = errors["VALIDATION_ERROR"]
    assert invalid["context"] == {"ids": [ids[1]], "objectWriteTraceId": ["t1"]}
    assert "PROPERTY_DOESNT_EXIST" in invalid["message"] and invalid["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert fake.record("companies", ids[0])["properties"]["name"] == "Renamed"


def test_without_trace_ids_one_bad_input_fails_the_whole_batch_and_nothing_is_written(fake, http):
    ids = fake.seed(companies=_companies(2))["companies"]
    inputs = [{"id": ids[0], "properties": {"name": "New"}}, {"id": ids[1], "properties": {"numberofemployees": "1,5"}}]
    response = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs})
    assert response.status_code == 400
    assert "INVALID_DECIMAL" in response.json()["message"]
    assert fake.record("companies", ids[0])["properties"]["name"] == "Company 0"


@pytest.mark.parametrize(
    ("definition", "good", "bad"),
    [
        ({"type": "date", "fieldType": "date"}, "1764633600000", "1764633600001"),
        ({"type": "enumeration", "fieldType": "booleancheckbox",
          "options": [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]}, "true", "yes"),
        ({"type": "number", "fieldType": "number"}, "-12.5", "12 000"),
    ],
)
def test_values_are_validated_and_stored_as_strings(fake, http, definition, good, bad):
    record = fake.seed(companies=_companies(1))["companies"][0]
    created = http("POST", "/crm/v3/properties/companies", json={
        "name": "pls_value", "label": "Value", "groupName": "companyinformation", **definition})
    assert created.status_code == 201
    ok = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": record, "properties": {"pls_value": good}, "objectWriteTraceId": "a"}]})
    assert ok.status_code == 200 and fake.record("companies", record)["properties"]["pls_value"] == good
    rejected = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": record, "properties": {"pls_value": bad}, "objectWriteTraceId": "a"}]})
    assert rejected.status_code == 207 and rejected.json()["errors"][0]["category"] == "VALIDATION_ERROR"
    cleared = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": record, "properties": {"pls_value": ""}, "objectWriteTraceId": "a"}]})
    assert cleared.status_code == 200 and "pls_value" not in fake.record("companies", record)["properties"]


def test_upsert_by_unique_property_reports_new_and_rejects_duplicates(fake, http):
    def upsert(*emails):
        return http("POST", "/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
            {"idProperty": "email", "id": e, "properties": {"firstname": "X"}, "objectWriteTraceId": e} for e in emails
        ]})

    first = upsert("a@x.com", "b@x.com")
    assert first.status_code == 200 and {r["new"] for r in first.json()["results"]} == {True}
    again = upsert("A@x.com")
    assert again.status_code == 200 and again.json()["results"][0]["new"] is False
    assert len(fake.records("contacts")) == 2
    assert upsert("c@x.com", "C@X.com").status_code == 400  # two inputs resolving to one record
    by_name = http("POST", "/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
        {"idProperty": "firstname", "id": "X", "properties": {}}]})
    assert by_name.status_code == 400 and "non-unique" in by_name.json()["message"]


def test_merged_record_404s_and_is_silently_left_out_of_batch_update(fake, http):
    survivor, loser = fake.seed(companies=_companies(2))["companies"]
    fake.merge("companies", survivor, loser)
    assert http("GET", f"/crm/v3/objects/companies/{loser}").status_code == 404
    response = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": loser, "properties": {"name": "X"}, "objectWriteTraceId": loser},
        {"id": survivor, "properties": {"name": "Y"}, "objectWriteTraceId": survivor}]})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [survivor] and "errors" not in response.json()
    found = http("POST", "/crm/v3/objects/companies/search", json={
        "filterGroups": [{"filters": [{"propertyName": "hs_merged_object_ids", "operator": "CONTAINS_TOKEN",
                                       "value": loser}]}], "properties": ["hs_merged_object_ids"]}).json()
    assert [r["id"] for r in found["results"]] == [survivor]


def test_search_filters_sorts_and_caps(fake, http):
    ids = fake.seed(companies=_companies(30))["companies"]
    fake.search_result_cap = 20
    body = http("POST", "/crm/v3/objects/companies/search", json={
        "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[4]}]}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}], "limit": 5}).json()
    assert body["total"] == 25 and [r["id"] for r in body["results"]] == ids[-1:-6:-1]
    assert body["paging"]["next"]["after"] == "5"
    assert "lastmodifieddate" not in body["results"][0]["properties"]
    assert "hs_lastmodifieddate" in body["results"][0]["properties"]
    past_cap = http("POST", "/crm/v3/objects/companies/search", json={"limit": 10, "after": "20"})
    assert past_cap.status_code == 400
    assert http("POST", "/crm/v3/objects/companies/search", json={"limit": 201}).status_code == 400
    recent = http("POST", "/crm/v3/objects/companies/search", json={"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(int(time.time() * 1000) + 60_000)}]}]})
    assert recent.json()["total"] == 0


def test_rate_limit_headers_429_body_and_retry_after(fake, http):
    fake.set_rate_limit(3, 1.0)
    answers = [http("GET", "/crm/v3/objects/companies") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    first = answers[0].headers
    assert first["X-HubSpot-RateLimit-Max"] == "3" and first["X-HubSpot-RateLimit-Remaining"] == "2"
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"
    assert int(first["X-HubSpot-RateLimit-Daily-Remaining"]) < int(first["X-HubSpot-RateLimit-Daily"])
    limited = answers[3]
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING" and limited.json()["errorType"] == "RATE_LIMIT"
    assert float(limited.headers["Retry-After"]) >= 1
    search = http("POST", "/crm/v3/objects/companies/search", json={})  # exempt from the burst window
    assert search.status_code == 200 and "X-HubSpot-RateLimit-Max" not in search.headers
    time.sleep(1.05)
    assert http("GET", "/crm/v3/objects/companies").status_code == 200


def test_search_has_its_own_per_second_limit(fake, http):
    fake.set_search_rate(2)
    codes = [http("POST", "/crm/v3/objects/companies/search", json={}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_forced_faults_and_timeout_after_the_write_was_applied(fake, http):
    record = fake.seed(companies=_companies(1))["companies"][0]
    fake.fail_next(1, 429, retry_after=2)
    fake.fail_next(1, 429)
    fake.fail_next(1, 503)
    path = "/crm/v3/objects/companies/batch/update"
    body = {"inputs": [{"id": record, "properties": {"name": "Once"}, "objectWriteTraceId": "t"}]}
    first, second, third = (http("POST", path, json=body) for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert third.status_code == 503
    assert fake.write_counts[("companies", record)] == 0
    fake.timeout_next(1, delay=1.0)
    with pytest.raises(requests.Timeout):
        requests.post(fake.base_url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=0.3)
    assert fake.record("companies", record)["properties"]["name"] == "Once"  # applied despite the timeout
    assert fake.write_counts[("companies", record)] == 1


def test_results_are_shuffled_and_ids_can_go_missing(fake, http):
    ids = fake.seed(companies=_companies(100))["companies"]
    fake.drop_ids_from_results = {ids[0]}
    body = http("POST", "/crm/v3/objects/companies/batch/update", json={"inputs": [
        {"id": i, "properties": {"name": "x"}, "objectWriteTraceId": i} for i in ids]}).json()
    returned = [r["id"] for r in body["results"]]
    assert ids[0] not in returned and len(returned) == 99 and "errors" not in body
    assert returned != ids[1:]  # not in input order
    assert fake.record("companies", ids[0])["properties"]["name"] == "x"  # applied, only left out


def test_default_association_contact_to_company(fake, http):
    company = fake.seed(companies=_companies(1))["companies"][0]
    contact = fake.seed(contacts=[{"email": "a@c0.example"}])["contacts"][0]
    response = http("POST", "/crm/v4/associations/contacts/companies/batch/associate/default",
                    json={"inputs": [{"from": {"id": contact}, "to": {"id": company}}]})
    assert response.status_code == 200
    assert fake.associations("contacts", contact, "companies") == {company: {1, 279}}
    read = http("POST", "/crm/v4/associations/contacts/companies/batch/read", json={"inputs": [{"id": contact}]})
    types = {t["typeId"] for t in read.json()["results"][0]["to"][0]["associationTypes"]}
    assert types == {1, 279}


def test_properties_and_groups_schema(fake, http):
    group = http("POST", "/crm/v3/properties/companies/groups", json={"name": "pls", "label": "PLS"})
    assert group.status_code == 201
    assert http("POST", "/crm/v3/properties/companies/groups", json={"name": "pls", "label": "PLS"}).status_code == 409
    prop = {"name": "pls_score", "label": "Score", "type": "number", "fieldType": "number", "groupName": "pls"}
    assert http("POST", "/crm/v3/properties/companies", json=prop).status_code == 201
    assert http("POST", "/crm/v3/properties/companies", json=prop).status_code == 409
    bad = {**prop, "name": "pls_other", "fieldType": "textarea"}
    assert http("POST", "/crm/v3/properties/companies", json=bad).status_code == 400
    patched = http("PATCH", "/crm/v3/properties/companies/pls_score", json={"description": "from the warehouse"})
    assert patched.status_code == 200 and fake.property_definitions("companies")["pls_score"]["description"]
    names = {p["name"] for p in http("GET", "/crm/v3/properties/companies").json()["results"]}
    assert {"pls_score", "domain", "hs_merged_object_ids"} <= names


def test_a_100_input_batch_update_is_fast(fake, http):
    ids = fake.seed(companies=_companies(100))["companies"]
    http("POST", "/crm/v3/properties/companies", json={
        "name": "pls_score", "label": "Score", "type": "number", "fieldType": "number",
        "groupName": "companyinformation"})
    body = {"inputs": [{"id": i, "properties": {"pls_score": "42", "name": f"n{i}", "country": "NL"},
                        "objectWriteTraceId": i} for i in ids]}
    http("POST", "/crm/v3/objects/companies/batch/update", json=body)  # warm up
    started = time.perf_counter()
    for _ in range(10):
        assert http("POST", "/crm/v3/objects/companies/batch/update", json=body).status_code == 200
    assert (time.perf_counter() - started) / 10 < 0.05
