"""SalesforceApi: the authenticated Salesforce session - OAuth login, the https-only rule, a new login when the
session expires - and SOQL queries through it.

Separate because it is the one place that holds secrets (access token, password, security token) and sets the
retry policy; the writes, the Bulk API jobs, the demo loader and the CrmClient operations are all built on its
`_call`, `_json` and `query`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.resources.crm_http import DEFAULT_MAX_WAIT_SECONDS, CrmApiError, CrmHttp, error_text
from pls_pipelines.resources.salesforce.throttle import SalesforceThrottle, is_limit_exceeded, is_transient


@dataclass(repr=False)
class _Credentials:
    login_url: str
    client_id: str | None
    client_secret: str | None
    username: str | None
    password: str | None
    security_token: str | None

    def __repr__(self) -> str:
        return f"_Credentials(login_url={self.login_url!r}, <secrets redacted>)"


class SalesforceApi:
    """The authenticated Salesforce session and the calls built on it; the constructor's arguments are described
    on SalesforceCrm, the class callers use."""

    def __init__(
        self,
        instance_url: str | None = None,
        access_token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        security_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        login_url: str = "https://login.salesforce.com",
        api_version: str = "59.0",
        verify: bool | str = True,
        bulk_threshold: int = 2000,
        timeout: float = 30.0,
        max_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
        query_batch_size: int | None = None,
        limit_backoff: float = 300.0,
        lock_retries: int = 3,
        bulk_timeout: float = 3600.0,
    ):
        self.api_version = api_version.lstrip("v")
        self.bulk_threshold = bulk_threshold
        self.poll_interval = poll_interval
        self.query_batch_size = query_batch_size
        self.limit_backoff = limit_backoff
        self.lock_retries = lock_retries
        self.bulk_timeout = bulk_timeout
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._timeout, self._verify = timeout, verify
        self._describes: dict[str, dict[str, dict[str, Any]]] = {}
        self._credentials: _Credentials | None = None
        oauth_ready = bool(client_id and client_secret and (password if username else True))
        if oauth_ready:
            _require_https(login_url, "login URL (SALESFORCE_LOGIN_URL)")
            self._credentials = _Credentials(login_url.rstrip("/"), client_id, client_secret, username, password,
                                             security_token)
        if not (instance_url and access_token) and self._credentials is None:
            raise ConfigError(
                "Salesforce needs either an instance URL and access token (SALESFORCE_INSTANCE_URL, "
                "SALESFORCE_ACCESS_TOKEN), or an OAuth login: the connected app's client id and secret "
                "(SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET) with a username and password + security token "
                "(SALESFORCE_USERNAME, SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN)."
            )
        if access_token and instance_url:
            token = access_token
        else:
            instance_url, token = self._login()
        assert instance_url is not None
        _require_https(instance_url, "instance URL (SALESFORCE_INSTANCE_URL)")
        self.instance_url = instance_url.rstrip("/")
        self.throttle = SalesforceThrottle(sleep, limit_backoff=limit_backoff)
        self.http = CrmHttp(
            base_url=self.instance_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            is_transient=is_transient,
            transient_wait=self._transient_wait,
            throttle=self.throttle,
            timeout=timeout,
            verify=verify,
            max_attempts=max_attempts,
            max_wait=max(limit_backoff, DEFAULT_MAX_WAIT_SECONDS),
            sleep=sleep,
        )
        # Not-idempotent calls (creates, job creation) go out once: after a timeout the caller looks up what the
        # server applied before trying again. Same session, same call counts.
        self._once = CrmHttp(
            base_url=self.instance_url, headers={}, is_transient=is_transient, throttle=self.throttle,
            timeout=timeout, verify=verify, max_attempts=1, sleep=sleep, calls=self.http.calls,
            session=self.http.session,
        )

    def close(self) -> None:
        self.http.close()

    # -- HTTP --------------------------------------------------------------------------------------------------
    @property
    def _base(self) -> str:
        return f"/services/data/v{self.api_version}"

    def _transient_wait(self, response: requests.Response) -> float | None:
        return self.limit_backoff if is_limit_exceeded(response) else None

    def _login(self) -> tuple[str, str]:
        creds = self._credentials
        assert creds is not None
        form = {"client_id": creds.client_id, "client_secret": creds.client_secret}
        if creds.username:
            form.update(grant_type="password", username=creds.username,
                        password=(creds.password or "") + (creds.security_token or ""))
        else:
            form["grant_type"] = "client_credentials"
        login = CrmHttp(base_url=creds.login_url, headers={"Accept": "application/json"},
                        is_transient=lambda r: r.status_code in (429, 500, 502, 503, 504), timeout=self._timeout,
                        verify=self._verify, max_attempts=self.max_attempts, sleep=self.sleep)
        try:
            response = login.request("POST", "/services/oauth2/token", data=form)
        finally:
            login.close()
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token") or not body.get("instance_url"):
            reason = f"{body.get('error', f'HTTP {response.status_code}')}: {body.get('error_description', '')}"
            raise ConfigError(
                f"Salesforce login at {creds.login_url} failed ({reason.strip(': ')}). Check SALESFORCE_USERNAME, "
                "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (a new token is e-mailed after a password reset), "
                "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET (the connected app's consumer key and secret); "
                "sandboxes log in at SALESFORCE_LOGIN_URL=https://test.salesforce.com."
            )
        return body["instance_url"], body["access_token"]

    def _call(self, method: str, path: str, *, once: bool = False, label: str | None = None,
              **kwargs: Any) -> requests.Response:
        http = self._once if once else self.http
        response = http.request(method, path, label=label, **kwargs)
        if response.status_code == 401 and self._credentials is not None:
            _, token = self._login()
            self.http.session.headers["Authorization"] = f"Bearer {token}"
            response = http.request(method, path, label=label, **kwargs)
        if response.status_code == 401:
            raise CrmApiError(
                f"Salesforce refused the session ({error_text(response)}) on {method} {label or path.split('?')[0]}:"
                " the access token is expired, revoked or for another org. Get a new access token, or configure the "
                "OAuth login so the connector can log in again.",
                status=401,
            )
        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        if response.status_code >= 300:
            raise CrmApiError(f"Salesforce {what}: HTTP {response.status_code}: {error_text(response)}",
                              status=response.status_code, body=None)
        return response.json()

    # -- reading -----------------------------------------------------------------------------------------------
    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """The records of a SOQL query (attributes dropped), following nextRecordsUrl until done."""
        path = f"{self._base}/{'queryAll' if include_deleted else 'query'}"
        headers = {"Sforce-Query-Options": f"batchSize={self.query_batch_size}"} if self.query_batch_size else {}
        response = self._call("GET", path, params={"q": soql}, headers=headers, label=path)
        while True:
            body = self._json(response, f"query on {soql.split(' FROM ')[-1].split()[0]}")
            for record in body.get("records", []):
                yield {k: v for k, v in record.items() if k != "attributes"}
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            response = self._call("GET", next_url, headers=headers, label=f"{path}/{{locator}}")


def _require_https(url: str, what: str) -> None:
    if not url.lower().startswith("https://"):
        raise ConfigError(f"The Salesforce {what} must be an https:// URL (got {url.split('?')[0]!r}): the access "
                          "token is never sent over plain HTTP.")
