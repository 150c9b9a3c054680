"""The raw contract: what each raw extract must hold, generated from the catalog.

``workbench ingest --contract`` prints it; ``docs/raw_contract.md`` is this text (the suite
checks that it is in step with the catalog). It names, for each extract, its columns with type,
meaning in English and Chinese, keys and month partitioning, and what the ODS step of the build
rejects into ``quarantine_rows`` or refuses (the table's contracts).
"""

from __future__ import annotations

from workbench.catalog import PARTITION_COLUMN, Table, tables
from workbench.catalog.contracts import AcceptedValues, Contract
from workbench.catalog.glossary import describe
from workbench.catalog.ods import DATE_FORMAT, EVENT_TIME_COLUMNS, ODS_TABLES, TIMESTAMP_FORMAT
from workbench.ingest.mapping import catalog_text_format
from workbench.warehouse.ods import required_columns

INTRO = f"""# The raw contract (原始接口规范)

Generated from the catalog (`workbench ingest --contract`); do not edit by hand.

Every raw extract is a folder of Parquet files under `paths.raw`, partitioned by the month it
was extracted for: `<paths.raw>/<extract>/{PARTITION_COLUMN}=YYYY-MM/*.parquet`. The files hold
the columns below with exactly these types (the `{PARTITION_COLUMN}` column lives in the folder
name). `workbench ingest SOURCE` writes them from an operator's delimited dumps with a mapping
file (README, *Bringing your own operator's data*). Dates are text `{DATE_FORMAT}`, times text
`{TIMESTAMP_FORMAT}`; amounts are yuan (CNY).

A row's month is said one of two ways in the mapping, per extract: by the dump file's name
(`month_pattern`, a regex whose two groups are the year and the month: one month per file), or
by a dump column (`month_column: {{column: zhangqi, format: yyyyMM}}`, any Spark datetime
pattern naming the year and the month: a file may hold several months). Ingest rejects a line
whose month column does not parse as `malformed_month` and files it in the quarantine of the
earliest month the run replaces for its extract.

The build's ODS step checks each row and puts a rejected row in `quarantine_rows` with one
reason, the first that applies: `missing_key` (a key or the subscriber link is null or blank),
`bad_timestamp` (a date or time that does not parse), `future_date` (the event time after the
extract month), `negative_duration`, `unknown_subscriber` (not among the month's accepted
subscribers), `duplicate` (the key seen before that month). A file without a column, or with
a column of another type, stops the build naming the file. The contracts listed under each
extract are checked on the accepted rows; a broken one stops the build.
"""


def extract_section(table: Table) -> str:
    """The contract of one raw extract, as Markdown."""
    required = set(required_columns(table))
    events = set(EVENT_TIME_COLUMNS.get(table.name, ()))
    lines = [
        f"## {table.name}",
        "",
        f"{table.description} Grain: {table.grain}.",
        "",
        f"Key: `{', '.join(table.keys)}` (unique within a month). "
        f"Partitioned by `{', '.join(table.partition_by)}`.",
        "",
        "| column | type | 中文名 | meaning | ODS rejects |",
        "|---|---|---|---|---|",
    ]
    for column in table.columns:
        rejects = []
        if column.name in required:
            rejects.append("missing_key when empty")
        pattern = catalog_text_format(column)
        if pattern is not None:
            rejects.append(f"bad_timestamp unless `{pattern}`")
        if column.name in events:
            rejects.append("future_date after the month")
        if column.name == "duration_sec":
            rejects.append("negative_duration below 0")
        if column.name == "subscriber_id" and table.name != "subscribers":
            rejects.append("unknown_subscriber")
        if column.name == PARTITION_COLUMN:
            rejects.append("(the partition folder)")
        en, zh = (text.replace("|", "\\|") for text in describe(column))  # a Markdown cell
        lines.append(f"| `{column.name}` | {column.type} | {zh} | {en} | {'; '.join(rejects)} |")
    ods = ODS_TABLES.get(table.name)
    checks = [_contract_text(c) for c in ods.contracts] if ods is not None else []
    if checks:
        lines += ["", "Contracts on accepted rows: " + "; ".join(f"`{c}`" for c in checks) + "."]
    return "\n".join(lines) + "\n"


def _contract_text(contract: Contract) -> str:
    if isinstance(contract, AcceptedValues):
        return f"{contract.column} in ({', '.join(contract.values)})"
    return contract.name


def raw_contract() -> str:
    """The whole raw contract, as Markdown."""
    return "\n".join([INTRO, *[extract_section(t) for t in tables("raw")]])
