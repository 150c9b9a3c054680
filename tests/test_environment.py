"""pyproject.toml and environment.yml pin the same packages at the same versions."""

from __future__ import annotations

import re
import tomllib

import yaml

from .conftest import PROJECT_ROOT

# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
CONDA_ONLY = {"python", "openjdk", "pip"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    pins = {}
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"pyproject.toml: {requirement!r} is not pinned with =="
        pins[_normalise(name)] = version
    return pins


def environment_pins() -> dict[str, str]:
    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pins = {}
    for entry in environment["dependencies"]:
        assert isinstance(entry, str), "environment.yml: keep every package in the conda list"
        name, _, version = entry.partition("=")
        if name in CONDA_ONLY:
            continue
        pins[_normalise(CONDA_TO_PYPI.get(name, name))] = version.lstrip("=")
    return pins


def test_environment_yml_matches_pyproject_pins():
    assert environment_pins() == pyproject_pins()


def test_pandas_stays_below_3_for_pyspark():
    assert pyproject_pins()["pandas"].startswith("2.")
    assert pyproject_pins()["pyspark"].startswith("4.3.")
