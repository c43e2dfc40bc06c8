"""The scan the secret tests rely on finds what it must, in the forms it travels in, and nothing else."""

import logging

import pytest

from tests.secret_scan import leaks, log_text

SECRET = "s3cr3t/p@ss word!"


@pytest.mark.parametrize("text", [f"token={SECRET}", "password=s3cr3t%2Fp%40ss%20word%21",
                                  "password=s3cr3t%2Fp%40ss+word%21", '{"p": "s3cr3t/p@ss word!"}'])
def test_a_secret_is_found_raw_url_encoded_or_json_escaped(text):
    assert leaks(text, {"SALESFORCE_PASSWORD": SECRET}) == ["SALESFORCE_PASSWORD"]


def test_emails_are_found_glued_encoded_or_in_any_case_and_masked_ones_are_not():
    emails = {"dana@acme.com", "li.wu@beta.io"}
    assert leaks("stack: ...\\nDana@Acme.com", emails=emails) == ["dana@acme.com"]
    assert leaks("q=SELECT+Id+FROM+Contact+WHERE+Email+IN+('li.wu%40beta.io')", emails=emails) == ["li.wu@beta.io"]
    assert leaks("d***@acme.com, ***@beta.io, someone@acme.com", emails=emails) == []


def test_log_text_keeps_tracebacks_and_filters_by_level():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        error = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    debug = logging.LogRecord("x", logging.DEBUG, __file__, 1, "detail %s", ("here",), None)
    assert "RuntimeError: boom" in log_text([error, debug]) and "detail here" in log_text([error, debug])
    assert "detail here" not in log_text([error, debug], logging.INFO)
