"""No value is formatted into SQL text, and names from configuration are checked when their setting is loaded.

Two halves: a scan of the package's source that fails when an f-string that reads as SQL formats in anything
but a quoted name, a module constant or a reviewed expression (listed below with the reason it is safe); and
hostile values - `x'); DROP TABLE usage_events; --` as a landing file's name, a workspace id, an email, a CRM
domain, a catalog event name, a configured table name - pushed through ingest and the CRM read: they land as
data or stop at load with a ConfigError naming the setting, and every table is still there afterwards.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from pls_pipelines.lib.crm_fields import load_crm_fields
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.lib.event_catalog import load_event_catalog
from pls_pipelines.lib.sql_identifiers import (
    check_identifier,
    is_identifier,
    is_qualified_identifier,
    quote_identifier,
    split_qualified,
)
from pls_pipelines.lib.sync import FieldSpec, NewContact, RecordUpdate
from pls_pipelines.resources.event_loader import load_usage_events
from pls_pipelines.resources.local_crm import LocalCrm
from pls_pipelines.resources.salesforce.soql import like_escape, soql_quote
from pls_pipelines.resources.usage_source import LandingFiles, UsageSourceResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from tests.fakes.salesforce_fake import _unescape, parse_soql

PACKAGE = Path(__file__).resolve().parents[1] / "pls_pipelines"
HOSTILE = "x'); DROP TABLE usage_events; --"

# --- the source scan ------------------------------------------------------------------------------------------

# An f-string reads as SQL when its text starts (after any leading fields) with a statement keyword or WHERE.
# Salesforce's SOQL counts too: the REST API has no bind parameters, so its values go through soql.py's quoting.
_SQL_START = re.compile(r"^\s*(?:\{\}\s*)*(SELECT|INSERT|DELETE|UPDATE|DROP|ALTER|CREATE|COPY|WITH|MERGE|TRUNCATE|"
                        r"WHERE)\b")
# Calls whose result may be formatted into SQL text: quoting of names, and SOQL's escaping of values.
_QUOTING = {"_quote", "quote_identifier", "soql_quote", "like_escape", "soql_datetime"}

# Formatted fields that are neither a quoting call nor a constant, each reviewed: (file, expression) -> why it is
# safe. An entry that no longer matches anything fails the test too, so the list stays the list of what is there.
REVIEWED = {
    ("resources/warehouse.py", "cols"): "names through _quote, or *",
    ("resources/warehouse.py", "columns"): "frame columns through _quote",
    ("resources/warehouse.py", "view"): "_pls_frame_<id()>, made here",
    ("resources/warehouse.py", "ddl"): "a column type compiled by SQLAlchemy from our own sa.Table",
    ("resources/event_loader.py", "columns"): "staged table columns through quote_identifier",
    ("lib/event_files_sql.py", "_fields_from_doc()"): "constant SQL text (its values are $parameters)",
    ("lib/event_files_sql.py", "documents_sql"): "the *_documents_sql builders' constant text",
    ("assets/checks.py", "asset"): "one of the three asset names the module passes to _row_count_check",
    ("resources/salesforce/client.py", "sobject"): "SOBJECTS' API names, via _sobject()",
    ("resources/salesforce/client.py", "select"): "a SELECT built in the same function from READ_FIELDS/describe",
    ("resources/salesforce/client.py", "', '.join((f['name'] for f in ours))"):
        "our own pls_*__c field names, as Salesforce's describe spells them",
    ("resources/salesforce/demo.py", "', '.join(account_fields)"): "the Account fields the demo loader reads",
    ("resources/salesforce/writes.py", "sobject"): "an sObject name the callers pass as a literal",
    ("resources/salesforce/writes.py", "key_field"): "a field name the callers pass as a literal",
    ("resources/salesforce/writes.py", "extra"): "', Name' or empty, passed as a literal",
}


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _is_constant(node: ast.AST) -> bool:
    """A number, or a module constant (UPPER_CASE, subscripted or not): code, not data."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float)
    if isinstance(node, ast.Subscript):
        return _is_constant(node.value)
    name = _name(node)
    return bool(name) and name.strip("_").isupper()


