"""Subject reports: run a subject notebook with papermill and write its HTML.

A run of subject ``s`` for month ``p`` writes, under ``<paths.reports>/<s>/<p>/``:

* ``<s>.ipynb``: the executed notebook (parameters injected, every output kept);
* ``<s>.html``: the same without code cells, for managers (nbconvert, ``exclude_input``);
* ``run.json``: subject, period, parameters, timing and the files written;
* whatever the notebook saves beside them (the churn model bundle under ``model/``,
  metrics as JSON).

The notebooks call :func:`open_run` and :func:`show` from here, so their cells stay short.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.analysis.errors import ParameterError
from workbench.config import DEFAULT_CONFIG, load_settings
from workbench.errors import WorkbenchError
from workbench.months import parse_month
from workbench.params import check_overrides
from workbench.subjects import SUBJECTS

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from workbench.config import Settings

log = logging.getLogger(__name__)

KERNEL = "python3"
RUN_FILE = "run.json"


class ReportError(WorkbenchError):
    """A subject notebook failed; the message names the notebook and the failing cell's error."""


@dataclass(frozen=True)
class ReportPaths:
    """Where a run's files went."""

    directory: Path
    notebook: Path
    html: Path
    run_file: Path
    extra: list[Path] = field(default_factory=list)


def notebooks_dir(settings: Settings | None = None) -> Path:
    """The project's ``notebooks/`` folder, else the one shipped beside the package."""
    if settings is not None and (settings.root / "notebooks").is_dir():
        return settings.root / "notebooks"
    return Path(__file__).resolve().parents[2] / "notebooks"


def notebook_path(subject: str, settings: Settings | None = None) -> Path:
    if subject not in SUBJECTS:
        raise ParameterError(f"unknown subject {subject!r}; known: {', '.join(SUBJECTS)}")
    path = notebooks_dir(settings) / f"{subject}.ipynb"
    if not path.is_file():
        raise ReportError(f"notebook for subject {subject!r} not found: {path}")
    return path


def report_dir(settings: Settings, subject: str, period: str) -> Path:
    return settings.reports_dir / subject / parse_month(period)


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


def run_subject(
    subject: str,
    period: str,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    kernel_name: str = KERNEL,
    timeout: int = 1800,
) -> ReportPaths:
    """Execute ``notebooks/<subject>.ipynb`` for ``period`` and write its report files.

    Args:
        parameters: notebook parameters besides ``period``, ``config_path`` and ``output_dir``
            (which this function sets); validated before the kernel starts.
        settings: the project (default: found from the working folder).
        timeout: seconds any one cell may run.

    Raises:
        ParameterError: a parameter is unknown or invalid (nothing is run).
        ReportError: the notebook failed; the executed notebook is kept for inspection.
    """
    import papermill as pm

    settings = settings or load_settings()
    period = parse_month(period)
    source = notebook_path(subject, settings)
    given = dict(parameters or {})
    fixed = {"period", "config_path", "output_dir"} & set(given)
    if fixed:
        raise ParameterError(f"parameter {sorted(fixed)[0]!r} is set by run_subject itself")
    checked = check_overrides(subject, given)
    out_dir = report_dir(settings, subject, period)
    out_dir.mkdir(parents=True, exist_ok=True)
    injected = {
        **checked,
        "period": period,
        "config_path": str(settings.root / DEFAULT_CONFIG),
        "output_dir": str(out_dir),
    }
    check_overrides(subject, injected)
    notebook = out_dir / f"{subject}.ipynb"
    started = time.time()
    log.info("running %s for %s -> %s", source.name, period, out_dir)
    try:
        pm.execute_notebook(
            str(source),
            str(notebook),
            parameters=injected,
            kernel_name=kernel_name,
            cwd=str(out_dir),
            progress_bar=False,
            execution_timeout=timeout,
        )
    except pm.PapermillExecutionError as exc:
        raise ReportError(
            f"{source.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(executed notebook kept at {notebook})"
        ) from exc
    html = write_html(notebook, out_dir / f"{subject}.html")
    extra = sorted(p for p in out_dir.rglob("*") if p.is_file() and p not in (notebook, html))
    run_file = out_dir / RUN_FILE
    run_file.write_text(
        json.dumps(
            {
                "subject": subject,
                "period": period,
                "parameters": injected,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "seconds": round(time.time() - started, 1),
                "notebook": notebook.name,
                "html": html.name,
                "files": [str(p.relative_to(out_dir)) for p in extra if p.name != RUN_FILE],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return ReportPaths(out_dir, notebook, html, run_file, [p for p in extra if p != run_file])


# -- helpers the notebooks call -----------------------------------------------------------------
@dataclass(frozen=True)
class RunContext:
    """What a notebook needs after its parameters are validated."""

    subject: str
    params: dict[str, Any]
    settings: Settings
    output_dir: Path

    @property
    def period(self) -> str:
        return self.params["period"]

    def spark(self):
        """A Spark session from the project's settings (only notebooks that need one call it)."""
        from workbench.spark import get_spark

        return get_spark(self.settings.spark)

    def save_json(self, name: str, data: Any) -> Path:
        """Write ``data`` as JSON beside the report (metrics, tables for other tools)."""
        path = self.output_dir / name
        path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        return path


def open_run(subject: str, params: Mapping[str, Any]) -> RunContext:
    """Settings and output folder of a notebook run from its validated parameters.

    Also sets up logging to the notebook and the figure renderer.
    """
    config = params.get("config_path") or None
    settings = load_settings(Path(config) if config else None)
    out = params.get("output_dir") or str(report_dir(settings, subject, params["period"]))
    output_dir = Path(out)
    output_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _shown.clear()
    return RunContext(subject, dict(params), settings, output_dir)


_shown: list[bool] = []


def show(fig: go.Figure) -> None:
    """Display a figure both ways: Plotly's own mimetype for JupyterLab and self-contained HTML
    (plotly.js embedded once per notebook) for the HTML report."""
    from IPython.display import display

    first = not _shown
    _shown.append(True)
    html = fig.to_html(full_html=False, include_plotlyjs=first)
    display(
        {"application/vnd.plotly.v1+json": json.loads(fig.to_json()), "text/html": html}, raw=True
    )


def show_table(frame: pd.DataFrame, caption: str | None = None) -> None:
    """Display a (formatted) table without its index."""
    from IPython.display import HTML, display

    title = f"<h4>{caption}</h4>" if caption else ""
    display(HTML(title + frame.to_html(index=False, border=0, classes="dataframe")))
