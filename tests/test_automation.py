"""Schedules, sensors and alerts: the schedule settings, the hourly sync's skip, the landing-files sensor, the
Slack notifier against a loopback receiver, the alert sensors, and the local instance's pool limit."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pls_pipelines.automation import (
    build_crm_sync_schedule,
    build_freshness_alert_sensor,
    build_pls_daily_schedule,
    crm_sync_schedule,
    landing_files_sensor,
    run_failure_alert_sensor,
)
from pls_pipelines.dagster_instance import INSTANCE_YAML, ensure_dagster_home
from pls_pipelines.definitions import _setting, defs
from pls_pipelines.lib.errors import ConfigError
from pls_pipelines.resources.alerts import AlertDeliveryError, SlackNotifier, build_slack_notifier
from pls_pipelines.resources.usage_source import UsageSourceResource
from pls_pipelines.settings import ENV_VARS

SECRET_PATH = "/services/T0PLS/B0TEST/s3cr3t-w3bh00k-t0ken"
UI_URL = "http://dagster.example:3000"


# -- a loopback Slack receiver -------------------------------------------------------------------------------
class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers from a script of (status, body, headers)
    (then 200 "ok", as Slack's incoming webhooks do)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.script: queue.Queue = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(
                    {"path": self.path, "content_type": self.headers.get("Content-Type"), "json": json.loads(body)}
                )
                status, text, headers = receiver.script.get_nowait() if not receiver.script.empty() else (200, "ok", {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def answer(self, status: int, text: str, times: int = 1, **headers: str) -> None:
        for _ in range(times):
            self.script.put((status, text, headers))

    @property
    def texts(self) -> list[str]:
        return [post["json"]["text"] for post in self.posts]


@pytest.fixture
def slack() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A throwaway instance on disk (schedule contexts need one they can reference, not an in-memory one)."""
    with dg.instance_for_test() as inst:
        yield inst


def _notifier(url: str = "") -> SlackNotifier:
    return SlackNotifier(webhook_url=url, ui_url=UI_URL)


# -- schedule settings ---------------------------------------------------------------------------------------
def test_the_daily_schedule_defaults_to_06_00_utc_and_is_on_after_deploy():
    schedule = build_pls_daily_schedule({})
    assert schedule.name == "pls_daily_schedule" and schedule.job_name == "pls_daily_job"
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_timezone_and_hour_come_from_the_environment():
    env = {"PLS_SCHEDULE_TIMEZONE": "America/New_York", "PLS_SCHEDULE_HOUR": "7"}
    schedule = build_pls_daily_schedule(env)
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.execution_timezone == "America/New_York"
    assert "07:00 America/New_York" in schedule.description
    assert build_crm_sync_schedule(env).execution_timezone == "America/New_York"
    for name in ("PLS_SCHEDULE_TIMEZONE", "PLS_SCHEDULE_HOUR", "PLS_SLACK_WEBHOOK_URL", "PLS_UI_URL"):
        assert name in ENV_VARS


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America", "utc", "+02:00"])
def test_an_invalid_time_zone_names_the_variable(zone):
    with pytest.raises(ConfigError, match=r"PLS_SCHEDULE_TIMEZONE=.*is not a time zone.*Europe/Berlin"):
        build_pls_daily_schedule({"PLS_SCHEDULE_TIMEZONE": zone})


@pytest.mark.parametrize("hour", ["24", "-1", "six", "6.5"])
def test_an_invalid_hour_names_the_variable(hour):
    with pytest.raises(ConfigError, match=r"PLS_SCHEDULE_HOUR=.*0-23"):
        build_pls_daily_schedule({"PLS_SCHEDULE_HOUR": hour})


@pytest.mark.parametrize(
    ("zone", "local_time", "day"),
    [
        ("UTC", datetime(2026, 3, 10, 6), "2026-03-09"),
        ("Europe/Berlin", datetime(2026, 3, 10, 6), "2026-03-09"),  # 05:00 UTC
        ("America/Los_Angeles", datetime(2026, 3, 10, 6), "2026-03-09"),  # 13:00 UTC
        ("Asia/Tokyo", datetime(2026, 3, 10, 6), "2026-03-08"),  # 21:00 UTC on the 9th: the 9th is not complete
    ],
)
def test_each_tick_runs_the_last_complete_utc_day(zone, local_time, day):
    schedule = build_pls_daily_schedule({"PLS_SCHEDULE_TIMEZONE": zone})
    context = dg.build_schedule_context(scheduled_execution_time=local_time.replace(tzinfo=ZoneInfo(zone)))
    request = schedule(context)
    assert request.partition_key == day and request.run_key == day


