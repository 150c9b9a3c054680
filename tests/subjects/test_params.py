"""Parameter validation: what a notebook accepts before any work starts."""

from __future__ import annotations

import os

import pytest

from workbench.errors import ParameterError
from workbench.params import COMMON, SPECS, check_overrides, parameters_cell, validate
from workbench.subjects import SUBJECTS


def churn_namespace(**changes):
    ns = {
        "period": "2026-06",
        "config_path": "",
        "output_dir": "/tmp/reports/churn/2026-06",
        "horizon_months": 1,
        "train_months": 3,
        "sample_size": 10_000,
        "top_n_reasons": 3,
        "num_boost_round": 100,
        "seed": 7,
        # what a notebook namespace holds besides the parameters
        "os": os,
        "In": [],
        "get_ipython": lambda: None,
        "_i1": "code",
    }
    ns.update(changes)
    return ns


def test_valid_parameters_pass_and_keep_declaration_order():
    params = validate("churn", churn_namespace())
    assert list(params) == list(SPECS["churn"])
    assert params["period"] == "2026-06" and params["seed"] == 7


def test_an_int_is_accepted_for_a_float_and_converted():
    ns = {
        "period": "2026-06",
        "config_path": "",
        "output_dir": "",
        "min_support": 1,
        "min_confidence": 0.5,
        "max_len": 3,
        "top_n_offers": 2,
        "by_groups": False,
    }
    assert validate("cross_sell", ns)["min_support"] == 1.0
    assert isinstance(validate("cross_sell", ns)["min_support"], float)


@pytest.mark.parametrize(
    ("changes", "named", "what"),
    [
        ({"horizon_monhts": 2}, "horizon_monhts", "unknown parameter"),
        ({"horizon_months": "2"}, "horizon_months", "expected int"),
        ({"horizon_months": True}, "horizon_months", "expected int"),
        ({"horizon_months": 0}, "horizon_months", "out of range"),
        ({"sample_size": 10**9}, "sample_size", "out of range"),
        ({"period": "2026-13"}, "period", "not allowed"),
        ({"period": "June"}, "period", "not allowed"),
        ({"period": "__import__('os').system('id')"}, "period", "looks like code"),
        ({"output_dir": "/tmp/x; rm -rf /"}, "output_dir", "looks like code"),
        ({"output_dir": "`id`"}, "output_dir", "looks like code"),
        ({"config_path": "os.system"}, "config_path", "looks like code"),
        ({"output_dir": "../../etc"}, "output_dir", "not allowed"),
    ],
)
def test_bad_parameters_are_refused_naming_them(changes, named, what):
    with pytest.raises(ParameterError, match=what) as info:
        validate("churn", churn_namespace(**changes))
    assert repr(named) in str(info.value)


def test_a_missing_parameter_is_named():
    ns = churn_namespace()
    del ns["seed"]
    with pytest.raises(ParameterError, match="'seed' is missing"):
        validate("churn", ns)


def test_identifier_and_bool_kinds():
    base = {"period": "2026-06", "config_path": "", "output_dir": ""}
    ok = validate("kpi_overview", {**base, "region_id": "GZ", "segment": "ALL", "plan_type": "x-1"})
    assert ok["region_id"] == "GZ"
    with pytest.raises(ParameterError, match="'segment'"):
        validate("kpi_overview", {**base, "region_id": "GZ", "segment": "a b", "plan_type": "p"})
    with pytest.raises(ParameterError, match="'include_incomplete': expected bool"):
        validate("campaign_roi", {**base, "confidence": 0.9, "include_incomplete": 1})


def test_unknown_subject_and_overrides():
    with pytest.raises(ParameterError, match="unknown subject"):
        validate("weather", {})
    assert check_overrides("churn", {"seed": 3}) == {"seed": 3}
    with pytest.raises(ParameterError, match="unknown parameter 'sead'"):
        check_overrides("churn", {"sead": 3})


# ------------------------------------------------------------- one declaration, everything else


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_notebook_cell_help_and_subject_defaults_follow_the_declaration(subject):
    import importlib
    import inspect

    import nbformat
    import papermill as pm

    from workbench.reports import notebook_path

    spec = SPECS[subject]
    path = notebook_path(subject)
    book = nbformat.read(str(path), as_version=4)
    (cell,) = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert cell.source == parameters_cell(subject)  # `workbench report params --write` mends it
    # papermill's --help-notebook reads the same names, defaults and help
    shown = pm.inspect_notebook(str(path))
    assert list(shown) == list(spec)
    for name, param in spec.items():
        assert shown[name]["help"] == param.help
        assert shown[name]["inferred_type_name"] == param.type.__name__
    # validation accepts the declared defaults as they stand
    assert validate(subject, {n: p.default for n, p in spec.items()}) == {
        n: p.default for n, p in spec.items()
    }
    # the subject's own function has the declaration's defaults
    run = importlib.import_module(f"workbench.subjects.{subject}").run
    own = {n: p for n, p in spec.items() if n not in COMMON}  # COMMON ones are the runner's
    defaults = {n: p.default for n, p in inspect.signature(run).parameters.items() if n in own}
    assert defaults == {n: p.default for n, p in own.items()}


def test_a_new_parameter_is_one_declaration(tmp_path, monkeypatch):
    import shutil

    import nbformat

    from workbench.params import Param
    from workbench.reports import notebook_path
    from workbench.reports.paths import write_parameters_cell

    copy = tmp_path / "churn.ipynb"
    shutil.copy(notebook_path("churn"), copy)
    added = Param(int, "trees grown per round", "每轮生长的树数", 1, 8, default=2)
    monkeypatch.setitem(SPECS, "churn", {**SPECS["churn"], "trees_per_round": added})
    assert write_parameters_cell("churn", copy) is True
    cell = next(c for c in nbformat.read(str(copy), as_version=4).cells if c.cell_type == "code")
    assert cell.source.splitlines()[-1] == (
        "trees_per_round: int = 2  # trees grown per round · 每轮生长的树数"
    )
    assert write_parameters_cell("churn", copy) is False  # already in agreement
    ns = {n: p.default for n, p in SPECS["churn"].items()}
    assert validate("churn", ns)["trees_per_round"] == 2
    with pytest.raises(ParameterError, match=r"'trees_per_round'.*out of range"):
        validate("churn", {**ns, "trees_per_round": 9})


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_notebook_heading_is_the_declared_title(subject):
    """A report's title is declared once (``workbench.subjects.TITLES``); the notebook's first
    heading, which the HTML report shows, says the same in both languages."""
    import nbformat

    from tests.conftest import PROJECT_ROOT
    from workbench.subjects import TITLES

    book = nbformat.read(str(PROJECT_ROOT / "notebooks" / f"{subject}.ipynb"), as_version=4)
    heading = next(c for c in book.cells if c.cell_type == "markdown").source.splitlines()[0]
    en, zh = TITLES[subject]
    assert heading == f"# {zh} {en}"
