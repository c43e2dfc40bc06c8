"""The whole pipeline against the Salesforce contract fake (TLS): demo loaded through the API, the pls_*__c
fields synced (contacts through Bulk API 2.0 above the threshold), and a second run that writes nothing."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from pls_pipelines.cli import generate_demo
from pls_pipelines.resources.crm import CrmResource
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines
from pls_pipelines.settings import load_settings
from tests.fakes.salesforce_fake import SalesforceFake
from tests.pipeline_helpers import demo_definitions, run_all_days

END = date(2026, 10, 31)
TOKEN = "00Dfake!salesforce-test-token"
BULK_THRESHOLD = "300"  # the demo's ~1,000 contacts go through a Bulk API 2.0 job, companies through Collections


@pytest.mark.slow
def test_salesforce_sync_end_to_end_and_a_rerun_that_writes_nothing(tmp_path, monkeypatch):
    with SalesforceFake(access_token=TOKEN) as fake:
        env = {"PLS_HOME": str(tmp_path), "PLS_CRM": "salesforce", "SALESFORCE_INSTANCE_URL": fake.instance_url,
               "SALESFORCE_ACCESS_TOKEN": TOKEN, "SALESFORCE_BULK_THRESHOLD": BULK_THRESHOLD,
               # the client checks the fake's certificate against the test CA, as it would a real one
               "REQUESTS_CA_BUNDLE": str(fake.ca_path)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        generate_demo(settings, 120, seed=5, days=30, end=END, crm_kind="salesforce")
        assert len(fake.records("Account")) > 50 and len(fake.records("Contact")) > 300
        definitions = demo_definitions(settings, crm=CrmResource(
            kind="salesforce", salesforce_instance_url=fake.instance_url, salesforce_access_token=TOKEN,
            salesforce_bulk_threshold=BULK_THRESHOLD,
        ))
        with dg.DagsterInstance.ephemeral() as instance:
            run_all_days(settings, definitions, instance)
            wh = Warehouse(settings.warehouse_url)
            routing = wh.read_table("account_routing")
            dispose_all_engines()
            companies = routing[routing["crm_company_id"].notna()]
            assert len(companies) > 50
            for row in companies.itertuples(index=False):
                account = fake.get("Account", row.crm_company_id)
                assert account["pls_pqa_tier__c"] == row.tier and account["pls_motion__c"] == row.motion
                assert float(account["pls_pqa_score__c"]) == float(row.score)
            assert sum(1 for c in fake.records("Contact") if c.get("pls_persona__c")) > 300
            assert fake.jobs  # the contacts went through Bulk API 2.0

            fake.requests.clear()
            run_all_days(settings, definitions, instance)
            assert fake.write_calls == 0


# -- secrets: only through the environment, and never written down ---------------------------------------------------
USERNAME = "integration@example.com"
PASSWORD = "fake-password-Sw0rdfish!"
SECURITY_TOKEN = "FAKESECURITYTOKEN42"
CLIENT_ID = "fake-client-id-3MVG9"
CLIENT_SECRET = "fake-client-secret-8F2A1C"


def _oauth_fake() -> SalesforceFake:
    return SalesforceFake(access_token="", username=USERNAME, password=PASSWORD, security_token=SECURITY_TOKEN,
                          client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def _oauth_env(fake: SalesforceFake, **overrides: str) -> dict[str, str]:
    """The username-password flow's variables, all secrets included, as a deployment would set them."""
    return {"SALESFORCE_LOGIN_URL": fake.instance_url, "SALESFORCE_USERNAME": USERNAME,
            "SALESFORCE_PASSWORD": PASSWORD, "SALESFORCE_SECURITY_TOKEN": SECURITY_TOKEN,
            "SALESFORCE_CLIENT_ID": CLIENT_ID, "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET, **overrides}


def _secrets(fake: SalesforceFake, *tokens: str) -> dict[str, str]:
    """Every credential, the password as it is sent (security token appended) and every access token issued."""
    issued = {f"access token #{i}": t for i, t in enumerate(sorted({*fake.valid_tokens, *tokens}))}
    return {"SALESFORCE_PASSWORD": PASSWORD, "SALESFORCE_SECURITY_TOKEN": SECURITY_TOKEN,
            "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET, "password + security token": PASSWORD + SECURITY_TOKEN,
            **issued}


def _crm_resource(env: dict[str, str]) -> CrmResource:
    """The resource as the definitions build it from the environment: through dg.EnvVar."""
    from pls_pipelines.resources.crm import crm_resource_settings

    return CrmResource(kind="salesforce", **crm_resource_settings(lambda name, default: dg.EnvVar(name)
                                                                     if name in env else default))


@pytest.mark.slow
def test_no_secret_or_raw_email_in_what_a_full_salesforce_run_leaves(tmp_path, monkeypatch, caplog, capfd):
    """The OAuth username-password flow with a forced re-login on the way: the event log (failures with their
    stack traces included), Python logging at every level, stdout and stderr hold no credential, no access token
    and no raw email."""
    import logging

    from tests.secret_scan import assert_clean, event_log_text, log_text

    caplog.set_level(logging.DEBUG)
    with _oauth_fake() as fake:
        env = {"PLS_HOME": str(tmp_path), "PLS_CRM": "salesforce", "REQUESTS_CA_BUNDLE": str(fake.ca_path),
               "SALESFORCE_BULK_THRESHOLD": BULK_THRESHOLD, **_oauth_env(fake)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        generate_demo(settings, 60, seed=5, days=14, end=END, crm_kind="salesforce")
        definitions = demo_definitions(settings, crm=_crm_resource(env))
        fake.fail_next(2, status=401)  # the session "expires" mid-run: the connector logs in again
        with dg.DagsterInstance.ephemeral() as instance:
            result = run_all_days(settings, definitions, instance)
            events = event_log_text(instance, result.run_id)
        secrets = _secrets(fake)
        assert len(secrets) > 6, "the run logged in at least twice"
        emails = {c.get("Email") for c in fake.records("Contact")}
    wh = Warehouse(settings.warehouse_url)
    emails |= set(wh.read_table("product_users")["email"].dropna())
    dispose_all_engines()
    out, err = capfd.readouterr()
    assert "***@" in events  # the email previews are in what was scanned, masked
    assert_clean("the event log", events, secrets, emails)
    assert_clean("stdout and stderr", out + err, secrets, emails)
    # urllib3 logs each request's URL at DEBUG, SOQL and its emails included: secrets at every level, emails from
    # INFO up, the levels a deployment keeps
    assert_clean("Python logging", log_text(caplog.records), secrets)
    assert_clean("Python logging (INFO and up)", log_text(caplog.records, logging.INFO), secrets, emails)


def test_salesforce_auth_failures_name_no_secret(monkeypatch, caplog, capfd):
    """A refused login and a revoked session: the exceptions' text (traceback and causes), logging and output
    name the variables to fix, never their values."""
    import logging

    from pls_pipelines.lib.errors import ConfigError
    from pls_pipelines.resources.crm import build_crm_client
    from pls_pipelines.resources.crm_http import CrmApiError
    from pls_pipelines.resources.salesforce import SalesforceCrm
    from tests.secret_scan import assert_clean, exception_text, log_text

    caplog.set_level(logging.DEBUG)
    with _oauth_fake() as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_path))
        fake.password = "rotated-in-the-meantime"  # the configured password is refused from now on
        with pytest.raises(ConfigError) as refused:
            build_crm_client("salesforce", "", _oauth_env(fake))
        assert "SALESFORCE_PASSWORD" in str(refused.value) and "invalid_grant" in str(refused.value)

        fake.valid_tokens.add(TOKEN)
        client = SalesforceCrm(fake.instance_url, TOKEN)
        fake.revoke_tokens()
        with pytest.raises(CrmApiError) as revoked:
            client.read("companies")
        client.close()
        assert revoked.value.status == 401 and "access token is expired, revoked" in str(revoked.value)
        secrets = _secrets(fake, TOKEN)
    for where, text in (("the refused login", exception_text(refused.value)),
                        ("the revoked session", exception_text(revoked.value)),
                        ("Python logging", log_text(caplog.records)),
                        ("stdout and stderr", "".join(capfd.readouterr()))):
        assert_clean(where, text, secrets)


