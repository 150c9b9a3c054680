"""Where reports live and which notebooks may run as reports.

``<paths.reports>/<subject>/<period>/[<region>/]`` holds the latest successful run of a report;
every run (failed ones too) keeps its own folder ``<subject>/<period>/.runs/<run_id>/``. The run
ledger is ``_ledger/runs.jsonl`` and the index ``index.html``, both at the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ParameterError, WorkbenchError
from workbench.months import parse_month
from workbench.names import is_identifier
from workbench.subjects import SUBJECTS

if TYPE_CHECKING:
    from workbench.config import Settings

ALL_REGIONS = "ALL"
RUNS_DIR = ".runs"


class ReportError(WorkbenchError):
    """A report failed or cannot run; the message names the notebook, cell and error."""


def notebooks_dir(settings: Settings | None = None) -> Path:
    """The project's ``notebooks/`` folder, else the one shipped beside the package."""
    if settings is not None and (settings.root / "notebooks").is_dir():
        return settings.root / "notebooks"
    return Path(__file__).resolve().parents[2] / "notebooks"


def runnable_notebooks(settings: Settings | None = None) -> tuple[str, ...]:
    """The subjects plus the project's ``reports.extra_notebooks``."""
    extra = tuple(settings.reports.extra_notebooks) if settings is not None else ()
    return SUBJECTS + tuple(n for n in extra if n not in SUBJECTS)


def write_parameters_cell(subject: str, path: Path | None = None) -> bool:
    """Write a subject notebook's ``parameters`` cell from the subject's declaration
    (:func:`workbench.params.parameters_cell`); whether the notebook changed."""
    import nbformat

    from workbench.params import parameters_cell

    path = path or notebooks_dir() / f"{subject}.ipynb"
    book = nbformat.read(str(path), as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ReportError(f"{path}: expected one cell tagged 'parameters', found {len(tagged)}")
    source = parameters_cell(subject)
    if tagged[0].source == source:
        return False
    tagged[0].source = source
    nbformat.write(book, str(path))
    return True


def notebook_path(subject: str, settings: Settings | None = None) -> Path:
    """The notebook of a subject (or of a configured extra notebook)."""
    known = runnable_notebooks(settings)
    if subject not in known or not is_identifier(subject):
        raise ParameterError(f"unknown subject {subject!r}; known: {', '.join(known)}")
    # the project's own notebook first, else the one shipped beside the package
    candidates = [
        notebooks_dir(settings) / f"{subject}.ipynb",
        notebooks_dir() / f"{subject}.ipynb",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise ReportError(f"notebook for subject {subject!r} not found: {candidates[0]}")


def region_folder(region: str | None) -> str | None:
    """The sub-folder of a region's report (none for all regions)."""
    if region is None or region.upper() == ALL_REGIONS:
        return None
    if not is_identifier(region):
        raise ParameterError(
            f"--region {region!r}: expected a region id such as GZ (letters, digits, _ - ., "
            "not . or ..)"
        )
    return region


def report_dir(settings: Settings, subject: str, period: str, region: str | None = None) -> Path:
    """Where the latest report of ``subject`` for ``period`` (and region) is published."""
    base = settings.reports_dir / subject / parse_month(period)
    folder = region_folder(region)
    return base / folder if folder else base


def runs_dir(settings: Settings, subject: str, period: str) -> Path:
    """The folder holding every run's own copy of a report for ``period``."""
    return settings.reports_dir / subject / parse_month(period) / RUNS_DIR
