"""`pls doctor` on real components: a demo home (DuckDB warehouse, landing files, embedded CRM), the HubSpot and
Salesforce contract fakes, broken rule files and an unreachable warehouse. Each case asserts the status of the
check concerned, the setting or field it names, and the exit code; the secret cases assert the secret's value is
nowhere in the output."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pls_pipelines.cli import generate_demo, main
from pls_pipelines.dagster_instance import ensure_dagster_home
from pls_pipelines.doctor import (
    FAIL,
    OK,
    WARN,
    Check,
    Report,
    check_dagster_home,
    check_usage_source,
    redact,
    secret_values,
)
from pls_pipelines.lib.crm_fields import load_crm_fields
from pls_pipelines.lib.rules_config import shipped_config
from pls_pipelines.resources.warehouse import dispose_all_engines
from pls_pipelines.settings import CRM_ENV_VARS, ENV_VARS, load_settings
from tests.fakes.hubspot_fake import HubSpotFake
from tests.fakes.salesforce_fake import SalesforceFake

HUBSPOT_TOKEN = "pat-na1-11111111-doctor-right-token"
SALESFORCE_TOKEN = "00Dfake!doctor-salesforce-token"
OTHER_VARIABLES = ("PLS_USAGE_SOURCE", "REQUESTS_CA_BUNDLE")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    """A small demo home (landing files ending yesterday, the embedded CRM loaded), built once: ~1 s."""
    home = tmp_path_factory.mktemp("doctor") / "pls"
    generate_demo(load_settings({"PLS_HOME": str(home)}), 30, seed=3, days=7, end=None)
    return home


@pytest.fixture
def env(demo_home, tmp_path, monkeypatch):
    """The demo home as the only configuration: every pls, CRM and Dagster variable cleared first."""
    for name in (*ENV_VARS, *CRM_ENV_VARS, *OTHER_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLS_HOME", str(demo_home))
    yield monkeypatch
    dispose_all_engines()


def doctor(*args: str):
    return CliRunner().invoke(main, ["doctor", *args])


def line(output: str, name: str) -> str:
    """The report line of check `name` plus its continuation lines (detail and fix)."""
    lines = output.splitlines()
    for i, text in enumerate(lines):
        # "  <status padded to 6><name padded to the longest name>  <detail>"
        if text.startswith("  ") and text[8:].startswith(name + "  "):
            block = [text]
            for more in lines[i + 1:]:
                if not more.startswith(" " * 8):  # the next check's line starts "  <status>"
                    break
                block.append(more)
            return "\n".join(block)
    raise AssertionError(f"no line for {name!r} in:\n{output}")


def status(output: str, name: str) -> str:
    return line(output, name).split()[0]


@pytest.fixture
def own_home(env, tmp_path) -> Path:
    """A demo home of this test's own, for the tests that change it (the shared one stays as demo-data left it)."""
    home = tmp_path / "pls"
    generate_demo(load_settings({"PLS_HOME": str(home)}), 20, seed=4, days=7, end=None)
    env.setenv("PLS_HOME", str(home))
    return home


def provision_local_fields(home: Path) -> None:
    """What the first sync does to the embedded CRM: create the pls_* property definitions."""
    from pls_pipelines.resources.local_crm import LocalCrm

    fields = load_crm_fields()
    crm = LocalCrm(load_settings({"PLS_HOME": str(home)}).local_crm_url)
    try:
        for object_type, spec in fields.objects.items():
            crm.ensure_properties(object_type, spec.fields, fields.group_name, fields.group_label)
    finally:
        crm.close()


