"""Schedules and ``report due`` with time travel (``--at``): due, not due, catch-up, first run,
a failing report retried, and overlapping invocations; real kernels run the test notebooks."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from workbench.errors import ParameterError
from workbench.reports.ledger import read_runs
from workbench.reports.schedule import (
    Schedule,
    ScheduleError,
    fire_times,
    load_schedules,
    parse_at,
    resolve_period,
    run_due,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _write(settings, *entries: dict) -> None:
    path = settings.root / "pipelines" / "schedules.yml"
    path.write_text(yaml.safe_dump({"schedules": list(entries)}, sort_keys=False))


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    config = str(settings.root / "pipelines" / "config.yml")
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--config", config, *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_fire_times_follow_cron_in_the_schedule_time_zone():
    schedule = Schedule(
        name="m", subject="kpi_overview", cron="0 6 2 * *", timezone="Asia/Shanghai"
    )
    at = datetime(2026, 11, 5, tzinfo=UTC)
    # independently: 06:00 Shanghai time on the 2nd of each month
    expected = [datetime(2026, m, 2, 6, tzinfo=SHANGHAI).astimezone(UTC) for m in (8, 9, 10, 11)]
    times, dropped = fire_times(schedule, datetime(2026, 7, 15, tzinfo=UTC), at, limit=12)
    assert (times, dropped) == (expected, 0)
    assert [resolve_period("previous_month", t, SHANGHAI) for t in times] == [
        f"2026-{m - 1:02d}" for m in (8, 9, 10, 11)
    ]
    assert resolve_period("current_month", times[0], SHANGHAI) == "2026-08"
    assert resolve_period("2025-12", times[0], SHANGHAI) == "2025-12"
    # a catch-up keeps the newest `limit` fire times and says how many it dropped
    assert fire_times(schedule, datetime(2026, 7, 15, tzinfo=UTC), at, limit=2) == (expected[2:], 2)
    # first run without history: the latest fire time only; one exactly at `at` counts
    assert fire_times(schedule, None, at, 12) == ([expected[-1]], 0)
    assert fire_times(schedule, None, expected[-1], 12) == ([expected[-1]], 0)
    # ... or every one from `start` (start itself included when it fires)
    started = schedule.model_copy(update={"start": datetime(2026, 10, 2, 6, tzinfo=SHANGHAI)})
    assert fire_times(started, None, at, 12) == (expected[2:], 0)


def test_bad_schedules_are_refused_naming_the_entry_and_key(report_project):
    good = {"name": "a", "subject": "ok_report", "cron": "0 6 * * *"}
    cases = [
        (
            {"name": "b", "subject": "ok_report", "cron": "61 6 * * *"},
            r"schedules\[1\] \(b\)\.cron",
        ),
        ({**good, "name": "b", "timezone": "Mars/Olympus"}, r"\(b\)\.timezone: .*Mars/Olympus"),
        ({**good, "name": "b", "period": "last_month"}, r"\(b\)\.period: 'last_month'"),
        ({**good, "name": "b", "every": "day"}, r"\(b\)\.every: unknown key"),
        (
            {**good, "name": "b", "subject": "kpi_overview", "parameters": {"regio": "GZ"}},
            "'regio'",
        ),
        ({**good, "name": "b", "subject": "channel_roi", "region": "GZ"}, "region_id"),
        (dict(good), r"\(a\)\.name: 'a' is used twice"),
    ]
    for entry, message in cases:
        _write(report_project, good, entry)
        with pytest.raises(ScheduleError, match=message):
            load_schedules(report_project)
    with pytest.raises(ParameterError, match="--at 'yesterday'"):
        parse_at("yesterday")


def test_due_runs_each_fire_time_once_and_catches_up(report_project):
    _write(
        report_project,
        {
            "name": "monthly",
            "subject": "ok_report",
            "cron": "0 6 2 * *",
            "period": "previous_month",
        },
    )
    [first] = run_due(report_project, datetime(2026, 8, 2, 6, 0, tzinfo=UTC))
    assert first.state == "ran" and [o.record["period"] for o in first.outcomes] == ["2026-07"]
    # not due: later the same month, and the same time again
    for at in (datetime(2026, 8, 20, tzinfo=UTC), datetime(2026, 8, 2, 6, 0, tzinfo=UTC)):
        [again] = run_due(report_project, at)
        assert again.state == "nothing due" and not again.outcomes
    assert len(read_runs(report_project)) == 1
    # two missed months run one by one, each with its own period
    [catch_up] = run_due(report_project, datetime(2026, 10, 3, tzinfo=UTC))
    assert catch_up.state == "ran"
    records = read_runs(report_project, schedule="monthly")
    assert [(r["scheduled_for"], r["period"], r["status"]) for r in records] == [
        (datetime(2026, m, 2, 6, tzinfo=UTC).isoformat(), f"2026-{m - 1:02d}", "ok")
        for m in (8, 9, 10)
    ]
    for record in records:
        seen = report_project.reports_dir / "ok_report" / record["period"] / "seen.json"
        assert record["period"] in seen.read_text()
    dry = _cli(report_project, "report", "due", "--at", "2026-10-03T00:00", "--dry-run")
    assert dry.returncode == 0 and "nothing due" in dry.stderr


def test_a_failing_report_is_retried_at_the_next_call(report_project):
    _write(
        report_project,
        {
            "name": "daily",
            "subject": "flaky_report",
            "cron": "0 6 * * *",
            "period": "current_month",
            "start": "2026-06-01T00:00:00+00:00",
        },
    )
    marker = report_project.root / "FAIL"
    marker.write_text("fail until removed")
    failed = _cli(report_project, "report", "due", "--at", "2026-06-02T07:00")
    assert failed.returncode == 1
    assert "RuntimeError: marker present for 2026-06" in " ".join(failed.stderr.split())
    # the first fire time failed, so the second waited
    [record] = read_runs(report_project)
    assert (record["status"], record["scheduled_for"]) == ("failed", "2026-06-01T06:00:00+00:00")
    marker.unlink()
    [retry] = run_due(report_project, parse_at("2026-06-02T07:00"))
    assert retry.state == "ran"
    assert [(r["scheduled_for"][:10], r["status"]) for r in read_runs(report_project)] == [
        ("2026-06-01", "failed"),
        ("2026-06-01", "ok"),
        ("2026-06-02", "ok"),
    ]
    [done] = run_due(report_project, parse_at("2026-06-02T07:00"))
    assert done.state == "nothing due"


def test_overlapping_invocations_run_a_report_once(report_project):
    _write(report_project, {"name": "slow", "subject": "slow_report", "cron": "0 6 * * *"})
    lock = report_project.reports_dir / "_locks" / "slow.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a") as handle:  # another invocation holds the schedule
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        [skipped] = run_due(report_project, datetime(2026, 6, 2, 7, tzinfo=UTC))
    assert skipped.state == "locked" and not read_runs(report_project)
    # two real processes at once: one runs the report, the other skips it or finds it done
    config = str(report_project.root / "pipelines" / "config.yml")
    command = [sys.executable, "-m", "workbench.cli", "--config", config, "report", "due"]
    procs = [
        subprocess.Popen(
            [*command, "--at", "2026-06-02T07:00"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    states = sorted(
        next(s for s in ("ran", "locked", "nothing due") if s in err) for _, err in outputs
    )
    assert states in (["locked", "ran"], ["nothing due", "ran"])
    [record] = read_runs(report_project)
    assert record["status"] == "ok" and record["scheduled_for"] == "2026-06-02T06:00:00+00:00"


def test_shipped_schedules_load_and_fan_out_over_every_region(tiny_warehouse):
    from workbench.marts import read_mart

    at = datetime(2026, 7, 5, tzinfo=UTC)
    results = {r.schedule: r for r in run_due(tiny_warehouse, at, dry_run=True)}
    names = [s.name for s in load_schedules(tiny_warehouse)]
    assert list(results) == names and not read_runs(tiny_warehouse, schedule=names[0])
    regions = sorted(read_mart("dwd_dim_region", tiny_warehouse)["region_id"])
    fan_out = results["kpi_overview_by_region"]
    assert fan_out.state == "planned"
    assert [(region, period) for region, _, period in fan_out.planned] == [
        (region, "2026-06") for region in regions
    ]


def test_a_fan_out_without_regions_fails_alone(report_project):
    _write(
        report_project,
        {"name": "each", "subject": "kpi_overview", "cron": "0 6 2 * *", "region": "all"},
        {"name": "other", "subject": "ok_report", "cron": "0 6 2 * *", "enabled": False},
    )
    [result] = run_due(report_project, datetime(2026, 7, 5, tzinfo=UTC))
    assert result.failed and "dwd_dim_region is empty" in result.message
