"""The CRM resource: picks the CRM client by configuration (`PLS_CRM`), never by editing code."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.resources.local_crm import LocalCrm

SUPPORTED_CRMS = ("local",)
PLANNED_CRMS = ("hubspot", "salesforce")


def build_crm_client(kind: str, local_url: str) -> LocalCrm:
    """The client for `kind`, or a ConfigError naming PLS_CRM and the values it accepts."""
    normalized = (kind or "").strip().lower()
    if normalized == "local":
        return LocalCrm(local_url)
    if normalized in PLANNED_CRMS:
        raise ConfigError(
            f"PLS_CRM={kind!r}: the {normalized} connector is not part of this release yet. "
            f"Use PLS_CRM=local (the embedded CRM under .pls/)."
        )
    raise ConfigError(
        f"PLS_CRM={kind!r} is not a CRM pls-pipelines knows. Set PLS_CRM to one of: {', '.join(SUPPORTED_CRMS)}."
    )


class CrmResource(dg.ConfigurableResource):
    """Where CRM records are read from and the pls_* fields are written back to."""

    kind: str = Field(default="local", description="Which CRM: 'local' (embedded SQL CRM). Env: PLS_CRM.")
    local_url: str = Field(
        default="sqlite:///.pls/crm.sqlite",
        description="SQLAlchemy URL of the embedded CRM's database (used when kind=local). Env: PLS_LOCAL_CRM_URL.",
    )

    def get_client(self) -> LocalCrm:
        return build_crm_client(self.kind, self.local_url)
