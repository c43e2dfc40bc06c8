"""HubSpotProperties: ensure_properties, which creates and updates the pls_* properties a sync writes, and the
mapping of crm_fields.yaml field types to HubSpot property definitions it works from.

Separate from the reads and writes because it manages the schema, not records: it runs before a sync, and the
type mapping it owns (FieldSpec.type -> HubSpot type and fieldType) is read and changed in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.sync import FieldSpec
from pls_pipelines.resources.crm_http import CrmApiError, error_text
from pls_pipelines.resources.hubspot.api import HubSpotApi
from pls_pipelines.resources.hubspot.responses import json_body

# FieldSpec.type -> HubSpot (type, fieldType)
FIELD_TYPES = {
    "string": ("string", "textarea"),
    "number": ("number", "number"),
    "bool": ("enumeration", "booleancheckbox"),
    "date": ("date", "date"),
}
BOOL_OPTIONS = [
    {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
    {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
]


class HubSpotProperties(HubSpotApi):
    """ensure_properties of HubSpotCrm, on HubSpotApi's calls."""

    # ---------------------------------------------------------------------------------------------------- schema
    def ensure_properties(
        self, object_type: str, fields: Iterable[FieldSpec], group_name: str, group_label: str
    ) -> int:
        """Create the property group if missing, then every missing pls_* property; refresh changed labels,
        descriptions and groups. Returns how many property definitions were written (0 when nothing changed)."""
        self._check_type(object_type)
        specs = list(fields)
        unknown = sorted({s.type for s in specs} - set(FIELD_TYPES))
        if unknown:
            raise ConfigError(f"crm_fields.yaml: field types {unknown} cannot be mapped to HubSpot properties; "
                              f"use one of {sorted(FIELD_TYPES)}")
        groups_path = f"/crm/v3/properties/{object_type}/groups"
        groups = {g["name"]: g for g in self._get_json(groups_path).get("results") or []}
        if group_name not in groups:
            response = self._call("POST", groups_path, json={"name": group_name, "label": group_label,
                                                             "displayOrder": -1})
            if response.status_code not in (200, 201, 409):
                raise CrmApiError(f"creating the HubSpot property group {group_name!r} failed: HTTP "
                                  f"{response.status_code}: {error_text(response)}", status=response.status_code)
        elif groups[group_name].get("label") != group_label:
            self._call("PATCH", f"{groups_path}/{group_name}", json={"label": group_label},
                       label=f"{groups_path}/{{group_name}}")
        existing = self._property_definitions(object_type, refresh=True)
        path = f"/crm/v3/properties/{object_type}"
        written = 0
        mismatched = []
        for spec in specs:
            desired = property_definition(spec, group_name)
            current = existing.get(spec.name)
            if current is None:
                response = self._call("POST", path, json=desired)
                if response.status_code in (200, 201):
                    existing[spec.name] = json_body(response) or desired
                    written += 1
                    continue
                if response.status_code != 409:
                    raise CrmApiError(f"creating the HubSpot property {object_type}.{spec.name} failed: HTTP "
                                      f"{response.status_code}: {error_text(response)}", status=response.status_code)
                # 409: it exists after all - typically our own create, applied before a timeout made us retry.
                # Its definition goes into the cache too: values are typed by it (a date sent as text is refused)
                current = self._get_json(f"{path}/{spec.name}", label=f"{path}/{{property_name}}")
                existing[spec.name] = current
            if not same_kind(current, desired):
                mismatched.append(f"{spec.name} is {current.get('type')}/{current.get('fieldType')} in HubSpot, "
                                  f"crm_fields.yaml wants {desired['type']}/{desired['fieldType']}")
                continue
            changes = {k: desired[k] for k in ("label", "description", "groupName") if current.get(k) != desired[k]}
            if desired.get("options") and _option_values(current) != _option_values(desired):
                changes["options"] = desired["options"]
            if changes:
                response = self._call("PATCH", f"{path}/{spec.name}", json=changes,
                                      label=f"{path}/{{property_name}}")
                if response.status_code != 200:
                    raise CrmApiError(f"updating the HubSpot property {object_type}.{spec.name} failed: HTTP "
                                      f"{response.status_code}: {error_text(response)}", status=response.status_code)
                existing[spec.name] = {**current, **changes}
                written += 1
        if mismatched:
            raise ConfigError(
                f"HubSpot {object_type} properties have another type than crm_fields.yaml declares: "
                f"{'; '.join(mismatched)}. Rename the field in crm_fields.yaml or delete the property in HubSpot "
                f"(Settings > Properties) - pls-pipelines never changes the type of an existing property."
            )
        return written


def property_definition(spec: FieldSpec, group_name: str) -> dict[str, Any]:
    type_, field_type = FIELD_TYPES[spec.type]
    definition: dict[str, Any] = {
        "name": spec.name, "label": spec.label, "type": type_, "fieldType": field_type, "groupName": group_name,
        "description": spec.description, "formField": False,
    }
    if spec.type == "bool":
        definition["options"] = BOOL_OPTIONS
    return definition


def same_kind(current: dict, desired: dict) -> bool:
    have = (current.get("type"), current.get("fieldType"))
    want = (desired["type"], desired["fieldType"])
    if have == want:
        return True
    if want == ("string", "textarea"):
        return have in (("string", "text"), ("string", "textarea"))
    if want == ("enumeration", "booleancheckbox"):
        return have in (("bool", "booleancheckbox"), ("enumeration", "booleancheckbox"))
    return False


def _option_values(definition: dict) -> set[str]:
    return {str(o.get("value")) for o in definition.get("options") or [] if isinstance(o, dict)}
