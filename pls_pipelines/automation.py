"""Schedules and sensors: when the pipeline runs, and who hears about it when something goes wrong.

- `pls_daily_schedule` (on after deploy): the daily job for the last complete day, at PLS_SCHEDULE_HOUR (6) in
  PLS_SCHEDULE_TIMEZONE (UTC).
- `crm_sync_schedule` (off until switched on): the CRM sync every hour, skipped while a sync is running.
- `landing_files_sensor` (off until switched on): the day's ingest when its landing file arrives or changes.
- `run_failure_alert_sensor`, `freshness_alert_sensor` (on after deploy): Slack alerts (PLS_SLACK_WEBHOOK_URL),
  or warnings in the sensor log without a webhook.

The schedule settings are read from the environment when the code location loads (`definitions.py` imports
this module): the time zone and hour are part of the schedule's definition, which the daemon and the UI must
agree on, so a change takes a code-location reload like any other definition change. Everything else is read
when a tick runs, through the resources.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pls_pipelines.assets.common import PARTITIONS_START, daily_partitions
from pls_pipelines.lib.event_files_sql import EXTENSIONS
from pls_pipelines.resources.alerts import (
    SlackNotifier,
    check_failure_text,
    freshness_failure_text,
    run_failure_text,
)
from pls_pipelines.resources.usage_source import UsageSourceResource, _day_of  # the ingest's day naming
from pls_pipelines.settings import schedule_hour, schedule_timezone

DAILY_JOB = "pls_daily_job"
SYNC_JOB = "crm_sync_job"
USAGE_EVENTS = dg.AssetKey("usage_events")
TRIGGER_TAG = "pls/trigger"

# A run that is queued, starting, running or being cancelled still counts as "a sync is running". NOT_STARTED is
# left out: a run created but never launched (a failed launch) would otherwise hold the hourly sync off forever.
ACTIVE_RUN_STATUSES = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
# A landing file modified this recently may still be being copied: wait a tick rather than ingest half a day.
LANDING_SETTLE_SECONDS = 60
# A first look at a folder with a year of files would otherwise queue a year of full daily runs at once; the rest
# follow on the next ticks (a backfill, one run for the whole range, is the faster way to load history).
MAX_LANDING_RUNS_PER_TICK = 31
MAX_ALERTS_PER_MESSAGE = 20


# -- schedules -----------------------------------------------------------------------------------------------
def build_pls_daily_schedule(environ: Mapping[str, str] | None = None) -> dg.ScheduleDefinition:
    """pls_daily_schedule from PLS_SCHEDULE_HOUR / PLS_SCHEDULE_TIMEZONE (a ConfigError names a bad value).

    The partitions are UTC days whatever the schedule's zone (so partition keys never depend on where the code
    runs): each tick runs the last UTC day that is complete at that moment, keyed by the day, so a day is never
    run twice by the schedule (also across a DST change or a changed hour)."""
    timezone, hour = schedule_timezone(environ), schedule_hour(environ)

    @dg.schedule(
        cron_schedule=f"0 {hour} * * *",
        job_name=DAILY_JOB,
        name="pls_daily_schedule",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every day at {hour:02d}:00 {timezone} (PLS_SCHEDULE_HOUR, PLS_SCHEDULE_TIMEZONE), run the "
        "daily job for the last complete UTC day.",
    )
    def pls_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        with dg.partition_loading_context(effective_dt=context.scheduled_execution_time):
            day = daily_partitions.get_last_partition_key()
        if day is None:
            return dg.SkipReason(f"No complete day yet since the first partition ({PARTITIONS_START}).")
        return dg.RunRequest(run_key=day, partition_key=day, tags={TRIGGER_TAG: "pls_daily_schedule"})

    return pls_daily_schedule


def runs_in_progress(instance: dg.DagsterInstance, job_names: Sequence[str]) -> list[dg.DagsterRun]:
    """Runs of these jobs that are queued, starting, running or cancelling, newest first."""
    runs: list[dg.DagsterRun] = []
    for job_name in job_names:
        records = instance.get_run_records(
            dg.RunsFilter(job_name=job_name, statuses=list(ACTIVE_RUN_STATUSES)), limit=5
        )
        runs.extend(record.dagster_run for record in records)
    return runs


def build_crm_sync_schedule(environ: Mapping[str, str] | None = None) -> dg.ScheduleDefinition:
    """crm_sync_schedule: hourly, off by default; skips while crm_sync_job or pls_daily_job (which ends with the
    same sync) is in progress, so two syncs never spend the CRM's rate limit on the same records at once."""

    @dg.schedule(
        cron_schedule="30 * * * *",
        job_name=SYNC_JOB,
        name="crm_sync_schedule",
        execution_timezone=schedule_timezone(environ),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Optional: every hour at :30, sync what changed to the CRM (crm_sync_job), from the tables "
        "the last daily run left. Skipped while a CRM sync or the daily job is queued or running.",
    )
    def crm_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        busy = runs_in_progress(context.instance, (SYNC_JOB, DAILY_JOB))
        if busy:
            run = busy[0]
            return dg.SkipReason(
                f"A CRM sync is already running: {run.job_name} run {run.run_id} is {run.status.value}. This "
                f"hour's sync is skipped; the next tick tries again. (A run stuck in {run.status.value} after "
                f"its process died keeps this schedule skipping: terminate it in the UI.)"
            )
        return dg.RunRequest(tags={TRIGGER_TAG: "crm_sync_schedule"})

    return crm_sync_schedule


