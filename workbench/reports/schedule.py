"""Scheduled reports: ``pipelines/schedules.yml`` and ``workbench report due``.

Each schedule names a report, a cron expression (read by croniter, in the schedule's time zone),
its parameters and a period rule resolved at each fire time: ``previous_month``,
``current_month`` or a fixed ``YYYY-MM``. ``report due --at T`` runs, per schedule (and per
region when ``region: all``), every fire time in (last successful fire time, T], oldest first,
each once, recording the fire time in the ledger (``scheduled_for``):

* catch-up: missed fire times run one by one, each with its own period (at most
  ``reports.max_catch_up``, the newest ones);
* first run: with no history only the latest fire time <= T runs, unless the schedule has a
  ``start``, from which every fire time is caught up;
* a failure stops that schedule's remaining fire times, the call exits non-zero, and the next
  call starts again at the failed fire time;
* a lock per schedule (``flock``, non-blocking) makes an overlapping call skip the schedule
  instead of running it twice.

Nothing runs in the background: cron, a systemd timer or Airflow calls ``report due``.
"""

from __future__ import annotations

import fcntl
import logging
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.config import ConfigError, Settings
from workbench.errors import ParameterError, WorkbenchError
from workbench.months import add_months, parse_month
from workbench.reports.entries import EntryName, named_entries
from workbench.reports.ledger import read_runs
from workbench.reports.paths import region_folder
from workbench.reports.runner import RunOutcome, check_report, execute_report, list_regions

log = logging.getLogger(__name__)

PERIOD_RULES = ("previous_month", "current_month")
EACH_REGION = "all"


class ScheduleError(ConfigError):
    """A schedules file or entry is wrong; the message names the file, entry and key."""


