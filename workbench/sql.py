"""SQL over the warehouse in JupyterLab: ``%%sql`` cells run by DuckDB (no JVM), results as pandas.

Load it once in a notebook, then query any table of the catalog by its name::

    %load_ext workbench.sql

    %%sql top
    SELECT region_id, SUM(value) AS active
    FROM ads_kpi_cube
    WHERE kpi_code = 'active_subscribers' AND month = {period}
    GROUP BY region_id ORDER BY active DESC

The cell shows the result as a table and, with a name after ``%%sql``, stores the DataFrame in
that variable. ``{name}`` is a value taken from the notebook's variables and bound as a DuckDB
parameter, never spliced into the SQL text. A mistake in the query is one plain line, not a
traceback. ``%sql_tables`` lists the tables that can be queried. Every table with data in the
warehouse is a view over its Hive-partitioned Parquet (:func:`workbench.marts.connect`); the views
are made once per notebook, ``%%sql --refresh`` makes them again after a rebuild.
``workbench.sql.use(settings)`` points the cells at another project than the one found from
``WORKBENCH_CONFIG`` or the working folder.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from workbench.config import Settings

#: ``{name}``: a variable of the notebook, bound as the DuckDB parameter ``$name``
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SqlError(WorkbenchError):
    """A query failed or names a variable the notebook does not have."""


def bind(sql: str, namespace: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Turn each ``{name}`` into the parameter ``$name`` and take its value from ``namespace``.

    Raises:
        SqlError: naming the placeholder no variable answers.
    """
    names = _PLACEHOLDER.findall(sql)
    missing = sorted({n for n in names if n not in namespace})
    if missing:
        raise SqlError(f"no variable {', '.join(missing)} in the notebook for {{...}} in the query")
    return _PLACEHOLDER.sub(r"$\1", sql), {n: namespace[n] for n in names}


def query(
    con: duckdb.DuckDBPyConnection, sql: str, namespace: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Run ``sql`` with its ``{name}`` placeholders bound from ``namespace``; DuckDB's error
    becomes a :class:`SqlError` with DuckDB's own one-line message."""
    import duckdb

    text, values = bind(sql, namespace or {})
    try:
        return con.execute(text, values).df()
    except duckdb.Error as exc:
        raise SqlError(str(exc).strip().splitlines()[0]) from None


class _Session:
    """The notebook's one connection, made on the first query."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self._con: duckdb.DuckDBPyConnection | None = None

    def connection(self, refresh: bool = False) -> duckdb.DuckDBPyConnection:
        from workbench.marts import connect

        if self._con is None or refresh:
            if self._con is not None:
                self._con.close()
            self._con = connect(self.settings)
        return self._con

    def tables(self) -> list[str]:
        rows = self.connection().execute(
            "SELECT table_name FROM information_schema.tables ORDER BY table_name"
        )
        return [name for (name,) in rows.fetchall()]


#: the kernel's one session (a kernel is one process and one notebook)
_SESSION = _Session()


def use(settings: Settings) -> None:
    """Query this project's warehouse from now on (default: the project found from
    ``WORKBENCH_CONFIG`` or the working folder), e.g. from a report's ``config_path``."""
    _SESSION.settings = settings
    _SESSION.connection(refresh=True)


def _parse_line(line: str) -> tuple[str | None, bool]:
    """``%%sql [--refresh] [NAME]``: the variable to store the result in, and the refresh flag."""
    words = line.split()
    refresh = "--refresh" in words
    rest = [w for w in words if w != "--refresh"]
    if len(rest) > 1 or (rest and not rest[0].isidentifier()):
        raise SqlError(f"%%sql takes one variable name and --refresh, not {line.strip()!r}")
    return (rest[0] if rest else None), refresh


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext workbench.sql``: registers ``%%sql`` (and ``%sql`` for one line) and
    ``%sql_tables``."""
    from IPython.core.error import UsageError

    session = _SESSION

    def run(line: str, cell: str | None = None) -> pd.DataFrame | None:
        try:
            target, refresh = _parse_line(line if cell is not None else "")
            sql = cell if cell is not None else line
            result = query(session.connection(refresh), sql, ipython.user_ns)
        except WorkbenchError as exc:
            # UsageError: IPython shows the message alone, and the cell (and papermill) stops
            raise UsageError(str(exc)) from None
        if target is not None:
            ipython.user_ns[target] = result
        return result

    def sql_tables(line: str) -> list[str]:
        try:
            return session.tables()
        except WorkbenchError as exc:
            raise UsageError(str(exc)) from None

    ipython.register_magic_function(run, "line_cell", "sql")
    ipython.register_magic_function(sql_tables, "line", "sql_tables")
