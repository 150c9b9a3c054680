"""A dump row's month from a column (``month_column``): one file of two months is ingested into
both, as the file-name way would; a bad month is rejected on its line; ``--months`` leaves the
other month alone and counts its lines."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from rich.console import Console

from workbench.catalog import get_table
from workbench.cli.ingest import summary_table
from workbench.config import load_settings
from workbench.ingest.dumps import write_dumps
from workbench.ingest.mapping import load_source
from workbench.ingest.run import (
    IngestError,
    ingest_source,
    quarantine_path,
    read_ingests,
)
from workbench.months import parse_month_range

from ..conftest import make_project
from .test_ingest import HEADER, _parquet, products_source, write_gzip

BY_COLUMN = "month_column: {column: zq, format: yyyyMM}"
ZQ = ", zq"
HEADER_ZQ = HEADER + b"|zq"
GOOD = {  # the month's accepted lines, without their month column
    "2026-03": ["V1|视频包|content|1500|2026/3/1", "D1|大流量包||2000|2026/03/15"],
    "2026-04": ["V1|视频包|content|1600|2026/4/1", "D1|大流量包|data|2100|2026/4/2"],
}


def _line(text: str, month: str) -> bytes:
    return f"{text}|{month}".encode("gbk")


def _column_dump(good: dict[str, list[str]], bad: bool = True) -> list[bytes]:
    """One file holding every month of ``good`` (interleaved), and with ``bad`` a line whose
    month does not parse (line 4) and one whose code is unmapped (line 7)."""
    (m3a, m3b), (m4a, m4b) = good["2026-03"], good["2026-04"]
    lines = [HEADER_ZQ, _line(m3a, "202603"), _line(m4a, "202604")]
    lines += [_line(m3a, "202613")] if bad else []
    lines += [_line(m3b, "202603"), _line(m4b, "202604")]
    lines += [_line("X9|未知包|content|1500|2026/4/1", "202604")] if bad else []
    return lines


def _rows(table_path, month: str | None = None) -> list[tuple]:
    """A month-partitioned table's rows (of one month), sorted."""
    where = "WHERE month = $month" if month else ""
    query = f"SELECT * FROM {_parquet(table_path)} {where} ORDER BY ALL"
    return duckdb.execute(query, {"month": month} if month else {}).fetchall()


def _fee_times(text: str, digit: str) -> str:
    """The line with its fee's first digit replaced: new values for the same keys."""
    fields = text.split("|")
    fields[3] = digit + fields[3][1:]
    return "|".join(fields)


@pytest.fixture(scope="module")
def by_column(spark, tmp_path_factory):
    """A project whose product dump holds 2026-03 and 2026-04 by its column zq, ingested."""
    settings = make_project(tmp_path_factory.mktemp("by_column"))
    products_source(settings.root, files="cp_all.txt.gz", month=BY_COLUMN, extra_columns=ZQ)
    write_gzip(settings.root / "dumps" / "cp_all.txt.gz", _column_dump(GOOD))
    return settings, ingest_source(spark, settings, "shop")


def test_two_months_by_column_are_what_the_file_names_give(spark, by_column, tmp_path):
    settings, result = by_column
    assert result.status == "ok" and result.months == ["2026-03", "2026-04"]
    by_name = make_project(tmp_path / "by_name")
    products_source(by_name.root, extra_columns=ZQ)
    for month, lines in GOOD.items():
        compact = month.replace("-", "")
        write_gzip(
            by_name.root / "dumps" / f"cp_{compact}.txt.gz",
            [HEADER_ZQ, *[_line(t, compact) for t in lines]],
        )
    named = ingest_source(spark, by_name, "shop")
    assert named.months == result.months
    products = get_table("products")
    got = _rows(products.path(settings))
    assert len(got) == 4 and got == _rows(products.path(by_name))


