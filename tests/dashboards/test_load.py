"""The load test of the benchmark (``workbench.dashboards.load``): concurrent viewers in one
headless Chromium against a real ``workbench serve``, at the suite's size (two viewers, one visit
each); timings are measured, not asserted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from workbench.cli import _register, app
from workbench.dashboards import APPS
from workbench.dashboards.access import signed_link
from workbench.dashboards.load import percentile, run_load


def test_percentile_is_the_nearest_rank():
    assert percentile([], 95) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 21)], 95) == 19.0
    assert percentile([float(i) for i in range(1, 21)], 100) == 20.0


def test_viewers_are_measured_and_failed_pages_are_errors(dashboard_server):
    """Three viewers at once: one opens an app through its signed link; one a page that is not
    there (HTTP 404) and one a link edited by hand (the app says "access denied"), which the
    load test counts as errors. The open pages' kernels come on top of the preheated pool and
    end when the pages close."""
    settings, base = dashboard_server.settings, dashboard_server.base_url
    good = signed_link("ceo", settings, base, APPS[0])
    links = {
        APPS[0]: good,
        "missing": good.replace(f"{APPS[0]}.ipynb", "missing.ipynb"),
        APPS[1]: signed_link("ceo", settings, base, APPS[1]).replace("wb=", "wb=x"),
    }
    result = run_load(base, links, dashboard_server.process.pid, viewers=3, visits=1, settle_s=90)

    by_app = {visit.app: visit for visit in result.visits}
    assert sorted(by_app) == sorted(links)  # viewer n starts at link n
    opened, missing, denied = by_app[APPS[0]], by_app["missing"], by_app[APPS[1]]
    assert opened.errors == () and opened.tti is not None and opened.tti > 0
    assert opened.filter_latency is not None  # the cockpit's segment filter moved a figure
    assert missing.errors[0] == "HTTP 404" and missing.tti is None
    assert denied.errors[0] == "access denied" and denied.filter_latency is None
    assert result.errors()["HTTP 404"] == result.errors()["access denied"] == 1
    assert result.pool_size == len(APPS)  # one preheated kernel per app
    assert result.peak_kernels > result.kernels_before  # the open page's kernel, sampled
    assert result.peak_rss >= result.rss_before > 0
    assert result.peak_kernel_rss > 50 * 2**20  # a kernel holds its imports
    assert result.back_to_pool_s is not None  # the closed page's kernel ended
    assert result.visits_per_minute > 0
    with pytest.raises(ValueError, match="viewers"):
        run_load(base, links, dashboard_server.process.pid, viewers=0)


@pytest.mark.timeout(900)
def test_bench_load_only_writes_the_load_rows(dashboard_project, tmp_path):
    """``workbench bench --load-only`` at the suite's size: its own server on the project, one
    viewer opening every app, then two viewers; every row of the section is written and the
    targets stated for 100 visits by 20 viewers are not judged at this size."""
    config = dashboard_project.root / "pipelines" / "config.yml"
    results = tmp_path / "RESULTS.md"
    args = ["--config", str(config), "bench", "--load-only", "--load-viewers", "2"]
    args += ["--load-visits", "1", "--workdir", str(tmp_path / "work")]
    args += ["--results", str(results)]
    _register()
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    text = results.read_text()
    rows = {
        cells[1].strip(): cells[2:]
        for line in text.splitlines()
        if line.startswith("| dashboards under load |")
        for cells in [line.split("|")[1:-1]]
    }
    assert list(rows) == [
        "visits per minute",
        "time to interactive p50",
        "time to interactive p95",
        "filter latency p95",
        "errors",
        "peak live kernels",
        "peak server memory",
        "kernels back to the preheated pool",
    ]
    assert "2 visits by 2 concurrent viewers" in rows["visits per minute"][1]
    assert rows["errors"][0].strip() == "0", rows["errors"]
    assert "not judged" in rows["visits per minute"][2]
    assert "not judged" in rows["peak server memory"][2]
    assert int(rows["peak live kernels"][0]) > len(APPS)  # pages on top of the pool
    assert "- status: complete" in text
    assert '"load_only": true' in text and '"scales"' not in text  # no ladder ran
