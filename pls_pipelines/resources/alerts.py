"""Alerts to a Slack incoming webhook (`PLS_SLACK_WEBHOOK_URL`), or to the log when none is configured.

The webhook URL is a secret: anyone holding it can post to the channel. It reaches Dagster as `dg.EnvVar` (the
UI shows the variable's name), and nothing here puts it in a log line, an exception or a repr: a failed post
says what Slack answered (status and Slack's short error code) or which kind of network error it was, never
where it went. requests' own exceptions name the URL, so they are replaced, not chained; urllib3 names the
path (which holds the secret part) in its DEBUG log, so that logger redacts it.

Message texts are built by plain functions (`run_failure_text`, `check_failure_text`, `freshness_failure_text`)
so the sensors stay thin and the wording is tested without Dagster.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import quote, urlsplit

import dagster as dg
import requests
import tenacity
from pydantic import Field

from pls_pipelines.resources.crm_http import retry_after_seconds

DEFAULT_UI_URL = "http://127.0.0.1:3000"
TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 3  # the first post and two retries
MAX_WAIT_SECONDS = 10.0
MAX_ERROR_CHARS = 300

log = logging.getLogger(__name__)


class AlertDeliveryError(RuntimeError):
    """Slack did not take the alert after the retries. The message never contains the webhook URL."""


class _TransientPost(Exception):
    def __init__(self, response: requests.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _RedactSecrets(logging.Filter):
    """Replaces registered secrets in log records (installed on urllib3's connection-pool logger, whose DEBUG
    lines name the request path, i.e. the secret part of a webhook URL)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        with self.lock:
            self.secrets.update(s for s in secrets if s and s != "/")

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in sorted(self.secrets, key=len, reverse=True):
            redacted = redacted.replace(secret, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_redact = _RedactSecrets()
_redact_installed = False


def _protect(url: str) -> None:
    """Register `url` (and its path, which urllib3 logs on its own) with the redacting filter, installing the
    filter the first time a webhook is used (never at import)."""
    global _redact_installed
    parts = urlsplit(url)
    _redact.add(url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path)
    if not _redact_installed:
        logging.getLogger("urllib3.connectionpool").addFilter(_redact)
        _redact_installed = True


def _first_line(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _slack_escape(text: str) -> str:
    """Slack's three control characters, escaped as its message format asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def asset_url(ui_url: str, asset_key: Sequence[str], view: str | None = None) -> str:
    path = "/".join(quote(part, safe="") for part in asset_key)
    return f"{ui_url.rstrip('/')}/assets/{path}" + (f"?view={view}" if view else "")


def run_url(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def run_failure_text(
    job_name: str,
    run_id: str,
    error: str | None,
    ui_url: str,
    *,
    step_key: str | None = None,
    partition: str | None = None,
) -> str:
    """The alert for a failed run: job, partition, run id, the step and the error's first line, a link."""
    what = f"*{_slack_escape(job_name)}*" + (f" (partition {_slack_escape(partition)})" if partition else "")
    lines = [f":red_circle: Dagster run failed: {what}, run {run_id}"]
    error_line = _slack_escape(_first_line(error))
    if step_key:
        lines.append(f"Step {_slack_escape(step_key)}: {error_line or 'failed'}")
    elif error_line:
        lines.append(f"Error: {error_line}")
    lines.append(f"Open in Dagster: {run_url(ui_url, run_id)}")
    return "\n".join(lines)


def check_failure_text(
    asset_key: Sequence[str],
    check_name: str,
    description: str | None,
    ui_url: str,
    *,
    severity: str = "ERROR",
    run_id: str | None = None,
) -> str:
    """The alert for a failed asset check (a freshness check, or one named in the sensor's list)."""
    asset = _slack_escape("/".join(asset_key))
    lines = [f":warning: Asset check failed ({severity}): *{asset}* / {_slack_escape(check_name)}"]
    if _first_line(description):
        lines.append(_slack_escape(_first_line(description)))
    if run_id:
        lines.append(f"Run {run_id}")
    lines.append(f"Open in Dagster: {asset_url(ui_url, asset_key, view='checks')}")
    return "\n".join(lines)


def freshness_failure_text(asset_key: Sequence[str], since: datetime, ui_url: str) -> str:
    """The alert for an asset whose freshness policy turned FAIL (not updated within its window)."""
    asset = _slack_escape("/".join(asset_key))
    return "\n".join(
        [
            f":warning: *{asset}* is late: its freshness policy fails since {since:%Y-%m-%d %H:%M} UTC",
            "It was not updated within its window (PLS_FRESHNESS_*_HOURS): look at the last runs and the source.",
            f"Open in Dagster: {asset_url(ui_url, asset_key)}",
        ]
    )


class SlackNotifier(dg.ConfigurableResource):
    """Posts alerts to a Slack incoming webhook; without one, logs them as warnings."""

    webhook_url: str = Field(
        default="",
        description="Slack incoming webhook URL (env PLS_SLACK_WEBHOOK_URL; a secret, reaches Dagster as an "
        "EnvVar). Empty: alerts are logged at warning level instead.",
    )
    ui_url: str = Field(
        default=DEFAULT_UI_URL, description="Dagster UI address the alerts link to (env PLS_UI_URL)."
    )
    timeout_seconds: float = Field(default=TIMEOUT_SECONDS, description="Seconds to wait for Slack per attempt.")

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url.strip())

    def notify(self, text: str, logger: logging.Logger | dg.DagsterLogManager | None = None) -> bool:
        """Post `text` to Slack (True), or log it at warning level when no webhook is set (False).

        Retries timeouts, connection errors, 429 (honouring Retry-After) and 5xx, three attempts in all; then,
        or on any other answer, raises AlertDeliveryError with Slack's status and error code, never the URL."""
        logger = logger or log
        if not self.configured:
            logger.warning(text)
            return False
        url = self.webhook_url.strip()
        _protect(url)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((_TransientPost, requests.ConnectionError, requests.Timeout)),
            wait=_wait_retry_after,
            stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = requests.post(url, json={"text": text}, timeout=self.timeout_seconds)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _TransientPost(response)
        except _TransientPost as exc:
            raise AlertDeliveryError(
                f"Slack webhook (PLS_SLACK_WEBHOOK_URL): HTTP {exc.response.status_code} after {MAX_ATTEMPTS} "
                f"attempts: {_slack_error(exc.response, url)}"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise AlertDeliveryError(
                f"Slack webhook (PLS_SLACK_WEBHOOK_URL): {type(exc).__name__} after {MAX_ATTEMPTS} attempts"
            ) from None
        except requests.RequestException as exc:  # e.g. an unusable URL: its text would name the URL
            raise AlertDeliveryError(
                f"Slack webhook (PLS_SLACK_WEBHOOK_URL): {type(exc).__name__}; check the variable's value"
            ) from None
        if response.status_code >= 300:
            raise AlertDeliveryError(
                f"Slack webhook (PLS_SLACK_WEBHOOK_URL): HTTP {response.status_code}: {_slack_error(response, url)} "
                f"(404 no_service / 403 invalid_token: the webhook was revoked or mistyped)"
            )
        return True


_BACKOFF = tenacity.wait_exponential_jitter(multiplier=0.5, max=MAX_WAIT_SECONDS)


def _wait_retry_after(retry_state: tenacity.RetryCallState) -> float:
    """Slack's Retry-After when it sends one (429, some 5xx), else exponential backoff with jitter, capped."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(exc, _TransientPost):
        hinted = retry_after_seconds(exc.response)
        if hinted is not None:
            return min(hinted, MAX_WAIT_SECONDS)
    return _BACKOFF(retry_state)


def _slack_error(response: requests.Response, url: str) -> str:
    """Slack's short error code (invalid_payload, no_service, ...), with any echo of the URL taken out."""
    text = _first_line(response.text, 100) or response.reason or "no error text"
    for secret in (url, urlsplit(url).path):
        if len(secret) > 1:
            text = text.replace(secret, "<redacted>")
    return text


def build_slack_notifier(setting: Callable[[str, str], str | dg.EnvVar]) -> SlackNotifier:
    """The notifier from the environment through definitions' `_setting` (EnvVar when set, else the default)."""
    return SlackNotifier(webhook_url=setting("PLS_SLACK_WEBHOOK_URL", ""), ui_url=setting("PLS_UI_URL", DEFAULT_UI_URL))