# -- the hourly CRM sync -------------------------------------------------------------------------------------
def test_crm_sync_schedule_skips_while_a_sync_is_running(instance):
    assert crm_sync_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert crm_sync_schedule.job_name == "crm_sync_job"
    request = crm_sync_schedule(dg.build_schedule_context(instance=instance))
    assert isinstance(request, dg.RunRequest)

    # (a QUEUED run record needs the origin of a code location: STARTING stands for "launched, not done")
    in_progress = (("crm_sync_job", dg.DagsterRunStatus.STARTED), ("pls_daily_job", dg.DagsterRunStatus.STARTING))
    for job_name, status in in_progress:
        run = instance.add_run(dg.DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), status=status))
        skip = crm_sync_schedule(dg.build_schedule_context(instance=instance))
        assert isinstance(skip, dg.SkipReason)
        assert "already running" in skip.skip_message and run.run_id in skip.skip_message
        assert job_name in skip.skip_message
        instance.report_run_failed(run)  # finished: no longer in the way

    assert isinstance(crm_sync_schedule(dg.build_schedule_context(instance=instance)), dg.RunRequest)


# -- landing files -------------------------------------------------------------------------------------------
def _land(path: Path, content: str, age_seconds: float = 3600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    then = time.time() - age_seconds
    os.utime(path, (then, then))


def _tick(instance, landing: Path, cursor: str | None, kind: str = "files"):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"usage_source": UsageSourceResource(kind=kind, path=str(landing))}
    )
    return landing_files_sensor(context)


def test_landing_sensor_requests_one_run_per_new_day_file_then_none_then_after_a_rewrite(tmp_path, instance):
    landing = tmp_path / "landing"
    events = landing / "events"
    _land(events / "2025-03-01.jsonl", '{"event_id": "e1"}\n')
    _land(events / "2025-03-02" / "part-0001.csv", "event_id\ne2\n")
    _land(events / "date=2025-03-03" / "late.parquet", "not parsed by the sensor")
    _land(events / "README.txt", "not an events file")
    today = datetime.now(UTC).date().isoformat()
    _land(events / f"{today}.jsonl", '{"event_id": "e3"}\n')  # today's partition does not exist yet

    first = _tick(instance, landing, None)
    assert landing_files_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert [r.partition_key for r in first.run_requests] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert all(r.run_key.startswith(f"{r.partition_key}:") for r in first.run_requests)
    assert {r.tags["pls/trigger"] for r in first.run_requests} == {"landing_files_sensor"}

    second = _tick(instance, landing, first.cursor)
    assert not second.run_requests
    assert "No new or changed day files" in second.skip_reason.skip_message

    _land(events / "2025-03-02" / "part-0001.csv", "event_id\ne2\ne2b\n", age_seconds=120)  # rewritten
    third = _tick(instance, landing, second.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2025-03-02"]
    assert third.run_requests[0].run_key != first.run_requests[1].run_key
    assert not _tick(instance, landing, third.cursor).run_requests


def test_landing_sensor_waits_for_a_file_still_being_written(tmp_path, instance):
    landing = tmp_path / "landing"
    _land(landing / "events" / "2025-03-01.jsonl", '{"event_id": "e1"}\n', age_seconds=5)
    waiting = _tick(instance, landing, None)
    assert not waiting.run_requests and "still being written" in waiting.skip_reason.skip_message
    _land(landing / "events" / "2025-03-01.jsonl", '{"event_id": "e1"}\n', age_seconds=600)
    assert [r.partition_key for r in _tick(instance, landing, waiting.cursor).run_requests] == ["2025-03-01"]


def test_landing_sensor_leaves_out_days_ingested_after_their_file_was_written(tmp_path, instance):
    landing = tmp_path / "landing"
    _land(landing / "events" / "2025-03-01.jsonl", '{"event_id": "e1"}\n')
    _land(landing / "events" / "2025-03-02.jsonl", '{"event_id": "e2"}\n')
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="usage_events", partition="2025-03-01"))
    result = _tick(instance, landing, None)
    assert [r.partition_key for r in result.run_requests] == ["2025-03-02"]
    assert "2025-03-01" in json.loads(result.cursor)  # seen: no run for it on later ticks either


def test_landing_sensor_skips_with_the_warehouse_usage_source(tmp_path, instance):
    skip = _tick(instance, tmp_path, None, kind="warehouse")
    assert isinstance(skip, dg.SkipReason) and "PLS_USAGE_SOURCE=warehouse" in skip.skip_message
    missing = _tick(instance, tmp_path / "nowhere", None)
    assert "waiting for landing files" in missing.skip_message


