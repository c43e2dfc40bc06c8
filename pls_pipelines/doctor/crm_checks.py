"""4. CRM credentials: build the configured CRM client and make one cheap authenticated read; when it fails, name
the variable (never its value) or base URL setting that fixes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pls_pipelines.doctor.report import FAIL, OK, SKIP, WARN, Check, first_line
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.settings import Settings

# The doctor waits less than a sync would: one retry, short waits, at most this many seconds per CRM call.
CRM_TIMEOUT_CAP_SECONDS = 10.0
CRM_ATTEMPTS = 2

CRM_NAMES = {"local": "the embedded CRM", "hubspot": "HubSpot", "salesforce": "Salesforce"}
CRM_CHECK = "crm connection"


def check_crm(settings: Settings, env: Mapping[str, str]) -> tuple[Check, Any]:
    """Build the configured CRM client and make one cheap authenticated read (how many companies it holds).
    Returns the check and the open client (None when it cannot be used); the caller closes it."""
    from pls_pipelines.resources.crm import SUPPORTED_CRMS, build_crm_client, crm_options_from_env
    from pls_pipelines.resources.crm_http import CrmApiError

    kind = (settings.crm_kind or "").strip().lower()
    if kind not in SUPPORTED_CRMS:
        return Check(CRM_CHECK, SKIP, "needs a valid PLS_CRM (see settings above)"), None
    if kind == "local":
        missing = _missing_local_database(settings.local_crm_url)
        if missing is not None:  # opening it would create it: the doctor looks, it does not create
            return Check(CRM_CHECK, WARN, f"the embedded CRM has no database yet ({missing})",
                         "`pls demo-data` loads the demo CRM (`make run` does it too), or set PLS_CRM=hubspot or "
                         "salesforce"), None
    options = crm_options_from_env(env)
    with contextlib.suppress(ValueError):  # a bad value is left for build_crm_client to report by name
        configured = float(options.get("PLS_CRM_TIMEOUT_SECONDS", CRM_TIMEOUT_CAP_SECONDS))
        options["PLS_CRM_TIMEOUT_SECONDS"] = str(min(configured, CRM_TIMEOUT_CAP_SECONDS))
    try:
        client = build_crm_client(kind, settings.local_crm_url, options)
    except ConfigError as exc:
        return Check(CRM_CHECK, FAIL, str(exc), _credentials_fix(kind, options, str(exc))), None
    except CrmApiError as exc:  # the Salesforce OAuth login could not reach its login URL
        return Check(CRM_CHECK, FAIL, f"Salesforce login: {exc}",
                     "check SALESFORCE_LOGIN_URL (https://login.salesforce.com, or https://test.salesforce.com "
                     "for a sandbox) and the network between here and Salesforce"), None
    http = getattr(client, "http", None)
    if http is not None:
        http.max_attempts, http.max_wait = CRM_ATTEMPTS, 5.0
    where = _crm_where(client, settings)
    try:
        companies = client.count_records("companies")
    except CrmApiError as exc:
        client.close()
        return _crm_api_failure(kind, where, exc, options), None
    except Exception as exc:
        client.close()
        return Check(CRM_CHECK, FAIL, f"{CRM_NAMES[kind]} at {where}: {first_line(exc)}",
                     "check PLS_LOCAL_CRM_URL" if kind == "local" else _base_url_fix(kind, options)), None
    if not companies:
        demo = "`pls demo-data`" if kind == "local" else f"`pls demo-data --crm {kind}` (on an EMPTY sandbox only)"
        return Check(CRM_CHECK, WARN, f"{CRM_NAMES[kind]} at {where}: reachable, but it holds no companies, so no "
                     f"workspace can be matched to one", f"check this is the right portal/org, or load the demo "
                     f"with {demo}"), client
    authed = "" if kind == "local" else "authenticated, "
    counted = f"{companies:,} compan{'y' if companies == 1 else 'ies'}"
    return Check(CRM_CHECK, OK, f"{CRM_NAMES[kind]} at {where}: {authed}{counted}"), client


def _missing_local_database(url: str) -> str | None:
    try:
        parsed = sa.make_url(url)
    except Exception:
        return None  # LocalCrm reports the bad URL with its setting's name
    embedded_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    return parsed.database if embedded_file and not Path(parsed.database).exists() else None


def _crm_where(client: Any, settings: Settings) -> str:
    from pls_pipelines.resources.warehouse import safe_url

    if client.kind == "local":
        return safe_url(settings.local_crm_url)
    if client.kind == "salesforce":
        return client.instance_url
    return client.http.base_url


def _credentials_fix(kind: str, options: Mapping[str, str], message: str) -> str:
    if "PLS_CRM_TIMEOUT_SECONDS" in message or "SALESFORCE_BULK_THRESHOLD" in message:
        return "set the variable named above to a positive number, or unset it for the default"
    if kind == "salesforce" and "login" in message and "failed" in message:
        return ("correct SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (reset the security "
                "token after a password change), and the connected app's SALESFORCE_CLIENT_ID / "
                "SALESFORCE_CLIENT_SECRET")
    if kind == "salesforce" and "https://" in message:
        return "use the https:// address of the instance or login URL named above"
    if kind == "hubspot":
        return ("export HUBSPOT_ACCESS_TOKEN=<the access token of a HubSpot private app> (Settings > Integrations > "
                "Private apps, with the scopes in the README)")
    if kind == "salesforce":
        return ("export SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN, or the OAuth login: SALESFORCE_USERNAME, "
                "SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET")
    return "set PLS_LOCAL_CRM_URL to a SQLAlchemy URL, e.g. sqlite:///.pls/crm.sqlite, or unset it"


def _base_url_fix(kind: str, options: Mapping[str, str]) -> str:
    if kind == "hubspot":
        return ("check HUBSPOT_BASE_URL (unset it for https://api.hubapi.com), DNS, proxy (HTTPS_PROXY) and firewall")
    if options.get("SALESFORCE_INSTANCE_URL") and options.get("SALESFORCE_ACCESS_TOKEN"):
        return "check SALESFORCE_INSTANCE_URL (https://<your domain>.my.salesforce.com), DNS, proxy and firewall"
    return "check the network to the instance Salesforce's login returned (DNS, proxy, firewall)"


def _crm_api_failure(kind: str, where: str, exc: Exception, options: Mapping[str, str]) -> Check:
    """401/403 name the credential's variable, never its value; unreachable names the base URL setting."""
    status = getattr(exc, "status", None)
    name = CRM_NAMES[kind]
    if status == 401:
        if kind == "hubspot":
            return Check(CRM_CHECK, FAIL, f"HubSpot at {where} rejected the access token (HTTP 401)",
                         "set HUBSPOT_ACCESS_TOKEN to the access token of an active private app (Settings > "
                         "Integrations > Private apps > your app > Access token)")
        token_flow = options.get("SALESFORCE_ACCESS_TOKEN") and options.get("SALESFORCE_INSTANCE_URL")
        variable = "SALESFORCE_ACCESS_TOKEN" if token_flow else "SALESFORCE_USERNAME / SALESFORCE_PASSWORD"
        return Check(CRM_CHECK, FAIL, f"Salesforce at {where} refused the session (HTTP 401)",
                     f"{variable} is expired, revoked or for another org: get a new one, or configure the OAuth login "
                     f"(SALESFORCE_USERNAME, SALESFORCE_PASSWORD, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET) so "
                     f"the connector logs in itself")
    if status == 403:
        if kind == "hubspot":
            return Check(CRM_CHECK, FAIL, f"HubSpot at {where} refused a read with this token (HTTP 403: missing "
                         "scope)",
                         "give the private app behind HUBSPOT_ACCESS_TOKEN the scopes listed in the README "
                         "(crm.objects.companies/contacts/deals.read, crm.schemas.companies/contacts.read/.write, ...)")
        return Check(CRM_CHECK, FAIL, f"Salesforce at {where} refused a read (HTTP 403): {first_line(exc)}",
                     "give the integration user (SALESFORCE_USERNAME or the owner of SALESFORCE_ACCESS_TOKEN) "
                     "'API Enabled' and read access to Account and Contact; REQUEST_LIMIT_EXCEEDED: wait for the "
                     "org's daily API allocation")
    if status is None:
        text = str(exc)
        kind_of = next((k for k in ("SSLError", "ConnectTimeout", "ReadTimeout", "Timeout", "ConnectionError")
                        if k in text), "no answer")
        fix = _base_url_fix(kind, options)
        if kind_of == "SSLError":
            fix += "; for a TLS-intercepting proxy set REQUESTS_CA_BUNDLE to its CA bundle"
        return Check(CRM_CHECK, FAIL, f"cannot reach {name} at {where} ({kind_of}, after {CRM_ATTEMPTS} attempts)", fix)
    if status == 429 or status >= 500:
        page = "status.hubspot.com" if kind == "hubspot" else "status.salesforce.com"
        return Check(CRM_CHECK, FAIL, f"{name} at {where}: {first_line(exc)}",
                     f"a {name}-side outage or an exhausted rate limit, nothing to change here: try again in a few "
                     f"minutes ({page})")
    return Check(CRM_CHECK, FAIL, f"{name} at {where}: {first_line(exc)}", _base_url_fix(kind, options))
