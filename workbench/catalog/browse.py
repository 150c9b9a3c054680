"""The catalog as small pandas tables for a notebook: every table, one table's columns with
their meaning in English and Chinese, the columns matching a word, and a KPI's definition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.catalog import Layer, get_table, tables
from workbench.catalog.glossary import describe

if TYPE_CHECKING:
    import pandas as pd

    from workbench.catalog.kpis import Kpi
    from workbench.config import Settings


def tables_frame(layer: Layer | None = None) -> pd.DataFrame:
    """One row per table (of a layer): name, layer, grain, keys, partitions, columns, meaning."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "table": t.name,
                "layer": t.layer,
                "grain": t.grain,
                "keys": ", ".join(t.keys),
                "partition_by": ", ".join(t.partition_by),
                "n_columns": len(t.columns),
                "description": t.description,
            }
            for t in tables(layer)
        ]
    )


def columns_frame(name: str) -> pd.DataFrame:
    """One row per column of a table: name, type, nullable, description and 说明."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "column": c.name,
                "type": c.type,
                "nullable": c.nullable,
                "description": meaning.en,
                "说明": meaning.zh,
            }
            for c in get_table(name).columns
            for meaning in [describe(c)]
        ]
    )


def find_columns(text: str) -> pd.DataFrame:
    """Every column whose name or description (either language) contains ``text``."""
    import pandas as pd

    needle = text.lower()
    rows = [
        {"table": t.name, "layer": t.layer, "column": c.name, "description": m.en, "说明": m.zh}
        for t in tables()
        for c in t.columns
        for m in [describe(c)]
        if needle in f"{c.name} {m.en} {m.zh}".lower()
    ]
    return pd.DataFrame(rows, columns=["table", "layer", "column", "description", "说明"])


def kpi(code: str, settings: Settings | None = None) -> Kpi:
    """A KPI of the project's dictionary (``warehouse.kpi_dictionary``) by its code.

    Raises:
        KeyError: listing the codes the dictionary has.
    """
    from workbench.catalog.kpis import load_kpis
    from workbench.config import load_settings

    settings = settings or load_settings()
    kpis = {k.code: k for k in load_kpis(settings.resolve(settings.warehouse.kpi_dictionary))}
    try:
        return kpis[code]
    except KeyError:
        raise KeyError(f"no KPI {code!r}; the dictionary has: {', '.join(kpis)}") from None