# -- the Slack notifier --------------------------------------------------------------------------------------
def test_the_notifier_posts_the_text_as_json(slack):
    assert _notifier(slack.url).notify("pls_daily_job failed") is True
    assert slack.posts == [
        {"path": SECRET_PATH, "content_type": "application/json", "json": {"text": "pls_daily_job failed"}}
    ]


def test_the_notifier_retries_after_a_500(slack):
    slack.answer(500, "rollup_error", **{"Retry-After": "0"})
    assert _notifier(slack.url).notify("second time lucky") is True
    assert slack.texts == ["second time lucky", "second time lucky"]


def test_without_a_webhook_the_alert_is_logged_as_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="pls_pipelines.resources.alerts"):
        assert _notifier("").notify("crm_sync_job failed: HTTP 401") is False
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.WARNING, "crm_sync_job failed: HTTP 401")]


def test_the_webhook_url_never_reaches_logs_or_exceptions(slack, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request's path at DEBUG: the secret part of the URL
    notifier = _notifier(slack.url)
    notifier.notify("delivered")
    slack.answer(500, "rollup_error", times=3, **{"Retry-After": "0"})
    with pytest.raises(AlertDeliveryError, match="HTTP 500 after 3 attempts: rollup_error") as exhausted:
        notifier.notify("lost")
    slack.answer(404, f"no_service {slack.url}")  # even a body that echoes the URL
    with pytest.raises(AlertDeliveryError, match="HTTP 404: no_service") as refused:
        notifier.notify("refused")
    assert len(slack.posts) == 1 + 3 + 1  # a 404 is not retried

    port = slack.server.server_address[1]
    slack.server.server_close()  # nothing listens any more: connection refused
    closed = SlackNotifier(webhook_url=f"http://127.0.0.1:{port}{SECRET_PATH}")
    with pytest.raises(AlertDeliveryError, match="ConnectionError after 3 attempts") as unreachable:
        closed.notify("nobody home")

    for exc in (exhausted.value, refused.value, unreachable.value):
        said = "".join(traceback.format_exception(exc)) + repr(exc)
        assert SECRET_PATH not in said and "s3cr3t" not in said
        assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert "urllib3" in caplog.text  # the DEBUG lines were there, redacted
    assert "s3cr3t" not in caplog.text and SECRET_PATH not in caplog.text


# -- the alert sensors ---------------------------------------------------------------------------------------
def test_the_run_failure_sensor_posts_the_job_the_step_and_the_error(slack, instance):
    @dg.asset
    def crm_companies() -> None:
        raise ValueError("HubSpot answered 401: the token was revoked\n  (a second line the alert leaves out)")

    job = dg.Definitions(
        assets=[crm_companies], jobs=[dg.define_asset_job("pls_daily_job", selection=[crm_companies])]
    ).resolve_job_def("pls_daily_job")
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags={"dagster/partition": "2025-03-01"})
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"alerts": _notifier(slack.url)},
    ).for_run_failure()
    run_failure_alert_sensor(context)

    assert run_failure_alert_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    (text,) = slack.texts
    run_id = result.run_id
    assert text.splitlines() == [
        f":red_circle: Dagster run failed: *pls_daily_job* (partition 2025-03-01), run {run_id}",
        "Step crm_companies: ValueError: HubSpot answered 401: the token was revoked",
        f"Open in Dagster: {UI_URL}/runs/{run_id}",
    ]


@pytest.fixture
def checked_asset():
    """An asset with a failing freshness check, a failing check named in the sensor's list and a failing check
    the sensor does not watch."""

    @dg.asset
    def usage_events() -> None:
        return None

    def failing(name: str, description: str):
        @dg.asset_check(asset=usage_events, name=name)
        def _check() -> dg.AssetCheckResult:
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description=description)

        return _check

    checks = [
        failing("usage_events_freshness", "The newest partition is 30 hours old\n(details)"),
        failing("usage_events_source_rows", "The source sent no rows"),
        failing("usage_events_row_count_change", "Rows changed by 60%"),
    ]
    return dg.Definitions(assets=[usage_events], asset_checks=checks), [usage_events, *checks]


def test_the_freshness_alert_sensor_posts_each_failed_freshness_check_once(slack, instance, checked_asset):
    definitions, selection = checked_asset
    sensor = build_freshness_alert_sensor(check_names=("usage_events_source_rows",))

    def tick(cursor):
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=definitions, resources={"alerts": _notifier(slack.url)}
        )
        return sensor(context)

    quiet = tick(None)
    assert not slack.posts and "No new freshness failures" in quiet.skip_reason.skip_message

    dg.materialize(selection, instance=instance)
    first = tick(quiet.cursor)
    (text,) = slack.texts
    assert "Asset check failed (WARN): *usage_events* / usage_events_freshness" in text
    assert "The newest partition is 30 hours old" in text and "(details)" not in text
    assert "*usage_events* / usage_events_source_rows" in text and "The source sent no rows" in text
    assert "row_count_change" not in text  # neither "fresh" in its name nor in the list
    assert f"{UI_URL}/assets/usage_events?view=checks" in text

    tick(first.cursor)
    assert len(slack.posts) == 1  # nothing new, nothing sent

    dg.materialize(selection, instance=instance)  # the checks fail again: a new failure
    tick(first.cursor)
    assert len(slack.posts) == 2


