"""Landing files: where product usage arrives (workspaces.csv, users.csv, events/YYYY-MM-DD.jsonl).

Events are read as raw lines, not parsed here: parsing and validation are domain rules (lib/events.py), and a
line that does not parse must still reach the quarantine table verbatim.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from pls_pipelines.lib.errors import ConfigError

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")


class LandingFiles:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def check(self) -> None:
        if not (self.path / "workspaces.csv").exists() or not (self.path / "users.csv").exists():
            raise ConfigError(
                f"PLS_USAGE_PATH={self.path}: no workspaces.csv/users.csv there. Point PLS_USAGE_PATH at your "
                f"landing folder, or run `pls demo-data` to generate the demo data set."
            )

    def read_workspaces(self) -> pd.DataFrame:
        self.check()
        return pd.read_csv(self.path / "workspaces.csv", dtype=str, keep_default_na=False, na_values=[""])

    def read_users(self) -> pd.DataFrame:
        self.check()
        return pd.read_csv(self.path / "users.csv", dtype=str, keep_default_na=False, na_values=[""])

    def event_file(self, day: date) -> Path:
        return self.path / "events" / f"{day.isoformat()}.jsonl"

    def read_event_lines(self, day: date) -> list[str]:
        """The day's raw lines; a missing file means no events that day (a quiet Sunday), not an error."""
        file = self.event_file(day)
        if not file.exists():
            return []
        with file.open(encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in handle if line.strip()]

    def available_days(self) -> list[date]:
        folder = self.path / "events"
        if not folder.is_dir():
            return []
        days = [date.fromisoformat(m.group(1)) for f in folder.iterdir() if (m := _DAY_FILE.match(f.name))]
        return sorted(days)


class UsageSourceResource(dg.ConfigurableResource):
    """Where product usage lands: a folder of landing files."""

    path: str = Field(
        default=".pls/demo/landing",
        description="Folder with workspaces.csv, users.csv and events/YYYY-MM-DD.jsonl (env PLS_USAGE_PATH).",
    )

    def get_source(self) -> LandingFiles:
        return LandingFiles(self.path)
