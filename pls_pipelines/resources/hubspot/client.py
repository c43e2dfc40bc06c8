"""HubSpotCrm: the CrmClient operations for HubSpot - reads, updates that follow merged records, and contact
creates.

Each operation is written on HubSpotApi's calls (api.py) and the pure mappings of records.py and values.py,
so this module reads as what a sync asks of HubSpot. load_demo comes from HubSpotDemoLoader (demo.py) and
ensure_properties from HubSpotProperties (properties.py), so that HubSpotCrm stays the one class callers use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from pls_pipelines.lib.crm_fields import FIELD_PREFIX
from pls_pipelines.lib.sync import CreateOutcome, NewContact, RecordOutcome, RecordUpdate
from pls_pipelines.resources.crm_http import CrmApiError
from pls_pipelines.resources.hubspot.api import BATCH_LIMIT, HubSpotApi
from pls_pipelines.resources.hubspot.demo import HubSpotDemoLoader
from pls_pipelines.resources.hubspot.properties import HubSpotProperties
from pls_pipelines.resources.hubspot.records import (
    LAST_MODIFIED,
    PRIMARY_COMPANY,
    READ_PROPERTIES,
    canonical_frame,
    owner_row,
    primary_company_v3,
    record_row,
)
from pls_pipelines.resources.hubspot.responses import json_body, upsert_key
from pls_pipelines.resources.hubspot.values import normal_domain, text_or_none, to_canonical, to_hubspot

SEARCH_LIMIT = 200  # records per search page
MERGE_LOOKUPS_PER_SEARCH = 5  # filter groups per search request


def _unique_chunks(items: Sequence[Any], key: Callable[[Any], str], size: int = BATCH_LIMIT) -> Iterator[list]:
    """Consecutive chunks of at most `size` items whose keys are unique within the chunk (HubSpot rejects a
    batch naming one record twice)."""
    chunk: list = []
    keys: set[str] = set()
    for item in items:
        k = key(item)
        if len(chunk) == size or k in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append(item)
        keys.add(k)
    if chunk:
        yield chunk


# -------------------------------------------------------------------------------------------------------- client
class HubSpotCrm(HubSpotProperties, HubSpotDemoLoader, HubSpotApi):
    """CrmClient for HubSpot (kind "hubspot"). `sleep` is used for the retry waits (inject a no-op in tests);
    the throttle waits in real time. `rate_limit`: the ten-secondly budget to stay under, (requests, seconds)."""

    kind = "hubspot"
    batch_size = BATCH_LIMIT

    def __repr__(self) -> str:
        return f"HubSpotCrm(base_url={self.http.base_url!r})"

    # ---------------------------------------------------------------------------------------------------- reads
    def read(self, object_type: str) -> pd.DataFrame:
        if object_type == "owners":
            rows = [owner_row(o) for o in self._owner_pages()]
            return canonical_frame("owners", rows)
        self._check_type(object_type)
        associations = "companies" if object_type in PRIMARY_COMPANY else None
        rows = [
            record_row(object_type, record, primary_company_v3(object_type, record))
            for record in self._pages(object_type, list(READ_PROPERTIES[object_type]), associations)
        ]
        return canonical_frame(object_type, rows)

    def read_modified_since(self, object_type: str, since: datetime) -> pd.DataFrame:
        """Records modified at or after `since` (naive = UTC), canonical columns, through search on the
        last-modified property. Every page is a fresh query "hs_object_id > last id seen", sorted by id, so
        the search's 10,000-result cap is never reached however many records changed."""
        if object_type == "owners":
            return self.read("owners")
        self._check_type(object_type)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        since_ms = int(since.timestamp() * 1000)
        records: list[dict] = []
        last_id = "0"
        path = f"/crm/v3/objects/{object_type}/search"
        while True:
            body = self._post_json(path, {
                "filterGroups": [{"filters": [
                    {"propertyName": LAST_MODIFIED[object_type], "operator": "GTE", "value": str(since_ms)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": last_id},
                ]}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": list(READ_PROPERTIES[object_type]),
                "limit": SEARCH_LIMIT,
            }, ok=(200,))
            page = body.get("results") or []
            records.extend(page)
            if not page or not (body.get("paging") or {}).get("next"):
                break
            last_id = str(page[-1]["id"])
        companies: dict[str, str] = {}
        if object_type in PRIMARY_COMPANY and records:
            companies = self._primary_companies(object_type, [str(r["id"]) for r in records])
        return canonical_frame(object_type, [record_row(object_type, r, companies.get(str(r["id"]))) for r in records])

    def read_properties(self, object_type: str, record_ids: Sequence[str] | None = None) -> pd.DataFrame:
        self._check_type(object_type)
        kinds = self._value_kinds(object_type)
        names = sorted(n for n in kinds if n.startswith(FIELD_PREFIX))
        rows: list[tuple[str, str, str]] = []
        if names:
            records: Iterable[dict]
            if record_ids is None:
                records = self._pages(object_type, names)
            else:
                records = self._batch_read(object_type, list(dict.fromkeys(str(i) for i in record_ids)), names)
            for record in records:
                props = record.get("properties") or {}
                for name in names:
                    value = props.get(name)
                    if value in (None, ""):
                        continue
                    rows.append((str(record["id"]), name, to_canonical(kinds[name], str(value))))
        frame = pd.DataFrame(rows, columns=["record_id", "name", "value"], dtype=object)
        return frame.sort_values(["record_id", "name"], ignore_index=True)

    def find_company(self, query: str) -> dict | None:
        text = (query or "").strip()
        if not text:
            return None
        needle = text.lower().removeprefix("www.")
        properties = list(READ_PROPERTIES["companies"])
        if text.isdigit():
            response = self._call("GET", f"/crm/v3/objects/companies/{text}", params={
                "properties": ",".join(properties)}, label="/crm/v3/objects/companies/{record_id}")
            if response.status_code == 200:
                return self._company_dict(json_body(response))
        body = self._post_json("/crm/v3/objects/companies/search", {
            "filterGroups": [
                {"filters": [{"propertyName": "domain", "operator": "EQ", "value": needle}]},
                {"filters": [{"propertyName": "domain", "operator": "EQ", "value": f"www.{needle}"}]},
                {"filters": [{"propertyName": "name", "operator": "EQ", "value": text}]},
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": properties, "limit": 20,
        }, ok=(200,))
        results = body.get("results") or []
        by_domain = [r for r in results if normal_domain((r.get("properties") or {}).get("domain")) == needle]
        by_name = [r for r in results if ((r.get("properties") or {}).get("name") or "").lower() == text.lower()]
        chosen = (by_domain or by_name or [None])[0]
        return self._company_dict(chosen) if chosen else None

    @staticmethod
    def _company_dict(record: dict) -> dict:
        row = record_row("companies", record, None)
        count = pd.to_numeric(row["employee_count"], errors="coerce")
        row["employee_count"] = None if pd.isna(count) else (int(count) if float(count).is_integer() else count)
        return row

    def count_records(self, object_type: str) -> int:
        if object_type == "owners":
            return sum(1 for _ in self._owner_pages())
        self._check_type(object_type)
        body = self._post_json(f"/crm/v3/objects/{object_type}/search", {"limit": 1, "properties": ["hs_object_id"]},
                               ok=(200,))
        return int(body.get("total") or 0)

    # ---------------------------------------------------------------------------------------------------- writes
    def update_records(self, object_type: str, updates: Sequence[RecordUpdate]) -> list[RecordOutcome]:
        self._check_type(object_type)
        if not updates:
            return []
        kinds = self._value_kinds(object_type)
        own = {u.record_id: u.properties for u in updates}
        outcomes: dict[int, RecordOutcome] = {}
        for chunk in _unique_chunks(list(enumerate(updates)), key=lambda item: item[1].record_id):
            inputs = [{"id": u.record_id, "properties": to_hubspot(kinds, u.properties),
                       "objectWriteTraceId": u.record_id} for _, u in chunk]
            answers = self._send_batch(f"/crm/v3/objects/{object_type}/batch/update", inputs,
                                       lambda result: str(result.get("id")))
            unresolved = []
            for index, update in chunk:
                answer = answers.get(update.record_id)
                if answer is None or answer.not_found:
                    unresolved.append((index, update, answer))
                elif answer.ok:
                    outcomes[index] = RecordOutcome(update.record_id, True)
                else:
                    outcomes[index] = RecordOutcome(update.record_id, False, answer.error, answer.retryable)
            if unresolved:
                self._follow_merges(object_type, unresolved, kinds, own, outcomes)
        return [outcomes[i] for i in range(len(updates))]

    def _follow_merges(self, object_type: str, unresolved: list, kinds: dict[str, str],
                       own: dict[str, dict], outcomes: dict[int, RecordOutcome]) -> None:
        """Records HubSpot left out of a batch's results (or called not found): when one was merged into
        another record, write to the survivor and report merged_into; otherwise they failed."""
        try:
            survivors = self._find_survivors(object_type, [u.record_id for _, u, _ in unresolved])
        except CrmApiError as exc:
            for index, update, answer in unresolved:
                outcomes[index] = RecordOutcome(
                    update.record_id, False,
                    f"{answer.error if answer else 'missing from HubSpot response'}; checking for a merge failed: "
                    f"{exc}", retryable=exc.retryable)
            return
        follow = []
        for index, update, answer in unresolved:
            survivor = survivors.get(update.record_id)
            if survivor is None:
                error = answer.error if answer is not None else (
                    "missing from HubSpot's response: HubSpot neither confirmed nor rejected this record")
                outcomes[index] = RecordOutcome(update.record_id, False, error)
                continue
            # the survivor's own update (if any) wins over the merged-away record's values
            properties = {k: v for k, v in update.properties.items() if k not in own.get(survivor, {})}
            if not properties:
                outcomes[index] = RecordOutcome(update.record_id, True, merged_into=survivor)
                continue
            follow.append((index, update, survivor, properties))
        for chunk in _unique_chunks(follow, key=lambda item: item[2]):
            inputs = [{"id": survivor, "properties": to_hubspot(kinds, properties),
                       "objectWriteTraceId": survivor} for _, _, survivor, properties in chunk]
            answers = self._send_batch(f"/crm/v3/objects/{object_type}/batch/update", inputs,
                                       lambda result: str(result.get("id")))
            for index, update, survivor, _ in chunk:
                answer = answers.get(survivor)
                if answer is not None and answer.ok:
                    outcomes[index] = RecordOutcome(update.record_id, True, merged_into=survivor)
                elif answer is None:
                    outcomes[index] = RecordOutcome(
                        update.record_id, False,
                        f"merged into {survivor}, which is missing from HubSpot's response", merged_into=survivor)
                else:
                    outcomes[index] = RecordOutcome(update.record_id, False, answer.error, answer.retryable,
                                                    merged_into=survivor)

    def _find_survivors(self, object_type: str, record_ids: Sequence[str]) -> dict[str, str]:
        """Merged-away record id -> the record it lives on in, from the survivors' hs_merged_object_ids."""
        wanted = list(dict.fromkeys(record_ids))
        out: dict[str, str] = {}
        for start in range(0, len(wanted), MERGE_LOOKUPS_PER_SEARCH):
            chunk = wanted[start: start + MERGE_LOOKUPS_PER_SEARCH]
            body = self._post_json(f"/crm/v3/objects/{object_type}/search", {
                "filterGroups": [{"filters": [{"propertyName": "hs_merged_object_ids", "operator": "CONTAINS_TOKEN",
                                               "value": record_id}]} for record_id in chunk],
                "properties": ["hs_merged_object_ids"], "limit": 100,
            }, ok=(200,))
            for result in body.get("results") or []:
                merged = str((result.get("properties") or {}).get("hs_merged_object_ids") or "")
                for token in merged.split(";"):
                    if token.strip() in chunk:
                        out[token.strip()] = str(result["id"])
        return out

    def create_contacts(self, contacts: Sequence[NewContact]) -> list[CreateOutcome]:
        """Upsert contacts by email and associate each with its company. A contact HubSpot already holds is
        returned unchanged (created=False; it is only associated when it has no company at all, which repairs a
        create whose association failed on an earlier run). One outcome per input, in input order."""
        outcomes: list[CreateOutcome | None] = [None] * len(contacts)
        positions: dict[str, list[int]] = {}
        firsts: list[tuple[str, NewContact]] = []
        for index, contact in enumerate(contacts):
            email = (contact.email or "").strip().lower()
            if not email:
                outcomes[index] = CreateOutcome(contact.key, None, False, error="INVALID_EMAIL: no email address")
                continue
            if email not in positions:
                positions[email] = []
                firsts.append((email, contact))
            positions[email].append(index)
        for chunk in _unique_chunks(firsts, key=lambda item: item[0]):
            results = self._create_contact_chunk(chunk)
            for email, _ in chunk:
                record_id, ok, created, error, retryable = results[email]
                for n, index in enumerate(positions[email]):
                    outcomes[index] = CreateOutcome(contacts[index].key, record_id, ok, created and n == 0, error,
                                                    retryable=retryable)
        return [o for o in outcomes if o is not None]

    def _create_contact_chunk(self, chunk: list[tuple[str, NewContact]]) -> dict[str, tuple]:
        """email -> (record_id, ok, created, error, retryable) for up to 100 distinct emails."""
        results: dict[str, tuple] = {}
        try:
            company_ids = list(dict.fromkeys(str(c.company_id) for _, c in chunk))
            known = {str(r["id"]) for r in self._batch_read("companies", company_ids, ["hs_object_id"])}
            existing = {
                str((r.get("properties") or {}).get("email") or "").lower(): str(r["id"])
                for r in self._batch_read("contacts", [e for e, _ in chunk], ["email"], id_property="email")
            }
        except CrmApiError as exc:
            if not exc.retryable:
                raise
            return {email: (None, False, False, str(exc), True) for email, _ in chunk}
        to_create, to_associate = [], []
        for email, contact in chunk:
            if email in existing:
                results[email] = (existing[email], True, False, None, False)
            elif str(contact.company_id) not in known:
                results[email] = (None, False, False,
                                  f"ASSOCIATION_TARGET_NOT_FOUND: no companies record {contact.company_id}", False)
            else:
                to_create.append((email, contact))
        inputs = []
        for email, contact in to_create:
            properties = {"email": email}
            for name, value in (("firstname", contact.first_name), ("lastname", contact.last_name),
                                ("jobtitle", contact.title)):
                if text_or_none(value):
                    properties[name] = str(value).strip()
            inputs.append({"idProperty": "email", "id": email, "properties": properties, "objectWriteTraceId": email})
        answers = self._send_batch("/crm/v3/objects/contacts/batch/upsert", inputs, upsert_key)
        company_of = {email: str(contact.company_id) for email, contact in chunk}
        for email, _ in to_create:
            answer = answers.get(email)
            if answer is None:
                results[email] = (None, False, False, "missing from HubSpot's response: the contact was not "
                                                      "confirmed", False)
            elif not answer.ok:
                results[email] = (None, False, False, answer.error, answer.retryable)
            else:
                record_id = str(answer.body["id"])
                results[email] = (record_id, True, bool(answer.body.get("new")), None, False)
                to_associate.append((email, record_id))
        if existing:  # an existing contact with no company at all gets this one (a half-done earlier create)
            try:
                linked = self._primary_companies("contacts", list(existing.values()))
            except CrmApiError as exc:
                if not exc.retryable:
                    raise
                linked = {record_id: "?" for record_id in existing.values()}
            to_associate += [(email, record_id) for email, record_id in existing.items()
                             if record_id not in linked and email in company_of and
                             company_of[email] in known]
        self._associate_contacts(to_associate, company_of, results)
        return results
