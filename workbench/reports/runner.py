"""Run a report notebook with papermill in a child process and publish its files.

Each run works in its own folder ``<subject>/<period>/.runs/<run_id>/`` (the notebook's
``output_dir``), so two runs of one report at once never write the same files. A successful run
is then published to ``<subject>/<period>/[<region>/]`` under a lock, file by file with atomic
renames; a failed one is not published (the last good report stays) but keeps its partial notebook
in its run folder. Every run is recorded in the ledger and the index is rebuilt.

The child process (:mod:`workbench.reports._execute`) is stopped, kernel included, when the run
exceeds its wall clock (``reports.timeout_seconds``); one cell may run ``reports.
cell_timeout_seconds``; a kernel that dies is reported as a failure of the cell that was running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.config import DEFAULT_CONFIG, Settings, load_settings
from workbench.errors import ParameterError
from workbench.months import parse_month
from workbench.params import SPECS, check_overrides
from workbench.reports.index import write_index
from workbench.reports.ledger import append_run
from workbench.reports.paths import (
    ALL_REGIONS,
    ReportError,
    notebook_path,
    region_folder,
    report_dir,
    runs_dir,
)
from workbench.reports.prune import prune_runs

log = logging.getLogger(__name__)

KERNEL = "python3"
RUN_FILE = "run.json"
FIXED = ("period", "config_path", "output_dir")
_GRACE_SECONDS = 10  # after SIGTERM, how long the child may take to shut its kernel down


@dataclass(frozen=True)
class ReportPaths:
    """Where a successful run's files went (``directory`` is the published folder)."""

    directory: Path
    notebook: Path
    html: Path
    run_file: Path
    extra: list[Path] = field(default_factory=list)
    run_id: str = ""
    run_dir: Path | None = None


@dataclass(frozen=True)
class RunOutcome:
    """One run: its ledger record, and its published paths when it succeeded."""

    record: dict[str, Any]
    paths: ReportPaths | None

    @property
    def ok(self) -> bool:
        return self.record["status"] == "ok"

    def describe(self) -> str:
        """One line: what ran and, for a failure, the cell and error."""
        r = self.record
        name = f"{r['subject']} {r['period']}" + (f" {r['region']}" if r.get("region") else "")
        if self.ok:
            return f"{name}: ok in {r['seconds']:.1f} s"
        error = r.get("error") or {}
        cell = f" in cell {error['cell']}" if error.get("cell") is not None else ""
        return (
            f"{name}: {r['status']}{cell}: {error.get('ename')}: {error.get('evalue')} "
            f"(partial notebook kept at {r.get('notebook_path')})"
        )


