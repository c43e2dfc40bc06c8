"""The rule files RevOps owns (scoring models, personas, routing, CRM fields, event catalog, identity
overrides) as a resource.

Each file has a shipped default under pls_pipelines/config/; a deployment points at its own copy with an
environment variable, so changing a rule never means changing code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from pydantic import Field

from pls_pipelines.lib.crm_fields import CrmFieldMap, load_crm_fields
from pls_pipelines.lib.event_catalog import EventCatalog, load_event_catalog
from pls_pipelines.lib.identity import IdentityOverrides, load_identity_overrides
from pls_pipelines.lib.personas import load_persona_rules
from pls_pipelines.lib.routing import load_routing_rules
from pls_pipelines.lib.scoring_config import ScoringConfig, load_scoring_config

# RulesResource field -> the environment variable that points it at a deployment's own file
RULE_FILE_VARIABLES = {
    "scoring_config": "PLS_SCORING_CONFIG",
    "personas_config": "PLS_PERSONAS_CONFIG",
    "routing_config": "PLS_ROUTING_CONFIG",
    "crm_fields_config": "PLS_CRM_FIELDS_CONFIG",
    "identity_overrides": "PLS_IDENTITY_OVERRIDES",
}


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


class RulesResource(dg.ConfigurableResource):
    """Scoring models, persona and routing rules, CRM field mapping and the event catalog."""

    scoring_config: str | None = Field(
        default=None, description="Scoring models YAML (env PLS_SCORING_CONFIG); default: shipped models."
    )
    personas_config: str | None = Field(
        default=None, description="Persona and title rules YAML (env PLS_PERSONAS_CONFIG); default: shipped."
    )
    routing_config: str | None = Field(
        default=None, description="Routing decision table YAML (env PLS_ROUTING_CONFIG); default: shipped."
    )
    crm_fields_config: str | None = Field(
        default=None, description="CRM field mapping YAML (env PLS_CRM_FIELDS_CONFIG); default: shipped."
    )
    event_catalog: str | None = Field(
        default=None, description="Product event catalog YAML; default: shipped."
    )
    identity_overrides: str | None = Field(
        default=None,
        description="Workspace pins and domain aliases for identity resolution, CSV or YAML "
        "(env PLS_IDENTITY_OVERRIDES); default: none.",
    )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RulesResource:
        """The rule files the environment points at (the CLI's view of what Dagster gets via dg.EnvVar)."""
        env = os.environ if environ is None else environ
        return cls(**{field: env.get(variable) or None for field, variable in RULE_FILE_VARIABLES.items()})

    def scoring(self) -> ScoringConfig:
        """The scoring models; segment overrides are checked against the routing file's segments."""
        return load_scoring_config(_path(self.scoring_config), segments=self.routing().segments)

    def personas(self):
        return load_persona_rules(_path(self.personas_config))

    def routing(self):
        return load_routing_rules(_path(self.routing_config))

    def crm_fields(self) -> CrmFieldMap:
        return load_crm_fields(_path(self.crm_fields_config))

    def catalog(self) -> EventCatalog:
        return load_event_catalog(_path(self.event_catalog))

    def identity(self) -> IdentityOverrides:
        """The identity overrides file, parsed and checked row by row (empty when none is configured)."""
        return load_identity_overrides(_path(self.identity_overrides))
