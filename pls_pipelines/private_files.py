"""User-only folders and files for the embedded state: the DuckDB warehouse, the local CRM, the Dagster home.

They hold what a shared machine's other users must not read: product users' emails and names, CRM contacts,
run logs. With the usual umask (022) every new file would be world-readable, and changing the process umask is
not a library's business (it changes every file the host process writes), so each folder is created 0700 and
each database file 0600 by the code that creates it. A folder that already existed is the user's and keeps
its mode - except PLS_HOME and DAGSTER_HOME, which are ours: an older, looser one is tightened with a notice,
as is a looser database file. Inside a 0700 folder the databases' own side files (DuckDB's .wal and .tmp,
SQLite's -journal, -wal and -shm) are out of other users' reach whatever their mode.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from pls_pipelines.settings import load_settings

logger = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def mode_of(path: Path | str) -> int:
    """The permission bits of `path` (0o644, ...)."""
    return stat.S_IMODE(os.stat(path).st_mode)


def tighten(path: Path | str, allowed: int) -> bool:
    """Drop the permission bits of `path` beyond `allowed` (0o600: none for group and others), with a one-line
    notice; True when it changed. A path we may not chmod (another user's) is reported, not fatal."""
    current = mode_of(path)
    if not current & ~allowed:
        return False
    try:
        os.chmod(path, current & allowed)
    except PermissionError:
        logger.warning("%s is readable by other users (mode %03o) and could not be made user-only: chmod %03o %s",
                       path, current, current & allowed, path)
        return False
    logger.warning("%s was open to other users (mode %03o): made it user-only (%03o)", path, current,
                   current & allowed)
    return True


def private_dir(path: Path | str, *, ours: bool = False) -> Path:
    """Create `path` and any missing parents user-only (0700). An existing folder keeps its mode unless `ours`
    (PLS_HOME, DAGSTER_HOME): then it is tightened, with a notice."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # another process made it in the meantime: theirs to set up
            continue
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode went through the umask, which may also drop our own bits
    if ours and not missing:
        tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path | str) -> bool:
    """Create `path` empty and user-only (0600) if it does not exist (True), else tighten it (False). Only for
    formats that take an empty file as a new one (SQLite); DuckDB refuses one (see resources/warehouse.py)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        tighten(path, PRIVATE_FILE)
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)  # exactly 0600, whatever the umask
    finally:
        os.close(fd)
    return True


def tighten_side_files(database: Path | str, suffixes: tuple[str, ...]) -> None:
    """Tighten the side files of `database` that exist now (a journal or WAL left by an earlier process)."""
    for suffix in suffixes:
        side = Path(f"{database}{suffix}")
        if side.is_file():
            tighten(side, PRIVATE_FILE)


def is_pls_home(folder: Path | str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `folder` is PLS_HOME (default .pls): the folder of the embedded state, which is ours to tighten."""
    home = load_settings(environ).home
    try:
        return Path(folder).resolve() == home.resolve()
    except OSError:
        return False


def shared_with_others(folder: Path | str) -> bool:
    """Whether other users may enter `folder` (group or other execute bit)."""
    return bool(mode_of(folder) & (stat.S_IXGRP | stat.S_IXOTH))
