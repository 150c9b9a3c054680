"""The mapping file: the example validates, and each mistake is named by its key."""

from __future__ import annotations

import pytest
import yaml

from workbench.ingest.mapping import MappingError, load_source, source_path

from ..conftest import PROJECT_ROOT

EXAMPLE = source_path(PROJECT_ROOT, "example_boss")


def test_the_example_maps_every_raw_extract():
    from workbench.catalog import tables

    source = load_source(EXAMPLE)
    assert set(source.extracts) == {t.name for t in tables("raw")}
    assert source.format.encoding == "GBK" and source.format.delimiter == "|"


def _broken(tmp_path, change) -> str:
    tree = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    change(tree)
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_source(path)
    return str(caught.value)


def _plans(tree):
    return tree["extracts"]["plans"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda t: t["extracts"].update(bills_v2=_plans(t)),
            "extracts.bills_v2: not a raw extract",
        ),
        (lambda t: _plans(t)["map"].pop("plan_type"), "'plan_type' is not mapped"),
        (lambda t: _plans(t)["map"].update(colour="x"), "extracts.plans.map.colour"),
        (
            lambda t: _plans(t)["map"]["plan_id"].update(codes="plan"),
            "extracts.plans.map.plan_id.codes: no code table 'plan'",
        ),
        (
            lambda t: _plans(t)["map"].update(plan_type="leixing"),
            "extracts.plans.map.plan_type.column: 'leixing' is not among the dump's columns",
        ),
        (
            lambda t: _plans(t)["map"].update(plan_type={"column": "fflx", "value": "prepaid"}),
            "extracts.plans.map.plan_type",
        ),
        (
            lambda t: _plans(t)["map"].update(plan_type={"column": "fflx", "date": "yyyyMMdd"}),
            "extracts.plans.map.plan_type.date",
        ),
        (lambda t: t["format"].update(encoding="GBKK"), "format.encoding: unknown encoding"),
        (lambda t: t["format"].update(encoding="UTF-16"), "format.encoding: UTF-16"),
        (lambda t: t["format"].update(delimiter="||"), "format.delimiter"),
        (lambda t: _plans(t).update(month_pattern="(\\d{6})"), "extracts.plans.month_pattern"),
        (
            lambda t: _plans(t).pop("month_pattern"),
            "extracts.plans: give exactly one of month_pattern (the month from the file name) "
            "or month_column (from a dump column), not neither",
        ),
        (
            lambda t: _plans(t).update(month_column={"column": "tcbm", "format": "yyyyMM"}),
            "extracts.plans: give exactly one of month_pattern",
        ),
        (
            lambda t: (
                _plans(t).pop("month_pattern"),
                _plans(t).update(month_column={"column": "zhangqi", "format": "yyyyMM"}),
            ),
            "extracts.plans.month_column.column: 'zhangqi' is not among the dump's columns",
        ),
        (
            lambda t: _plans(t).update(month_column={"column": "tcbm", "format": "yyyy"}),
            "extracts.plans.month_column.format: 'yyyy' must name the year and the month",
        ),
        (
            lambda t: _plans(t).update(month_column={"column": "tcbm", "format": "yyyyMMw"}),
            "extracts.plans.month_column.format: 'yyyyMMw': 'w' is not a Spark datetime",
        ),
        (lambda t: t.update(colour="red"), "colour: unknown key"),
    ],
)
def test_a_mistake_is_named_by_its_key(tmp_path, change, named):
    assert named in _broken(tmp_path, change)


def test_a_missing_mapping_names_the_sources_there(tmp_path):
    with pytest.raises(MappingError, match=r"no mapping file .*nope\.yml.*example_boss"):
        load_source(EXAMPLE.with_name("nope.yml"))
