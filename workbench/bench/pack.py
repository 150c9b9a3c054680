"""The benchmark pack: steps, scale ladder, targets and the results table.

:func:`run_pack` runs, in order: for each scale of the ladder (1x, 3x, 10x of the ``profile``'s
subscribers) generation, the warehouse build, the scan floor and the DuckDB reference with its
equality check; optionally the ``demo`` profile; rules mining and churn scoring on the largest
scale; a papermill report per subject and the dashboards' timings on the smallest. Spark steps
run in worker processes (:mod:`workbench.bench.worker`) so each has its own driver JVM and its
own peak memory. Every ratio is printed with the two runs it divides.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.bench.measure import machine, mib, timed, tree_bytes, wait_until_quiet
from workbench.bench.project import make_bench_project, scaled
from workbench.bench.reference import (
    REFERENCE_TABLES,
    BenchError,
    compare_tables,
    read_spark_table,
    run_reference,
)
from workbench.config import DEFAULT_CONFIG, Settings

log = logging.getLogger(__name__)

TARGETS = {
    "scan": 3.0,  # build <= 3x its scan floor
    "duckdb": 8.0,  # build <= 8x the DuckDB reference
    "scale_10x": 11.0,  # 10x data in <= 11x time
    "memory": 1.25,  # "flat": the 10x peak within 25% of the 1x peak
    "tti": 1.5,  # dashboards interactive in 1.5 s
    "filter": 0.3,  # filter changes in 0.3 s
    "load_minutes": 10.0,  # 100 visits by 20 concurrent viewers within 10 minutes
    "load_memory_gib": 8.0,  # peak server memory (server and kernels) under that load
    "load_tti": 3.0,  # p95 time to interactive under load <= 3x the single viewer's
    "load_back_s": 60.0,  # live kernels back to the preheated pool after the viewers leave
}
#: the load the targets are stated for: 100 visits by 20 viewers (five each)
LOAD_TARGET_VIEWERS, LOAD_TARGET_VISITS = 20, 100


@dataclass
class BenchOptions:
    """What the pack runs.

    Attributes:
        workdir: where the bench projects (data, reports) are written; rebuilt each run.
        profile: the ladder's base profile (``profiles.<name>`` of the source config).
        scales: multiples of the base's subscribers; the first is the reference for ratios.
        demo: also generate and build the ``demo`` profile (about 11 minutes on 2 cores).
        reports: run each subject's report (papermill) on the smallest scale.
        dashboards: time the dashboards (``workbench.dashboards.timing``) if it is installed.
        load: with ``dashboards``, the load test (``workbench.dashboards.load``):
            ``load_viewers`` concurrent viewers opening ``load_visits`` app pages each.
        load_only: only the load test, on the project of the settings given (no ladder).
        spark: replaces the ``spark`` section of the bench projects (default: the source's).
    """

    workdir: Path
    profile: str = "bench_ladder"
    scales: tuple[int, ...] = (1, 3, 10)
    demo: bool = False
    reports: bool = True
    dashboards: bool = True
    load: bool = True
    load_viewers: int = LOAD_TARGET_VIEWERS
    load_visits: int = LOAD_TARGET_VISITS // LOAD_TARGET_VIEWERS  # per viewer
    load_only: bool = False
    rules: bool = True
    churn: bool = True
    min_support: float = 0.01
    min_confidence: float = 0.1
    spark: dict[str, Any] | None = None
    shared_jvm: bool = False  # every step in this process's JVM (see Worker)
    results: Path | None = None  # markdown written after each stage and at the end
    notes: str = ""  # text appended below the table (bench/NOTES.md)

    def check(self) -> None:
        if not self.scales or any(s < 1 for s in self.scales):
            raise BenchError(f"scales: need positive whole multiples, got {list(self.scales)}")
        if list(self.scales) != sorted(set(self.scales)):
            raise BenchError(f"scales: must be ascending without repeats, got {list(self.scales)}")
        for name, count in (("load_viewers", self.load_viewers), ("load_visits", self.load_visits)):
            if count < 1:
                raise BenchError(f"{name}: need at least 1, got {count}")
        thresholds = (("min_support", self.min_support), ("min_confidence", self.min_confidence))
        for name, value in thresholds:
            if not 0 < value <= 1:
                raise BenchError(f"{name}: must be in (0, 1], got {value}")


@dataclass
class Row:
    """One line of the results table."""

    section: str
    measure: str
    value: str
    runs: str = ""  # the runs a figure or ratio comes from
    target: str = ""  # the target and whether it is met


@dataclass
class BenchResults:
    """Everything a pack run measured."""

    started_at: str
    options: dict[str, Any]
    machine: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    ended_at: str = ""
    seconds: float = 0.0
    status: str = "starting"

    def add(self, *args: str, **kwargs: str) -> None:
        self.rows.append(Row(*args, **kwargs))

    @property
    def equal(self) -> bool:
        """Whether every DuckDB comparison found Spark's tables equal."""
        checks = [c for s in self.figures.get("scales", {}).values() for c in s["compare"]]
        return bool(checks) and all(c["equal"] for c in checks)

    def table_markdown(self) -> str:
        lines = [
            "| section | measure | value | from the runs | target |",
            "|---|---|---|---|---|",
        ]
        for r in self.rows:
            cells = [r.section, r.measure, r.value, r.runs, r.target]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(lines)

    def to_markdown(self, notes: str = "") -> str:
        m = self.machine
        head = [
            "# Benchmark results",
            "",
            "Written by `workbench bench` (`make bench`); every figure below was measured in this",
            "run. Do not edit by hand: re-run the benchmark.",
            "",
            f"- status: {self.status}",
            f"- date: {self.started_at} .. {self.ended_at or 'now'} UTC "
            f"({self.seconds / 60:.1f} min)",
            f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory']} memory, {m['os']}; "
            f"load average (1/5/15 min) {m.get('load_start', '?')} at the start, "
            f"{m.get('load_end', '?')} at the end",
            f"- versions: Python {m['python']}, PySpark {m['pyspark']}, DuckDB {m['duckdb']}, "
            f"{m['java']}",
            f"- ran: {json.dumps(self.options, default=str)}",
            "",
            self.table_markdown(),
            "",
        ]
        if notes:
            head += [notes.rstrip(), ""]
        per_table = self.figures.get("slowest_tables")
        if per_table:
            head += [
                f"Slowest tables of the {per_table['run']} build (seconds from each table's start "
                "to its end, in the build's ledger; tables run several at once):",
                "",
                ", ".join(f"{t} {s:.1f}" for t, s in per_table["tables"]),
                "",
            ]
        return "\n".join(head)


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _s(seconds: float) -> str:
    """Seconds for the table: two decimals below ten seconds (latencies and page times are
    read against targets of 0.3 s and 1.5 s), one above."""
    return f"{seconds:,.2f} s" if abs(seconds) < 10 else f"{seconds:,.1f} s"


def _verdict(value: float, limit: float) -> str:
    return f"<= {limit:g}x: {'met' if value <= limit else 'NOT met'}"


class Worker:
    """Runs one step of :mod:`workbench.bench.worker`, each in a fresh process (its own driver
    JVM and peak memory), or all in this process's one JVM when ``shared_jvm`` (a quick check
    of the pack: no JVM start per step, but each step's peak memory is the largest so far)."""

    def __init__(self, scratch: Path, shared_jvm: bool = False):
        self.scratch = scratch
        self.shared_jvm = shared_jvm
        self.n = 0

    def __call__(self, step: str, settings: Settings, *extra: str) -> dict[str, Any]:
        self.n += 1
        out = self.scratch / f"{self.n:02d}-{step}.json"
        config = settings.root / DEFAULT_CONFIG
        args = [step, "--config", str(config), "--out", str(out), *extra]
        log.info("bench step %s (%s)", step, settings.root.name)
        if self.shared_jvm:
            from workbench.bench import worker

            try:
                code, tail = worker.main(args, stop_spark=False), ""
            except Exception as exc:
                log.exception("bench step %s failed", step)  # the traceback, for the log
                code, tail = 1, f"{type(exc).__name__}: {exc}"
        else:
            cmd = [sys.executable, "-m", "workbench.bench.worker", *args]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            code = done.returncode
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        if code != 0 or not out.is_file():
            raise BenchError(f"bench step {step} on {settings.root} failed:\n{tail}")
        return json.loads(out.read_text(encoding="utf-8"))


def run_pack(
    settings: Settings,
    options: BenchOptions,
    on_step: Callable[[str], None] | None = None,
) -> BenchResults:
    """Run the pack for ``settings``' project and return the measurements.

    Raises:
        BenchError: bad options, an unknown profile, or a step that failed (named).
    """
    options.check()
    settings.profile(options.profile)
    if options.demo:
        settings.profile("demo")
    step = on_step or (lambda _: None)
    started = datetime.now(UTC)
    results = BenchResults(
        started_at=f"{started:%Y-%m-%d %H:%M:%S}",
        options=_ran(settings, options),
        machine={**machine(), "load_start": _load()},
    )
    workdir = options.workdir.resolve()
    scratch = workdir / "_steps"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    work = Worker(scratch, shared_jvm=options.shared_jvm)

    def checkpoint(done: str) -> None:
        # the table so far, so a long or interrupted run still leaves what it measured
        results.status = f"running: done up to {done}"
        results.seconds = (datetime.now(UTC) - started).total_seconds()
        if options.results is not None:
            options.results.parent.mkdir(parents=True, exist_ok=True)
            options.results.write_text(results.to_markdown(options.notes), encoding="utf-8")

    try:
        with timed() as total:
            if options.load_only:  # the settings' own project and warehouse, no ladder
                step("dashboards under load")
                _dashboards_load(settings, options, results)
            else:
                _steps(settings, options, workdir, work, results, step, checkpoint)
    except BaseException as exc:
        # a failed or interrupted run still says what it measured and where it stopped
        results.status = f"stopped ({results.status}): {type(exc).__name__}: {exc}"[:300]
        if options.results is not None:
            options.results.write_text(results.to_markdown(options.notes), encoding="utf-8")
        raise
    results.seconds = total.seconds
    results.ended_at = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    results.machine["load_end"] = _load()
    results.status = "complete"
    if options.results is not None:
        options.results.write_text(results.to_markdown(options.notes), encoding="utf-8")
    return results


def _ran(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    """What the run did, for the results' header (``load_only``: the project and the load)."""
    load = f"{options.load_viewers} viewers x {options.load_visits} visits"
    if options.load_only:
        return {"load_only": True, "project": str(settings.root), "load": load}
    return {
        "profile": options.profile,
        "base": settings.profile(options.profile).model_dump(mode="json"),
        "scales": list(options.scales),
        "demo": options.demo,
        "reports": options.reports,
        "dashboards": options.dashboards,
        "load": load if options.dashboards and options.load else False,
        "shared_jvm": options.shared_jvm,
        "spark": (options.spark or settings.spark.model_dump(mode="json")),
    }


def _steps(settings, options, workdir, work, results, step, checkpoint) -> None:
    """The pack's steps in order (all but ``load_only``)."""
    projects = _ladder(settings, options, workdir, work, results, step, checkpoint)
    if options.demo:
        _demo(settings, options, workdir, work, results, step)
        checkpoint("demo")
    largest, smallest = projects[-1], projects[0]
    if options.rules:
        step("rules")
        _rules(largest, options, work, results)
        checkpoint("rules")
    if options.churn:
        step("churn scoring")
        _churn(largest, work, results)
        checkpoint("churn scoring")
    if options.reports:
        _reports(smallest, results, step)
        checkpoint("reports")
    if options.dashboards:
        step("dashboards")
        _dashboards(smallest, results)
        if options.load:
            checkpoint("dashboards")
            step("dashboards under load")
            _dashboards_load(smallest, options, results)


def _load() -> str:
    import os

    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def _ladder(settings, options, workdir, work, results, step, checkpoint) -> list[Settings]:
    base = settings.profile(options.profile)
    figures: dict[str, Any] = {}
    projects = []
    for factor in options.scales:
        label = f"x{factor}"
        name = f"{options.profile}_{label}"
        project = make_bench_project(
            workdir / name, settings, name, scaled(base, factor), spark=options.spark
        )
        shutil.rmtree(project.warehouse_dir, ignore_errors=True)
        projects.append(project)
        step(f"{label}: generate")
        gen = work("generate", project, "--profile", name)
        step(f"{label}: build")
        build = work("build", project)
        disk = _disk_used(project)
        step(f"{label}: scan floor")
        scan = work("scan", project)
        step(f"{label}: DuckDB reference")
        compare = _reference(project, build["months"])
        figures[label] = {"generate": gen, "build": build, "scan": scan, "disk": disk, **compare}
        results.figures["scales"] = figures
        results.rows = []
        _ladder_rows(results, options)
        checkpoint(label)
    return projects


def _reference(project: Settings, months: list[str]) -> dict[str, Any]:
    from workbench.catalog import get_table

    horizon = project.warehouse.churn_horizon_months
    reference = run_reference(project.raw_dir, max(months), horizon)
    checks = []
    for name in REFERENCE_TABLES:
        table = get_table(name)
        ref = reference.tables[name]
        columns = [c for c in table.column_names if c in ref.column_names]
        ours = read_spark_table(table.path(project), columns)
        result = compare_tables(name, ours, ref.to_pandas(), columns=columns)
        checks.append(
            {
                "table": name,
                "equal": result.equal,
                "rows": result.rows_spark,
                "rows_reference": result.rows_reference,
                "columns": result.columns,
                "values": result.values_compared,
                "within_rounding": result.within_rounding,
                "problems": result.problems,
            }
        )
    return {"duckdb_seconds": reference.seconds, "compare": checks}


def _disk_used(project: Settings) -> dict[str, int]:
    """Bytes on disk of a built project's raw extracts and warehouse."""
    return {"raw": tree_bytes(project.raw_dir), "warehouse": tree_bytes(project.warehouse_dir)}


#: the sections a generated and built project's rows fall in, in the table's order
RUN_SECTIONS = ("generation", "build", "disk", "scan floor", "DuckDB reference")


def _run_rows(label: str, f: dict[str, Any], cores: int) -> list[Row]:
    """The rows of one generated and built project (a ladder size or the demo): generation and
    build speed, per core too (local[*] runs every task on this machine's cores; per core,
    sizes and machines compare), and what its figures hold of disk, scan floor and DuckDB."""
    gen, build = f["generate"], f["build"]
    rows = [
        Row(
            "generation",
            f"usage rows per second ({label})",
            f"{gen['usage_rows_per_second']:,.0f}",
            f"{gen['usage_rows']:,} usage rows ({gen['subscribers']:,} lines x "
            f"{len(gen['months'])} months) in {_s(gen['seconds'])}",
        ),
        Row(
            "generation",
            f"usage rows per second per core ({label})",
            f"{gen['usage_rows_per_second'] / cores:,.0f}",
            f"the row above over {cores} cores (the whole generation, every extract included)",
        ),
        Row(
            "build",
            f"warehouse build ({label})",
            _s(build["seconds"]),
            f"{build['rows_written']:,} rows written, run {build['run_id']}",
        ),
        Row(
            "build",
            f"rows written per second per core ({label})",
            f"{_ratio(build['rows_written'], build['seconds']) / cores:,.0f}",
            f"{build['rows_written']:,} rows / {_s(build['seconds'])} / {cores} cores",
        ),
    ]
    if "disk" in f:
        rows.append(
            Row(
                "disk",
                f"disk used ({label})",
                f"raw {mib(f['disk']['raw'])}, warehouse {mib(f['disk']['warehouse'])}",
                "every file under the raw extracts' and the warehouse's folders after the build "
                "(the warehouse's quarantine and ledger included)",
            )
        )
    if "scan" in f:
        scan = f["scan"]
        ratio = _ratio(build["seconds"], scan["seconds"])
        rows.append(
            Row(
                "scan floor",
                f"build / scan floor ({label})",
                f"{ratio:.1f}x",
                f"build {_s(build['seconds'])} / scan {_s(scan['seconds'])} "
                f"({scan['rows']:,} raw rows, {scan['columns']} columns of {scan['extracts']} "
                "extracts, format noop)",
                _verdict(ratio, TARGETS["scan"]),
            )
        )
    if "duckdb_seconds" in f:
        ratio = _ratio(build["seconds"], f["duckdb_seconds"])
        rows.append(
            Row(
                "DuckDB reference",
                f"build / DuckDB ({label})",
                f"{ratio:.1f}x",
                f"Spark build {_s(build['seconds'])} (every table) / DuckDB "
                f"{_s(f['duckdb_seconds'])} (ODS + DWS subscriber-month + KPI cube)",
                _verdict(ratio, TARGETS["duckdb"]),
            )
        )
        rows += [_comparison_row(label, check) for check in f["compare"]]
    return rows


def _comparison_row(label: str, check: dict[str, Any]) -> Row:
    """Whether one reference table DuckDB computed equals Spark's."""
    detail = (
        f"{check['rows']:,} rows x {check['columns']} columns, {check['values']:,} values compared"
    )
    if check["within_rounding"]:
        detail += f" ({check['within_rounding']} one 6th-decimal rounding step apart)"
    if check["problems"]:
        detail += "; " + "; ".join(check["problems"][:3])
    return Row(
        "DuckDB reference",
        f"{check['table']} equal ({label})",
        "equal" if check["equal"] else "DIFFERENT",
        detail,
        "keys and counts exact, doubles 1e-9 relative",
    )


def _ladder_rows(results: BenchResults, options: BenchOptions) -> None:
    scales = results.figures["scales"]
    labels = list(scales)
    first = labels[0]
    cores = int(results.machine["cores"])
    rows = [row for label, f in scales.items() for row in _run_rows(label, f, cores)]
    # by section, each section's sizes smallest first (the sort is stable)
    results.rows += sorted(rows, key=lambda row: RUN_SECTIONS.index(row.section))
    t0 = scales[first]["build"]["seconds"]
    m0 = scales[first]["build"]["jvm_peak_bytes"]
    for label in labels[1:]:
        factor = options.scales[labels.index(label)] / options.scales[0]
        t = scales[label]["build"]["seconds"]
        ratio = _ratio(t, t0)
        target = ""
        if factor == 10:
            target = _verdict(ratio, TARGETS["scale_10x"])
        results.add(
            "scaling",
            f"build time {label} / {first} ({factor:g}x data)",
            f"{ratio:.2f}x",
            f"{_s(t)} / {_s(t0)}",
            target,
        )
    for label in labels:
        b = scales[label]["build"]
        ratio = _ratio(b["jvm_peak_bytes"], m0)
        results.add(
            "scaling",
            f"peak driver memory ({label})",
            f"JVM {mib(b['jvm_peak_bytes'])}, Python {mib(b['python_peak_bytes'])}",
            f"RSS sampled every 0.1 s from /proc; JVM {ratio:.2f}x of {first}",
            _verdict(ratio, TARGETS["memory"]) if label != first else "flat",
        )
    slowest = sorted(scales[labels[-1]]["build"]["table_seconds"].items(), key=lambda kv: -kv[1])
    results.figures["slowest_tables"] = {"run": labels[-1], "tables": slowest[:10]}


def _demo(settings, options, workdir, work, results, step) -> None:
    project = make_bench_project(
        workdir / "demo", settings, "demo", settings.profile("demo"), spark=options.spark
    )
    shutil.rmtree(project.warehouse_dir, ignore_errors=True)
    step("demo: generate")
    gen = work("generate", project, "--profile", "demo")
    step("demo: build")
    build = work("build", project)
    disk = _disk_used(project)
    results.figures["demo"] = {"generate": gen, "build": build, "disk": disk}
    results.rows += _run_rows("demo", results.figures["demo"], int(results.machine["cores"]))
    results.add(
        "build",
        "peak driver memory (demo)",
        f"JVM {mib(build['jvm_peak_bytes'])}, Python {mib(build['python_peak_bytes'])}",
        "RSS sampled every 0.1 s from /proc",
    )


def _rules(project, options, work, results) -> None:
    r = work(
        "rules",
        project,
        "--min-support",
        str(options.min_support),
        "--min-confidence",
        str(options.min_confidence),
    )
    results.figures["rules"] = r
    ratio = _ratio(r["spark_seconds"], r["mlxtend_seconds"])
    results.add(
        "rules",
        f"Spark FP-Growth / mlxtend ({project.root.name})",
        f"{ratio:.1f}x",
        f"Spark {_s(r['spark_seconds'])} / mlxtend {_s(r['mlxtend_seconds'])}, "
        f"{r['baskets']:,} baskets of {r['month']}, support {r['min_support']}, "
        f"confidence {r['min_confidence']}",
        f"< 1x: {'met' if ratio < 1 else 'NOT met'}",
    )
    same = not r["problems"]
    results.add(
        "rules",
        "identical rules",
        "identical" if same else "DIFFERENT",
        f"{r['spark_rules']} rules (Spark), {r['mlxtend_rules']} (mlxtend)"
        + ("" if same else "; " + "; ".join(r["problems"][:3])),
        "same rules, support and confidence 1e-9",
    )


def _churn(project, work, results) -> None:
    c = work("churn", project)
    results.figures["churn"] = c
    results.add(
        "churn",
        f"scoring rows per second ({project.root.name})",
        f"{c['rows_per_second']:,.0f}",
        f"{c['rows']:,} subscriber-months ({len(c['months'])} months, whole base) in "
        f"{_s(c['seconds'])}; training took {_s(c['train_seconds'])}",
    )


def _reports(project: Settings, results: BenchResults, step) -> None:
    from workbench.params import SPECS
    from workbench.reports import run_subject
    from workbench.warehouse.storage import table_months

    period = table_months(project, "dws_subscriber_month")[-1]
    timings = {}
    for subject in SPECS:
        step(f"report {subject}")
        try:
            with timed() as clock:
                run_subject(subject, period, settings=project)
            value, runs = _s(clock.seconds), f"{project.root.name}, period {period}"
        except Exception as exc:  # a failed report is a result, not the end of the pack
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else repr(exc)
            value, runs = "failed", f"{type(exc).__name__}: {reason}"
        timings[subject] = value
        results.add("reports", f"papermill {subject}", value, runs)
    results.figures["reports"] = timings


def _dashboards(project: Settings, results: BenchResults) -> None:
    """Serve the apps of ``project`` and time each (workbench.dashboards.timing), if present."""
    what = "time to interactive, filter latency"
    try:
        timing = importlib.import_module("workbench.dashboards.timing")
        from workbench.dashboards import APPS
    except ImportError as exc:
        results.add("dashboards", what, "not measured", f"not installed ({exc})")
        return
    users = list(project.dashboards.users)
    if not users:
        results.add("dashboards", what, "not measured", "no user in dashboards.users")
        return
    try:
        with _served(project) as (base_url, pid):
            from workbench.dashboards.access import signed_link

            figures = []
            for app in APPS:
                link = signed_link(users[0], project, base_url, app)
                wait_until_quiet(pid)  # every visit finds the app's preheated kernel ready
                first = timing.measure(base_url, app, link)  # the first visit warms the app
                wait_until_quiet(pid)
                again = timing.measure(base_url, app, link)
                figures.append({"first": first, "again": again})
    except Exception as exc:  # the browser or the server is missing: say so, keep the pack
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
        results.add("dashboards", what, "not measured", reason)
        return
    floor = None
    try:
        with _floor_served(project.root) as (base_url, pid):
            link = f"{base_url}/voila/render/floor.ipynb"
            wait_until_quiet(pid)
            timing.measure(base_url, "floor", link)
            wait_until_quiet(pid)
            floor = timing.measure(base_url, "floor", link)["tti_s"]
        results.add(
            "dashboards",
            "Voila floor: time to interactive of a one-widget page",
            _s(floor),
            "second visit, the server quiet; Voila started as `workbench serve` starts it",
        )
    except Exception as exc:  # the apps' figures stand without it
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
        results.add("dashboards", "Voila floor", "not measured", reason)
    results.figures["dashboards"] = {"apps": figures, "voila_floor_tti_s": floor}
    for pair in figures:
        first, again = pair["first"], pair["again"]
        app = again["app"]
        for label, key, limit in (
            ("time to interactive", "tti_s", TARGETS["tti"]),
            ("charts drawn", "charts_s", None),
            ("filter latency", "filter_latency_s", TARGETS["filter"]),
        ):
            value = again.get(key)
            if value is None:
                reason = (
                    "no chart on the first screen"
                    if key == "charts_s"
                    else "the timing found no filter to change, or no figure changed"
                )
                results.add("dashboards", f"{label} ({app})", "not measured", reason)
                continue
            over_floor = (
                f"; {value / floor:.1f}x the Voila floor" if key == "tti_s" and floor else ""
            )
            results.add(
                "dashboards",
                f"{label} ({app})",
                _s(value),
                f"second visit, the server quiet, user {users[0]}, {project.root.name}; "
                f"first visit {_s(first.get(key) or float('nan'))}{over_floor}",
                "" if limit is None else f"<= {limit} s: {'met' if value <= limit else 'NOT met'}",
            )


def _dashboards_load(project: Settings, options: BenchOptions, results: BenchResults) -> None:
    """Serve the apps of ``project`` and drive them with concurrent viewers
    (:mod:`workbench.dashboards.load`): first one viewer opening every app once (the
    single-viewer figure), then ``load_viewers`` viewers opening ``load_visits`` pages each."""
    users = list(project.dashboards.users)
    if not users:
        results.add("dashboards under load", "load test", "not measured", "no dashboards.users")
        return
    try:
        from workbench.dashboards import APPS
        from workbench.dashboards.access import signed_link
        from workbench.dashboards.load import run_load

        with _served(project) as (base_url, pid):
            links = {app: signed_link(users[0], project, base_url, app) for app in APPS}
            single = run_load(base_url, links, pid, viewers=1, visits=len(APPS))
            wait_until_quiet(pid)  # the pool refilled after the single viewer
            load = run_load(
                base_url, links, pid, viewers=options.load_viewers, visits=options.load_visits
            )
    except Exception as exc:  # the browser or the server is missing: say so, keep the pack
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
        results.add("dashboards under load", "load test", "not measured", reason)
        return
    results.figures["dashboards_load"] = {"single": single.to_json(), "load": load.to_json()}
    for row in load_rows(load, single, f"user {users[0]}, {project.root.name}"):
        results.rows.append(row)


def _seconds_or_none(value: float | None) -> str:
    return "none" if value is None else _s(value)


def load_rows(load: Any, single: Any, where: str) -> list[Row]:
    """The results table's rows of a load test (``LoadResult``s of the load and of one viewer
    opening every app once) with their targets; the targets that are stated for 100 visits by
    20 viewers are judged only at that size or larger."""
    section = "dashboards under load"
    n = len(load.visits)
    size = f"{n} visits by {load.viewers} concurrent viewers"
    at_size = load.viewers >= LOAD_TARGET_VIEWERS and n >= LOAD_TARGET_VISITS
    rows = []

    def add(measure: str, value: str, runs: str, target: str = "") -> None:
        rows.append(Row(section, measure, value, runs, target))

    def judged(ok: bool, limit: str) -> str:
        if not at_size:
            return f"{limit} (at {LOAD_TARGET_VISITS} visits by {LOAD_TARGET_VIEWERS}): not judged"
        return f"{limit}: {'met' if ok else 'NOT met'}"

    minutes = load.seconds / 60
    add(
        "visits per minute",
        f"{load.visits_per_minute:.1f}",
        f"{size} in {_s(load.seconds)} ({minutes:.1f} min), {where}; one Chromium, a context "
        "per viewer",
        judged(minutes <= TARGETS["load_minutes"], f"<= {TARGETS['load_minutes']:g} min"),
    )
    tti_single = single.tti(95)
    for q in (50, 95):
        value = load.tti(q)
        target = ""
        if q == 95 and value is not None and tti_single:
            ratio = value / tti_single
            target = judged(ratio <= TARGETS["load_tti"], f"<= {TARGETS['load_tti']:g}x one viewer")
        add(
            f"time to interactive p{q}",
            _seconds_or_none(value),
            f"{size}; one viewer opening each app once: p{q} {_seconds_or_none(single.tti(q))}"
            + (f" ({value / tti_single:.1f}x)" if value and tti_single else ""),
            target,
        )
    add(
        "filter latency p95",
        _seconds_or_none(load.filter_latency(95)),
        f"{size}; one viewer: {_seconds_or_none(single.filter_latency(95))}",
    )
    errors = load.errors()
    add(
        "errors",
        str(sum(errors.values())),
        ", ".join(f"{kind}: {count}" for kind, count in errors.items())
        or "no HTTP error, busy page, page never interactive or console error",
        judged(not errors, "0"),
    )
    add(
        "peak live kernels",
        str(load.peak_kernels),
        f"/healthz every 0.5 s; {load.kernels_before} before (the preheated pool of "
        f"{load.pool_size})",
    )
    gib = load.peak_rss / 2**30
    add(
        "peak server memory",
        f"{gib:.2f} GiB",
        f"RSS of the server and every process under it, psutil every 0.5 s; "
        f"{mib(load.rss_before)} before; a kernel {mib(load.peak_kernel_rss)} (mean at the "
        "most kernels)",
        judged(gib <= TARGETS["load_memory_gib"], f"<= {TARGETS['load_memory_gib']:g} GiB"),
    )
    back = load.back_to_pool_s
    limit = TARGETS["load_back_s"]
    add(
        "kernels back to the preheated pool",
        "not within " + _s(load.settle_s) if back is None else _s(back),
        f"from the last viewer leaving to /healthz showing at most {load.pool_size} kernels",
        f"<= {limit:g} s: {'met' if back is not None and back <= limit else 'NOT met'}",
    )
    return rows


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _served(project: Settings) -> Iterator[tuple[str, int]]:
    """``workbench serve`` for ``project`` on a free local port (its URL and process id);
    stopped on exit."""
    port = _free_port()
    config = project.root / DEFAULT_CONFIG
    cmd = [sys.executable, "-m", "workbench.cli", "--config", str(config), "serve"]
    cmd += ["--port", str(port)]
    # beside the warehouse, not in the project's root: `--load-only` serves the checkout itself
    log_file = project.warehouse_dir.parent / "serve.log"
    with _server(cmd, project.root, log_file, port) as served:
        yield served


FLOOR_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "floor",
            "metadata": {},
            "outputs": [],
            "source": "import ipywidgets\n"
            "page = ipywidgets.HTML('floor')\n"
            "page.add_class('wb-app')\n"
            "page",
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@contextmanager
def _floor_served(workdir: Path) -> Iterator[tuple[str, int]]:
    """Voila, started as ``workbench serve`` starts it, serving a page of one HTML widget: the
    least any Voila page costs on this machine (the floor of the apps' time to interactive)."""
    from workbench.dashboards.voila import voila_command

    folder = workdir / "voila_floor"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "floor.ipynb").write_text(json.dumps(FLOOR_NOTEBOOK), encoding="utf-8")
    port = _free_port()
    cmd = voila_command(folder, host="127.0.0.1", port=port, pool_size=1, cull_idle_seconds=0)
    with _server(cmd, folder, folder / "voila.log", port) as served:
        yield served


@contextmanager
def _server(cmd: list[str], cwd: Path, log_path: Path, port: int) -> Iterator[tuple[str, int]]:
    """Run ``cmd`` (a web server on ``port``) until it answers; its URL and process id; stopped
    on exit."""
    import os
    import signal
    import time
    import urllib.error
    import urllib.request

    log_file = log_path.open("w")
    server = subprocess.Popen(
        cmd, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise BenchError(f"{cmd[2:4]} exited early; see {log_path}")
            try:
                with urllib.request.urlopen(base_url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answered, if only to refuse a request without a token
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{cmd[2:4]} did not answer on {base_url}") from None
                time.sleep(0.5)
        yield base_url, server.pid
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log_file.close()
