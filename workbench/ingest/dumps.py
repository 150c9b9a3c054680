"""Dumps in a source's layout, written from raw extracts: the mapping run backwards.

Used to try a mapping end to end on the synthetic operator (``workbench ingest SOURCE
--write-dumps``) and by the suite's round trip. It inverts the conversions a mapping can name
for a dump column (code tables, date patterns, fen, true/false values); a catalog column made by
an ``expr`` or a ``value`` cannot be inverted and is refused. A value the date pattern cannot
hold (a dirty timestamp such as ``N/A``) is written as it is, so ingest rejects its line.
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime
from pathlib import Path

from workbench.catalog import get_table
from workbench.ingest.mapping import (
    ColumnMap,
    ExtractMap,
    MappingError,
    Source,
    catalog_text_format,
)

# Java date pattern letters the example layouts use, as strftime codes (longest first)
_PATTERN = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def strftime_pattern(java: str) -> str:
    """A Java date pattern made of yyyy MM dd HH mm ss and literals, as a strftime pattern."""
    tokens = re.split(r"(yyyy|MM|dd|HH|mm|ss)", java)
    if any(re.search(r"[A-Za-z]", t) for t in tokens if t not in _PATTERN):
        raise MappingError(f"date pattern {java!r}: only yyyy MM dd HH mm ss can be written back")
    return "".join(_PATTERN.get(t, t) for t in tokens)


def dump_value(value: object, spec: ColumnMap, catalog_format: str | None, codes: dict) -> str:
    """The text a dump holds for one catalog value."""
    if value is None:
        return ""
    if spec.codes is not None:
        inverse = {v: k for k, v in codes[spec.codes].items()}
        value = inverse.get(str(value), value)
    if spec.date is not None and catalog_format is not None:
        try:
            parsed = datetime.strptime(str(value), strftime_pattern(catalog_format))
        except ValueError:
            return str(value)
        return parsed.strftime(strftime_pattern(spec.date))
    if spec.fen:
        return str(round(float(value) * 100))  # type: ignore[arg-type]
    if isinstance(value, bool):
        return spec.true_values[0] if value else spec.false_values[0]
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _line(fields: list[str], delimiter: str, quote: str | None) -> str:
    if quote is None:
        return delimiter.join(fields)
    special = (delimiter, quote, "\n", "\r")
    return delimiter.join(
        quote + f.replace(quote, quote * 2) + quote if any(s in f for s in special) else f
        for f in fields
    )


def write_dumps(
    raw_dir: Path, source: Source, out: Path, months: list[str], extracts: list[str] | None = None
) -> list[Path]:
    """Write one gzip dump file per extract and month, named by the mapping's ``files`` glob
    with ``*`` replaced by ``yyyyMM`` (and the month in the ``month_column`` if the mapping has
    one); returns the files written."""
    import pyarrow.parquet as pq

    written = []
    for name in extracts or list(source.extracts):
        spec: ExtractMap = source.extracts[name]
        fmt = source.format_of(name)
        table = get_table(name)
        by_source = {}
        for column, cmap in spec.map.items():
            if cmap.column is None:
                raise MappingError(
                    f"extracts.{name}.map.{column}: only dump columns can be written"
                )
            by_source[cmap.column] = (column, cmap)
        formats = {c.name: catalog_text_format(c) for c in table.columns}
        by_column = spec.month_column
        for month in months:
            first_day = datetime.strptime(month, "%Y-%m")
            folder = raw_dir / name / f"month={month}"
            rows = pq.read_table(folder).to_pylist() if folder.is_dir() else []
            path = out / spec.files.replace("*", month.replace("-", ""))
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [_line(spec.columns, fmt.delimiter, fmt.quote)] if fmt.header else []
            for row in rows:
                fields = []
                for dump_column in spec.columns:
                    if by_column is not None and dump_column == by_column.column:
                        # a mapping that reads the month from a column gets it written there
                        fields.append(first_day.strftime(strftime_pattern(by_column.format)))
                        continue
                    if dump_column not in by_source:  # a dump column no catalog column uses
                        fields.append("")
                        continue
                    column, cmap = by_source[dump_column]
                    fields.append(dump_value(row[column], cmap, formats[column], source.codes))
                lines.append(_line(fields, fmt.delimiter, fmt.quote))
            data = "".join(line + "\n" for line in lines).encode(fmt.encoding)
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "wb") as handle:
                handle.write(data)
            written.append(path)
    return written