# -- the embedded setup -------------------------------------------------------------------------------------------
def test_a_ready_demo_home_is_all_ok_and_exits_0(env, own_home, tmp_path):
    dagster_home = tmp_path / "dagster_home"
    ensure_dagster_home(dagster_home)
    env.setenv("DAGSTER_HOME", str(dagster_home))
    provision_local_fields(own_home)

    result = doctor()
    assert result.exit_code == 0, result.output
    for name in ("settings", "routing.yaml", "scoring_models.yaml", "personas.yaml", "crm_fields.yaml",
                 "product_events.yaml", "identity overrides", "warehouse", "usage data", "crm connection",
                 "crm fields", "dagster home"):
        assert status(result.output, name) == "ok", line(result.output, name)
    assert "12 ok, 0 warnings, 0 problems to fix" in result.output
    assert "duckdb at duckdb:///" in line(result.output, "warehouse")
    assert "7 days" in line(result.output, "usage data")

    as_json = doctor("--json")
    report = json.loads(as_json.output)
    assert as_json.exit_code == 0 and report["exit_code"] == 0
    assert {c["status"] for c in report["checks"]} == {OK} and len(report["checks"]) == 12


def test_a_fresh_demo_home_warns_with_the_fixes_and_still_exits_0(env, own_home):
    result = doctor()
    assert result.exit_code == 0, result.output
    fields = line(result.output, "crm fields")
    assert fields.split()[0] == "warn" and "15 of 15" in fields and "first sync creates them" in fields
    assert "pls sync --dry-run" in fields
    dagster = line(result.output, "dagster home")
    assert dagster.split()[0] == "warn" and "export DAGSTER_HOME=" in dagster
    assert "10 ok, 2 warnings, 0 problems to fix" in result.output


def test_no_landing_data_is_a_warning_naming_pls_demo_data(env, tmp_path):
    env.setenv("PLS_USAGE_PATH", str(tmp_path / "empty"))
    result = doctor()
    usage = line(result.output, "usage data")
    assert usage.split()[0] == "warn" and "PLS_USAGE_PATH=" in usage and "`pls demo-data`" in usage
    assert status(result.output, "warehouse") == "ok"


def test_landing_data_that_stopped_arriving_is_a_warning(demo_home):
    from datetime import date, timedelta

    settings = load_settings({"PLS_HOME": str(demo_home)})
    newest = max(p.name[:10] for p in (settings.usage_path / "events").iterdir())
    stale = check_usage_source(settings, {}, None, today=date.fromisoformat(newest) + timedelta(days=5))
    assert stale.status == WARN and "5 days old" in stale.detail and "PLS_SOURCE_MAX_AGE_HOURS" in stale.detail
    fresh = check_usage_source(settings, {}, None, today=date.fromisoformat(newest) + timedelta(days=1))
    assert fresh.status == OK


def test_a_bad_yaml_key_fails_naming_the_file_and_key_and_the_rest_is_still_checked(env, tmp_path):
    text = shipped_config("routing.yaml").read_text()
    broken = text.replace("usage_trend_below: -0.3", "usage_trend_belo: -0.3", 1)
    assert broken != text
    path = tmp_path / "routing.yaml"
    path.write_text(broken)
    env.setenv("PLS_ROUTING_CONFIG", str(path))

    result = doctor()
    assert result.exit_code == 1, result.output
    routing = line(result.output, "routing.yaml")
    assert routing.split()[0] == "FAIL"
    assert str(path) in routing and "usage_trend_belo" in routing and "did you mean 'usage_trend_below'" in routing
    assert "unset PLS_ROUTING_CONFIG" in routing
    # the models are still checked on their own, and so is everything after the rule files
    for name in ("scoring_models.yaml", "warehouse", "crm connection"):
        assert status(result.output, name) == "ok", line(result.output, name)
    assert "1 problem to fix" in result.output


def test_an_unreachable_warehouse_fails_naming_the_setting_and_hides_the_password(env):
    env.setenv("PLS_WAREHOUSE_URL", "postgresql://postgres:doctor-pw-4711@127.0.0.1:1/test")
    result = doctor()
    assert result.exit_code == 1, result.output
    warehouse = line(result.output, "warehouse")
    assert warehouse.split()[0] == "FAIL" and "PLS_WAREHOUSE_URL" in warehouse
    assert "postgres:***@127.0.0.1:1/test" in warehouse
    assert "doctor-pw-4711" not in result.output
    assert status(result.output, "usage data") == "ok"  # landing files do not need the warehouse


