"""The doctor's report: its statuses, one `Check` per line, the `Report` cli_doctor.py prints, and what keeps
secrets out of it - `secret_values` and `redact`, applied to every line before run_doctor returns, and
`first_line`, how every check quotes an error it did not write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

# Variables whose values are secrets: never printed, and scrubbed from any message that echoes them.
SECRET_VARIABLES = (
    "HUBSPOT_ACCESS_TOKEN",
    "SALESFORCE_ACCESS_TOKEN",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_SECURITY_TOKEN",
    "SALESFORCE_CLIENT_SECRET",
    "PLS_SLACK_WEBHOOK_URL",
)
# URLs that may carry a password (user:password@host).
URL_VARIABLES = ("PLS_WAREHOUSE_URL", "PLS_LOCAL_CRM_URL")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report. `fix` says what to change or run; empty when the status is ok."""

    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


@dataclass
class Report:
    """All checks, in the order printed; `exit_code` is 1 when any check failed."""

    checks: list[Check] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def exit_code(self) -> int:
        return 1 if self.count(FAIL) else 0

    def summary(self) -> str:
        """The last line, e.g. `9 ok, 1 warning, 1 problem to fix` (plus the checks a failure made impossible)."""
        warnings, problems = self.count(WARN), self.count(FAIL)
        text = (f"{self.count(OK)} ok, {warnings} warning{'' if warnings == 1 else 's'}, "
                f"{problems} problem{'' if problems == 1 else 's'} to fix")
        if self.count(SKIP):
            text += f", {self.count(SKIP)} skipped"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The report for `--json`: scripts and CI read the statuses and fixes instead of parsing the text."""
        return {
            "checks": [asdict(c) for c in self.checks],
            "summary": {"ok": self.count(OK), "warn": self.count(WARN), "fail": self.count(FAIL),
                        "skip": self.count(SKIP), "text": self.summary()},
            "exit_code": self.exit_code,
        }


# ---------------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------------
def secret_values(env: Mapping[str, str]) -> list[str]:
    """Every secret the environment holds (tokens, passwords, the webhook, passwords inside URLs), longest first,
    in raw and URL-encoded form, so `redact` can scrub whichever way a library echoes one."""
    found = {env[name] for name in SECRET_VARIABLES if env.get(name)}
    for name in URL_VARIABLES:
        try:
            password = sa.make_url(env[name]).password if env.get(name) else None
        except Exception:
            password = None
        if password:
            found.add(str(password))
    variants = {v for s in found for v in (s, quote(s, safe=""))}
    # Very short values would blank out ordinary words; a real token or password is longer than this.
    return sorted((v for v in variants if len(v) >= 4), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***: the last safety net before anything is printed, for messages
    from drivers and APIs that the doctor quotes but did not write."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The driver's own words (the useful part: "Connection refused", "password authentication failed"), short."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
