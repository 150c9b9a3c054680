"""A throw-away project whose notebooks/ folder holds small real notebooks (registered as
``reports.extra_notebooks``) that succeed, fail, hang, kill their own kernel or fail while a
marker file exists. A real kernel runs each of them through the report runner."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from tests.conftest import make_project
from workbench.config import Settings, load_settings

PARAMETERS = (
    'period: str = "2026-01"  # month reported on\n'
    'config_path: str = ""  # the project config\n'
    'output_dir: str = ""  # where the report files go'
)
# Each notebook's cells after the parameters cell. They write what they see into output_dir so
# the tests can compare the published files with the run that made them.
BODIES = {
    "ok_report": [
        "import json, os\nfrom pathlib import Path\nout = Path(output_dir)",
        "(out / 'seen.json').write_text(json.dumps({'period': period, 'run_dir': out.name}))\n"
        "print('report for', period)",
    ],
    "slow_report": [
        "import json, time\nfrom pathlib import Path\nout = Path(output_dir)",
        "time.sleep(4)\n(out / 'seen.json').write_text(json.dumps({'run_dir': out.name}))",
    ],
    "fail_report": [
        "x = 1",
        "raise ValueError(f'no data for {period}')",
        "y = 2",
    ],
    "hang_report": [
        "import os, time\nfrom pathlib import Path",
        "Path(output_dir, 'kernel.pid').write_text(str(os.getpid()))\ntime.sleep(600)",
    ],
    "die_report": [
        "import os",
        "os._exit(1)",
    ],
    "flaky_report": [
        "from pathlib import Path\nmarker = Path(config_path).parent.parent / 'FAIL'",
        "if marker.exists():\n    raise RuntimeError(f'marker present for {period}')",
    ],
}


def write_notebook(path: Path, body: list[str]) -> Path:
    book = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    book.cells = [params, *(nbformat.v4.new_code_cell(src) for src in body)]
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(book, str(path))
    return path


@pytest.fixture
def report_project(tmp_path) -> Settings:
    """A project with the test notebooks, empty schedules and subscriptions files and a short
    wall clock."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name, body in BODIES.items():
        write_notebook(notebooks / f"{name}.ipynb", body)
    (tmp_path / "pipelines").mkdir()
    make_project(tmp_path)
    (tmp_path / "pipelines" / "schedules.yml").write_text("schedules: []\n")
    # the shipped subscriptions name the shipped schedules, which these tests replace
    (tmp_path / "pipelines" / "subscriptions.yml").write_text("subscriptions: []\n")
    config_file = tmp_path / "pipelines" / "config.yml"
    config = yaml.safe_load(config_file.read_text())
    # in the file, not as overrides, so the CLI (a separate load) sees the same settings
    config["reports"] = {
        **config.get("reports", {}),
        "extra_notebooks": sorted(BODIES),
        "timeout_seconds": 120,
    }
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return load_settings(config_file, environ={})
