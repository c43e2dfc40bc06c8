"""The field-ownership map (config/crm_fields.yaml): which pls_* CRM properties we write, from which column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.rules_config import config_error, load_yaml_config, shipped_config
from pls_pipelines.lib.sql_identifiers import RULE, is_identifier
from pls_pipelines.lib.sync import ALWAYS, DEFAULT_TEXT_LENGTH, FieldSpec
from pls_pipelines.lib.sync_guard import GuardSettings

DEFAULT_FILE = "crm_fields.yaml"
FIELD_PREFIX = "pls_"


@dataclass(frozen=True)
class ObjectFields:
    object_type: str
    key_column: str
    source_table: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class CrmFieldMap:
    group_name: str
    group_label: str
    objects: dict[str, ObjectFields]
    # create buyers_missing_from_crm as CRM contacts (lib/missing_contacts.py); off unless RevOps turns it on
    create_missing_contacts: bool = False
    guard: GuardSettings = field(default_factory=GuardSettings)
    # compare with the CRM's current values (catching edits made in the CRM) when the last full reconcile is
    # older than this; 0 = every run
    reconcile_every_days: int = 7
    # CRM ingest reads only records modified since the last read (HubSpot, Salesforce), and everything when
    # the last full read is older than this (deletions and merges show only in a full read); 0 = every run
    full_read_every_days: int = 7
    # a record the CRM refused is not re-sent with the same values until this many days passed (0: every run)
    retry_rejected_after_days: int = 7
    # outcomes are recorded after each chunk of this many records, so a sync killed midway re-sends at most one
    write_chunk_records: int = 2_000


def load_crm_fields(path: Path | None = None) -> CrmFieldMap:
    if path is None:
        path = shipped_config(DEFAULT_FILE)
    raw = load_yaml_config(path, "crm_fields.schema.json")
    objects = {}
    for object_type, spec in raw["objects"].items():
        # the key and the sources name warehouse columns and tables that are read by name: SQL text
        if not is_identifier(spec["key"]):
            raise config_error(path, raw, ["objects", object_type, "key"],
                               f"{spec['key']!r} is not a valid SQL column name", f"use {RULE}, e.g. crm_company_id")
        fields = []
        for name, entry in spec["fields"].items():
            table, _, column = entry["source"].partition(".")
            if not (is_identifier(table) and is_identifier(column)):
                raise config_error(path, raw, ["objects", object_type, "fields", name, "source"],
                                   f"{entry['source']!r} is not table.column with valid SQL names",
                                   f"use {RULE} on both sides of the dot, e.g. account_routing.score")
            fields.append(FieldSpec(
                name, entry["label"], entry["type"], table, column,
                mode=entry.get("mode", ALWAYS), skip_nulls=bool(entry.get("skip_nulls", False)),
                max_length=int(entry.get("max_length", DEFAULT_TEXT_LENGTH)),
            ))
        tables = {f.source_table for f in fields}
        if len(tables) != 1:
            raise ConfigError(
                f"{path}: objects.{object_type}.fields take their values from several tables ({sorted(tables)}); "
                f"all fields of one CRM object must come from one table - join them upstream."
            )
        objects[object_type] = ObjectFields(object_type, spec["key"], tables.pop(), tuple(fields))
    group = raw["property_group"]
    creating = raw.get("create_missing_contacts", {}).get("enabled", False)
    if creating and "contacts" not in objects:
        raise ConfigError(
            f"{path}: create_missing_contacts.enabled is true but objects.contacts is missing; created contacts "
            "get the contacts fields, so map them (or set enabled: false)."
        )
    guard = GuardSettings(**raw.get("guard", {}))
    return CrmFieldMap(
        group["name"], group["label"], objects, creating, guard, int(raw.get("reconcile_every_days", 7)),
        int(raw.get("full_read_every_days", 7)), int(raw.get("retry_rejected_after_days", 7)),
        int(raw.get("write_chunk_records", 2_000)),
    )
