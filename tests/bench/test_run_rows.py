"""The results table's rows of one generated and built project: the ladder's sizes and the demo
get the same rows from the same figures, grouped by section."""

from __future__ import annotations

from workbench.bench.measure import mib
from workbench.bench.pack import RUN_SECTIONS, BenchOptions, BenchResults, _ladder_rows, _run_rows


def _figures(lines: int, usage_rows: int, generate_s: float, build_s: float) -> dict:
    """Figures shaped as the pack's generate and build steps return them (bench/worker.py)."""
    return {
        "generate": {
            "seconds": generate_s,
            "subscribers": lines,
            "months": ["2026-01", "2026-02"],
            "usage_rows": usage_rows,
            "usage_rows_per_second": usage_rows / generate_s,
        },
        "build": {
            "seconds": build_s,
            "run_id": "20261205T000000-abcdef",
            "rows_written": 3 * usage_rows,
            "jvm_peak_bytes": 2**30,
            "python_peak_bytes": 2**28,
            "table_seconds": {"ods_cdr__usage": build_s / 3},
        },
        "disk": {"raw": 300 * 2**20, "warehouse": 500 * 2**20},
    }


def test_the_demo_gets_per_core_and_disk_rows_and_no_reference_it_did_not_run():
    rows = {row.measure: row for row in _run_rows("demo", _figures(25_000, 1_000_000, 50, 160), 2)}
    # 1,000,000 rows in 50 s on 2 cores; 3,000,000 written in 160 s on 2 cores
    assert rows["usage rows per second (demo)"].value == "20,000"
    assert rows["usage rows per second per core (demo)"].value == "10,000"
    assert rows["rows written per second per core (demo)"].value == "9,375"
    assert rows["disk used (demo)"].value == f"raw {mib(300 * 2**20)}, warehouse {mib(500 * 2**20)}"
    assert not [m for m in rows if "scan floor" in m or "DuckDB" in m]


def test_a_ladder_s_rows_come_by_section_each_section_smallest_size_first(tmp_path):
    results = BenchResults(started_at="", options={}, machine={"cores": "2"})
    sizes = (("x1", 1_000), ("x3", 3_000))
    results.figures["scales"] = {label: _figures(n, 40 * n, 10, 30) for label, n in sizes}
    _ladder_rows(results, BenchOptions(workdir=tmp_path, scales=(1, 3)))
    measures = [row.measure for row in results.rows]
    assert measures[:4] == [
        "usage rows per second (x1)",
        "usage rows per second per core (x1)",
        "usage rows per second (x3)",
        "usage rows per second per core (x3)",
    ]
    sections = [row.section for row in results.rows]
    assert sections == sorted(sections, key=[*RUN_SECTIONS, "scaling"].index)
    assert "build time x3 / x1 (3x data)" in measures