def write_html(notebook: Path, html: Path) -> Path:
    """The executed notebook as HTML without code cells or prompts."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


def failing_cell(notebook: Path) -> int | None:
    """The ``In [N]`` of the cell that failed or was running when the run stopped (its position
    among the code cells when it never got a number); None without a readable notebook."""
    import nbformat

    try:
        book = nbformat.read(str(notebook), as_version=4)
    except Exception:  # a notebook cut short is no reason to hide the run's own error
        return None
    code = [c for c in book.cells if c.cell_type == "code"]
    meta = [c.metadata.get("papermill", {}) for c in code]
    chosen = [i for i, m in enumerate(meta) if m.get("status") == "failed"] or [
        i for i, m in enumerate(meta) if m.get("start_time")
    ]
    if not chosen:
        return None
    index = chosen[-1]
    return code[index].execution_count or index + 1


def new_run_id(region: str | None = None) -> str:
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    folder = region_folder(region)
    return f"{stamp}-{folder}" if folder else stamp


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the kernel runs in its own session, so a process-group kill
    would miss it)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _execute(spec: dict[str, Any], wall_timeout: float, log_file: Path) -> dict[str, Any]:
    """Run the child; stop it (and its kernel) after ``wall_timeout`` seconds."""
    spec_file = Path(spec["cwd"]) / ".spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    with open(log_file, "w") as out:
        child = subprocess.Popen(
            # run as a script: the child needs papermill only, not the workbench package
            [sys.executable, str(Path(__file__).with_name("_execute.py")), str(spec_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            child.wait(timeout=wall_timeout)
        except subprocess.TimeoutExpired:
            log.warning("run exceeded %s s: stopping it", wall_timeout)
            below = _descendants(child.pid)
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                below += _descendants(child.pid)
                _kill([child.pid])
                child.wait()
            _kill(below)
            return {
                "status": "timeout",
                "ename": "Timeout",
                "evalue": f"the run exceeded its wall-clock limit of {wall_timeout:g} s",
            }
    result = Path(spec["result"])
    if result.is_file():
        return json.loads(result.read_text(encoding="utf-8"))
    tail = log_file.read_text(encoding="utf-8", errors="replace")[-500:]
    return {
        "status": "failed",
        "ename": "RunnerDied",
        "evalue": f"the report process exited with code {child.returncode}: {tail}",
    }


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def publish(run_dir: Path, target: Path, run_id: str) -> list[str]:
    """Put a run's files (not its hidden ones) into ``target``, replacing the previous run's.

    Serialised by a lock on ``target``; each file or folder lands with an atomic rename, and
    ``run.json`` (which lists the entries) goes last.

    Returns:
        the published top-level entries.
    """
    target.mkdir(parents=True, exist_ok=True)
    entries = sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))
    entries.sort(key=lambda name: name == RUN_FILE)
    with open(target / ".publish.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous: list[str] = []
        if (target / RUN_FILE).is_file():
            previous = json.loads((target / RUN_FILE).read_text()).get("entries", [])
        for name in entries:
            src, dst = run_dir / name, target / name
            tmp = target / f".{name}.{run_id}.tmp"
            if src.is_dir():
                shutil.copytree(src, tmp, copy_function=_link_or_copy)
                if dst.exists():
                    old = target / f".{name}.{run_id}.old"
                    os.replace(dst, old)
                    os.replace(tmp, dst)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.replace(tmp, dst)
            else:
                _link_or_copy(str(src), str(tmp))
                os.replace(tmp, dst)
        for name in set(previous) - set(entries):
            stale = target / name
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            elif stale.exists():
                stale.unlink()
    return entries


def _relative(settings: Settings, path: Path) -> str:
    return str(path.relative_to(settings.reports_dir))


def run_notebook(
    source: Path,
    subject: str,
    period: str,
    parameters: Mapping[str, Any],
    settings: Settings,
    *,
    region: str | None = None,
    kernel_name: str = KERNEL,
    cell_timeout: int | None = None,
    wall_timeout: float | None = None,
    schedule: str | None = None,
    scheduled_for: str | None = None,
) -> RunOutcome:
    """Execute ``source`` as report ``subject`` for ``period`` and record the run.

    Parameters are injected as given (check them first: :func:`execute_report` does); this
    function adds ``period``, ``config_path`` and ``output_dir``. Never raises for a failing
    notebook: the outcome's record says what happened.
    """
    period = parse_month(period)
    run_id = new_run_id(region)
    run_dir = runs_dir(settings, subject, period) / run_id
    run_dir.mkdir(parents=True)
    published = report_dir(settings, subject, period, region)
    injected = {
        **parameters,
        "period": period,
        "config_path": str(settings.root / DEFAULT_CONFIG),
        "output_dir": str(run_dir),
    }
    notebook = run_dir / f"{subject}.ipynb"
    spec = {
        "source": str(source),
        "notebook": str(notebook),
        "parameters": injected,
        "kernel_name": kernel_name,
        "cwd": str(run_dir),
        "cell_timeout": cell_timeout or settings.reports.cell_timeout_seconds,
        "result": str(run_dir / ".result.json"),
    }
    wall = wall_timeout or settings.reports.timeout_seconds
    started = datetime.now(UTC)
    clock = time.monotonic()
    log.info(
        "running %s for %s%s -> %s", source.name, period, f" {region}" if region else "", run_dir
    )
    result = _execute(spec, wall, run_dir / ".runner.log")
    seconds = round(time.monotonic() - clock, 2)
    html = run_dir / f"{subject}.html"
    if notebook.is_file():
        try:
            write_html(notebook, html)
        except Exception as exc:  # a partial notebook may not convert; the run's error matters
            log.warning("no HTML for %s: %s", notebook, exc)
    status = result["status"]
    error = None
    if status != "ok":
        cell = failing_cell(notebook) if notebook.is_file() else None
        error = {"cell": cell, "ename": result.get("ename"), "evalue": result.get("evalue")}
    record: dict[str, Any] = {
        "run_id": run_id,
        "subject": subject,
        "period": period,
        "region": region_folder(region),
        "status": status,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ended_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": seconds,
        "parameters": injected,
        "run_dir": _relative(settings, run_dir),
        "notebook": _relative(settings, notebook) if notebook.is_file() else None,
        "notebook_path": str(notebook),
        "html": _relative(settings, html) if html.is_file() else None,
        "published": None,
        "error": error,
        "schedule": schedule,
        "scheduled_for": scheduled_for,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    paths = None
    if status == "ok":
        extra = sorted(
            p
            for p in run_dir.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(run_dir).parts)
            and p not in (notebook, html)
        )
        entries = sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))
        run_info = {
            **{k: record[k] for k in ("run_id", "subject", "period", "region", "started_at")},
            "parameters": injected,
            "seconds": seconds,
            "notebook": notebook.name,
            "html": html.name,
            "files": [str(p.relative_to(run_dir)) for p in extra],
            "entries": sorted({*entries, RUN_FILE}),
        }
        (run_dir / RUN_FILE).write_text(json.dumps(run_info, indent=2), encoding="utf-8")
        publish(run_dir, published, run_id)
        record["published"] = _relative(settings, published / html.name)
        paths = ReportPaths(
            published,
            published / notebook.name,
            published / html.name,
            published / RUN_FILE,
            [published / p.relative_to(run_dir) for p in extra],
            run_id,
            run_dir,
        )
    append_run(settings, record)
    write_index(settings)
    try:  # housekeeping: it must never turn a run into a failure
        prune_runs(
            run_dir.parent,
            settings.reports.keep_runs,
            running_for_seconds=settings.reports.timeout_seconds,
        )
    except OSError as exc:
        log.warning("could not prune the old runs of %s: %s", run_dir.parent, exc)
    outcome = RunOutcome(record, paths)
    (log.info if outcome.ok else log.error)("%s", outcome.describe())
    return outcome


def check_report(
    subject: str,
    parameters: Mapping[str, Any] | None,
    settings: Settings,
    region: str | None = None,
) -> tuple[Path, dict[str, Any], str | None]:
    """The notebook, checked parameters and region of a report, before anything runs.

    Raises:
        ParameterError: unknown subject or parameter, a bad value, a parameter the runner sets
            itself, or a region for a subject that cannot honour one.
    """
    source = notebook_path(subject, settings)
    given = dict(parameters or {})
    fixed = set(FIXED) & set(given)
    if fixed:
        raise ParameterError(f"parameter {sorted(fixed)[0]!r} is set by run_subject itself")
    spec = SPECS.get(subject)
    if spec is None:  # an extra notebook: common parameters only
        if given or region_folder(region):
            name = sorted(given)[0] if given else "region_id"
            raise ParameterError(
                f"parameter {name!r}: {subject} is an extra notebook and takes only "
                f"{', '.join(FIXED)}"
            )
        return source, {}, None
    if region is not None:
        if "region_id" not in spec:
            raise ParameterError(
                f"--region: subject {subject!r} has no region_id parameter, so it cannot be "
                "run per region"
            )
        given["region_id"] = ALL_REGIONS if region_folder(region) is None else region
    checked = check_overrides(subject, given)
    chosen = checked.get("region_id")
    return source, checked, region_folder(chosen) if isinstance(chosen, str) else None


def execute_report(
    subject: str,
    period: str,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    region: str | None = None,
    kernel_name: str = KERNEL,
    timeout: int | None = None,
    wall_timeout: float | None = None,
    schedule: str | None = None,
    scheduled_for: str | None = None,
) -> RunOutcome:
    """Check and run one report; a failing notebook gives a failed outcome (not an error).

    Raises:
        ParameterError: see :func:`check_report` (nothing is run).
    """
    settings = settings or load_settings()
    period = parse_month(period)
    source, checked, region = check_report(subject, parameters, settings, region)
    return run_notebook(
        source,
        subject,
        period,
        checked,
        settings,
        region=region,
        kernel_name=kernel_name,
        cell_timeout=timeout,
        wall_timeout=wall_timeout,
        schedule=schedule,
        scheduled_for=scheduled_for,
    )


def run_subject(
    subject: str,
    period: str,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    region: str | None = None,
    kernel_name: str = KERNEL,
    timeout: int | None = None,
    wall_timeout: float | None = None,
) -> ReportPaths:
    """Execute ``notebooks/<subject>.ipynb`` for ``period`` and publish its report files.

    Args:
        parameters: notebook parameters besides ``period``, ``config_path`` and ``output_dir``
            (which this function sets); validated before the kernel starts.
        settings: the project (default: found from the working folder).
        region: a region id (the subject must have ``region_id``); ``ALL`` or None: every region.
        timeout: seconds any one cell may run (default ``reports.cell_timeout_seconds``).
        wall_timeout: seconds the whole run may take (default ``reports.timeout_seconds``).

    Raises:
        ParameterError: a parameter is unknown or invalid (nothing is run).
        ReportError: the notebook failed or timed out; its partial notebook is kept.
    """
    outcome = execute_report(
        subject,
        period,
        parameters,
        settings,
        region=region,
        kernel_name=kernel_name,
        timeout=timeout,
        wall_timeout=wall_timeout,
    )
    if outcome.paths is None:
        raise ReportError(outcome.describe())
    return outcome.paths


def list_regions(settings: Settings) -> list[str]:
    """Every region id of ``dwd_dim_region`` (read with DuckDB), sorted."""
    from workbench.marts import read_mart

    regions = sorted(read_mart("dwd_dim_region", settings)["region_id"].dropna().unique())
    if not regions:
        raise ReportError(
            f"dwd_dim_region is empty under {settings.warehouse_dir}: build the warehouse first"
        )
    return [str(r) for r in regions]


def run_regions(
    subject: str,
    period: str,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    regions: list[str] | None = None,
    **options: Any,
) -> list[RunOutcome]:
    """Run a report once per region, one after another, going on after a failure.

    Args:
        regions: the regions to run (default: every region of ``dwd_dim_region``); each must
            exist there.
        options: passed to :func:`execute_report` (timeouts, schedule, kernel).
    """
    settings = settings or load_settings()
    known = list_regions(settings)
    chosen = regions or known
    unknown = [r for r in chosen if r not in known]
    if unknown:
        raise ParameterError(f"--region {unknown[0]!r}: not in dwd_dim_region ({', '.join(known)})")
    # check once before the first kernel starts, so a bad parameter stops the whole fan-out
    check_report(subject, parameters, settings, chosen[0])
    return [
        execute_report(subject, period, parameters, settings, region=r, **options) for r in chosen
    ]
