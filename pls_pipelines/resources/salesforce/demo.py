"""SalesforceDemoLoader: load_demo, which loads the demo data set into an org and can be run again.

Separate from the CrmClient operations because it is a setup tool, not part of a sync: it upserts accounts by
website domain, contacts by email and opportunities by name within their account, matches owners to users by
email, and writes only the fields that differ on records that already exist.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pandas as pd

from pls_pipelines.resources.crm_client import CUSTOMER_STAGE, LOST_STAGE, WON_STAGE
from pls_pipelines.resources.salesforce.values import clean_value, normalise_domain
from pls_pipelines.resources.salesforce.writes import CreatePlan, SalesforceWrites

# the logger name of the connector before it was split into this package: logging configured for it still applies
log = logging.getLogger(__name__)


class SalesforceDemoLoader(SalesforceWrites):
    """load_demo of SalesforceCrm, on SalesforceWrites' calls."""

    # -- demo data ---------------------------------------------------------------------------------------------
    def load_demo(
        self, owners: pd.DataFrame, companies: pd.DataFrame, contacts: pd.DataFrame, deals: pd.DataFrame
    ) -> dict[str, dict[str, str]]:
        """Upsert demo records: accounts by website domain, contacts by email, opportunities by name within their
        account. Owners are matched to users by email (users are not created); unmatched records keep the
        integration user as owner. Existing records get only their changed fields written."""
        mapping: dict[str, dict[str, str]] = {"owners": {}, "companies": {}, "contacts": {}, "deals": {}}
        owner_emails = {str(e).strip().lower(): str(o) for o, e in zip(owners["owner_id"], owners["email"],
                                                                       strict=True) if clean_value(e)}
        users = self._find_in("User", "Email", list(owner_emails))
        mapping["owners"] = {owner_emails[e]: uid for e, uid in users.items() if e in owner_emails}

        # Accounts, by normalised website domain (or the name for a company without one).
        account_fields = ["Name", "Website", "Industry", "NumberOfEmployees", "BillingCountry", "OwnerId", "Type"]
        payloads: dict[str, dict[str, Any]] = {}
        demo_keys: dict[str, str] = {}
        for row in companies.to_dict("records"):
            domain = normalise_domain(row.get("domain"))
            key = domain or f"name:{str(row.get('name')).strip().lower()}"
            demo_keys[str(row["company_id"])] = key
            stage = clean_value(row.get("lifecycle_stage"))
            payload = {
                "Name": clean_value(row.get("name")), "Website": domain, "Industry": clean_value(row.get("industry")),
                "NumberOfEmployees": None if clean_value(row.get("employee_count")) is None
                else int(row["employee_count"]),
                "BillingCountry": clean_value(row.get("country")),
                "Type": "Customer - Direct" if stage == CUSTOMER_STAGE else "Prospect",
            }
            owner = mapping["owners"].get(str(clean_value(row.get("owner_id"))))
            if owner:
                payload["OwnerId"] = owner
            payloads.setdefault(key, payload)
        current: dict[str, dict[str, Any]] = {}

        def find_accounts(keys: list[str]) -> dict[str, str]:
            wanted = set(keys)
            for record in sorted(self.query(f"SELECT Id, {', '.join(account_fields)} FROM Account"),
                                 key=lambda r: r["Id"]):
                key = normalise_domain(record.get("Website")) or f"name:{str(record.get('Name')).strip().lower()}"
                if key in wanted and key not in current:
                    current[key] = record
            return {k: current[k]["Id"] for k in keys if k in current}

        accounts = self._create_missing("Account", payloads, find_accounts)
        self._update_changed("Account", payloads, accounts, current)
        mapping["companies"] = {cid: accounts.ids[k] for cid, k in demo_keys.items() if k in accounts.ids}

        # Contacts, by email.
        contact_payloads: dict[str, dict[str, Any]] = {}
        contact_keys: dict[str, str] = {}
        for row in contacts.to_dict("records"):
            email = str(clean_value(row.get("email")) or "").strip().lower()
            if not email:
                continue
            contact_keys[str(row["contact_id"])] = email
            contact_payloads.setdefault(email, {
                "Email": email, "AccountId": mapping["companies"].get(str(clean_value(row.get("company_id")))),
                "FirstName": clean_value(row.get("first_name")),
                "LastName": clean_value(row.get("last_name")) or email.split("@")[0],
                "Title": clean_value(row.get("title")),
            })
        created = self._create_missing(
            "Contact", contact_payloads, lambda emails: self._find_in("Contact", "Email", emails))
        mapping["contacts"] = {cid: created.ids[e] for cid, e in contact_keys.items() if e in created.ids}

        # Opportunities, by name within their account.
        deal_payloads: dict[str, dict[str, Any]] = {}
        deal_keys: dict[str, str] = {}
        for row in deals.to_dict("records"):
            account = mapping["companies"].get(str(clean_value(row.get("company_id"))))
            name = clean_value(row.get("name"))
            if not account or not name:
                continue
            key = f"{account[:15]}|{str(name).strip().lower()}"
            deal_keys[str(row["deal_id"])] = key
            stage = str(clean_value(row.get("stage")) or "Prospecting")
            close = clean_value(row.get("close_date")) or clean_value(row.get("created_at")) or date.today().isoformat()
            amount = clean_value(row.get("amount"))
            deal_payloads.setdefault(key, {
                "AccountId": account, "Name": name,
                "StageName": {WON_STAGE: "Closed Won", LOST_STAGE: "Closed Lost"}.get(stage, stage),
                "Amount": None if amount is None else float(amount), "Type": clean_value(row.get("deal_type")),
                "CloseDate": str(close)[:10],
            })

        def find_deals(keys: list[str]) -> dict[str, str]:
            accounts_wanted = sorted({k.split("|", 1)[0] for k in keys})
            found = self._find_in("Opportunity", "AccountId", accounts_wanted, extra=", Name",
                                  key=lambda r: f"{r['AccountId'][:15]}|{str(r.get('Name')).strip().lower()}")
            return {k: found[k] for k in keys if k in found}

        opportunities = self._create_missing("Opportunity", deal_payloads, find_deals)
        mapping["deals"] = {did: opportunities.ids[k] for did, k in deal_keys.items() if k in opportunities.ids}
        failed = {**accounts.errors, **created.errors, **opportunities.errors}
        if failed:
            log.warning("Salesforce demo load: %d records failed, e.g. %s", len(failed), next(iter(failed.values())))
        return mapping

    def _update_changed(self, sobject: str, payloads: dict[str, dict[str, Any]], plan: CreatePlan,
                        current: dict[str, dict[str, Any]]) -> None:
        """Write the fields of found (not created) records that differ from `payloads`."""
        items = []
        for n, (key, payload) in enumerate(payloads.items()):
            record = current.get(key)
            if record is None or key in plan.created:
                continue
            changed = {k: v for k, v in payload.items() if _differs(record.get(k), v, k)}
            if changed:
                items.append((n, record["Id"], changed))
        if items:
            results = self._collection_update(sobject, items)
            bad = [r.error for r in results.values() if not r.ok]
            if bad:
                log.warning("Salesforce demo load: %d %s updates failed, e.g. %s", len(bad), sobject, bad[0])


def _differs(current: Any, wanted: Any, name: str) -> bool:
    if name == "Website":
        return normalise_domain(current) != normalise_domain(wanted)
    if isinstance(wanted, int | float) and isinstance(current, int | float):
        return float(current) != float(wanted)
    return (current or None) != (wanted or None)