def test_a_warehouse_the_user_cannot_write_to_fails_before_any_run(env, demo_home):
    database = demo_home / "readonly.duckdb"
    duckdb.connect(str(database)).close()
    env.setenv("PLS_WAREHOUSE_URL", f"duckdb:///{database}?access_mode=read_only")
    result = doctor()
    assert result.exit_code == 1, result.output
    warehouse = line(result.output, "warehouse")
    assert warehouse.split()[0] == "FAIL" and "cannot create a table" in warehouse
    assert "PLS_WAREHOUSE_URL" in warehouse


def test_a_relative_dagster_home_fails_and_a_missing_yaml_warns(tmp_path):
    settings = load_settings({"PLS_HOME": str(tmp_path)})
    relative = check_dagster_home(settings, {"DAGSTER_HOME": "dagster_home"})
    assert relative.status == FAIL and "absolute" in relative.detail and "export DAGSTER_HOME=/" in relative.fix
    empty = check_dagster_home(settings, {"DAGSTER_HOME": str(tmp_path)})
    assert empty.status == WARN and "pls_pipelines.dagster_instance" in empty.fix


def test_redaction_covers_tokens_and_url_passwords_raw_and_encoded():
    env = {"HUBSPOT_ACCESS_TOKEN": "pat-secret-123", "PLS_WAREHOUSE_URL": "postgresql://u:p%40ss-word@h/db"}
    secrets = secret_values(env)
    text = redact("token pat-secret-123, url postgresql://u:p%40ss-word@h/db, raw p@ss-word", secrets)
    assert "pat-secret-123" not in text and "p%40ss-word" not in text and "p@ss-word" not in text
    assert Report([Check("a", OK, ""), Check("b", WARN, ""), Check("c", FAIL, "")]).exit_code == 1


