"""Report runs through the real runner: a real kernel executes small notebooks that succeed,
fail, hang or kill their kernel; kpi_overview fans out over regions of the tiny warehouse."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from html.parser import HTMLParser

import nbformat
import pytest
from typer.testing import CliRunner

from workbench.catalog.ads import ALL
from workbench.cli import _register, app
from workbench.errors import ParameterError
from workbench.filters import equals
from workbench.marts import read_mart
from workbench.reports import ReportError, RunOutcome, execute_report, run_regions, run_subject
from workbench.reports.index import INDEX
from workbench.reports.ledger import read_runs
from workbench.reports.runner import check_report


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href"]


_register()


def _cli(settings, *args):
    return CliRunner().invoke(app, ["--config", str(settings.root / "pipelines/config.yml"), *args])


def test_a_run_is_published_recorded_and_indexed(report_project):
    outcome = execute_report("ok_report", "2026-06", {}, report_project)
    assert outcome.ok
    published = report_project.reports_dir / "ok_report" / "2026-06"
    assert outcome.paths.directory == published
    seen = json.loads((published / "seen.json").read_text())
    run = json.loads((published / "run.json").read_text())
    # the published files are the run's own: the notebook wrote into its private run folder
    assert seen == {"period": "2026-06", "run_dir": run["run_id"]}
    assert "seen.json" in run["files"]
    html = (published / "ok_report.html").read_text()
    assert "report for 2026-06" in html and "write_text" not in html  # outputs, no code
    book = nbformat.read(str(published / "ok_report.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in book.cells)
    [record] = read_runs(report_project)
    assert record["status"] == "ok" and record["run_id"] == run["run_id"]
    index = (report_project.reports_dir / INDEX).read_text()
    links = _Links()
    links.feed(index)
    assert links.hrefs and all((report_project.reports_dir / h).is_file() for h in links.hrefs)
    assert "ok_report/2026-06/ok_report.html" in links.hrefs


def test_a_failed_run_exits_non_zero_and_keeps_its_partial_notebook(report_project):
    result = _cli(report_project, "report", "run", "fail_report", "--period", "2026-07")
    assert result.exit_code == 1
    [record] = read_runs(report_project)
    partial = nbformat.read(record["notebook_path"], as_version=4)
    errors = [
        c for c in partial.cells if any(o.output_type == "error" for o in c.get("outputs", []))
    ]
    [failed] = errors
    assert "raise ValueError" in failed.source
    cell = failed.execution_count
    assert record["status"] == "failed"
    assert record["error"] == {"cell": cell, "ename": "ValueError", "evalue": "no data for 2026-07"}
    out = " ".join(result.output.split())
    assert f"failed in cell {cell}: ValueError: no data for 2026-07" in out
    # the later cell never ran, and nothing was published
    assert partial.cells[-1].execution_count is None
    assert not (report_project.reports_dir / "fail_report" / "2026-07" / "run.json").exists()
    index = (report_project.reports_dir / INDEX).read_text()
    assert f"cell {cell}: ValueError: no data for 2026-07" in index
    listed = _cli(report_project, "report", "list", "--failed")
    assert listed.exit_code == 0 and "fail_report" in listed.output


def test_a_kernel_that_dies_is_a_failed_run(report_project):
    with pytest.raises(ReportError, match=r"failed in cell \d+: DeadKernelError"):
        run_subject("die_report", "2026-06", settings=report_project)
    [record] = read_runs(report_project)
    outcome = RunOutcome(record, None)
    assert outcome.record["status"] == "failed"
    assert outcome.record["error"]["ename"] == "DeadKernelError"
    partial = nbformat.read(outcome.record["notebook_path"], as_version=4)
    code = [c for c in partial.cells if c.cell_type == "code"]
    dying = next(i for i, c in enumerate(code) if "os._exit" in c.source)
    assert outcome.record["error"]["cell"] in (code[dying].execution_count, dying + 1)


def test_a_hanging_run_is_stopped_at_its_wall_clock_limit(report_project):
    started = time.monotonic()
    outcome = execute_report("hang_report", "2026-06", {}, report_project, wall_timeout=15)
    assert time.monotonic() - started < 60  # the notebook would sleep 600 s
    assert outcome.record["status"] == "timeout"
    assert "15 s" in outcome.record["error"]["evalue"]
    run_dir = report_project.reports_dir / outcome.record["run_dir"]
    pid = int((run_dir / "kernel.pid").read_text())
    for _ in range(50):  # the kernel is killed with the run, not left behind
        if not os.path.exists(f"/proc/{pid}") or "Z" in _state(pid):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"kernel {pid} still running after the timeout")
    partial = nbformat.read(outcome.record["notebook_path"], as_version=4)
    assert any("sleep(600)" in c.source for c in partial.cells)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_two_runs_at_once_do_not_mix_their_files(report_project):
    outcomes = []
    threads = [
        threading.Thread(
            target=lambda: outcomes.append(
                execute_report("slow_report", "2026-06", {}, report_project)
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [o.ok for o in outcomes] == [True, True]
    ids = {o.record["run_id"] for o in outcomes}
    assert len(ids) == 2 and {r["run_id"] for r in read_runs(report_project)} == ids
    for o in outcomes:  # each run kept its own files
        own = json.loads((o.paths.run_dir / "seen.json").read_text())
        assert own["run_dir"] == o.record["run_id"]
    published = report_project.reports_dir / "slow_report" / "2026-06"
    run = json.loads((published / "run.json").read_text())
    assert json.loads((published / "seen.json").read_text())["run_dir"] == run["run_id"] in ids


def test_bad_requests_are_refused_before_a_kernel_starts(report_project):
    with pytest.raises(ParameterError, match="'channel_roi' has no region_id"):
        check_report("channel_roi", {}, report_project, region="GZ")
    with pytest.raises(ParameterError, match=r"'margin'.*extra notebook"):
        check_report("ok_report", {"margin": 0.3}, report_project)
    with pytest.raises(ParameterError, match="'output_dir' is set by run_subject"):
        check_report("kpi_overview", {"output_dir": "/tmp"}, report_project)
    with pytest.raises(ParameterError, match="unknown subject 'nope'"):
        execute_report("nope", "2026-06", {}, report_project)
    result = _cli(
        report_project, "report", "run", "channel_roi", "--period", "2026-06", "--region", "GZ"
    )
    assert result.exit_code == 2 and "region_id" in result.output
    assert not read_runs(report_project)


def test_region_fan_out_writes_one_report_per_region(tiny_warehouse, tiny_manifest):
    period = tiny_manifest["months"][-1]
    regions = sorted(read_mart("dwd_dim_region", tiny_warehouse)["region_id"])[:2]
    with pytest.raises(ParameterError, match="'XX'"):
        run_regions("kpi_overview", period, {}, tiny_warehouse, regions=["XX"])
    result = _cli(
        tiny_warehouse, "report", "run", "kpi_overview", "--period", period,
        "--region", "all", "--regions", ",".join(regions),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = [r for r in read_runs(tiny_warehouse, subject="kpi_overview") if r["region"]]
    assert [(r["region"], r["status"]) for r in records] == [(r, "ok") for r in regions]
    values = {}
    for region, record in zip(regions, records, strict=True):
        folder = tiny_warehouse.reports_dir / "kpi_overview" / period / region
        assert record["published"] == f"kpi_overview/{period}/{region}/kpi_overview.html"
        shown = {r["kpi_code"]: r["value"] for r in json.loads((folder / "kpis.json").read_text())}
        cube = read_mart(
            "ads_kpi_cube",
            tiny_warehouse,
            filters=[equals("region_id", region), equals("segment", ALL), equals("plan_type", ALL)],
            months=[period],
        )
        truth = dict(zip(cube["kpi_code"], cube["value"], strict=True))
        assert shown.keys() == truth.keys()
        for code, value in truth.items():
            assert shown[code] == pytest.approx(value, nan_ok=True), (region, code)
        values[region] = shown
    assert values[regions[0]] != values[regions[1]]
    assert re.search(
        r"kpi_overview/[\d-]+/" + regions[0], (tiny_warehouse.reports_dir / INDEX).read_text()
    )
