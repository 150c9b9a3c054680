"""The getting-started notebook runs top to bottom through papermill on the tiny warehouse (one
kernel, one Spark session) in the kernel `workbench lab` gives it, and what it shows is the
warehouse's own data."""

from __future__ import annotations

import nbformat
import papermill as pm

from tests.conftest import PROJECT_ROOT
from workbench.catalog.kpis import load_kpis
from workbench.config import CONFIG_ENV
from workbench.lab import KERNEL_NAME, START_NOTEBOOK, lab_launch
from workbench.marts import read_mart

NOTEBOOK = PROJECT_ROOT / START_NOTEBOOK


def _shown(cells, marker: str) -> dict:
    """The display data of the one cell whose source contains ``marker``."""
    (cell,) = [c for c in cells if marker in c.source]
    return next(o["data"] for o in cell.outputs if "data" in o)


def test_getting_started_runs_top_to_bottom(tiny_warehouse, tmp_path, monkeypatch):
    book = nbformat.read(str(NOTEBOOK), as_version=4)
    assert book.metadata["kernelspec"]["name"] == KERNEL_NAME  # what `workbench lab` opens it in
    code = [c for c in book.cells if c.cell_type == "code"]
    assert not [c for c in code if c.outputs or c.execution_count]  # committed without outputs
    assert code[0].metadata["tags"] == ["parameters"]
    # the lab's kernel, found as the lab finds it; the project reaches the kernel through the
    # kernel spec alone (not this process's environment, not the working folder, no parameter)
    launch = lab_launch(tiny_warehouse.root, tiny_warehouse.root / "pipelines" / "config.yml", 0)
    monkeypatch.setenv("JUPYTER_PATH", launch.env["JUPYTER_PATH"])
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    out = tmp_path / "getting_started.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK), str(out), kernel_name=KERNEL_NAME, cwd=str(tmp_path), progress_bar=False
    )
    cells = [c for c in nbformat.read(str(out), as_version=4).cells if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert all(c.execution_count for c in cells)

    cube = read_mart("ads_kpi_cube", tiny_warehouse)
    latest = sorted(cube["month"])[-1]
    # SQL through DuckDB, shown as a table and as a Plotly chart
    active = _shown(cells, "%%sql active")["text/html"]
    regions = cube[
        (cube["kpi_code"] == "active_subscribers")
        & (cube["segment"] == "ALL")
        & (cube["plan_type"] == "ALL")
        & (cube["region_id"] != "ALL")
    ]
    assert f"{len(regions)} rows × 3 columns" in active and len(regions) > 1
    assert "application/vnd.plotly.v1+json" in _shown(cells, "px.line(")
    # Spark: active lines per plan type in the latest month
    lines = read_mart("dws_subscriber_month", tiny_warehouse, months=[latest])
    by_plan = _shown(cells, "workbench.table(")["text/html"]
    for plan, n in lines[lines["is_active"]].groupby("plan_type").size().items():
        assert f"<td>{plan}</td>\n      <td>{n}</td>" in by_plan
    # the KPI's definition is the dictionary's
    kpis = {
        k.code: k
        for k in load_kpis(tiny_warehouse.resolve(tiny_warehouse.warehouse.kpi_dictionary))
    }
    definition = _shown(cells, 'browse.kpi("churn_rate"')["text/plain"]
    assert kpis["churn_rate"].name_zh in definition and kpis["churn_rate"].unit in definition
    churn = _shown(cells, "%%sql churn_by_region")["text/html"]
    expected = cube[
        (cube["kpi_code"] == "churn_rate")
        & (cube["month"] == latest)
        & (cube["segment"] == "ALL")
        & (cube["plan_type"] == "ALL")
    ]
    assert churn.count("<tr>") == len(expected) > 1  # one body row per region (and ALL)
