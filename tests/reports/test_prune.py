"""Run folders are pruned to the newest ``reports.keep_runs`` per report, after every run and by
``workbench report prune``; a run that may still be going is never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from typer.testing import CliRunner

from workbench.cli import _register, app
from workbench.config import load_settings
from workbench.errors import ParameterError
from workbench.reports import execute_report
from workbench.reports.paths import runs_dir
from workbench.reports.prune import prune_runs

_register()


def _run_folder(parent, started: datetime, suffix: str = "abc123"):
    path = parent / f"{started:%Y%m%dT%H%M%S}-{suffix}"
    path.mkdir(parents=True)
    (path / "report.ipynb").write_text("{}")
    return path


def test_prune_keeps_the_newest_and_any_run_still_going(tmp_path):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    old = [_run_folder(tmp_path, now - timedelta(days=d)) for d in (30, 20, 10, 5)]
    young = _run_folder(tmp_path, now - timedelta(minutes=2), "young1")
    (tmp_path / "notes").mkdir()  # not a run id: never touched
    removed = prune_runs(tmp_path, 2, running_for_seconds=3600, now=now)
    # the two newest are `young` and old[3]; old[0..2] go, oldest first
    assert removed == old[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([old[3].name, young.name, "notes"])
    # keep 1: old[3] goes; `young` is the newest anyway
    assert prune_runs(tmp_path, 1, running_for_seconds=3600, now=now) == [old[3]]
    # a run younger than the wall clock survives even when it is past the count
    newer = _run_folder(tmp_path, now - timedelta(seconds=30), "newer1")
    assert prune_runs(tmp_path, 1, running_for_seconds=3600, now=now) == []
    assert young.exists() and newer.exists()
    with pytest.raises(ParameterError, match="'keep'"):
        prune_runs(tmp_path, 0, running_for_seconds=0)


def test_a_run_prunes_its_reports_old_runs(report_project):
    config_file = report_project.root / "pipelines" / "config.yml"
    config = yaml.safe_load(config_file.read_text())
    config["reports"]["keep_runs"] = 2
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    settings = load_settings(config_file, environ={})
    folder = runs_dir(settings, "ok_report", "2026-06")
    now = datetime.now(UTC)
    old = [_run_folder(folder, now - timedelta(days=d)) for d in (9, 8, 7)]
    going = _run_folder(folder, now - timedelta(seconds=5), "going1")  # another run, still going
    outcome = execute_report("ok_report", "2026-06", {}, settings)
    assert outcome.ok
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([going.name, outcome.record["run_id"]])
    assert not any(p.exists() for p in old)
    assert (settings.reports_dir / "ok_report" / "2026-06" / "ok_report.html").is_file()


def test_cli_prunes_every_report_and_names_a_bad_keep(report_project):
    now = datetime.now(UTC)
    for subject, period in (("ok_report", "2026-05"), ("fail_report", "2026-06")):
        for days in (3, 2, 1):
            _run_folder(runs_dir(report_project, subject, period), now - timedelta(days=days))
    config = str(report_project.root / "pipelines" / "config.yml")
    done = CliRunner().invoke(app, ["--config", config, "report", "prune", "--keep", "1"])
    assert done.exit_code == 0, done.output
    assert "4 run folder(s)" in done.output
    for subject, period in (("ok_report", "2026-05"), ("fail_report", "2026-06")):
        assert len(list(runs_dir(report_project, subject, period).iterdir())) == 1
    bad = CliRunner().invoke(app, ["--config", config, "report", "prune", "--keep", "0"])
    assert bad.exit_code == 2 and "--keep" in bad.output
