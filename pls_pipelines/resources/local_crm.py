"""The embedded CRM: a small SQL CRM (SQLite by default) with companies, contacts, deals, owners and custom
properties, so the whole pipeline - including the write-back - runs with no server and no CRM account.

It deliberately behaves like the hosted CRMs where that matters to the sync: custom properties must be defined
before they are written (an undefined one fails the record, like HubSpot's PROPERTY_DOESNT_EXIST), unknown
record ids fail per record instead of failing the batch, and every change is kept in a property history so a
CRM user can see what the pipeline changed and when.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import CreateOutcome, FieldSpec, NewContact, RecordOutcome, RecordUpdate
from pls_pipelines.private_files import is_pls_home, private_dir, private_file, tighten_side_files

OBJECT_TYPES = ("companies", "contacts", "deals")
_KEYS = {"companies": "company_id", "contacts": "contact_id", "deals": "deal_id"}

metadata = sa.MetaData()
owners = sa.Table(
    "owners",
    metadata,
    sa.Column("owner_id", sa.String, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("email", sa.String),
    sa.Column("team", sa.String),
)
companies = sa.Table(
    "companies",
    metadata,
    sa.Column("company_id", sa.String, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("domain", sa.String, index=True),
    sa.Column("industry", sa.String),
    sa.Column("employee_count", sa.Integer),
    sa.Column("country", sa.String),
    sa.Column("owner_id", sa.String),
    sa.Column("lifecycle_stage", sa.String),
    sa.Column("created_at", sa.String),
)
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("contact_id", sa.String, primary_key=True),
    sa.Column("company_id", sa.String, index=True),
    sa.Column("email", sa.String),
    sa.Column("first_name", sa.String),
    sa.Column("last_name", sa.String),
    sa.Column("title", sa.String),
    sa.Column("created_at", sa.String),
)
deals = sa.Table(
    "deals",
    metadata,
    sa.Column("deal_id", sa.String, primary_key=True),
    sa.Column("company_id", sa.String, index=True),
    sa.Column("name", sa.String),
    sa.Column("stage", sa.String),
    sa.Column("amount", sa.Float),
    sa.Column("deal_type", sa.String),
    sa.Column("created_at", sa.String),
    sa.Column("close_date", sa.String),
)
property_definitions = sa.Table(
    "property_definitions",
    metadata,
    sa.Column("object_type", sa.String, primary_key=True),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("label", sa.String),
    sa.Column("type", sa.String),
    sa.Column("group_name", sa.String),
    sa.Column("description", sa.String),
)
property_values = sa.Table(
    "property_values",
    metadata,
    sa.Column("object_type", sa.String, primary_key=True),
    sa.Column("record_id", sa.String, primary_key=True),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("value", sa.String),
    sa.Column("updated_at", sa.String),
)
property_history = sa.Table(
    "property_history",
    metadata,
    sa.Column("object_type", sa.String),
    sa.Column("record_id", sa.String, index=True),
    sa.Column("name", sa.String),
    sa.Column("old_value", sa.String),
    sa.Column("new_value", sa.String),
    sa.Column("changed_at", sa.String),
    sa.Column("source", sa.String),
)
_RECORD_TABLES = {"companies": companies, "contacts": contacts, "deals": deals}


class LocalCrm:
    """Client of the embedded SQL CRM. Same surface as the HubSpot and Salesforce clients."""

    kind = "local"
    batch_size = 100

    def __init__(self, url: str):
        try:
            parsed = sa.make_url(url)
        except Exception:
            raise ConfigError(
                "PLS_LOCAL_CRM_URL is not a valid SQLAlchemy URL; use e.g. sqlite:///.pls/crm.sqlite"
            ) from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            # user-only: contacts' names and emails (see private_files.py). SQLite gives its -journal, -wal and
            # -shm files the database file's mode, so creating that one 0600 before SQLite opens it is enough.
            database = Path(parsed.database)
            private_dir(database.parent, ours=is_pls_home(database.parent))
            private_file(database)
            tighten_side_files(database, ("-journal", "-wal", "-shm"))
        self.engine = sa.create_engine(parsed)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- seeding (demo data) ---------------------------------------------------------------------------------
    def seed(
        self,
        owners_df: pd.DataFrame,
        companies_df: pd.DataFrame,
        contacts_df: pd.DataFrame,
        deals_df: pd.DataFrame,
    ) -> None:
        """Replace all standard records (not the pls_* properties' definitions) with the given frames."""
        with self.engine.begin() as conn:
            for table, frame in (
                (owners, owners_df),
                (companies, companies_df),
                (contacts, contacts_df),
                (deals, deals_df),
            ):
                conn.execute(table.delete())
                columns = [c.name for c in table.columns]
                rows = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
                if rows:
                    conn.execute(table.insert(), rows)
            conn.execute(property_values.delete())
            conn.execute(property_history.delete())

    # -- reading ---------------------------------------------------------------------------------------------
    def read(self, object_type: str) -> pd.DataFrame:
        """All records of one object type with their standard columns (custom properties via read_properties)."""
        table = _RECORD_TABLES.get(object_type) if object_type != "owners" else owners
        if table is None:
            raise ValueError(f"unknown CRM object type {object_type!r}; expected one of {OBJECT_TYPES}")
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def read_properties(self, object_type: str, record_ids: Sequence[str] | None = None) -> pd.DataFrame:
        query = sa.select(property_values.c.record_id, property_values.c.name, property_values.c.value).where(
            property_values.c.object_type == object_type
        )
        if record_ids is not None:
            query = query.where(property_values.c.record_id.in_(list(record_ids)))
        with self.engine.connect() as conn:
            result = conn.execute(query.order_by(property_values.c.record_id, property_values.c.name))
            return pd.DataFrame(result.fetchall(), columns=["record_id", "name", "value"])

    def property_definitions(self, object_type: str) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.select(property_definitions).where(property_definitions.c.object_type == object_type)
            )
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def find_company(self, query: str) -> dict | None:
        """A company by domain (www. and case ignored), id or exact name; None when nothing matches."""
        needle = query.strip().lower().removeprefix("www.")
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(companies)
                    .where(
                        sa.or_(
                            sa.func.lower(companies.c.domain) == needle,
                            companies.c.company_id == query.strip(),
                            sa.func.lower(companies.c.name) == needle,
                        )
                    )
                    .order_by(companies.c.company_id)
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None

    # -- writing ---------------------------------------------------------------------------------------------
    def count_records(self, object_type: str) -> int:
        table = _RECORD_TABLES.get(object_type) if object_type != "owners" else owners
        if table is None:
            raise ValueError(f"unknown CRM object type {object_type!r}; expected one of {OBJECT_TYPES}")
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def load_demo(
        self, owners_df: pd.DataFrame, companies_df: pd.DataFrame, contacts_df: pd.DataFrame, deals_df: pd.DataFrame
    ) -> dict[str, dict[str, str]]:
        """The embedded CRM keeps the demo's own ids (it is the demo's CRM): loading is `seed`."""
        self.seed(owners_df, companies_df, contacts_df, deals_df)
        return {
            name: {str(i): str(i) for i in frame[key]}
            for name, frame, key in (
                ("owners", owners_df, "owner_id"), ("companies", companies_df, "company_id"),
                ("contacts", contacts_df, "contact_id"), ("deals", deals_df, "deal_id"),
            )
        }

    def ensure_properties(
        self, object_type: str, fields: Iterable[FieldSpec], group_name: str, group_label: str = ""
    ) -> int:
        """Create or refresh the definitions of our own properties; returns how many were written.

        Unchanged definitions are not rewritten, so a run with nothing new makes no schema writes either.
        """
        written = 0
        with self.engine.begin() as conn:
            existing = {
                r.name: (r.label, r.type, r.group_name, r.description)
                for r in conn.execute(
                    sa.select(property_definitions).where(property_definitions.c.object_type == object_type)
                )
            }
            for spec in fields:
                values = {
                    "label": spec.label,
                    "type": spec.type,
                    "group_name": group_name,
                    "description": spec.description,
                }
                current = existing.get(spec.name)
                if current == tuple(values.values()):
                    continue
                if current is not None:
                    conn.execute(
                        property_definitions.update()
                        .where(property_definitions.c.object_type == object_type)
                        .where(property_definitions.c.name == spec.name)
                        .values(**values)
                    )
                else:
                    conn.execute(
                        property_definitions.insert().values(
                            object_type=object_type, name=spec.name, **values
                        )
                    )
                written += 1
        return written

    def update_records(self, object_type: str, updates: Sequence[RecordUpdate]) -> list[RecordOutcome]:
        """Write property values record by record within batches; a bad record fails alone, never its batch."""
        table = _RECORD_TABLES[object_type]
        key = table.c[_KEYS[object_type]]
        outcomes: list[RecordOutcome] = []
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for start in range(0, len(updates), self.batch_size):
            batch = updates[start : start + self.batch_size]
            with self.engine.begin() as conn:
                defined = {
                    r.name
                    for r in conn.execute(
                        sa.select(property_definitions.c.name).where(
                            property_definitions.c.object_type == object_type
                        )
                    )
                }
                ids = [u.record_id for u in batch]
                known = {r[0] for r in conn.execute(sa.select(key).where(key.in_(ids)))}
                current = {
                    (r.record_id, r.name): r.value
                    for r in conn.execute(
                        sa.select(property_values)
                        .where(property_values.c.object_type == object_type)
                        .where(property_values.c.record_id.in_(ids))
                    )
                }
                for update in batch:
                    outcome = self._apply(conn, object_type, update, known, defined, current, now)
                    outcomes.append(outcome)
        return outcomes

    def create_contacts(self, new_contacts: Sequence[NewContact]) -> list[CreateOutcome]:
        """Create contacts of existing companies, as an upsert by email (case ignored): an address the CRM
        already holds returns that contact, unchanged, so a retried create never duplicates anyone. A contact
        whose company does not exist fails alone, like HubSpot's per-input association errors."""
        outcomes: list[CreateOutcome] = []
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for start in range(0, len(new_contacts), self.batch_size):
            batch = new_contacts[start : start + self.batch_size]
            emails = [c.email.strip().lower() for c in batch]
            with self.engine.begin() as conn:
                existing = {
                    email.lower(): contact_id
                    for contact_id, email in conn.execute(
                        sa.select(contacts.c.contact_id, contacts.c.email).where(
                            sa.func.lower(contacts.c.email).in_(emails)
                        )
                    )
                }
                known_companies = {
                    r[0]
                    for r in conn.execute(
                        sa.select(companies.c.company_id).where(
                            companies.c.company_id.in_([c.company_id for c in batch])
                        )
                    )
                }
                for contact, email in zip(batch, emails, strict=True):
                    if email in existing:
                        outcomes.append(CreateOutcome(contact.key, existing[email], True, created=False))
                    elif contact.company_id not in known_companies:
                        outcomes.append(CreateOutcome(
                            contact.key, None, False,
                            error=f"ASSOCIATION_TARGET_NOT_FOUND: no companies record {contact.company_id}",
                        ))
                    else:
                        contact_id = _new_contact_id(email)
                        conn.execute(contacts.insert().values(
                            contact_id=contact_id, company_id=contact.company_id, email=email,
                            first_name=contact.first_name, last_name=contact.last_name, title=contact.title,
                            created_at=now,
                        ))
                        existing[email] = contact_id
                        outcomes.append(CreateOutcome(contact.key, contact_id, True, created=True))
        return outcomes

    def _apply(self, conn, object_type, update, known, defined, current, now) -> RecordOutcome:
        if update.record_id not in known:
            return RecordOutcome(
                update.record_id, False, f"OBJECT_NOT_FOUND: no {object_type} record with this id"
            )
        undefined = sorted(set(update.properties) - defined)
        if undefined:
            return RecordOutcome(
                update.record_id, False, f"PROPERTY_DOESNT_EXIST: {', '.join(undefined)} is not defined"
            )
        for name, value in update.properties.items():
            old = current.get((update.record_id, name))
            row = {"object_type": object_type, "record_id": update.record_id, "name": name}
            conn.execute(property_values.delete().filter_by(**row))
            conn.execute(property_values.insert().values(**row, value=value, updated_at=now))
            conn.execute(
                property_history.insert().values(
                    **row, old_value=old, new_value=value, changed_at=now, source="pls-pipelines"
                )
            )
        return RecordOutcome(update.record_id, True)


def _new_contact_id(email: str) -> str:
    """The id of a contact the pipeline creates: derived from the address, so it is the same on every try."""
    return "pls-" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:16]
