"""The embedded state is user-only: folders 0700, database files 0600 - under the common umask 022, which would
otherwise leave every file world-readable - and older, looser files are tightened with a notice."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pytest

from pls_pipelines.dagster_instance import ensure_dagster_home
from pls_pipelines.private_files import mode_of, private_dir
from pls_pipelines.resources.local_crm import LocalCrm, companies
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines


@pytest.fixture(autouse=True)
def umask_022():
    """The usual umask, so a file created with default permissions shows as 0644 and the tests fail."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "pls"
    monkeypatch.setenv("PLS_HOME", str(path))
    return path


def modes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): mode_of(p) for p in sorted(folder.rglob("*"))}


def test_a_new_warehouse_and_its_folder_are_user_only(home):
    wh = Warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        wh.replace_table("users", pd.DataFrame({"email": ["dana@acme.com"]}))
        assert mode_of(home) == 0o700
        assert mode_of(home / "warehouse.duckdb") == 0o600
        # DuckDB writes its WAL with the umask's mode (0644); the 0700 folder is what keeps it private
        assert set(modes(home)) <= {"warehouse.duckdb", "warehouse.duckdb.wal"}, "no staging folder left behind"
    finally:
        dispose_all_engines()


def test_every_folder_made_for_a_warehouse_is_user_only(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'a' / 'b' / 'warehouse.duckdb'}")
    dispose_all_engines()
    assert (mode_of(tmp_path / "a"), mode_of(tmp_path / "a" / "b")) == (0o700, 0o700)
    assert mode_of(tmp_path / "a" / "b" / "warehouse.duckdb") == 0o600
    assert wh.dialect == "duckdb"


def test_an_older_looser_home_and_warehouse_are_tightened_with_a_notice(home, caplog):
    import duckdb

    home.mkdir(mode=0o755)
    duckdb.connect(str(home / "warehouse.duckdb")).close()
    (home / "warehouse.duckdb.wal").write_text("")
    os.chmod(home / "warehouse.duckdb", 0o644)
    with caplog.at_level(logging.WARNING):
        Warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
        dispose_all_engines()
    assert mode_of(home) == 0o700 and mode_of(home / "warehouse.duckdb") == 0o600
    notices = [r.getMessage() for r in caplog.records]
    assert any(str(home) in m and "(mode 755): made it user-only (700)" in m for m in notices), notices
    assert any("warehouse.duckdb was open to other users (mode 644)" in m for m in notices), notices
    assert all("\n" not in m for m in notices)


def test_a_folder_the_user_chose_keeps_its_mode_and_the_notice_says_what_is_exposed(tmp_path, caplog):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    with caplog.at_level(logging.WARNING):
        Warehouse(f"duckdb:///{shared / 'warehouse.duckdb'}")
        dispose_all_engines()
    assert mode_of(shared) == 0o755  # not ours to change
    assert mode_of(shared / "warehouse.duckdb") == 0o600
    assert any(".wal and .tmp files DuckDB writes" in r.getMessage() and "chmod 700" in r.getMessage()
               for r in caplog.records)


def test_the_local_crm_file_and_its_journal_are_user_only(home):
    crm = LocalCrm(f"sqlite:///{home / 'crm.sqlite'}")
    try:
        assert mode_of(home) == 0o700 and mode_of(home / "crm.sqlite") == 0o600
        with crm.engine.begin() as conn:
            conn.execute(companies.insert().values(company_id="c1", domain="acme.com"))
            journal = home / "crm.sqlite-journal"
            assert journal.exists() and mode_of(journal) == 0o600  # SQLite copies the database file's mode
    finally:
        crm.close()
    assert all(mode == 0o600 for mode in modes(home).values()), modes(home)


def test_an_older_looser_local_crm_is_tightened(home, caplog):
    home.mkdir(mode=0o755)
    LocalCrm(f"sqlite:///{home / 'crm.sqlite'}").close()
    for name in ("crm.sqlite", "crm.sqlite-journal"):
        (home / name).touch()
        os.chmod(home / name, 0o644)
    os.chmod(home, 0o755)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        LocalCrm(f"sqlite:///{home / 'crm.sqlite'}").close()
    assert modes(home) == {"crm.sqlite": 0o600, "crm.sqlite-journal": 0o600} and mode_of(home) == 0o700
    assert sum("made it user-only" in r.getMessage() for r in caplog.records) == 3


def test_the_dagster_home_under_pls_home_is_user_only(home):
    config = ensure_dagster_home(home / "dagster_home")
    assert (mode_of(home), mode_of(home / "dagster_home"), mode_of(config)) == (0o700, 0o700, 0o600)
    os.chmod(home / "dagster_home", 0o755)
    os.chmod(home, 0o755)
    ensure_dagster_home(home / "dagster_home")
    assert (mode_of(home), mode_of(home / "dagster_home")) == (0o700, 0o700)


def test_an_existing_folder_that_is_not_ours_is_left_alone(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    private_dir(theirs)
    private_dir(theirs / "new")
    assert (mode_of(theirs), mode_of(theirs / "new")) == (0o755, 0o700)
