"""5. Field provisioning (read-only): every pls_* field of crm_fields.yaml exists in the CRM with a type the sync
can write. It reads the CRM's field definitions; it never creates or changes one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pls_pipelines.doctor.crm_checks import CRM_NAMES
from pls_pipelines.doctor.report import FAIL, OK, SKIP, WARN, Check

MAX_NAMES_SHOWN = 6


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    return shown + (f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else "")


@dataclass(frozen=True)
class FieldIssue:
    """A pls_* field the CRM lacks (`problem` None) or holds in a form the sync cannot write."""

    object_type: str
    name: str
    problem: str | None = None


def field_issues(kind: str, object_type: str, specs: Iterable[Any], definitions: Mapping[str, Mapping],
                 group_name: str = "") -> list[FieldIssue]:
    """Compare crm_fields.yaml's fields with the CRM's own definitions (as the connector reads them: HubSpot
    properties by name, Salesforce describe fields by lower-case API name, the embedded CRM's definitions by name),
    with the same compatibility rules the connectors' ensure_properties apply before a sync."""
    issues = []
    for spec in specs:
        if kind == "salesforce":
            from pls_pipelines.resources.salesforce.client import COMPATIBLE_TYPES, TEXT_TYPES
            from pls_pipelines.resources.salesforce.values import custom_field_name

            api_name = custom_field_name(spec.name)
            found = definitions.get(api_name.lower())
            if found is None:
                issues.append(FieldIssue(object_type, api_name))
            elif not found.get("updateable"):
                issues.append(FieldIssue(object_type, api_name, "is read-only for the integration user (field-level "
                                         "security or a formula field)"))
            elif found.get("type") not in COMPATIBLE_TYPES.get(spec.type, TEXT_TYPES):
                issues.append(FieldIssue(object_type, api_name, f"is a {found.get('type')} field in Salesforce, "
                                         f"crm_fields.yaml writes a {spec.type}"))
        elif kind == "hubspot":
            from pls_pipelines.resources.hubspot.properties import property_definition, same_kind

            found = definitions.get(spec.name)
            if found is None:
                issues.append(FieldIssue(object_type, spec.name))
                continue
            desired = property_definition(spec, group_name)
            if not same_kind(dict(found), desired):
                issues.append(FieldIssue(object_type, spec.name, f"is {found.get('type')}/{found.get('fieldType')} "
                                         f"in HubSpot, crm_fields.yaml wants {desired['type']}/{desired['fieldType']}"))
            elif (found.get("modificationMetadata") or {}).get("readOnlyValue"):
                issues.append(FieldIssue(object_type, spec.name, "is read-only in HubSpot (a calculated or "
                                         "HubSpot-owned property)"))
        else:
            found = definitions.get(spec.name)
            if found is None:
                issues.append(FieldIssue(object_type, spec.name))
            # a different type in the embedded CRM is just rewritten by the next sync: nothing to fix
    return issues


def check_crm_fields(client: Any, field_map: Any) -> Check:
    """Every pls_* field of crm_fields.yaml exists in the CRM with a type the sync can write - read only. Missing
    fields are a warning where the first sync creates them (HubSpot, the embedded CRM) and a failure in
    Salesforce, whose fields an admin must create; a field of the wrong type is always a failure."""
    from pls_pipelines.resources.crm_http import CrmApiError

    if client is None or field_map is None:
        needs = "the CRM connection" if client is None else "a valid crm_fields.yaml"
        return Check("crm fields", SKIP, f"needs {needs} (see above)")
    kind = client.kind
    issues: list[FieldIssue] = []
    total = 0
    try:
        for object_type, spec in field_map.objects.items():
            total += len(spec.fields)
            issues += field_issues(kind, object_type, spec.fields, _definitions(client, object_type),
                                   field_map.group_name)
    except CrmApiError as exc:
        if getattr(exc, "status", None) == 403 and kind == "hubspot":
            return Check("crm fields", FAIL, "HubSpot refused to list the properties (HTTP 403: a missing scope)",
                         "give the private app behind HUBSPOT_ACCESS_TOKEN crm.schemas.companies.read/.write and "
                         "crm.schemas.contacts.read/.write")
        return Check("crm fields", FAIL, f"cannot read the field definitions: {exc}",
                     "see the crm connection line above; the same credentials need the schema read permission")
    wrong = [i for i in issues if i.problem]
    missing = [i for i in issues if not i.problem]
    name = CRM_NAMES[kind]
    per_object = {t: len(o.fields) for t, o in field_map.objects.items()}
    if wrong:
        described = "; ".join(f"{i.object_type}.{i.name} {i.problem}" for i in wrong)
        if kind == "hubspot":
            fix = ("rename the field in crm_fields.yaml, or delete the property in HubSpot (Settings > Properties) so "
                   "the next sync recreates it - pls-pipelines never changes an existing property's type")
        else:
            fix = ("an admin changes the field in Setup > Object Manager > Fields & Relationships (type per the "
                   "README's table, Edit access for the integration user), or rename it in crm_fields.yaml")
        extra = f" (and {len(missing)} missing)" if missing else ""
        return Check("crm fields", FAIL, f"{described}{extra}", fix)
    if missing:
        listed = _missing_by_object(missing, per_object)
        if kind == "salesforce":
            return Check("crm fields", FAIL, f"{len(missing)} of {total} pls_* fields are missing in Salesforce: "
                         f"{listed}", "Salesforce fields cannot be created over its API: an admin creates them in "
                         "Setup > Object Manager > Account / Contact > Fields & Relationships (types in the README's "
                         "table) and gives the integration user Edit access; until then the sync stops")
        return Check("crm fields", WARN, f"{len(missing)} of {total} pls_* fields are not in {name} yet: {listed}",
                     "nothing to do by hand: the first sync creates them (`make run`, or `pls sync` once the "
                     "pipeline has run; `pls sync --dry-run` previews it)")
    return Check("crm fields", OK, f"all {total} pls_* fields present in {name} with compatible types")


def _missing_by_object(missing: list[FieldIssue], per_object: Mapping[str, int]) -> str:
    """`companies: all 11; contacts: pls_persona, pls_is_pql` - a fresh CRM lacks every field: say so briefly."""
    parts = []
    for object_type, total in per_object.items():
        names = [i.name for i in missing if i.object_type == object_type]
        if names:
            parts.append(f"{object_type}: {'all ' + str(total) if len(names) == total else _names(names)}")
    return "; ".join(parts)


def _definitions(client: Any, object_type: str) -> dict[str, Mapping]:
    """The CRM's field definitions for one object, read-only."""
    if client.kind == "hubspot":
        return client._property_definitions(object_type, refresh=True)
    if client.kind == "salesforce":
        from pls_pipelines.resources.salesforce.records import SOBJECTS

        return client.describe(SOBJECTS[object_type], refresh=True)
    frame = client.property_definitions(object_type)
    return {row["name"]: row for row in frame.to_dict("records")}
