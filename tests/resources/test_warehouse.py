"""The warehouse layer against the embedded DuckDB file and the tested server warehouse, PostgreSQL."""

from datetime import date, datetime

import pandas as pd
import pytest

from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.resources.warehouse import Warehouse, dispose_all_engines, parse_warehouse_url, safe_url


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
    yield Warehouse(url)
    dispose_all_engines()


def frame(days):
    return pd.DataFrame(
        {
            "event_date": days,
            "name": ['a,"quoted"', None][: len(days)] + ["x"] * max(0, len(days) - 2),
            "amount": [1.5, None][: len(days)] + [2.0] * max(0, len(days) - 2),
            "flag": [True] * len(days),
            "at": [datetime(2026, 1, 1, 12, 30)] * len(days),
        }
    )


def test_replace_table_round_trips_types_and_nulls(warehouse):
    written = frame([date(2026, 1, 1), date(2026, 1, 2)])
    warehouse.replace_table("t_roundtrip", written)
    back = warehouse.read_table("t_roundtrip").sort_values("event_date").reset_index(drop=True)
    assert back["event_date"].tolist() == [date(2026, 1, 1), date(2026, 1, 2)]
    assert back["name"].tolist()[0] == 'a,"quoted"' and pd.isna(back["name"].tolist()[1])
    assert back["amount"].tolist()[0] == 1.5 and pd.isna(back["amount"].tolist()[1])
    assert back["flag"].tolist() == [True, True]
    assert pd.Timestamp(back["at"].iloc[0]) == pd.Timestamp(2026, 1, 1, 12, 30)


def test_replace_window_is_idempotent(warehouse):
    days = [date(2026, 1, d) for d in (1, 2, 3)]
    warehouse.replace_window("t_window", frame(days), "event_date", days[0], days[-1])
    # Re-running day 2 twice replaces it; the other days are untouched.
    for _ in range(2):
        warehouse.replace_window("t_window", frame([days[1]] * 3), "event_date", days[1], days[1])
    counts = warehouse.read_sql(
        "SELECT event_date, COUNT(*) AS n FROM t_window GROUP BY event_date ORDER BY 1"
    )
    assert counts["n"].tolist() == [1, 3, 1]


def test_bad_urls_name_the_setting_and_hide_passwords():
    with pytest.raises(ConfigError, match="PLS_WAREHOUSE_URL is not a valid SQLAlchemy URL"):
        parse_warehouse_url("not a url")
    with pytest.raises(ConfigError, match="PLS_WAREHOUSE_URL uses the database kind 'nosuchdb'"):
        parse_warehouse_url("nosuchdb://x/y")
    assert "s3cret" not in safe_url("postgresql://u:s3cret@h/db")


def test_unreachable_server_fails_with_a_clear_message_and_no_password():
    wh = Warehouse("postgresql://pls:s3cret@127.0.0.1:1/nodb?connect_timeout=2")
    with pytest.raises(ConfigError) as excinfo:
        wh.check_connection()
    message = str(excinfo.value)
    assert "PLS_WAREHOUSE_URL: cannot connect to postgresql://pls:***@127.0.0.1:1/nodb" in message
    assert "s3cret" not in message
    dispose_all_engines()
