"""Shared fixtures: PostgreSQL (required in CI), isolated PLS_HOME folders."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa


def _postgres_base_url() -> str | None:
    return os.environ.get("PLS_TEST_POSTGRES_URL") or None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards.

    Skips without PLS_TEST_POSTGRES_URL, unless PLS_REQUIRE_POSTGRES=1 (CI), where a skip would hide a
    broken server warehouse and so fails instead.
    """
    base = _postgres_base_url()
    if base is None:
        if os.environ.get("PLS_REQUIRE_POSTGRES") == "1":
            pytest.fail("PLS_REQUIRE_POSTGRES=1 but PLS_TEST_POSTGRES_URL is not set")
        pytest.skip("set PLS_TEST_POSTGRES_URL to run the PostgreSQL warehouse tests")
    schema = f"pls_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("PLS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at PLS_TEST_POSTGRES_URL is not reachable: {exc.orig}")
        pytest.skip("PostgreSQL not reachable")
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from pls_pipelines.resources.warehouse import dispose_all_engines

        dispose_all_engines()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
