"""``%%sql`` cells: DuckDB over every warehouse table, variables bound as parameters, and a
mistake shown as one plain line (a real IPython shell on the tiny warehouse)."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from workbench.config import CONFIG_ENV
from workbench.marts import read_mart
from workbench.sql import SqlError, bind


@pytest.fixture(scope="module")
def shell(tiny_warehouse):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONFIG_ENV, str(tiny_warehouse.root / "pipelines" / "config.yml"))
        ipython = InteractiveShell.instance()
        ipython.run_line_magic("load_ext", "workbench.sql")
        yield ipython
        InteractiveShell.clear_instance()


def test_a_cell_queries_a_mart_with_a_bound_variable(shell, tiny_warehouse):
    cube = read_mart("ads_kpi_cube", tiny_warehouse)
    month = sorted(cube["month"])[-1]
    shell.user_ns["period"] = month
    result = shell.run_cell(
        "%%sql active\n"
        "SELECT region_id, value FROM ads_kpi_cube\n"
        "WHERE kpi_code = 'active_subscribers' AND month = {period}\n"
        "  AND segment = 'ALL' AND plan_type = 'ALL' AND region_id <> 'ALL'\n"
        "ORDER BY region_id"
    )
    assert result.success
    expected = cube[
        (cube["kpi_code"] == "active_subscribers")
        & (cube["month"] == month)
        & (cube["segment"] == "ALL")
        & (cube["plan_type"] == "ALL")
        & (cube["region_id"] != "ALL")
    ].sort_values("region_id")
    active = shell.user_ns["active"]
    assert list(active["region_id"]) == list(expected["region_id"]) != []
    assert list(active["value"]) == pytest.approx(list(expected["value"]))
    assert result.result is active  # shown as the cell's table


def test_every_built_table_can_be_queried(shell, tiny_warehouse):
    names = shell.run_line_magic("sql_tables", "")
    assert {"dws_subscriber_month", "ads_kpi_cube", "dwd_dim_region"} <= set(names)
    lines = shell.run_line_magic("sql", "SELECT COUNT(*) AS n FROM dws_subscriber_month")
    assert lines["n"][0] == len(read_mart("dws_subscriber_month", tiny_warehouse))


def test_a_mistake_is_one_plain_line(shell, capsys):
    result = shell.run_cell("%%sql\nSELECT no_such_column FROM ads_kpi_cube")
    assert not result.success
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "UsageError" in text and "no_such_column" in text
    assert "Traceback" not in text and "duckdb" not in text.lower().split("usageerror")[0]


def test_a_value_is_never_sql_text():
    sql, values = bind("SELECT * FROM t WHERE region_id = {region}", {"region": "x' OR 1=1 --"})
    assert sql == "SELECT * FROM t WHERE region_id = $region"
    assert values == {"region": "x' OR 1=1 --"}
    with pytest.raises(SqlError, match="no variable region"):
        bind("SELECT {region}", {})
