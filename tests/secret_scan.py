"""One scan for what must never be written down: CRM secrets and raw email addresses.

The texts scanned are what a run leaves behind: the Dagster event log (every record serialized whole - messages,
metadata previews, check results, failure messages with their stack traces and causes), Python logging, the
process's stdout/stderr and the text of exceptions (message, traceback and the chain of causes). A secret is
also looked for URL- and JSON-escaped, since that is how it would travel in a logged request or a serialized
record; an email is found even when glued to the text before it (a stack frame, a `\\n` in a repr).
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote_plus

import dagster as dg

_EMAIL = re.compile(r"([\w.+%-]+)@([\w-]+(?:\.[\w-]+)+)")
MIN_SECRET_LENGTH = 8  # a shorter "secret" would be found by chance in any long text


def event_log_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Every event-log record of the run, serialized as Dagster stores it."""
    return "\n".join(dg.serialize_value(record) for record in instance.all_logs(run_id))


def log_text(records: Iterable[logging.LogRecord], min_level: int = logging.NOTSET) -> str:
    """Python log records (pytest's caplog.records) as they would be printed, with any exception's traceback."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in records if r.levelno >= min_level)


def exception_text(exc: BaseException) -> str:
    """The exception as a traceback prints it: message, stack and every cause or context before it."""
    return "".join(traceback.format_exception(exc))


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def leaks(text: str, secrets: Mapping[str, str] | None = None, emails: Iterable[str] = ()) -> list[str]:
    """The names of the `secrets` and the `emails` found in `text`; [] when it is clean. Secrets are named, not
    shown, so a failing assertion does not print them either."""
    found = []
    for name, secret in (secrets or {}).items():
        assert len(secret) >= MIN_SECRET_LENGTH, f"{name}: use a longer test secret"
        if any(form in text for form in _forms(secret)):
            found.append(name)
    known = {e.strip().lower() for e in emails if e}
    if known:
        for candidate in (text.lower(), unquote_plus(text.lower())):
            for local, domain in _EMAIL.findall(candidate):
                # the address may be glued to what precedes it: try every suffix of the local part
                found += [f"{local[i:]}@{domain}" for i in range(len(local)) if f"{local[i:]}@{domain}" in known]
    return sorted(set(found))


def assert_clean(where: str, text: str, secrets: Mapping[str, str] | None = None, emails: Iterable[str] = ()) -> None:
    leaked = leaks(text, secrets, emails)
    assert not leaked, f"{where} holds {len(leaked)} secret(s) or raw email(s): {leaked[:5]}"
