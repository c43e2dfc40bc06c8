"""HubSpotDemoLoader: load_demo, which loads the demo data set into a HubSpot portal and can be run again.

Separate from the CrmClient operations because it is a setup tool, not part of a sync: it matches or upserts
owners, companies, contacts and deals by their natural keys (email, domain, deal name within its company), on
HubSpotApi's batch calls, and correlates HubSpot's answers to the demo ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from pls_pipelines.lib.sync import to_crm_value
from pls_pipelines.resources.crm_http import CrmApiError
from pls_pipelines.resources.hubspot.api import BATCH_LIMIT, HubSpotApi
from pls_pipelines.resources.hubspot.records import READ_PROPERTIES, primary_company_v3
from pls_pipelines.resources.hubspot.responses import upsert_key
from pls_pipelines.resources.hubspot.values import normal_domain, to_hubspot

PRIMARY_DEAL_TO_COMPANY = 5


class HubSpotDemoLoader(HubSpotApi):
    """load_demo of HubSpotCrm, on HubSpotApi's calls."""

    # ---------------------------------------------------------------------------------------------------- demo
    def load_demo(
        self, owners: pd.DataFrame, companies: pd.DataFrame, contacts: pd.DataFrame, deals: pd.DataFrame
    ) -> dict[str, dict[str, str]]:
        """Load demo records idempotently: owners matched by email (HubSpot users are not created through the
        API), companies upserted by domain (when the portal's domain property is unique; otherwise matched by
        domain against a full read and created), contacts upserted by email and associated with their company,
        deals matched by name within their company (full read of deals with their companies) and created with
        their primary company. Returns demo id -> HubSpot id per object type; raises CrmApiError listing the
        records HubSpot refused."""
        ids: dict[str, dict[str, str]] = {"owners": {}, "companies": {}, "contacts": {}, "deals": {}}
        failures: list[str] = []
        by_email = {str(o.get("email") or "").lower(): str(o["id"]) for o in self._owner_pages() if o.get("email")}
        for row in owners.to_dict("records"):
            match = by_email.get(str(row.get("email") or "").lower())
            if match:
                ids["owners"][str(row["owner_id"])] = match
        self._load_companies(companies, ids, failures)
        self._load_contacts(contacts, ids, failures)
        self._load_deals(deals, ids, failures)
        if failures:
            raise CrmApiError(f"HubSpot refused {len(failures)} demo records: " + "; ".join(failures[:10]))
        return ids

    def _demo_properties(self, object_type: str, row: dict, ids: dict[str, dict[str, str]]) -> dict[str, str]:
        kinds = self._value_kinds(object_type)
        props: dict[str, str | None] = {}
        for name, column in READ_PROPERTIES[object_type].items():
            value = to_crm_value(row.get(column))
            if value is None:
                continue
            if name == "hubspot_owner_id":
                value = ids["owners"].get(value)
                if value is None:
                    continue
            if name == "domain":
                value = normal_domain(value)
            props[name] = value
        if object_type == "deals":
            props.setdefault("pipeline", "default")
        return {k: v for k, v in to_hubspot(kinds, props).items() if v != ""}

    def _load_companies(self, frame: pd.DataFrame, ids: dict, failures: list[str]) -> None:
        rows = frame.to_dict("records")
        domain_unique = bool(self._property_definitions("companies").get("domain", {}).get("hasUniqueValue"))
        existing: dict[str, str] = {}
        if not domain_unique:
            for record in self._pages("companies", ["domain"]):
                domain = normal_domain((record.get("properties") or {}).get("domain"))
                if domain:
                    existing.setdefault(domain, str(record["id"]))
        upserts, updates, creates = [], [], []
        for row in rows:
            props = self._demo_properties("companies", row, ids)
            domain = props.get("domain")
            demo_id = str(row["company_id"])
            if domain and domain_unique:
                upserts.append((demo_id, {"idProperty": "domain", "id": domain, "properties": props,
                                          "objectWriteTraceId": domain}))
            elif domain in existing:
                updates.append((demo_id, {"id": existing[domain], "properties": props,
                                          "objectWriteTraceId": existing[domain]}))
            else:  # traced by domain, so results correlate even where HubSpot does not echo the trace id
                trace = f"domain:{domain}" if domain else f"demo-{demo_id}"
                creates.append((demo_id, {"properties": props, "objectWriteTraceId": trace}))
        self._demo_writes("companies", "batch/upsert", upserts, ids, failures, _upsert_key_for("domain"))
        self._demo_writes("companies", "batch/update", updates, ids, failures, lambda r: str(r.get("id")))
        self._demo_writes("companies", "batch/create", creates, ids, failures, _created_company_key)

    def _demo_writes(self, object_type: str, action: str, items: list[tuple[str, dict]], ids: dict,
                     failures: list[str], result_key: Callable[[dict], str | None]) -> None:
        """Send (demo id, input) pairs in batches; map each demo id to the HubSpot id of its answer. Several
        demo ids may share one input (the same domain or email): they all get that record."""
        by_trace: dict[str, list[str]] = {}
        inputs: dict[str, dict] = {}
        for demo_id, item in items:
            trace = item["objectWriteTraceId"]
            by_trace.setdefault(trace, []).append(demo_id)
            inputs.setdefault(trace, item)
        batch = list(inputs.values())
        for start in range(0, len(batch), BATCH_LIMIT):
            chunk = batch[start: start + BATCH_LIMIT]
            answers = self._send_batch(f"/crm/v3/objects/{object_type}/{action}", chunk, result_key)
            for item in chunk:
                trace = item["objectWriteTraceId"]
                answer = answers.get(trace)
                if answer is not None and answer.ok:
                    for demo_id in by_trace[trace]:
                        ids[object_type][demo_id] = str(answer.body["id"])
                else:
                    failures.append(f"{object_type} {by_trace[trace][0]}: "
                                    f"{answer.error if answer else 'missing from HubSpot response'}")

    def _load_contacts(self, frame: pd.DataFrame, ids: dict, failures: list[str]) -> None:
        upserts = []
        company_of: dict[str, str] = {}
        for row in frame.to_dict("records"):
            props = self._demo_properties("contacts", row, ids)
            email = (props.get("email") or "").lower()
            if not email:
                failures.append(f"contacts {row['contact_id']}: no email address")
                continue
            props["email"] = email
            upserts.append((str(row["contact_id"]), {"idProperty": "email", "id": email, "properties": props,
                                                     "objectWriteTraceId": email}))
            company = ids["companies"].get(str(row.get("company_id")))
            if company:
                company_of.setdefault(email, company)
        self._demo_writes("contacts", "batch/upsert", upserts, ids, failures, upsert_key)
        emails = {item["id"]: ids["contacts"].get(demo_id) for demo_id, item in upserts}
        pairs = [(email, record_id) for email, record_id in emails.items() if record_id and email in company_of]
        results = {email: (record_id, True, False, None, False) for email, record_id in pairs}
        for start in range(0, len(pairs), BATCH_LIMIT):
            self._associate_contacts(pairs[start: start + BATCH_LIMIT], company_of, results)
        failures += [f"contacts {email}: {result[3]}" for email, result in results.items() if not result[1]]

    def _load_deals(self, frame: pd.DataFrame, ids: dict, failures: list[str]) -> None:
        existing: dict[tuple[str | None, str], list[str]] = {}
        for record in self._pages("deals", ["dealname"], associations="companies"):
            key = (primary_company_v3("deals", record), str((record.get("properties") or {}).get("dealname")))
            existing.setdefault(key, []).append(str(record["id"]))
        for matches in existing.values():
            matches.sort(key=lambda i: (len(i), i))
        updates, creates = [], []
        for row in frame.to_dict("records"):
            demo_id = str(row["deal_id"])
            company = ids["companies"].get(str(row.get("company_id")))
            props = self._demo_properties("deals", row, ids)
            matches = existing.get((company, props.get("dealname", "")))
            if matches:  # the n-th demo deal of that name and company is the n-th such HubSpot deal
                record_id = matches.pop(0)
                updates.append((demo_id, {"id": record_id, "properties": props, "objectWriteTraceId": record_id}))
                continue
            item: dict[str, Any] = {"properties": props, "objectWriteTraceId": f"demo-{demo_id}"}
            if company:
                item["associations"] = [{"to": {"id": company}, "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": PRIMARY_DEAL_TO_COMPANY}]}]
            creates.append((demo_id, item))
        self._demo_writes("deals", "batch/update", updates, ids, failures, lambda r: str(r.get("id")))
        self._demo_writes("deals", "batch/create", creates, ids, failures, lambda r: r.get("objectWriteTraceId"))


def _created_company_key(result: dict) -> str | None:
    if result.get("objectWriteTraceId"):
        return str(result["objectWriteTraceId"])
    domain = normal_domain((result.get("properties") or {}).get("domain"))
    return f"domain:{domain}" if domain else None


def _upsert_key_for(id_property: str) -> Callable[[dict], str | None]:
    def key(result: dict) -> str | None:
        trace = result.get("objectWriteTraceId")
        if trace:
            return str(trace)
        value = (result.get("properties") or {}).get(id_property)
        return str(value).lower() if value else None

    return key
