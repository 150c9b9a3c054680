"""The results table's rows of the dashboards' load test: each target judged against the load
it is stated for (100 visits by 20 concurrent viewers), from the visits as measured."""

from __future__ import annotations

import pytest

from workbench.bench.pack import BenchOptions, load_rows
from workbench.dashboards.load import LoadResult, LoadVisit
from workbench.errors import WorkbenchError


def _result(viewers: int, visits: list[LoadVisit], **figures: float | None) -> LoadResult:
    values = {
        "seconds": 300.0,
        "peak_rss": 5 * 2**30,
        "back_to_pool_s": 12.0,
    } | figures
    return LoadResult(
        viewers=viewers,
        visits=visits,
        pool_size=5,
        kernels_before=5,
        peak_kernels=25,
        rss_before=2**30,
        peak_kernel_rss=300 * 2**20,
        settle_s=120.0,
        **values,
    )


def _visits(n: int, tti: float, errors: tuple[str, ...] = ()) -> list[LoadVisit]:
    return [LoadVisit(i % 20, "kpi_cockpit", tti, 0.2, errors if i == 0 else ()) for i in range(n)]


def _targets(result: LoadResult, single: LoadResult) -> dict[str, str]:
    return {row.measure: row.target for row in load_rows(result, single, "test")}


def test_a_load_at_the_stated_size_is_judged_against_every_target():
    single = _result(1, _visits(5, 1.0))
    met = _targets(_result(20, _visits(100, 2.5)), single)
    assert met["visits per minute"] == "<= 10 min: met"
    assert met["time to interactive p95"] == "<= 3x one viewer: met"
    assert met["errors"] == "0: met"
    assert met["peak server memory"] == "<= 8 GiB: met"
    assert met["kernels back to the preheated pool"] == "<= 60 s: met"

    slow = _result(20, _visits(100, 3.5, ("busy",)), seconds=700.0, peak_rss=9 * 2**30)
    missed = _targets(slow, single)
    assert missed["visits per minute"] == "<= 10 min: NOT met"
    assert missed["time to interactive p95"] == "<= 3x one viewer: NOT met"
    assert missed["errors"] == "0: NOT met"
    assert missed["peak server memory"] == "<= 8 GiB: NOT met"
    rows = {row.measure: row for row in load_rows(slow, single, "test")}
    assert rows["errors"].value == "1" and rows["errors"].runs == "busy: 1"
    assert rows["time to interactive p95"].value == "3.50 s"


def test_a_small_load_is_measured_not_judged_and_a_pool_never_reached_is_not_met():
    single = _result(1, _visits(5, 1.0))
    small = _targets(_result(2, _visits(2, 9.0), back_to_pool_s=None), single)
    for measure in ("visits per minute", "time to interactive p95", "errors"):
        assert small[measure].endswith("(at 100 visits by 20): not judged"), measure
    assert small["kernels back to the preheated pool"] == "<= 60 s: NOT met"


@pytest.mark.parametrize("option", ["load_viewers", "load_visits"])
def test_a_load_of_nobody_is_refused(tmp_path, option):
    with pytest.raises(WorkbenchError, match=f"{option}: need at least 1"):
        BenchOptions(workdir=tmp_path, **{option: 0}).check()