class Schedule(BaseModel):
    """One scheduled report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: EntryName
    subject: str
    cron: str
    period: str = "previous_month"
    parameters: dict[str, Any] = Field(default_factory=dict)
    region: str | None = None  # a region id, "all" (one run per region) or none (all rolled up)
    timezone: str = "UTC"
    start: datetime | None = None  # first run: catch up from here instead of the latest only
    enabled: bool = True
    owner: str | None = None  # a dashboards user (with email) told when a run fails

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression (minute hour dom mon dow)")
        return value

    @field_validator("period")
    @classmethod
    def _check_period(cls, value: str) -> str:
        if value not in PERIOD_RULES:
            try:
                parse_month(value)
            except ValueError:
                raise ValueError(
                    f"{value!r}: expected previous_month, current_month or a month YYYY-MM"
                ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Asia/Shanghai)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _as_utc(moment: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A timezone-aware UTC time (a naive one is read in ``zone``, default UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    return moment.astimezone(UTC)


def parse_at(text: str | None) -> datetime:
    """``--at``: an ISO time (naive means UTC); now when not given."""
    if text is None:
        return datetime.now(UTC)
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ParameterError(
            f"--at {text!r}: expected an ISO time such as 2026-11-05T06:00"
        ) from None


def schedules_path(settings: Settings) -> Path:
    return settings.resolve(settings.reports.schedules)


def load_schedules(settings: Settings, path: Path | None = None) -> list[Schedule]:
    """Read and check every schedule (cron, period rule, time zone, subject and parameters).

    Raises:
        ScheduleError: naming the file, the entry and the key at fault.
    """
    path = path or schedules_path(settings)
    schedules: list[Schedule] = []
    for label, schedule in named_entries(path, "schedules", Schedule, ScheduleError):
        owner = settings.dashboards.users.get(schedule.owner or "")
        if schedule.owner is not None and (owner is None or owner.email is None):
            why = "is not in dashboards.users" if owner is None else "has no email"
            raise ScheduleError(f"{label}.owner: {schedule.owner!r} {why}")
        region = None if _fans_out(schedule) else schedule.region
        try:
            check_report(schedule.subject, schedule.parameters, settings, region)
        except ParameterError as exc:
            raise ScheduleError(f"{label}: {exc}") from None
        schedules.append(schedule)
    return schedules


def resolve_period(rule: str, fire_time: datetime, zone: ZoneInfo) -> str:
    """The month a fire time reports on (its month read in the schedule's time zone)."""
    local = fire_time.astimezone(zone)
    month = f"{local.year:04d}-{local.month:02d}"
    if rule == "current_month":
        return month
    if rule == "previous_month":
        return add_months(month, -1)
    return parse_month(rule)


def fire_times(
    schedule: Schedule, after: datetime | None, at: datetime, limit: int
) -> tuple[list[datetime], int]:
    """Fire times in (after, at], oldest first, as UTC; ``after=None``: the latest one only
    (or every one from ``start``).

    Returns:
        the fire times to run (the newest ``limit``) and how many older ones were dropped.
    """
    from croniter import croniter

    zone = schedule.zone
    at_local = _as_utc(at).astimezone(zone)
    if after is None and schedule.start is None:
        latest = croniter(schedule.cron, at_local + timedelta(seconds=1)).get_prev(datetime)
        return [_as_utc(latest)], 0
    if after is None:
        after = _as_utc(schedule.start, zone) - timedelta(seconds=1)  # start itself may fire
    found: deque[datetime] = deque(maxlen=limit)
    total = 0
    times = croniter(schedule.cron, _as_utc(after).astimezone(zone))
    while (moment := times.get_next(datetime)) <= at_local:
        found.append(_as_utc(moment))
        total += 1
    return list(found), total - len(found)


def last_fire_time(settings: Settings, schedule: str, region: str | None) -> datetime | None:
    """Where a schedule's track resumes: its last successful fire time; with only failures, just
    before the first failed one (so it is retried); None without history."""
    records = [
        r
        for r in read_runs(settings, schedule=schedule)
        if r.get("region") == region and r.get("scheduled_for")
    ]
    ok = [datetime.fromisoformat(r["scheduled_for"]) for r in records if r.get("status") == "ok"]
    if ok:
        return max(ok)
    if records:
        first = min(datetime.fromisoformat(r["scheduled_for"]) for r in records)
        return first - timedelta(seconds=1)
    return None


@dataclass
class DueResult:
    """What ``report due`` did for one schedule."""

    schedule: str
    state: str  # ran | nothing due | locked | failed | planned
    outcomes: list[RunOutcome] = field(default_factory=list)
    planned: list[tuple[str | None, str, str]] = field(default_factory=list)  # region, time, period
    dropped: int = 0
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.state == "failed"


@contextmanager
def schedule_lock(settings: Settings, name: str) -> Iterator[bool]:
    """Hold the schedule's lock file without waiting; yields False when another call holds it."""
    path = settings.reports_dir / "_locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fans_out(schedule: Schedule) -> bool:
    return (schedule.region or "").lower() == EACH_REGION


def _regions(settings: Settings, schedule: Schedule) -> list[str | None]:
    if _fans_out(schedule):
        return list(list_regions(settings))
    return [region_folder(schedule.region)]


def run_schedule(
    settings: Settings, schedule: Schedule, at: datetime, *, dry_run: bool = False
) -> DueResult:
    """Run one schedule's due fire times (see the module docstring)."""
    result = DueResult(schedule.name, "nothing due")
    lock = nullcontext(True) if dry_run else schedule_lock(settings, schedule.name)
    with lock as held:
        if not held:
            result.state = "locked"
            result.message = "another `report due` is running this schedule; skipped"
            log.warning("%s: %s", schedule.name, result.message)
            return result
        for region in _regions(settings, schedule):
            after = last_fire_time(settings, schedule.name, region)
            times, dropped = fire_times(schedule, after, at, settings.reports.max_catch_up)
            result.dropped += dropped
            if dropped:
                log.warning(
                    "%s: %d missed fire times older than the last %d are not caught up",
                    schedule.name,
                    dropped,
                    settings.reports.max_catch_up,
                )
            for moment in times:
                period = resolve_period(schedule.period, moment, schedule.zone)
                result.planned.append((region, moment.isoformat(), period))
                if dry_run:
                    continue
                outcome = execute_report(
                    schedule.subject,
                    period,
                    schedule.parameters,
                    settings,
                    region=region,
                    schedule=schedule.name,
                    scheduled_for=moment.isoformat(),
                )
                result.outcomes.append(outcome)
                if not outcome.ok:
                    break  # later fire times wait: the next call retries this one first
        if dry_run:
            result.state = "planned" if result.planned else "nothing due"
        elif any(not o.ok for o in result.outcomes):
            result.state = "failed"
        elif result.outcomes:
            result.state = "ran"
    return result


def run_due(
    settings: Settings,
    at: datetime | None = None,
    *,
    names: list[str] | None = None,
    path: Path | None = None,
    dry_run: bool = False,
) -> list[DueResult]:
    """Run every enabled schedule's due fire times at ``at`` (default now), one schedule after
    another. A failure in one schedule does not stop the others."""
    at = _as_utc(at or datetime.now(UTC))
    schedules = load_schedules(settings, path)
    known = [s.name for s in schedules]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise ParameterError(f"--only {unknown[0]!r}: no such schedule ({', '.join(known)})")
    chosen = [s for s in schedules if s.enabled and (not names or s.name in names)]
    results = []
    for schedule in chosen:
        try:
            results.append(run_schedule(settings, schedule, at, dry_run=dry_run))
        except WorkbenchError as exc:  # e.g. no regions to fan out over: the others still run
            log.error("%s: %s", schedule.name, exc)
            results.append(DueResult(schedule.name, "failed", message=str(exc)))
    return results
