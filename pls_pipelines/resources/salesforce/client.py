"""SalesforceCrm: the CrmClient operations for Salesforce - reads, the describe check of our custom fields,
updates (sObject Collections or a Bulk API job, with row-lock retries and merged records followed) and contact
creates.

Each operation is written on the calls of api.py (session, SOQL), writes.py (collections, creates) and bulk.py
(Bulk API jobs) and the pure mappings of records.py and values.py, so this module reads as what a sync asks of
Salesforce. load_demo comes from SalesforceDemoLoader (demo.py), so that SalesforceCrm stays the one class
callers use.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import CreateOutcome, FieldSpec, NewContact, RecordOutcome, RecordUpdate
from pls_pipelines.resources.salesforce.api import SalesforceApi
from pls_pipelines.resources.salesforce.bulk import SalesforceBulkJobs
from pls_pipelines.resources.salesforce.demo import SalesforceDemoLoader
from pls_pipelines.resources.salesforce.records import READ_FIELDS, SOBJECTS, canonical_frame
from pls_pipelines.resources.salesforce.soql import QUERY_IN_CHUNK, chunks, like_escape, soql_datetime, soql_quote
from pls_pipelines.resources.salesforce.values import (
    CUSTOM_SUFFIX,
    NUMBER_TYPES,
    clean_value,
    custom_field_name,
    from_api_value,
    normalise_domain,
    to_api_value,
)
from pls_pipelines.resources.salesforce.writes import SalesforceWrites, WriteResult

MERGEABLE = frozenset({"Account", "Contact"})  # objects with MasterRecordId
MAX_MERGE_HOPS = 3  # a survivor merged away again is followed this far

TEXT_TYPES = frozenset({"string", "textarea", "picklist", "email", "url", "phone", "combobox"})
COMPATIBLE_TYPES = {"number": NUMBER_TYPES, "string": TEXT_TYPES, "bool": {"boolean"}, "date": {"date"}}
FIELD_DEFINITIONS = {"number": "Number(18, 2)", "string": "Text(255)", "bool": "Checkbox (default unchecked)",
                     "date": "Date"}

_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?$")


# ---------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------
class SalesforceCrm(SalesforceDemoLoader, SalesforceBulkJobs, SalesforceWrites, SalesforceApi):
    """CrmClient for Salesforce. Either `instance_url` + `access_token`, or an OAuth login against `login_url`:
    the username-password flow (`username`, `password` with `security_token` appended, `client_id`,
    `client_secret` of the connected app) or, with no username, the client-credentials flow.
    `verify`: True, or the path of a CA bundle (a sandbox behind a corporate proxy, the test fake)."""

    kind = "salesforce"

    def __repr__(self) -> str:
        return f"SalesforceCrm(instance_url={self.instance_url!r}, api_version={self.api_version!r})"

    # -- reading -----------------------------------------------------------------------------------------------
    def _sobject(self, object_type: str) -> str:
        try:
            return SOBJECTS[object_type]
        except KeyError:
            raise ValueError(f"unknown CRM object type {object_type!r}; expected one of {tuple(SOBJECTS)}") from None

    def read(self, object_type: str) -> pd.DataFrame:
        sobject = self._sobject(object_type)
        rows = list(self.query(f"SELECT {', '.join(READ_FIELDS[object_type])} FROM {sobject}"))
        return canonical_frame(object_type, rows)

    def read_modified_since(self, object_type: str, since: datetime | str) -> pd.DataFrame:
        """Like `read`, for the records changed after `since` (SystemModstamp, to the second, inclusive side)."""
        sobject = self._sobject(object_type)
        rows = list(self.query(
            f"SELECT {', '.join(READ_FIELDS[object_type])} FROM {sobject} WHERE SystemModstamp > "
            f"{soql_datetime(since)}"
        ))
        return canonical_frame(object_type, rows)

    def count_records(self, object_type: str) -> int:
        sobject = self._sobject(object_type)
        path = f"{self._base}/query"
        body = self._json(self._call("GET", path, params={"q": f"SELECT COUNT() FROM {sobject}"}, label=path),
                          f"count of {sobject}")
        return int(body["totalSize"])

    def find_company(self, query: str) -> dict | None:
        text = query.strip()
        if not text:
            return None
        select = f"SELECT {', '.join(READ_FIELDS['companies'])} FROM Account"
        found: list[dict[str, Any]] = []
        domain = normalise_domain(text)
        if domain and "." in domain:
            rows = self.query(f"{select} WHERE Website LIKE '%{like_escape(domain)}%'")
            found += [r for r in rows if normalise_domain(r.get("Website")) == domain]
        if _ID_RE.match(text) and text.startswith("001"):
            found += list(self.query(f"{select} WHERE Id = {soql_quote(text)}"))
        found += list(self.query(f"{select} WHERE Name = {soql_quote(text)}"))
        if not found:
            return None
        frame = canonical_frame("companies", found)
        return {k: clean_value(v) for k, v in frame.iloc[0].to_dict().items()}

    def describe(self, sobject: str, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        """Describe fields by lower-case API name (cached)."""
        if refresh or sobject not in self._describes:
            path = f"{self._base}/sobjects/{sobject}/describe"
            body = self._json(self._call("GET", path, label=path), f"describe {sobject}")
            self._describes[sobject] = {f["name"].lower(): f for f in body["fields"]}
        return self._describes[sobject]

    def read_properties(self, object_type: str, record_ids: Sequence[str] | None = None) -> pd.DataFrame:
        sobject = self._sobject(object_type)
        ours = [f for f in self.describe(sobject).values()
                if f["name"].lower().startswith("pls_") and f["name"].lower().endswith(CUSTOM_SUFFIX)]
        out: list[tuple[str, str, str]] = []
        if ours:
            select = f"SELECT Id, {', '.join(f['name'] for f in ours)} FROM {sobject}"
            if record_ids is None:
                rows: Iterable[dict[str, Any]] = self.query(select)
            else:
                ids = sorted({i for i in map(str, record_ids) if _ID_RE.match(i)})
                rows = (r for chunk in chunks(ids, QUERY_IN_CHUNK)
                        for r in self.query(f"{select} WHERE Id IN ({', '.join(map(soql_quote, chunk))})"))
            for record in rows:
                for f in ours:
                    value = from_api_value(record.get(f["name"]), f.get("type"))
                    if value is not None:
                        out.append((record["Id"], f["name"][: -len(CUSTOM_SUFFIX)], value))
        return pd.DataFrame(sorted(out), columns=["record_id", "name", "value"])

    # -- schema ------------------------------------------------------------------------------------------------
    def ensure_properties(
        self, object_type: str, fields: Iterable[FieldSpec], group_name: str, group_label: str = ""
    ) -> int:
        """Verify our custom fields with describe; 0 when all exist and are writable, else a ConfigError listing
        every field to create or fix, with its definition (Salesforce fields cannot be created over REST)."""
        sobject = self._sobject(object_type)
        described = self.describe(sobject, refresh=True)
        problems = []
        for spec in fields:
            api_name = custom_field_name(spec.name)
            found = described.get(api_name.lower())
            expected = COMPATIBLE_TYPES.get(spec.type, TEXT_TYPES)
            if found is None:
                issue = "missing"
            elif not found.get("updateable"):
                issue = "exists but is read-only for the integration user (field-level security or a formula field)"
            elif found.get("type") not in expected:
                issue = f"exists with type {found.get('type')}, which cannot hold a {spec.type}"
            else:
                continue
            problems.append(
                f'  - {api_name} ({issue}): Field Label "{spec.label}", Field Name {api_name[:-len(CUSTOM_SUFFIX)]},'
                f' Data Type {FIELD_DEFINITIONS.get(spec.type, "Text(255)")}, Description "{spec.description}"'
            )
        if problems:
            section = group_label or group_name
            raise ConfigError(
                f"Salesforce {sobject} lacks {len(problems)} field(s) pls-pipelines writes (config/crm_fields.yaml "
                f"objects.{object_type}). Salesforce fields cannot be created through the API: an admin creates them "
                f"in Setup > Object Manager > {sobject} > Fields & Relationships (put them in a page-layout section "
                f"{section!r}) and gives the integration user Edit access:\n" + "\n".join(problems)
                + "\nOr remove the fields from config/crm_fields.yaml. Then run again."
            )
        return 0

    # -- updates -----------------------------------------------------------------------------------------------
    def update_records(self, object_type: str, updates: Sequence[RecordUpdate]) -> list[RecordOutcome]:
        sobject = self._sobject(object_type)
        if not updates:
            return []
        described = self.describe(sobject)
        outcomes: dict[int, RecordOutcome] = {}
        payloads: dict[int, dict[str, Any]] = {}
        for i, update in enumerate(updates):
            try:
                payloads[i] = {
                    (api := custom_field_name(name)): to_api_value(value, described.get(api.lower(), {}).get("type"))
                    for name, value in update.properties.items()
                }
            except ValueError as exc:
                outcomes[i] = RecordOutcome(update.record_id, False, f"INVALID_TYPE_ON_FIELD_IN_RECORD: {exc}")
        targets = {i: updates[i].record_id for i in payloads}
        merged: dict[int, str] = {}
        lock_tries: Counter[int] = Counter()
        merge_hops: Counter[int] = Counter()
        last: dict[int, WriteResult] = {}
        pending = sorted(payloads)
        passes = 0
        while pending:
            if passes and any(lock_tries[i] for i in pending):
                self.sleep(min(2.0 ** passes, 30.0))
            passes += 1
            items = [(i, targets[i], payloads[i]) for i in pending]
            if len(items) > self.bulk_threshold:
                results = self._bulk_update(sobject, items)
            else:
                results = self._collection_update(sobject, items)
            retry, deleted = [], []
            for i in pending:
                result = last[i] = results[i]
                if result.ok:
                    outcomes[i] = RecordOutcome(updates[i].record_id, True, merged_into=merged.get(i))
                elif "UNABLE_TO_LOCK_ROW" in result.codes and lock_tries[i] < self.lock_retries:
                    lock_tries[i] += 1
                    retry.append(i)
                elif "ENTITY_IS_DELETED" in result.codes and sobject in MERGEABLE and merge_hops[i] < MAX_MERGE_HOPS:
                    merge_hops[i] += 1
                    deleted.append(i)
                else:
                    outcomes[i] = RecordOutcome(updates[i].record_id, False, result.error,
                                                retryable=result.retryable or "UNABLE_TO_LOCK_ROW" in result.codes,
                                                merged_into=merged.get(i))
            if deleted:
                masters = self._merge_survivors(sobject, [targets[i] for i in deleted])
                for i in deleted:
                    master = masters.get(targets[i][:15])
                    if master:
                        targets[i] = merged[i] = master
                        retry.append(i)
                    else:
                        outcomes[i] = RecordOutcome(updates[i].record_id, False, last[i].error)
            pending = sorted(retry)
        return [outcomes[i] for i in range(len(updates))]

    def _merge_survivors(self, sobject: str, record_ids: Sequence[str]) -> dict[str, str]:
        """15-char id of a merged-away record -> the id of the record it was merged into."""
        out: dict[str, str] = {}
        ids = sorted({i for i in record_ids if _ID_RE.match(i)})
        for chunk in chunks(ids, QUERY_IN_CHUNK):
            for row in self.query(f"SELECT Id, MasterRecordId FROM {sobject} WHERE Id IN "
                                  f"({', '.join(map(soql_quote, chunk))}) AND IsDeleted = true", include_deleted=True):
                if row.get("MasterRecordId"):
                    out[row["Id"][:15]] = row["MasterRecordId"]
        return out

    # -- creates -----------------------------------------------------------------------------------------------
    def create_contacts(self, contacts: Sequence[NewContact]) -> list[CreateOutcome]:
        payloads: dict[str, dict[str, Any]] = {}
        for contact in contacts:
            email = contact.email.strip().lower()
            payloads.setdefault(email, {
                "Email": email, "AccountId": contact.company_id, "FirstName": contact.first_name or None,
                "LastName": contact.last_name or email.split("@")[0], "Title": contact.title or None,
            })
        plan = self._create_missing("Contact", payloads, lambda emails: self._find_in("Contact", "Email", emails))
        outcomes, reported = [], set()
        for contact in contacts:
            email = contact.email.strip().lower()
            if email in plan.ids:
                created = email in plan.created and email not in reported
                reported.add(email)
                outcomes.append(CreateOutcome(contact.key, plan.ids[email], True, created=created))
            else:
                outcomes.append(CreateOutcome(contact.key, None, False, error=plan.errors.get(email),
                                              retryable=email in plan.retryable))
        return outcomes
