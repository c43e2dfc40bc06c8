"""Where the static HTML report is written (`PLS_REPORT_PATH`, default `$PLS_HOME/report/index.html`)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from pls_pipelines.settings import default_report_path


class ReportResource(dg.ConfigurableResource):
    """Where the static HTML report goes."""

    path: str = Field(
        default=str(default_report_path(Path(".pls"))),
        description="File the HTML report is written to on every run (env PLS_REPORT_PATH; default "
        "$PLS_HOME/report/index.html). The folder is created when missing.",
    )