@pytest.mark.slow
def test_a_run_failing_on_the_salesforce_login_records_no_secret(tmp_path, monkeypatch, caplog, capfd):
    """The CRM read fails on a refused login (three tries: the asset's retry policy waits 5 s, then 10 s): the
    run's failure events - messages, stack traces, causes - logging and output hold none of the credentials."""
    import logging

    from pls_pipelines.assets.ingest import crm_companies
    from pls_pipelines.resources.rules import RulesResource
    from pls_pipelines.resources.warehouse import WarehouseResource
    from tests.secret_scan import assert_clean, event_log_text, log_text

    caplog.set_level(logging.DEBUG)
    with _oauth_fake() as fake:
        env = {"REQUESTS_CA_BUNDLE": str(fake.ca_path), **_oauth_env(fake)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        fake.password = "rotated-in-the-meantime"
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                [crm_companies], instance=instance, raise_on_error=False,
                resources={"crm": _crm_resource(env), "rules": RulesResource(),
                           "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")},
            )
            events = event_log_text(instance, result.run_id)
        dispose_all_engines()
        secrets = _secrets(fake)
    assert not result.success and "Salesforce login at" in events and "SALESFORCE_CLIENT_SECRET" in events
    assert "in _login" in events  # the stack traces are part of what was scanned
    assert_clean("the failed run's event log", events, secrets)
    assert_clean("Python logging", log_text(caplog.records), secrets)
    assert_clean("stdout and stderr", "".join(capfd.readouterr()), secrets)


def test_the_definitions_take_crm_secrets_only_as_environment_variables(monkeypatch):
    """What the UI shows and a run resolves: the variable's name, never a literal secret."""
    from pls_pipelines.definitions import build_resources
    from pls_pipelines.settings import CRM_ENV_VARS

    secret_fields = ("hubspot_access_token", "salesforce_access_token", "salesforce_password",
                     "salesforce_security_token", "salesforce_client_secret")
    for name in CRM_ENV_VARS:
        monkeypatch.setenv(name, "set-in-the-environment")
    crm = build_resources()["crm"]
    for field in secret_fields:
        value = getattr(crm, field)
        assert isinstance(value, dg.EnvVar) and value.env_var_name == field.upper(), field
    for name in CRM_ENV_VARS:
        monkeypatch.delenv(name)
    crm = build_resources()["crm"]
    assert all(getattr(crm, field) is None for field in secret_fields)