def test_the_freshness_alert_sensor_posts_an_asset_whose_freshness_policy_fails(slack, instance, checked_asset):
    # The event Dagster's freshness daemon records when an asset's FreshnessPolicy changes state.
    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

    definitions, _ = checked_asset
    sensor = build_freshness_alert_sensor()
    failed_at = datetime.now(UTC) - timedelta(minutes=3)
    instance._report_runless_asset_event(  # what the daemon calls
        asset_event=FreshnessStateChange(
            key=dg.AssetKey("usage_events"), previous_state=FreshnessState.PASS, new_state=FreshnessState.FAIL,
            state_change_timestamp=failed_at.timestamp(),
        )
    )
    alerts = {"alerts": _notifier(slack.url)}
    result = sensor(dg.build_sensor_context(instance=instance, definitions=definitions, resources=alerts))
    (text,) = slack.texts
    assert f"*usage_events* is late: its freshness policy fails since {failed_at:%Y-%m-%d %H:%M} UTC" in text
    assert f"{UI_URL}/assets/usage_events" in text
    sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor, definitions=definitions, resources=alerts))
    assert len(slack.posts) == 1


def test_alerts_without_a_webhook_go_to_the_sensor_log(instance, checked_asset, capfd):
    definitions, selection = checked_asset
    dg.materialize(selection, instance=instance)
    capfd.readouterr()
    sensor = build_freshness_alert_sensor()
    sensor(dg.build_sensor_context(instance=instance, definitions=definitions, resources={"alerts": _notifier()}))
    logged = capfd.readouterr().err
    assert "WARNING - :warning: Asset check failed (WARN): *usage_events* / usage_events_freshness" in logged


# -- the code location and the local instance ----------------------------------------------------------------
def test_the_code_location_has_the_schedules_and_sensors():
    repo = defs.get_repository_def()
    assert {s.name: s.default_status.value for s in repo.schedule_defs} == {
        "pls_daily_schedule": "RUNNING",
        "crm_sync_schedule": "STOPPED",
    }
    sensors = {s.name: s.default_status.value for s in repo.sensor_defs}
    assert sensors["landing_files_sensor"] == "STOPPED"
    assert sensors["run_failure_alert_sensor"] == "RUNNING"
    assert sensors["freshness_alert_sensor"] == "RUNNING"


def test_the_webhook_reaches_dagster_as_an_environment_variable_name(monkeypatch):
    monkeypatch.setenv("PLS_SLACK_WEBHOOK_URL", f"https://hooks.slack.com{SECRET_PATH}")
    notifier = build_slack_notifier(_setting)
    assert isinstance(notifier.webhook_url, dg.EnvVar)
    assert notifier.webhook_url.env_var_name == "PLS_SLACK_WEBHOOK_URL"
    monkeypatch.delenv("PLS_SLACK_WEBHOOK_URL")
    assert build_slack_notifier(_setting).webhook_url == ""


def test_the_local_instance_limits_the_crm_api_pool_to_one(tmp_path):
    home = tmp_path / "dagster_home"
    config = ensure_dagster_home(home)
    assert config.read_text() == INSTANCE_YAML

    @dg.asset(pool="crm_api")
    def crm_company_sync() -> None:
        return None

    with dg.DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity.value == "op"
        assert concurrency.run_queue_config.max_concurrent_runs == 1
        assert dg.materialize([crm_company_sync], instance=instance).success  # claims the slot, gives it back
        info = instance.event_log_storage.get_concurrency_info("crm_api")
        assert info.slot_count == 1 and not info.claimed_slots


def test_dagster_yaml_is_written_when_missing_or_empty_and_never_over_your_own(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").touch()  # what earlier versions of make run left
    assert ensure_dagster_home(home).read_text() == INSTANCE_YAML
    (home / "dagster.yaml").write_text(INSTANCE_YAML.replace("300", "600"))  # an older version of ours
    assert ensure_dagster_home(home).read_text() == INSTANCE_YAML
    own = "storage:\n  sqlite:\n    base_dir: /srv/dagster\n"
    (home / "dagster.yaml").write_text(own)
    assert ensure_dagster_home(home).read_text() == own
