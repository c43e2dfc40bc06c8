"""SalesforceBulkJobs: updates through Bulk API 2.0 jobs - a CSV upload, polling until the job ends, and its result
files matched back to the records by their Id column.

Separate because the job life cycle (create, upload, close, wait, read three result files, abort on failure) is a
protocol of its own, which update_records switches to only above `bulk_threshold` records.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from pls_pipelines.resources.crm_http import CrmApiError, error_text
from pls_pipelines.resources.salesforce.api import SalesforceApi
from pls_pipelines.resources.salesforce.writes import WriteResult

# the logger name of the connector before it was split into this package: logging configured for it still applies
log = logging.getLogger(__name__)

BULK_MAX_BYTES = 100_000_000  # raw CSV per Bulk API 2.0 job (150 MB base64)


class SalesforceBulkJobs(SalesforceApi):
    """The Bulk API 2.0 update path of SalesforceCrm, on SalesforceApi's calls."""

    # -- updates -----------------------------------------------------------------------------------------------
    def _bulk_update(self, sobject: str, items: Sequence[tuple[int, str, dict[str, Any]]]) -> dict[int, WriteResult]:
        """Bulk API 2.0 update jobs (one per 100 MB of CSV); results correlated by the Id column."""
        results: dict[int, WriteResult] = {}
        columns = sorted({name for _, _, fields in items for name in fields})
        job_items: list[tuple[int, str, dict[str, Any]]] = []
        size = 0
        batches: list[list[tuple[int, str, dict[str, Any]]]] = []
        for item in items:
            row_size = len(item[1]) + sum(len(_csv_value(v)) + 3 for v in item[2].values()) + 8
            if job_items and size + row_size > BULK_MAX_BYTES:
                batches.append(job_items)
                job_items, size = [], 0
            job_items.append(item)
            size += row_size
        if job_items:
            batches.append(job_items)
        for batch in batches:
            results.update(self._bulk_job(sobject, columns, batch))
        return results

    def _bulk_job(self, sobject: str, columns: list[str], items: Sequence[tuple[int, str, dict[str, Any]]]
                  ) -> dict[int, WriteResult]:
        base = f"{self._base}/jobs/ingest"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Id", *columns])
        for _, target, fields in items:
            writer.writerow([target, *(_csv_value(fields[c]) if c in fields else "" for c in columns)])
        job_id = None
        try:
            job = self._json(self._call("POST", base, once=True, label=base, json={
                "object": sobject, "operation": "update", "contentType": "CSV", "lineEnding": "LF",
                "columnDelimiter": "COMMA",
            }), f"create Bulk API job for {sobject}")
            job_id = job["id"]
            upload = self._call("PUT", f"{base}/{job_id}/batches", label=f"{base}/{{id}}/batches",
                                data=out.getvalue().encode("utf-8"), headers={"Content-Type": "text/csv"})
            if upload.status_code != 201:
                raise CrmApiError(f"Salesforce Bulk API upload to job {job_id}: HTTP {upload.status_code}: "
                                  f"{error_text(upload)}", status=upload.status_code, retryable=True)
            closed = self._call("PATCH", f"{base}/{job_id}", label=f"{base}/{{id}}", json={"state": "UploadComplete"})
            if closed.status_code != 200 and self._job_info(job_id)["state"] == "Open":
                raise CrmApiError(f"Salesforce Bulk API job {job_id} could not be closed: HTTP {closed.status_code}: "
                                  f"{error_text(closed)}", status=closed.status_code, retryable=True)
            info = self._wait_for_job(job_id)
            log.info("Salesforce Bulk API job %s (%s update, %d records): %s", job_id, sobject, len(items),
                     info["state"])
            successful = self._job_results(job_id, "successfulResults")
            failed = self._job_results(job_id, "failedResults")
            unprocessed = self._job_results(job_id, "unprocessedrecords")
        except CrmApiError as exc:
            if exc.status == 401:
                raise
            if job_id is not None:
                self._abort_job(job_id)
            failure = WriteResult(False, str(exc), retryable=True)
            return {i: failure for i, _, _ in items}
        by_id: dict[str, deque[int]] = defaultdict(deque)
        for i, target, _ in items:
            by_id[target].append(i)
        results: dict[int, WriteResult] = {}

        def take(row: dict[str, str]) -> int | None:
            queue = by_id.get(row.get("Id", ""))
            return queue.popleft() if queue else None

        for row in successful:
            if (i := take(row)) is not None:
                results[i] = WriteResult(True)
        for row in failed:
            if (i := take(row)) is not None:
                code, message = _parse_bulk_error(row.get("sf__Error", ""))
                results[i] = WriteResult(False, f"{code}: {message}", (code,))
        reason = info.get("errorMessage") or info["state"]
        for row in unprocessed:
            if (i := take(row)) is not None:
                results[i] = WriteResult(False, f"UNPROCESSED: Bulk API job {job_id} ended {info['state']} before this "
                                     f"record was processed ({reason})", retryable=True)
        for i, _, _ in items:
            results.setdefault(i, WriteResult(False, f"NO_RESULT: Bulk API job {job_id} ({info['state']}) reported "
                                          "nothing for this record", retryable=True))
        return results

    def _job_info(self, job_id: str) -> dict[str, Any]:
        path = f"{self._base}/jobs/ingest/{job_id}"
        return self._json(self._call("GET", path, label=f"{self._base}/jobs/ingest/{{id}}"), f"Bulk API job {job_id}")

    def _wait_for_job(self, job_id: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            info = self._job_info(job_id)
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                return info
            if waited >= self.bulk_timeout:
                raise CrmApiError(f"Salesforce Bulk API job {job_id} still {info['state']} after {waited:.0f}s",
                                  retryable=True)
            self.sleep(self.poll_interval)
            waited += self.poll_interval

    def _job_results(self, job_id: str, kind: str) -> list[dict[str, str]]:
        base = f"{self._base}/jobs/ingest"
        response = self._call("GET", f"{base}/{job_id}/{kind}", label=f"{base}/{{id}}/{kind}",
                              headers={"Accept": "text/csv"})
        if response.status_code != 200:
            raise CrmApiError(f"Salesforce Bulk API {kind} of job {job_id}: HTTP {response.status_code}: "
                              f"{error_text(response)}", status=response.status_code, retryable=True)
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))

    def _abort_job(self, job_id: str) -> None:
        path = f"{self._base}/jobs/ingest/{job_id}"
        try:
            self._call("PATCH", path, label=f"{self._base}/jobs/ingest/{{id}}", json={"state": "Aborted"})
        except CrmApiError:
            log.warning("could not abort Salesforce Bulk API job %s", job_id)


def _csv_value(value: Any) -> str:
    """A JSON-ready value as Bulk API 2.0 CSV text; #N/A sets a field to null (an empty cell leaves it unchanged)."""
    if value is None:
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10f}".rstrip("0").rstrip(".")
    return str(value)


def _parse_bulk_error(text: str) -> tuple[str, str]:
    """"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--" -> (code, message)."""
    code, _, rest = text.partition(":")
    rest = rest.strip().removesuffix("--").strip()
    message, sep, fields = rest.rpartition(":")
    if not sep or " " in fields.strip(", "):
        message = rest
    return (code.strip() or "UNKNOWN_ERROR"), message.strip(" :")