def _is_safe(node: ast.AST) -> bool:
    if _is_constant(node):
        return True
    if isinstance(node, ast.Call):
        called = _name(node.func)
        if called in _QUOTING:
            return True
        if called == "join" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Constant):
            (items,) = node.args
            if isinstance(items, ast.GeneratorExp | ast.ListComp):
                return _is_safe(items.elt)
            if isinstance(items, ast.Call) and _name(items.func) == "map":
                return _name(items.args[0]) in _QUOTING
            return _is_constant(items)
    return False


def _template(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _sql_fields() -> list[tuple[str, int, str]]:
    """(file, line, expression) of every field formatted into SQL-looking text that is not safe by shape."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and _SQL_START.match(_template(node)):
                found += [(relative, node.lineno, ast.unparse(v.value)) for v in node.values
                          if isinstance(v, ast.FormattedValue) and not _is_safe(v.value)]
            # "... WHERE id = %s" % value and "...".format(value) are formatting too
            formatted = (node.left if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) else
                         node.func.value if isinstance(node, ast.Call) and _name(node.func) == "format"
                         and isinstance(node.func, ast.Attribute) else None)
            if isinstance(formatted, ast.Constant) and isinstance(formatted.value, str) and \
                    _SQL_START.match(formatted.value):
                found.append((relative, node.lineno, "%-formatting or str.format of SQL text"))
    return found


def test_no_value_is_formatted_into_sql_text():
    fields = _sql_fields()
    unreviewed = [f"{file}:{line}: {{{expr}}}" for file, line, expr in fields if (file, expr) not in REVIEWED]
    assert not unreviewed, (
        "SQL text formats in something that is neither a quoted name nor a constant; pass values as bind "
        "parameters (:name / $name), names through quote_identifier, or review it into REVIEWED:\n"
        + "\n".join(unreviewed)
    )
    stale = sorted(set(REVIEWED) - {(file, expr) for file, _, expr in fields})
    assert not stale, f"REVIEWED entries that match nothing any more (remove them): {stale}"


def test_sqlalchemy_statements_are_never_compiled_with_their_values_inlined():
    inlined = [f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno}" for path in sorted(PACKAGE.rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if (isinstance(node, ast.Constant) and node.value == "literal_binds")
               or (isinstance(node, ast.keyword) and node.arg == "literal_binds")]
    assert not inlined, f"literal_binds writes values into SQL text: {inlined}"


def test_the_scan_sees_what_it_must_refuse():
    source = 'def f(day, t):\n    wh.scalar(f"SELECT * FROM {_quote(t)} WHERE day = \'{day}\'")\n'
    tree = ast.parse(source)
    fields = [ast.unparse(v.value) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)
              and _SQL_START.match(_template(n)) for v in n.values
              if isinstance(v, ast.FormattedValue) and not _is_safe(v.value)]
    assert fields == ["day"]


# --- one rule for names ---------------------------------------------------------------------------------------


def test_sql_names_follow_one_rule():
    for good in ("usage_events", "_pls_tmp", "Events2", "f_sso"):
        assert is_identifier(good) and quote_identifier(good) == f'"{good}"'
    for bad in ("", "2fast", "x y", "x-y", 'x"y', "x;y", HOSTILE, "événements", "a.b", None, 3):
        assert not is_identifier(bad)
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        quote_identifier(HOSTILE)
    assert is_qualified_identifier("analytics.product_events") and is_qualified_identifier("events")
    assert not any(map(is_qualified_identifier, ("a.b.c", ".events", "analytics.", "a.b; DROP TABLE c")))
    assert split_qualified("analytics.events") == ("analytics", "events")
    assert split_qualified("events") == (None, "events")
    with pytest.raises(ConfigError) as refused:
        check_identifier("x; DROP TABLE y", "PLS_USAGE_EVENTS_TABLE", qualified=True)
    assert str(refused.value) == (
        "PLS_USAGE_EVENTS_TABLE='x; DROP TABLE y' is not a valid SQL name: use letters, digits and underscores, "
        "starting with a letter or underscore; optionally schema.table."
    )


def test_the_warehouse_refuses_unsafe_names_and_runs_nothing(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        wh.replace_table("usage_events", pd.DataFrame({"event_id": ["e1"]}))
        for call in (lambda: wh.read_table("x; DROP TABLE usage_events"),
                     lambda: wh.read_table("usage_events", ['event_id" FROM usage_events; DROP TABLE usage_events']),
                     lambda: wh.columns('usage_events"; DROP TABLE usage_events; --')):
            with pytest.raises(ValueError, match="unsafe SQL identifier"):
                call()
        assert wh.read_table("usage_events")["event_id"].tolist() == ["e1"]
    finally:
        dispose_all_engines()


# --- names from configuration: refused when loaded ------------------------------------------------------------


def test_a_hostile_usage_table_setting_is_refused_when_the_source_is_loaded():
    tables = {"events_table": "analytics.product_events", "workspaces_table": "workspaces", "users_table": "users"}
    source = UsageSourceResource(kind="warehouse", **tables).get_source()
    assert source.table(source.events_table).schema == "analytics"
    for field, setting in (("events_table", "PLS_USAGE_EVENTS_TABLE"), ("users_table", "PLS_USAGE_USERS_TABLE")):
        hostile = {**tables, field: "x; DROP TABLE y"}
        with pytest.raises(ConfigError, match=rf"^{setting}='x; DROP TABLE y' is not a valid SQL name: use letters, "
                                              r"digits and underscores.*optionally schema\.table"):
            UsageSourceResource(kind="warehouse", **hostile).get_source()


def _crm_fields_yaml(tmp_path: Path, key: str, source: str) -> Path:
    path = tmp_path / "crm_fields.yaml"
    path.write_text(json.dumps({  # JSON is YAML
        "property_group": {"name": "product_led_sales", "label": "Product-Led Sales"},
        "objects": {"companies": {"key": key, "fields": {
            "pls_pqa_score": {"label": "PQA score", "type": "number", "source": source}}}},
    }), encoding="utf-8")
    return path


def test_hostile_names_in_crm_fields_yaml_are_refused_when_loaded(tmp_path):
    assert load_crm_fields(_crm_fields_yaml(tmp_path, "crm_company_id", "account_routing.score")).objects
    with pytest.raises(ConfigError, match=r"objects\.companies\.key: 'crm_company_id; DROP TABLE x' is not a valid "
                                          r"SQL column name -- use letters, digits and underscores"):
        load_crm_fields(_crm_fields_yaml(tmp_path, "crm_company_id; DROP TABLE x", "account_routing.score"))
    with pytest.raises(ConfigError, match=r"objects\.companies\.fields\.pls_pqa_score\.source: .*does not have the "
                                          r"expected form.*table\.column of the warehouse"):
        load_crm_fields(_crm_fields_yaml(tmp_path, "crm_company_id", "account_routing.score; DROP TABLE x"))


def test_a_hostile_feature_key_is_refused_when_the_catalog_is_loaded(tmp_path):
    path = tmp_path / "product_events.yaml"
    path.write_text(json.dumps({"features": {"sso; DROP TABLE usage_events": {"events": ["SSO Configured"]}}}))
    with pytest.raises(ConfigError, match=r"features: 'sso; DROP TABLE usage_events' does not have the expected form.*"
                                          r"feature keys name rollup columns"):
        load_event_catalog(path)


# --- hostile values: data, never SQL --------------------------------------------------------------------------

DAY = date(2026, 11, 20)


def test_hostile_values_in_landing_files_land_as_data(tmp_path):
    """A hostile file name, ids and an event name from the catalog: the ingest stores them as text."""
    landing = tmp_path / "landing"
    folder = landing / "events" / DAY.isoformat()
    folder.mkdir(parents=True)
    hostile_email = "a'); DROP TABLE usage_events; --@evil.example"
    lines = [
        {"event_id": "e1", "occurred_at": "2026-11-20T10:00:00Z", "user_id": hostile_email, "workspace_id": "w1",
         "event": HOSTILE, "properties": {"name": HOSTILE}},
        {"event_id": HOSTILE, "occurred_at": "2026-11-20T11:00:00Z", "user_id": "u2", "workspace_id": HOSTILE,
         "event": "Report Created", "properties": {}},
    ]
    (folder / f"{HOSTILE}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    (folder / f"{HOSTILE}.csv").write_text("event_id,occurred_at,user_id,workspace_id,event,properties\n"
                                           "c1,2026-11-20T12:00:00Z,u3,w1,Query Run,{}\n", encoding="utf-8")
    catalog = replace(load_event_catalog(), page_view_event=HOSTILE, page_name_property="name')); DROP TABLE t; --")
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    try:
        wh.replace_table("product_workspaces", pd.DataFrame({"workspace_id": ["w1"], "name": [HOSTILE]}))
        report = load_usage_events(wh, LandingFiles(landing), catalog, DAY, DAY, datetime(2026, 11, 21, 6))
        assert report.read == 3
        events = wh.read_table("usage_events").set_index("event_id")
        assert sorted(events.index) == ["c1", "e1"]
        assert events.loc["e1", "user_id"] == hostile_email and events.loc["e1", "event"] == HOSTILE
        assert events.loc["e1", "source_file"] == f"{DAY.isoformat()}/{HOSTILE}.jsonl"
        rejected = wh.read_table("usage_events_rejected")
        assert rejected["event_id"].tolist() == [HOSTILE] and rejected["reason"].tolist() == ["unknown_workspace"]
        assert json.loads(rejected["raw_line"].iloc[0])["workspace_id"] == HOSTILE
        assert wh.read_table("product_workspaces")["name"].tolist() == [HOSTILE]
    finally:
        dispose_all_engines()


def test_hostile_values_reach_the_local_crm_and_the_warehouse_as_data(tmp_path):
    crm = LocalCrm(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    domain = "x.com'); DROP TABLE companies; --"
    try:
        crm.seed(
            pd.DataFrame({"owner_id": ["o1"], "name": [HOSTILE], "email": [f"{HOSTILE}@vendor.com"], "team": ["x"]}),
            pd.DataFrame({"company_id": [HOSTILE], "name": ["Acme"], "domain": [domain], "industry": ["Software"],
                          "employee_count": [12], "country": ["US"], "owner_id": ["o1"], "lifecycle_stage": ["lead"],
                          "created_at": ["2026-01-01"]}),
            pd.DataFrame(columns=["contact_id", "company_id", "email", "first_name", "last_name", "title",
                                  "created_at"]),
            pd.DataFrame(columns=["deal_id", "company_id", "name", "stage", "amount", "deal_type", "created_at",
                                  "close_date"]),
        )
        assert crm.find_company(domain)["company_id"] == HOSTILE
        assert crm.find_company(HOSTILE)["domain"] == domain
        assert crm.find_company("' OR '1'='1") is None
        email = "dana'); DROP TABLE contacts; --@acme.example"
        created = crm.create_contacts([NewContact("k", email, HOSTILE, HOSTILE, "Ruiz", HOSTILE)])
        assert created[0].ok and crm.read("contacts")["email"].tolist() == [email.lower()]  # emails are kept lower-case
        spec = FieldSpec("pls_pqa_tier", "Tier", "string", "account_routing", "tier")
        crm.ensure_properties("companies", [spec], "product_led_sales")
        outcomes = crm.update_records("companies", [RecordUpdate(HOSTILE, {"pls_pqa_tier": HOSTILE}),
                                                    RecordUpdate("' OR '1'='1", {"pls_pqa_tier": "sales"})])
        assert [o.ok for o in outcomes] == [True, False]
        assert crm.read_properties("companies")["value"].tolist() == [HOSTILE]
        companies = crm.read("companies")
    finally:
        crm.close()
    wh = Warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")  # what the crm_companies ingest does with the read
    try:
        wh.replace_table("crm_companies", companies)
        assert wh.read_table("crm_companies")[["company_id", "domain"]].values.tolist() == [[HOSTILE, domain]]
        assert wh.read_sql("SELECT COUNT(*) AS n FROM crm_companies WHERE domain = :d", {"d": domain})["n"][0] == 1
    finally:
        dispose_all_engines()


@pytest.mark.parametrize("value", [HOSTILE, "it\\'s", "back\\slash'", "new\nline", "100%_done"])
def test_soql_literals_keep_hostile_text_inside_the_string(value):
    """SOQL over REST has no bind parameters: soql_quote is the one escape, checked with the fake's parser."""
    parsed = parse_soql(f"SELECT Id FROM Account WHERE Name = {soql_quote(value)} AND Id = '001'")
    assert [(c.field, c.op) for c in parsed.where] == [("Name", "="), ("Id", "=")]
    assert _unescape(parsed.where[0].value[1]) == value
    like = parse_soql(f"SELECT Id FROM Account WHERE Website LIKE '%{like_escape(value)}%'")
    assert len(like.where) == 1 and like.where[0].op == "LIKE"
