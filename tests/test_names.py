"""Names that become path components: matched whole (no trailing newline) and never ``.`` or
``..``, wherever they are checked (parameters, report folders, schedules, months)."""

from __future__ import annotations

import pytest

from workbench.errors import ParameterError
from workbench.months import parse_month
from workbench.names import is_identifier
from workbench.params import Param
from workbench.reports.paths import region_folder, report_dir

BAD = ["GZ\n", "GZ\r\n", ".", "..", "", "G Z", "a/b", "x" * 65]


@pytest.mark.parametrize("value", BAD)
def test_an_identifier_is_matched_whole_and_is_not_a_relative_component(value):
    assert not is_identifier(value)


@pytest.mark.parametrize("value", ["GZ", "ALL", "online_app", "v1.2", "a..b", "-x"])
def test_plain_identifiers_pass(value):
    assert is_identifier(value)


@pytest.mark.parametrize("value", BAD)
def test_region_folders_refuse_what_could_leave_the_report_folder(tmp_path, value):
    from tests.conftest import make_project

    with pytest.raises(ParameterError, match="--region"):
        region_folder(value)
    with pytest.raises(ParameterError):
        report_dir(make_project(tmp_path), "churn", "2026-06", value)


def test_identifier_parameters_refuse_dots_alone():
    param = Param(str, "a region id", "地市编码", kind="identifier")
    assert param.check("region_id", "GZ") == "GZ"
    for value in (".", ".."):
        with pytest.raises(ParameterError, match="region_id"):
            param.check("region_id", value)


def test_months_are_matched_whole():
    assert parse_month(" 2026-06 ") == "2026-06"
    for bad in ("2026-06x", "x2026-06", "2026-6", "2026-13"):
        with pytest.raises(ValueError, match="month"):
            parse_month(bad)