# -- landing files -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayFiles:
    """The event files of one day in the landing folder, as the sensor sees them (never read, only stat'ed)."""

    day: str
    count: int
    total_bytes: int
    newest_mtime_ns: int

    @property
    def fingerprint(self) -> str:
        """Changes when a file of the day is added, removed or rewritten."""
        return f"{self.newest_mtime_ns}-{self.total_bytes}-{self.count}"


def landing_day_files(events_folder: Path) -> dict[str, DayFiles]:
    """events/<day>.<ext>, events/<day>/..., events/date=<day>/... -> one DayFiles per day (the layouts the
    ingest reads, see resources/usage_source.py)."""
    stats: dict[str, list[os.stat_result]] = {}
    for entry in sorted(events_folder.iterdir()):
        day = _day_of(entry.name)
        if day is None:
            continue
        candidates = sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry]
        for file in candidates:
            if file.suffix.lower() not in EXTENSIONS:
                continue
            try:
                stats.setdefault(day.isoformat(), []).append(file.stat())
            except FileNotFoundError:  # removed between the listing and the stat
                continue
    return {
        day: DayFiles(day, len(s), sum(x.st_size for x in s), max(x.st_mtime_ns for x in s))
        for day, s in stats.items()
    }


def _ingested_after(instance: dg.DagsterInstance, day: str, mtime_ns: int) -> bool:
    """usage_events' partition `day` was materialized after its newest landing file was written."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=USAGE_EVENTS, asset_partitions=[day]), limit=1
    )
    return bool(result.records) and result.records[0].timestamp * 1e9 > mtime_ns


@dg.sensor(
    name="landing_files_sensor",
    job_name=DAILY_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the daily job for a day when its events file lands in PLS_USAGE_PATH/events or is "
    "rewritten (one run per day, keyed by the files' mtime and size). Off by default: pls_daily_schedule already "
    "runs every day; switch this on when files arrive at irregular times or late.",
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, usage_source: UsageSourceResource
) -> dg.SensorResult | dg.SkipReason:
    if usage_source.kind == "warehouse":
        return dg.SkipReason(
            "PLS_USAGE_SOURCE=warehouse: events come from a warehouse table, not landing files, so there is "
            "nothing to watch; pls_daily_schedule runs each day."
        )
    events_folder = Path(usage_source.get_source().path) / "events"  # get_source names a bad PLS_USAGE_SOURCE
    if not events_folder.is_dir():
        return dg.SkipReason(f"No folder {events_folder} yet (PLS_USAGE_PATH/events): waiting for landing files.")

    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    with dg.partition_loading_context(effective_dt=datetime.now(UTC)):
        last_day = daily_partitions.get_last_partition_key() or ""
    settled_before_ns = time.time_ns() - LANDING_SETTLE_SECONDS * 1_000_000_000
    cursor: dict[str, str] = {}
    requests: list[dg.RunRequest] = []
    settling: list[str] = []
    deferred: list[str] = []
    for day, files in sorted(landing_day_files(events_folder).items()):
        if not PARTITIONS_START <= day <= last_day:
            continue  # today (still filling) or outside the partitions: picked up once its partition exists
        if day in seen and seen[day] == files.fingerprint:
            cursor[day] = files.fingerprint
            continue
        if files.newest_mtime_ns > settled_before_ns:
            settling.append(day)
            if day in seen:
                cursor[day] = seen[day]
            continue
        if _ingested_after(context.instance, day, files.newest_mtime_ns):
            cursor[day] = files.fingerprint  # already ingested after the file was written (make run, a backfill)
            continue
        if len(requests) >= MAX_LANDING_RUNS_PER_TICK:
            deferred.append(day)
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{day}:{files.fingerprint}",
                partition_key=day,
                tags={TRIGGER_TAG: "landing_files_sensor", "pls/landing_files": str(files.count)},
            )
        )
        cursor[day] = files.fingerprint
    notes = []
    if settling:
        notes.append(f"{_days(settling)} still being written (modified in the last {LANDING_SETTLE_SECONDS} s)")
    if deferred:
        notes.append(f"{_days(deferred)} left for the next ticks (at most {MAX_LANDING_RUNS_PER_TICK} runs a tick)")
    for note in notes:
        context.log.info(note)
    new_cursor = json.dumps(cursor, sort_keys=True)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)
    return dg.SensorResult(
        skip_reason=f"No new or changed day files in {events_folder}" + (f" ({'; '.join(notes)})" if notes else ""),
        cursor=new_cursor,
    )


def _days(days: Sequence[str]) -> str:
    return days[0] if len(days) == 1 else f"{len(days)} days ({days[0]} .. {days[-1]})"


# -- alerts --------------------------------------------------------------------------------------------------
def _innermost_error(error: object) -> str | None:
    """The user's exception behind Dagster's wrapper ('Error occurred while executing op ...')."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return getattr(error, "message", None)


