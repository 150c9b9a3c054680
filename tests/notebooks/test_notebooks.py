"""Every subject notebook runs through papermill on the tiny warehouse and writes its report;
a bad parameter stops each one at once with a message naming the parameter."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import papermill as pm
import pytest

from tests.pages import check_at_both_sizes
from workbench.analysis.churn import load_model
from workbench.errors import ParameterError
from workbench.marts import read_mart
from workbench.reports import notebook_path, run_subject
from workbench.subjects import SUBJECTS

# Small settings so the whole module stays within a few minutes on two cores.
FAST = {
    "churn": {"num_boost_round": 60, "train_months": 2, "horizon_months": 1},
    "cross_sell": {"by_groups": False, "max_len": 2},
    "channel_roi": {},
    "campaign_roi": {},
    "kpi_overview": {},
    "value_segments": {},
    "key_accounts": {},
    "revenue": {"horizon_months": 2},
    "service_quality": {},
    "competition": {"top_n": 20},
    "new_products": {},
    "truth": {},
}
BAD = {
    "churn": ("horizon_months", 0),
    "cross_sell": ("period", "2026-06; __import__('os').system('id')"),
    "channel_roi": ("margin", 1.5),
    "campaign_roi": ("include_incomplete", "yes"),
    "kpi_overview": ("region_idd", "GZ"),
    "value_segments": ("segment", "a b"),
    "key_accounts": ("n_managers", 0),
    "revenue": ("confidence", 1.5),
    "service_quality": ("poor_drop_rate", 0.9),
    "competition": ("segment", "mass; rm"),
    "new_products": ("product_id", "__import__"),
    "truth": ("period", "2026-13"),
}


@pytest.mark.parametrize("subject", SUBJECTS)
def test_notebook_runs_and_writes_its_report(subject, tiny_warehouse, tiny_manifest, browser):
    period = tiny_manifest["months"][-1]
    paths = run_subject(subject, period, FAST[subject], tiny_warehouse)
    assert paths.directory == tiny_warehouse.reports_dir / subject / period
    book = nbformat.read(str(paths.notebook), as_version=4)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # nothing on standard error (a red box in the report): not the JVM's start-up warnings,
    # which go to spark.log beside the report, nor a library's
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    html = paths.html.read_text(encoding="utf-8")
    # as a manager reads it, at a laptop's and a desktop's size: no overlapping text, no raw
    # column names or floats, no stderr box
    assert check_at_both_sizes(browser, paths.html.as_uri()) == {}
    assert "workbench.params.validate" not in html  # no code cells in the HTML
    assert "plotly" in html.lower() or subject == "truth"  # the truth report is one table
    run = json.loads(paths.run_file.read_text())
    assert run["parameters"]["period"] == period
    if subject == "truth":  # run after churn and cross_sell: it reads the marts they wrote
        table = pd.read_csv(paths.directory / "truth.csv")
        assert "PASS" in set(table["status"]) and "missing" not in set(table["recovered"])
    if subject == "churn":
        model = load_model(paths.directory / "model")
        scores = read_mart("ads_churn_scores", tiny_warehouse, months=[period])
        assert set(scores["model_id"]) == {model.model_id}
        assert "metrics.json" in run["files"]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_bad_parameter_stops_the_notebook(subject, tmp_path):
    name, value = BAD[subject]
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(notebook_path(subject)),
            str(tmp_path / "out.ipynb"),
            parameters={name: value, "output_dir": str(tmp_path)},
            kernel_name="python3",
            progress_bar=False,
        )
    assert info.value.ename == "ParameterError"
    assert repr(name) in str(info.value)
    # stopped at the validation cell: nothing after it ran
    book = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    later = [c for c in book.cells if c.cell_type == "code"][3:]
    assert all(c.execution_count is None for c in later)


def test_run_subject_checks_parameters_before_starting(tiny_project):
    with pytest.raises(ParameterError, match="'min_suport'"):
        run_subject("cross_sell", "2026-06", {"min_suport": 0.1}, tiny_project)
    with pytest.raises(ParameterError, match="'output_dir' is set by run_subject"):
        run_subject("churn", "2026-06", {"output_dir": "/tmp"}, tiny_project)
