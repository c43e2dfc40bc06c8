"""DuckDB SQL that reads landing files of events (JSON Lines, CSV, Parquet) into the staged shape.

The files never pass through Python: DuckDB reads them in parallel and extracts the fields, and
`lib/events.py` then judges each row. All three formats are funnelled through one JSON document per row, so
the field mapping (our flat schema *and* Segment's track/identify/group/page payloads) is written once:

    flat:    {"event_id", "occurred_at", "user_id", "workspace_id", "event", "properties"}
    Segment: {"messageId", "timestamp", "userId", "context": {"groupId"}, "type", "event", "properties"|"traits"}

Lines that are not JSON objects, CSV rows with the wrong number of columns and bytes that are not UTF-8 become
staged rows with a `parse_error`, so they reach the quarantine instead of vanishing.

No value is written into the SQL text: file paths, labels, days and the catalog's page-view names are DuckDB
parameters (`$name`; DuckDB binds them in table functions too, `read_text($jsonl_paths)`), so a landing file
called `x'); DROP TABLE usage_events; --.jsonl` is a file name and nothing else. The builders therefore return a
`DuckQuery`: the text and the parameters it names, which DuckDB wants exactly (an unused one is an error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pls_pipelines.lib.event_catalog import EventCatalog

FORMATS = ("jsonl", "csv", "parquet")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
CSV_REJECTS = "_pls_csv_rejects"
CSV_REJECT_SCANS = "_pls_csv_reject_scans"
REPLACEMENT_CHARACTER = 0xFFFD


@dataclass(frozen=True)
class EventFile:
    """One landing file: where it is, which partition day it belongs to and how to show it to a person."""

    path: str
    day: date
    label: str  # relative to the events folder, e.g. "2025-03-01.jsonl" or "2025-03-01/late-1.jsonl"
    format: str
    # The file held bytes that are not UTF-8 and `path` is a copy with those bytes replaced by U+FFFD.
    sanitized: bool = False


@dataclass(frozen=True)
class DuckQuery:
    """DuckDB SQL text and the `$name` parameters it uses: `duck.execute(query.sql, query.params)`."""

    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _files_param(files: Sequence[EventFile]) -> list[dict[str, Any]]:
    """The `$landing_files` parameter: one struct per file (DuckDB turns a list of dicts into a list of structs)."""
    return [{"path": f.path, "file_day": f.day, "label": f.label, "sanitized": f.sanitized} for f in files]


# The files as a table, from the `$landing_files` parameter (see _files_param).
_FILES_CTE = "landing_files AS (SELECT unnest($landing_files, recursive := true))"


def _catalog_params(catalog: EventCatalog) -> dict[str, str]:
    return {"page_view_event": catalog.page_view_event, "page_name_path": "$." + catalog.page_name_property}


# Every field either schema may carry, parsed out of the document in one pass (each `doc->>'x'` would parse the
# whole line again: six lookups made extraction 3x slower). Mismatched types become NULL, not errors.
_DOC_FIELDS = (
    '{"event_id": "VARCHAR", "messageId": "VARCHAR", "user_id": "VARCHAR", "userId": "VARCHAR", '
    '"workspace_id": "VARCHAR", "groupId": "VARCHAR", "context": {"groupId": "VARCHAR"}, "type": "VARCHAR", '
    '"event": "VARCHAR", "name": "VARCHAR", "occurred_at": "JSON", "timestamp": "JSON", '
    '"originalTimestamp": "JSON", "properties": "JSON", "traits": "JSON"}'
)


# Properties (Segment: traits for identify/group) as a JSON object whatever they arrived as: an object, JSON
# text in a CSV/Parquet column, nothing (-> {}), or a bare value (-> {"value": ...}).
_PROPERTIES_OBJECT = """
    CASE WHEN raw_props IS NULL OR json_type(raw_props) = 'NULL' THEN json_object()
         WHEN json_type(raw_props) = 'OBJECT' THEN raw_props
         WHEN json_type(raw_props) = 'VARCHAR' AND json_valid(raw_props->>'$')
              AND json_type(CASE WHEN json_valid(raw_props->>'$') THEN raw_props->>'$' END) = 'OBJECT'
              THEN CAST(raw_props->>'$' AS JSON)
         ELSE json_object('value', raw_props) END"""


def _fields_from_doc() -> str:
    """SELECT list mapping a row's parsed fields `j` (flat or Segment) to the staged columns; the catalog's
    page-view event and page-name property are the parameters $page_view_event and $page_name_path."""
    return """
        file_day, source_file, line_number, raw_line,
        CASE WHEN parse_error IS NOT NULL THEN parse_error
             WHEN doc IS NULL THEN 'invalid_json'
             WHEN j IS NULL THEN 'not_an_object' END AS parse_error,
        nullif(trim(coalesce(j.event_id, j.messageId)), '') AS event_id,
        CASE json_type(ts)
             WHEN 'VARCHAR' THEN timezone('UTC', try_cast(trim(ts->>'$') AS TIMESTAMPTZ))
             WHEN 'UBIGINT' THEN try(epoch_ms(CAST(ts->>'$' AS BIGINT)))
             WHEN 'BIGINT' THEN try(epoch_ms(CAST(ts->>'$' AS BIGINT)))
             WHEN 'DOUBLE' THEN try(epoch_ms(CAST(CAST(ts->>'$' AS DOUBLE) AS BIGINT)))
        END AS occurred_at,
        nullif(trim(coalesce(j.user_id, j.userId)), '') AS user_id,
        nullif(trim(coalesce(j.workspace_id, j.context.groupId, j.groupId)), '') AS workspace_id,
        CASE call_type WHEN 'identify' THEN '$identify' WHEN 'group' THEN '$group'
             WHEN 'page' THEN $page_view_event ELSE nullif(trim(j.event), '') END AS event,
        CASE WHEN call_type = 'page' OR j.event = $page_view_event THEN
             nullif(lower(trim(coalesce(props->>$page_name_path, j.name, props->>'$.path'), ' /')), '') END AS page,
        CAST(props AS VARCHAR) AS properties
    """


def extract_staged_sql(documents_sql: str) -> str:
    """Wrap a query yielding (file_day, source_file, line_number, raw_line, parse_error, doc JSON); uses the
    parameters of `_catalog_params`."""
    return f"""
    SELECT {_fields_from_doc()}
    FROM (
        SELECT *, {_PROPERTIES_OBJECT} AS props
        FROM (
            SELECT *,
                lower(j.type) AS call_type,
                coalesce(j.occurred_at, j.timestamp, j.originalTimestamp) AS ts,
                CASE WHEN lower(j.type) IN ('identify', 'group') THEN j.traits ELSE j.properties END AS raw_props
            FROM (
                SELECT *, CASE WHEN json_type(doc) = 'OBJECT' THEN json_transform(doc, '{_DOC_FIELDS}') END AS j
                FROM ({documents_sql}) documents
            ) parsed
        ) fields
    ) normalized
    """


def jsonl_documents_sql() -> str:
    """One row per non-blank line, numbered as an editor would (1-based, blank lines counted). Parameters:
    $landing_files, $jsonl_paths."""
    return f"""
    WITH {_FILES_CTE},
    texts AS (
        SELECT f.file_day, f.label, f.sanitized, string_split(t.content, chr(10)) AS lines
        FROM read_text($jsonl_paths) t JOIN landing_files f ON f.path = t.filename
    ),
    numbered AS (
        SELECT file_day, label, sanitized, unnest(lines) AS line, generate_subscripts(lines, 1) AS line_number
        FROM texts
    )
    SELECT file_day, label AS source_file, CAST(line_number AS BIGINT) AS line_number,
        rtrim(line, chr(13)) AS raw_line,
        CASE WHEN sanitized AND contains(line, chr({REPLACEMENT_CHARACTER})) THEN 'invalid_utf8' END AS parse_error,
        CASE WHEN json_valid(line) AND NOT (sanitized AND contains(line, chr({REPLACEMENT_CHARACTER})))
             THEN CAST(line AS JSON) END AS doc
    FROM numbered
    WHERE trim(rtrim(line, chr(13))) <> ''
    """


def parquet_documents_sql() -> str:
    """One row per Parquet row; typed columns (TIMESTAMP, STRUCT properties) arrive as JSON values. Parameters:
    $landing_files, $parquet_paths."""
    return f"""
    WITH {_FILES_CTE}
    SELECT f.file_day, f.label AS source_file, CAST(p.file_row_number + 1 AS BIGINT) AS line_number,
        CAST(to_json(p) AS VARCHAR) AS raw_line, CAST(NULL AS VARCHAR) AS parse_error, to_json(p) AS doc
    FROM (
        SELECT * EXCLUDE (filename, file_row_number), filename AS _file, file_row_number
        FROM read_parquet($parquet_paths, filename = true, file_row_number = true, union_by_name = true)
    ) p JOIN landing_files f ON f.path = p._file
    """


def csv_documents_sql() -> str:
    """One row per well-formed CSV row (header required). Malformed rows go to the rejects table: see below.
    Parameters: $landing_files, $csv_paths."""
    return f"""
    WITH {_FILES_CTE}
    SELECT f.file_day, f.label AS source_file, CAST(NULL AS BIGINT) AS line_number,
        CAST(to_json(c) AS VARCHAR) AS raw_line, CAST(NULL AS VARCHAR) AS parse_error, to_json(c) AS doc
    FROM (
        SELECT * EXCLUDE (filename), filename AS _file
        FROM read_csv($csv_paths, header = true, all_varchar = true, filename = true,
                      store_rejects = true, rejects_table = '{CSV_REJECTS}', rejects_scan = '{CSV_REJECT_SCANS}')
    ) c JOIN landing_files f ON f.path = c._file
    """


def csv_rejects_sql() -> str:
    """The CSV rows DuckDB could not read (wrong column count, bad encoding), one staged row per line.
    Parameter: $landing_files."""
    return f"""
    WITH {_FILES_CTE}
    SELECT f.file_day, f.label AS source_file, CAST(r.line AS BIGINT) AS line_number,
        any_value(r.csv_line) AS raw_line,
        CASE WHEN bool_or(r.error_type = 'INVALID ENCODING') THEN 'invalid_utf8' ELSE 'malformed_row' END
            AS parse_error,
        CAST(NULL AS JSON) AS doc
    FROM {CSV_REJECTS} r
    JOIN {CSV_REJECT_SCANS} s ON s.scan_id = r.scan_id AND s.file_id = r.file_id
    JOIN landing_files f ON f.path = s.file_path
    GROUP BY f.file_day, f.label, r.line
    """


def staged_events_sql(files: Sequence[EventFile], catalog: EventCatalog) -> DuckQuery:
    """The staged rows of every file (any mix of formats). CSV rejects are read by `csv_rejects_sql` after."""
    by_format = {fmt: [f for f in files if f.format == fmt] for fmt in FORMATS}
    builders = {"jsonl": jsonl_documents_sql, "parquet": parquet_documents_sql, "csv": csv_documents_sql}
    present = [fmt for fmt in FORMATS if by_format[fmt]]
    if not present:
        raise ValueError("staged_events_sql needs at least one file")
    sql = "\nUNION ALL\n".join(extract_staged_sql(builders[fmt]()) for fmt in present)
    params = {
        "landing_files": _files_param(files),
        **{f"{fmt}_paths": [f.path for f in by_format[fmt]] for fmt in present},
        **_catalog_params(catalog),
    }
    return DuckQuery(sql, params)


def staged_csv_rejects_sql(files: Sequence[EventFile], catalog: EventCatalog) -> DuckQuery:
    """`csv_rejects_sql` in the staged shape; run it after `staged_events_sql` has read the CSV files."""
    return DuckQuery(extract_staged_sql(csv_rejects_sql()), {"landing_files": _files_param(files),
                                                            **_catalog_params(catalog)})