# -- HubSpot ------------------------------------------------------------------------------------------------------
@pytest.fixture
def hubspot(env):
    with HubSpotFake(token=HUBSPOT_TOKEN) as fake:
        fake.seed(companies=[{"name": "Acme", "domain": "acme.com"}, {"name": "Globex", "domain": "globex.com"}])
        env.setenv("PLS_CRM", "hubspot")
        env.setenv("HUBSPOT_BASE_URL", fake.base_url)
        env.setenv("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN)
        yield fake


def test_a_wrong_hubspot_token_fails_naming_the_variable_and_never_shows_the_token(env, hubspot):
    wrong = "pat-na1-99999999-doctor-WRONG-token"
    env.setenv("HUBSPOT_ACCESS_TOKEN", wrong)
    result, as_json = doctor(), doctor("--json")
    for output in (result, as_json):
        assert output.exit_code == 1, output.output
        assert wrong not in output.output and HUBSPOT_TOKEN not in output.output
    crm = line(result.output, "crm connection")
    assert crm.split()[0] == "FAIL" and "HUBSPOT_ACCESS_TOKEN" in crm and "401" in crm
    assert status(result.output, "crm fields") == "skip"


def test_a_fresh_hubspot_portal_warns_that_the_first_sync_creates_the_fields_and_doctor_writes_nothing(env, hubspot):
    result = doctor()
    assert result.exit_code == 0, result.output
    crm = line(result.output, "crm connection")
    assert crm.split()[0] == "ok" and "authenticated, 2 companies" in crm and hubspot.base_url in crm
    fields = line(result.output, "crm fields")
    assert fields.split()[0] == "warn" and "15 of 15" in fields and "not in HubSpot yet" in fields
    assert "first sync creates them" in fields
    assert hubspot.write_calls == 0 and not hubspot.applied_writes  # read-only: nothing provisioned
    assert not [n for n in hubspot.property_definitions("companies") if n.startswith("pls_")]


def test_a_hubspot_property_of_the_wrong_type_fails_naming_the_field(env, hubspot):
    from pls_pipelines.resources.hubspot import HubSpotCrm

    fields = load_crm_fields()
    client = HubSpotCrm(HUBSPOT_TOKEN, hubspot.base_url)
    try:  # someone created pls_pqa_score as text; every other field exists as the map says
        for object_type, spec in fields.objects.items():
            specs = [replace(s, type="string") if s.name == "pls_pqa_score" else s for s in spec.fields]
            client.ensure_properties(object_type, specs, fields.group_name, fields.group_label)
    finally:
        client.close()
    hubspot.reset_counters()

    result = doctor()
    assert result.exit_code == 1, result.output
    field_line = line(result.output, "crm fields")
    assert field_line.split()[0] == "FAIL" and "companies.pls_pqa_score" in field_line
    assert "number/number" in field_line and "pls_pqa_tier" not in field_line
    assert "delete the property in HubSpot" in field_line
    assert hubspot.write_calls == 0


def test_an_unreachable_hubspot_fails_naming_the_base_url_setting(env, hubspot):
    env.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:1")
    result = doctor()
    assert result.exit_code == 1, result.output
    crm = line(result.output, "crm connection")
    assert crm.split()[0] == "FAIL" and "cannot reach HubSpot" in crm and "HUBSPOT_BASE_URL" in crm


# -- Salesforce ---------------------------------------------------------------------------------------------------
def test_salesforce_missing_field_fails_and_a_bad_token_names_its_variable(env):
    with SalesforceFake(access_token=SALESFORCE_TOKEN) as fake:
        fake.seed(accounts=[{"Name": "Acme", "Website": "https://acme.com"}])
        fake.remove_field("Contact", "pls_persona__c")
        for name, value in {"PLS_CRM": "salesforce", "SALESFORCE_INSTANCE_URL": fake.instance_url,
                            "SALESFORCE_ACCESS_TOKEN": SALESFORCE_TOKEN, "REQUESTS_CA_BUNDLE": fake.ca_path}.items():
            env.setenv(name, value)
        result = doctor()
        assert result.exit_code == 1, result.output
        assert "authenticated, 1 company" in line(result.output, "crm connection")
        field_line = line(result.output, "crm fields")
        # Salesforce fields cannot be created over the API: missing is a failure there, not a warning
        assert field_line.split()[0] == "FAIL" and "contacts: pls_persona__c" in field_line
        assert "Object Manager" in field_line and "pls_pqa_score" not in field_line
        assert fake.write_calls == 0

        env.setenv("SALESFORCE_ACCESS_TOKEN", "00Dfake!doctor-WRONG-token")
        result = doctor()
        crm = line(result.output, "crm connection")
        assert crm.split()[0] == "FAIL" and "SALESFORCE_ACCESS_TOKEN" in crm and "401" in crm
        assert "doctor-WRONG-token" not in result.output and SALESFORCE_TOKEN not in result.output


def test_the_doctor_is_listed_in_the_cli_help():
    result = CliRunner().invoke(main, ["--help"])
    assert "doctor" in result.output


@pytest.fixture(autouse=True)
def _no_leftover_scratch_tables(request):
    """Every doctor run drops its scratch table again."""
    yield
    if "env" not in request.fixturenames:
        return
    from pls_pipelines.resources.warehouse import Warehouse

    home = request.getfixturevalue("demo_home")
    url = load_settings({"PLS_HOME": str(home)}).warehouse_url
    if not Path(url.removeprefix("duckdb:///")).exists():
        return
    tables = Warehouse(url).read_sql("SELECT table_name FROM information_schema.tables")
    dispose_all_engines()
    assert not [t for t in tables["table_name"] if str(t).startswith("pls_doctor_")]