def _partition_label(tags: Mapping[str, str]) -> str | None:
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return None


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run of this code location to Slack (PLS_SLACK_WEBHOOK_URL): job, partition, "
    "run id, failed step and the error's first line, a link to the run; logs it as a warning without a webhook.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerts: SlackNotifier) -> None:
    run = context.dagster_run
    step_key, error = None, None
    step_failures = context.get_step_failure_events()
    if step_failures:
        step_key = step_failures[0].step_key
        error = _innermost_error(step_failures[0].step_failure_data.error)
    else:  # the run failed outside a step (launch, resources, a killed process)
        job_failure = context.failure_event.job_failure_data
        error = _innermost_error(job_failure.error) if job_failure and job_failure.error else None
        error = error or context.failure_event.message
    text = run_failure_text(
        run.job_name, run.run_id, error, alerts.ui_url, step_key=step_key, partition=_partition_label(run.tags)
    )
    alerts.notify(text, context.log)


def _is_watched(check_key: dg.AssetCheckKey, check_names: Collection[str]) -> bool:
    return "fresh" in check_key.name.lower() or check_key.name in check_names


def build_freshness_alert_sensor(
    name: str = "freshness_alert_sensor",
    check_names: Collection[str] = (),
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor that alerts on (1) every failed evaluation of an asset check whose name contains "fresh" (the
    checks of build_*_freshness_checks, `usage_events_source_fresh`) or is in `check_names`, and (2) every asset
    whose FreshnessPolicy turns FAIL (the state Dagster's freshness daemon records).

    The cursor holds, per check, the last execution seen and, per asset, when its freshness state last changed,
    so each failure is sent once. On the first tick (and for a check or asset it has not seen) only the current
    state counts: what is failing now is sent, history is not replayed. A failed post fails the tick and the
    cursor stays put, so the next tick sends it again (at least once)."""
    watched_names = frozenset(check_names)

    @dg.sensor(
        name=name,
        minimum_interval_seconds=60,
        default_status=default_status,
        description="Posts failed freshness checks and assets whose freshness policy fails to Slack "
        "(PLS_SLACK_WEBHOOK_URL); logs them as warnings without a webhook.",
    )
    def _sensor(context: dg.SensorEvaluationContext, alerts: SlackNotifier) -> dg.SensorResult | dg.SkipReason:
        if context.repository_def is None:
            return dg.SkipReason("No code location to read the asset checks from.")
        graph = context.repository_def.asset_graph
        state = json.loads(context.cursor) if context.cursor else {}
        checks_seen: dict[str, int] = state.get("checks", {})
        assets_seen: dict[str, float] = state.get("assets", {})
        texts: list[str] = []

        storage = context.instance.event_log_storage
        for check_key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
            if not _is_watched(check_key, watched_names):
                continue
            label = check_key.to_user_string()
            last_seen = checks_seen.get(label)
            history = storage.get_asset_check_execution_history(check_key, limit=1 if last_seen is None else 25)
            completed = [
                r for r in history if r.status.value != "PLANNED" and r.event is not None and r.id > (last_seen or -1)
            ]
            for record in sorted(completed, key=lambda r: r.id):
                evaluation = record.event.asset_check_evaluation
                if evaluation is not None and not evaluation.passed:
                    texts.append(
                        check_failure_text(
                            check_key.asset_key.path, check_key.name, evaluation.description, alerts.ui_url,
                            severity=evaluation.severity.value, run_id=record.run_id,
                        )
                    )
            if completed:
                checks_seen[label] = max(r.id for r in completed)

        records = context.instance.get_freshness_state_records(list(graph.get_all_asset_keys()))
        for asset_key, record in sorted(records.items(), key=lambda item: item[0].to_user_string()):
            label, changed_at = asset_key.to_user_string(), record.updated_at.timestamp()
            if changed_at <= assets_seen.get(label, float("-inf")):
                continue
            if record.freshness_state.value == "FAIL":
                texts.append(freshness_failure_text(asset_key.path, record.updated_at.astimezone(UTC), alerts.ui_url))
            assets_seen[label] = changed_at

        cursor = json.dumps({"checks": checks_seen, "assets": assets_seen}, sort_keys=True)
        if not texts:
            return dg.SensorResult(skip_reason="No new freshness failures.", cursor=cursor)
        shown = texts[:MAX_ALERTS_PER_MESSAGE]
        if len(texts) > len(shown):
            shown.append(f"... and {len(texts) - len(shown)} more: see the asset health page in the UI.")
        alerts.notify("\n\n".join(shown), context.log)
        return dg.SensorResult(skip_reason=f"Alerted on {len(texts)} freshness failure(s).", cursor=cursor)

    return _sensor


pls_daily_schedule = build_pls_daily_schedule()
crm_sync_schedule = build_crm_sync_schedule()
freshness_alert_sensor = build_freshness_alert_sensor()

SCHEDULES = [pls_daily_schedule, crm_sync_schedule]
SENSORS = [landing_files_sensor, run_failure_alert_sensor, freshness_alert_sensor]