def test_a_bad_month_is_rejected_on_its_line_and_nothing_else_is_lost(by_column):
    settings, result = by_column
    rejected = duckdb.sql(
        "SELECT month, source_file, line_number, reason, raw_text "
        f"FROM {_parquet(quarantine_path(settings, 'products'))} ORDER BY line_number"
    ).fetchall()
    # the bad month's line goes to the earliest month the run replaces; the other to its own
    assert [r[:3] for r in rejected] == [
        ("2026-03", "cp_all.txt.gz", 4),
        ("2026-04", "cp_all.txt.gz", 7),
    ]
    assert rejected[0][3] == "malformed_month: zq value '202613' is not yyyyMM"
    assert rejected[0][4] == "V1|视频包|content|1500|2026/3/1|202613"
    assert rejected[1][3].startswith("unmapped_code: cpbm (product_id) value 'X9'")
    [counted] = result.files
    assert (counted.month, counted.lines_read, counted.header_lines) == (
        "2026-03, 2026-04",
        7,
        1,
    )
    assert (counted.rows_written, counted.lines_rejected, counted.rows_outside_months) == (4, 2, 0)
    assert result.rejected_by_reason == {"products.malformed_month": 1, "products.unmapped_code": 1}


def test_months_leaves_the_other_month_and_counts_its_lines(spark, by_column, tmp_path):
    first, _ = by_column
    shutil.copytree(first.root, tmp_path / "copy")
    settings = load_settings(tmp_path / "copy" / "pipelines" / "config.yml", environ={})
    products, quarantine = get_table("products"), quarantine_path(settings, "products")
    before = {m: _rows(products.path(settings), m) for m in GOOD}
    march_rejects = _rows(quarantine, "2026-03")
    # new values for both months in the dump; only April is asked for
    changed = {m: [_fee_times(t, "9") for t in lines] for m, lines in GOOD.items()}
    write_gzip(settings.root / "dumps" / "cp_all.txt.gz", _column_dump(changed, bad=False))
    result = ingest_source(spark, settings, "shop", months=parse_month_range("2026-04"))

    assert result.months == ["2026-04"]
    assert _rows(products.path(settings), "2026-03") == before["2026-03"]
    assert _rows(quarantine, "2026-03") == march_rejects and march_rejects
    april = _rows(products.path(settings), "2026-04")
    assert sorted(r[4] for r in april) == [91.0, 96.0]  # fees 9100 and 9600 fen
    assert april != before["2026-04"] and not list(quarantine.glob("month=2026-04/*.parquet"))
    [counted] = read_ingests(settings)[-1]["files"]
    assert counted["month"] == "2026-04"
    assert (counted["rows_written"], counted["lines_rejected"]) == (2, 0)
    assert counted["rows_outside_months"] == 2
    assert counted["lines_read"] == 1 + 2 + 0 + 2
    console = Console(record=True, width=200)
    console.print(summary_table(result))
    shown = console.export_text()
    assert "outside --months" in shown and "cp_all.txt.gz" in shown


def test_lines_without_a_month_and_no_month_to_file_them_under_fail(spark, tmp_path):
    settings = make_project(tmp_path / "project")
    products_source(settings.root, files="cp_all.txt.gz", month=BY_COLUMN, extra_columns=ZQ)
    bad = [HEADER_ZQ, _line(GOOD["2026-03"][0], "2026-03"), _line(GOOD["2026-03"][1], "")]
    write_gzip(settings.root / "dumps" / "cp_all.txt.gz", bad)
    with pytest.raises(IngestError, match=r"month_column: 2 rejected lines have no month"):
        ingest_source(spark, settings, "shop")
    assert read_ingests(settings)[-1]["status"] == "failed"
    assert not get_table("products").path(settings).exists()
    assert not quarantine_path(settings, "products").exists()


WRITABLE = """
format: {delimiter: '|', header: true, encoding: GBK}
extracts:
  products:
    files: cp_*.txt
    month_column: {column: zq, format: yyyy-MM}
    columns: [bm, mc_en, mc, lb, zf, rq, zq]
    map:
      product_id: bm
      product_name_en: mc_en
      product_name_zh: mc
      category: lb
      monthly_fee_cny: {column: zf, fen: true}
      launch_date: {column: rq, date: yyyy/MM/dd}
"""


def test_dumps_written_back_hold_the_month_in_its_column(by_column, tmp_path):
    settings, _ = by_column
    (tmp_path / "writable.yml").write_text(WRITABLE, encoding="utf-8")
    source = load_source(tmp_path / "writable.yml")
    written = write_dumps(settings.raw_dir, source, tmp_path, list(GOOD))
    for path, month in zip(written, GOOD, strict=True):
        lines = path.read_text(encoding="gbk").splitlines()
        assert lines[0] == "bm|mc_en|mc|lb|zf|rq|zq" and len(lines) == 3
        assert {line.rsplit("|", 1)[1] for line in lines[1:]} == {month}
