"""The catalog as pandas for a notebook, and the errors an analyst's typo gets."""

from __future__ import annotations

import pytest

from workbench.catalog import get_table, tables
from workbench.catalog.browse import columns_frame, find_columns, kpi, tables_frame
from workbench.catalog.glossary import describe


def test_tables_and_columns_read_as_the_catalog_declares_them():
    assert list(tables_frame("dws")["table"]) == [t.name for t in tables("dws")]
    table = get_table("dws_subscriber_month")
    columns = columns_frame(table.name)
    assert list(columns["column"]) == table.column_names
    assert list(columns["说明"]) == [describe(c).zh for c in table.columns]


def test_find_columns_searches_both_languages():
    found = find_columns("竞争对手")
    pairs = set(zip(found["table"], found["column"], strict=True))
    assert ("dws_subscriber_month", "competitor_share") in pairs
    assert find_columns("no such words anywhere").empty


def test_a_kpi_by_code_and_the_typos(tiny_project):
    assert kpi("churn_rate", tiny_project).better == "lower"
    with pytest.raises(KeyError, match=r"no KPI 'churn_rat'; the dictionary has: .*churn_rate"):
        kpi("churn_rat", tiny_project)
    with pytest.raises(KeyError, match="unknown table 'dws_subscriber_mnth'"):
        columns_frame("dws_subscriber_mnth")
