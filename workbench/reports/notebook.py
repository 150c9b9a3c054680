"""Helpers the subject notebooks call: :func:`open_run`, :func:`show` and :func:`show_table`, so
their cells stay short."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import load_settings
from workbench.reports.paths import report_dir

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from workbench.config import Settings


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
        """A Spark session from the project's settings (only notebooks that need one call it).
        The JVM's own output goes to ``spark.log`` beside the report, not into it."""
        from workbench.spark import get_spark

        return get_spark(self.settings.spark, jvm_log=self.output_dir / "spark.log")

    def save_csv(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a table as CSV (UTF-8 with a byte-order mark, so Excel shows the Chinese)
        beside the report: the full list behind a digest, for whoever needs every row."""
        path = self.output_dir / name
        frame.to_csv(path, index=False, encoding="utf-8-sig")
        return path

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
    region = params.get("region_id")
    out = params.get("output_dir") or str(
        report_dir(settings, subject, params["period"], region if isinstance(region, str) else None)
    )
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


def show_html(markup: str) -> None:
    """Display a piece of HTML the workbench built (e.g. :func:`workbench.viz.kpi_tiles`)."""
    from IPython.display import HTML, display

    display(HTML(markup))


def show_table(frame: pd.DataFrame, caption: str | None = None) -> None:
    """Display a (formatted) table without its index."""
    from IPython.display import HTML, display

    title = f"<h4>{caption}</h4>" if caption else ""
    display(HTML(title + frame.to_html(index=False, border=0, classes="dataframe")))
