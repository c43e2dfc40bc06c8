"""The CRM resource: picks the CRM client by configuration (`PLS_CRM`), never by editing code.

Credentials come from environment variables only (HUBSPOT_ACCESS_TOKEN, SALESFORCE_ACCESS_TOKEN, ...). In
Dagster they reach the resource as `dg.EnvVar`, so the UI shows the variable's name, never the secret; the
CLI reads the same variables. A missing one fails before any work, naming the variable and where to get it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.resources.crm_client import CrmClient
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.settings import CRM_ENV_VARS

SUPPORTED_CRMS = ("local", "hubspot", "salesforce")
def crm_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CRM connection variables that are set (empty ones count as unset)."""
    env = os.environ if environ is None else environ
    return {name: env[name] for name in CRM_ENV_VARS if env.get(name)}


def build_crm_client(kind: str, local_url: str, options: Mapping[str, str] | None = None) -> CrmClient:
    """The client for `kind`, or a ConfigError naming the setting and the fix. `options`: CRM_ENV_VARS values
    (default: read from the environment)."""
    normalized = (kind or "").strip().lower()
    opts = crm_options_from_env() if options is None else {k: v for k, v in options.items() if v}
    if normalized == "local":
        return LocalCrm(local_url)
    timeout = _number(opts, "PLS_CRM_TIMEOUT_SECONDS", 30.0)
    if normalized == "hubspot":
        if not opts.get("HUBSPOT_ACCESS_TOKEN"):
            raise ConfigError(
                "PLS_CRM=hubspot needs HUBSPOT_ACCESS_TOKEN: create a private app in HubSpot (Settings > "
                "Integrations > Private apps) with the CRM scopes listed in the README, and export its token."
            )
        from pls_pipelines.resources.hubspot import HubSpotCrm

        return HubSpotCrm(
            opts["HUBSPOT_ACCESS_TOKEN"], opts.get("HUBSPOT_BASE_URL", "https://api.hubapi.com"), timeout=timeout
        )
    if normalized == "salesforce":
        has_token = opts.get("SALESFORCE_INSTANCE_URL") and opts.get("SALESFORCE_ACCESS_TOKEN")
        password_flow = all(opts.get(k) for k in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD",
                                                  "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"))
        if not (has_token or password_flow):
            raise ConfigError(
                "PLS_CRM=salesforce needs either SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN, or "
                "SALESFORCE_USERNAME, SALESFORCE_PASSWORD (+ SALESFORCE_SECURITY_TOKEN), SALESFORCE_CLIENT_ID and "
                "SALESFORCE_CLIENT_SECRET of a connected app."
            )
        threshold = int(_number(opts, "SALESFORCE_BULK_THRESHOLD", 2000))
        from pls_pipelines.resources.salesforce import SalesforceCrm

        return SalesforceCrm(
            opts.get("SALESFORCE_INSTANCE_URL"),
            opts.get("SALESFORCE_ACCESS_TOKEN"),
            username=opts.get("SALESFORCE_USERNAME"),
            password=opts.get("SALESFORCE_PASSWORD"),
            security_token=opts.get("SALESFORCE_SECURITY_TOKEN"),
            client_id=opts.get("SALESFORCE_CLIENT_ID"),
            client_secret=opts.get("SALESFORCE_CLIENT_SECRET"),
            login_url=opts.get("SALESFORCE_LOGIN_URL", "https://login.salesforce.com"),
            bulk_threshold=threshold,
            timeout=timeout,
        )
    raise ConfigError(
        f"PLS_CRM={kind!r} is not a CRM pls-pipelines knows. Set PLS_CRM to one of: {', '.join(SUPPORTED_CRMS)}."
    )


def _number(opts: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(opts.get(name, default))
    except ValueError:
        raise ConfigError(f"{name}={opts.get(name)!r} is not a number; e.g. {name}={default:g}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0; e.g. {name}={default:g}")
    return value


class CrmResource(dg.ConfigurableResource):
    """Where CRM records are read from and the pls_* fields are written back to."""

    kind: str = Field(default="local", description="Which CRM: local, hubspot or salesforce. Env: PLS_CRM.")
    local_url: str = Field(
        default="sqlite:///.pls/crm.sqlite",
        description="SQLAlchemy URL of the embedded CRM's database (used when kind=local). Env: PLS_LOCAL_CRM_URL.",
    )
    hubspot_access_token: str | None = Field(default=None, description="Env: HUBSPOT_ACCESS_TOKEN (secret).")
    hubspot_base_url: str | None = Field(default=None, description="Env: HUBSPOT_BASE_URL.")
    salesforce_instance_url: str | None = Field(default=None, description="Env: SALESFORCE_INSTANCE_URL.")
    salesforce_access_token: str | None = Field(default=None, description="Env: SALESFORCE_ACCESS_TOKEN (secret).")
    salesforce_username: str | None = Field(default=None, description="Env: SALESFORCE_USERNAME.")
    salesforce_password: str | None = Field(default=None, description="Env: SALESFORCE_PASSWORD (secret).")
    salesforce_security_token: str | None = Field(
        default=None, description="Env: SALESFORCE_SECURITY_TOKEN (secret)."
    )
    salesforce_client_id: str | None = Field(default=None, description="Env: SALESFORCE_CLIENT_ID.")
    salesforce_client_secret: str | None = Field(default=None, description="Env: SALESFORCE_CLIENT_SECRET (secret).")
    salesforce_login_url: str | None = Field(default=None, description="Env: SALESFORCE_LOGIN_URL.")
    salesforce_bulk_threshold: str | None = Field(default=None, description="Env: SALESFORCE_BULK_THRESHOLD.")
    pls_crm_timeout_seconds: str | None = Field(default=None, description="Env: PLS_CRM_TIMEOUT_SECONDS.")

    def options(self) -> dict[str, str]:
        """The connection settings under their environment variable names."""
        values = {name: getattr(self, name.lower()) for name in CRM_ENV_VARS}
        return {k: v for k, v in values.items() if v}

    def get_client(self) -> CrmClient:
        return build_crm_client(self.kind, self.local_url, self.options())


def crm_resource_settings(env_setting) -> dict[str, object]:
    """CrmResource keyword arguments for every CRM variable, through `env_setting(name, default)` (the
    definitions' dg.EnvVar-when-set helper), so secrets reach Dagster only as variable names."""
    return {name.lower(): env_setting(name, "") or None for name in CRM_ENV_VARS}
