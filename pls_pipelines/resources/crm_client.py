"""The one interface every CRM connector implements: the embedded local CRM, HubSpot and Salesforce.

The pipeline never knows which CRM it talks to (`PLS_CRM` picks one): ingest reads records through `read`,
the sync writes through `ensure_properties` / `update_records` / `create_contacts`, the full reconcile reads
back through `read_properties`, `pls demo-data --crm ...` loads records through `load_demo`. Each connector
maps its own object names, property names and value formats to the canonical ones below, so the warehouse
tables look the same whatever the CRM.

Values cross this interface as strings (`lib/sync.to_crm_value`): "87", "true", "2026-12-02". A connector
converts to its API's format on the way out (HubSpot date properties as midnight-UTC epoch milliseconds,
Salesforce numbers as JSON numbers) and back to these canonical strings in `read_properties`, so that a value
read back compares equal to the value written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import pandas as pd

from pls_pipelines.lib.sync import CreateOutcome, FieldSpec, NewContact, RecordOutcome, RecordUpdate

# Canonical columns of `read(object_type)`, in this order, whatever the CRM. Ids are strings; missing values
# are None/NaN. Dates and timestamps are ISO 8601 text ("2026-11-30" or "2026-11-30T12:00:00Z").
CANONICAL_COLUMNS: dict[str, list[str]] = {
    "owners": ["owner_id", "name", "email", "team"],
    "companies": [
        "company_id", "name", "domain", "industry", "employee_count", "country", "owner_id", "lifecycle_stage",
        "created_at",
    ],
    # company_id: the contact's primary company (HubSpot association, Salesforce AccountId)
    "contacts": ["contact_id", "company_id", "email", "first_name", "last_name", "title", "created_at"],
    # stage: canonical "closedwon" / "closedlost" for won and lost deals (lib/accounts.WON_STAGE), else the
    # CRM's own stage name; company_id: the deal's primary company
    "deals": ["deal_id", "company_id", "name", "stage", "amount", "deal_type", "created_at", "close_date"],
}
# lifecycle_stage "customer" marks a paying company without a won deal (lib/accounts.paying_since).
CUSTOMER_STAGE = "customer"
WON_STAGE = "closedwon"
LOST_STAGE = "closedlost"


@runtime_checkable
class CrmClient(Protocol):
    """What the pipeline needs from a CRM. Every method is safe to retry: writes are updates by record id or
    upserts by a unique key, never blind creates, so a call that timed out after the CRM applied it can be
    sent again without duplicating anything."""

    kind: str  # "local" | "hubspot" | "salesforce"

    def close(self) -> None:
        """Release connections (HTTP sessions, database engines)."""

    def read(self, object_type: str) -> pd.DataFrame:
        """All live (not archived/deleted) records of `object_type` ("owners", "companies", "contacts",
        "deals") with exactly CANONICAL_COLUMNS[object_type], sorted by the id column."""

    def read_properties(self, object_type: str, record_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """The current values of the pipeline's own properties (names starting with lib/crm_fields.FIELD_PREFIX,
        "pls_") as columns record_id, name, value (canonical strings; unset values left out), for `record_ids`
        or every record. The full reconcile compares these with what the sync last wrote."""

    def ensure_properties(
        self, object_type: str, fields: Iterable[FieldSpec], group_name: str, group_label: str
    ) -> int:
        """Make sure every field exists and is writable. CRMs whose API can create fields (local, HubSpot)
        create the group and missing fields, and refresh changed labels/descriptions; returns how many
        definitions were written (0 when nothing changed). Salesforce cannot create fields over REST: it
        verifies them with describe and raises lib/errors.ConfigError listing every missing or read-only field
        with the definition to create."""

    def update_records(self, object_type: str, updates: Sequence[RecordUpdate]) -> list[RecordOutcome]:
        """Write the given properties of existing records, batched to the API's maximum. Exactly one outcome per
        update, in input order; ok only when the CRM confirmed that record. A record the CRM rejects gets
        ok=False with the CRM's reason ("INVALID_OPTION: ..."); one that could not be written for a transient
        reason once retries ran out gets retryable=True. A record merged into another is followed (the write
        goes to the survivor) and reported with merged_into."""

    def create_contacts(self, contacts: Sequence[NewContact]) -> list[CreateOutcome]:
        """Create contacts associated with their company, as upserts by email: an address the CRM already
        holds returns that contact (created=False). One outcome per input, in input order."""

    def find_company(self, query: str) -> dict | None:
        """A company by domain (www. and case ignored), id or exact name, as a dict of canonical columns."""

    def count_records(self, object_type: str) -> int:
        """How many live records of `object_type` the CRM holds (demo-data refuses a non-empty CRM)."""

    def load_demo(
        self, owners: pd.DataFrame, companies: pd.DataFrame, contacts: pd.DataFrame, deals: pd.DataFrame
    ) -> dict[str, dict[str, str]]:
        """Load demo records (canonical columns) idempotently: companies upserted by domain, contacts by email
        with their company association, deals by name within their company; owners matched by email where the
        CRM cannot create them (HubSpot and Salesforce users are not created through these APIs: records then
        keep no owner). The frames' ids are the demo's own and the CRM assigns its ids: returns, per object
        type, demo id -> CRM id, so `pls demo-data` can point the product data's CRM ids at the real ones."""
