"""`workbench ingest` round trip: the generator's `tiny` raw month written as BOSS-style dumps
(GBK, '|', pinyin headers, fen, yyyyMMdd) and ingested back equals the generator's raw, except
the lines the mapping must reject, which are in the ingest quarantine; broken dumps are rejected
line by line with the right reason."""

from __future__ import annotations

import gzip
import shutil

import duckdb
import pytest

from workbench.catalog import get_table, tables
from workbench.ingest.dumps import write_dumps
from workbench.ingest.mapping import load_source, source_path
from workbench.ingest.run import IngestError, ingest_source, quarantine_path, read_ingests
from workbench.months import parse_month_range
from workbench.warehouse.build import build_warehouse

from ..conftest import PROJECT_ROOT, make_project
from ..tables import assert_same_tables

MONTH = "2026-03"  # the month with campaign contacts and responses: every extract has rows
SOURCE = "example_boss"


def _parquet(folder) -> str:
    return f"read_parquet('{folder}/month=*/*.parquet', hive_partitioning = true)"


@pytest.fixture(scope="module")
def ingested(spark, tiny_warehouse, tmp_path_factory):
    """A copy of the `tiny` project (raw and warehouse) whose raw MONTH was written as BOSS
    dumps and ingested back."""
    tiny_project = tiny_warehouse
    settings = make_project(tmp_path_factory.mktemp("ingest"))
    shutil.copytree(PROJECT_ROOT / "pipelines" / "sources", settings.root / "pipelines" / "sources")
    shutil.copytree(tiny_warehouse.raw_dir, settings.raw_dir)
    shutil.copytree(tiny_warehouse.warehouse_dir, settings.warehouse_dir)
    source = load_source(source_path(settings.root, SOURCE))
    dumps = settings.resolve(source.dumps)
    write_dumps(tiny_project.raw_dir, source, dumps, [MONTH])
    result = ingest_source(spark, settings, SOURCE)
    return settings, source, result


def _expected_rejects(generated, table, source) -> str:
    """SQL condition of the generated rows the example mapping must reject: a time the dump's
    pattern cannot hold (the generator's dirty timestamps) or an id without a code."""
    spec = source.extracts[table.name]
    conditions = []
    for column in table.data_columns:
        cmap = spec.map[column.name]
        if cmap.date is not None:
            fmt = "%Y-%m-%d %H:%M:%S" if column.name.endswith("_at") else "%Y-%m-%d"
            conditions.append(
                f"({column.name} IS NOT NULL AND try_strptime({column.name}, '{fmt}') IS NULL)"
            )
        if cmap.codes is not None:
            ids = ", ".join(f"'{v}'" for v in source.codes[cmap.codes].values())
            conditions.append(f"({column.name} IS NOT NULL AND {column.name} NOT IN ({ids}))")
    return " OR ".join(conditions) or "false"


def test_the_round_trip_gives_the_generator_raw_back(ingested, tiny_warehouse):
    tiny_project = tiny_warehouse
    settings, source, result = ingested
    assert result.status == "ok" and result.months == [MONTH]
    compared = 0
    with duckdb.connect() as con:
        for table in tables("raw"):
            columns = ", ".join(table.column_names)
            raw = _parquet(tiny_project.raw_dir / table.name)
            generated = f"(SELECT {columns} FROM {raw} WHERE month = '{MONTH}')"
            rejects = _expected_rejects(generated, table, source)
            kept = f"SELECT * FROM {generated} WHERE NOT ({rejects})"
            back = f"SELECT {columns} FROM {_parquet(table.path(settings))} WHERE month = '{MONTH}'"
            only_generated = con.execute(
                f"SELECT count(*) FROM ({kept} EXCEPT ALL {back})"
            ).fetchone()[0]
            only_ingested = con.execute(
                f"SELECT count(*) FROM ({back} EXCEPT ALL {kept})"
            ).fetchone()[0]
            assert (only_generated, only_ingested) == (0, 0), table.name
            n_rejects = con.execute(f"SELECT count(*) FROM {generated} WHERE {rejects}").fetchone()[
                0
            ]
            counted = [f for f in result.files if f.extract == table.name]
            assert len(counted) == 1 and counted[0].lines_rejected == n_rejects, table.name
            if n_rejects:
                quarantine = _parquet(quarantine_path(settings, table.name))
                codes = con.execute(
                    f"SELECT DISTINCT split_part(reason, ':', 1) FROM {quarantine}"
                ).fetchall()
                assert {c for (c,) in codes} <= {"malformed_date", "unmapped_code"}
            compared += con.execute(f"SELECT count(*) FROM ({kept})").fetchone()[0]
    assert compared > 70_000  # usage alone is 66k rows this month


def _quarantined(settings) -> dict[tuple[str, str], int]:
    """ODS quarantine rows of MONTH by extract and reason."""
    rows = _parquet(get_table("quarantine_rows").path(settings))
    query = f"SELECT source_table, reason, count(*) FROM {rows} WHERE month = ? GROUP BY ALL"
    with duckdb.connect() as con:
        return {(t, r): n for t, r, n in con.execute(query, [MONTH]).fetchall()}


@pytest.mark.slow
def test_the_warehouse_built_from_ingested_dumps_is_the_generator_s(
    spark, ingested, tiny_warehouse
):
    """The month rebuilt from the ingested raw: every table equals the generator's build; the
    quarantine lacks only the generator's bad timestamps, which ingest rejected already."""
    settings, _, result = ingested
    run = build_warehouse(spark, settings, [MONTH])
    assert run.status == "ok"
    built = [t.name for t in run.tables if t.name != "quarantine_rows"]
    assert assert_same_tables(built, settings, tiny_warehouse) > 50
    generated, ingested_build = _quarantined(tiny_warehouse), _quarantined(settings)
    rejected_dates = {
        (key.split(".")[0], "bad_timestamp"): n
        for key, n in result.rejected_by_reason.items()
        if key.endswith(".malformed_date")
    }
    assert rejected_dates and set(result.rejected_by_reason) == {
        f"{t}.malformed_date" for t, _ in rejected_dates
    }
    assert not [k for k in ingested_build if k[1] == "bad_timestamp"]
    assert generated == {**ingested_build, **rejected_dates}


def test_every_file_adds_up_in_the_ledger(ingested):
    settings, _, result = ingested
    run = read_ingests(settings)[-1]
    assert run["run_id"] == result.run_id and run["status"] == "ok"
    assert len(run["files"]) == len(tables("raw"))
    for f in run["files"]:
        assert f["lines_read"] == f["header_lines"] + f["rows_written"] + f["lines_rejected"]
        assert f["header_lines"] == 1
    assert sum(run["rejected_by_reason"].values()) == sum(f["lines_rejected"] for f in run["files"])


MONTH_FROM_NAME = "month_pattern: '_(\\d{4})(\\d{2})\\.'"


def products_source(
    root, files: str = "cp_*.txt.gz", month: str = MONTH_FROM_NAME, extra_columns: str = ""
) -> None:
    """A one-extract mapping for hand-made product dumps (``month``: its month line,
    ``extra_columns``: dump columns after those mapped, e.g. ", zq")."""
    (root / "pipelines" / "sources").mkdir(parents=True, exist_ok=True)
    (root / "pipelines" / "sources" / "shop.yml").write_text(
        f"""
dumps: dumps
format: {{delimiter: '|', header: true, encoding: GBK}}
codes:
  products: {{'V1': VIDEO_PACK, 'D1': DATA_PACK_L}}
extracts:
  products:
    files: "{files}"
    {month}
    columns: [cpbm, cpmc, lb, zf, sxrq{extra_columns}]
    map:
      product_id: {{column: cpbm, codes: products}}
      product_name_en: {{expr: "concat('pack ', cpbm)"}}
      product_name_zh: cpmc
      category: {{column: lb, default: data}}
      monthly_fee_cny: {{column: zf, fen: true}}
      launch_date: {{column: sxrq, date: yyyy/M/d}}
""",
        encoding="utf-8",
    )


def write_gzip(path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))


HEADER = b"cpbm|cpmc|lb|zf|sxrq"


def test_broken_dumps_are_rejected_line_by_line(spark, tmp_path):
    settings = make_project(tmp_path / "project")
    products_source(settings.root)
    dumps = settings.root / "dumps"
    gbk = [
        HEADER,
        "V1|视频包|content|1500|2026/3/1".encode("gbk"),  # 2: good
        "D1|大流量包||2000|2026/03/15".encode("gbk"),  # 3: good, category defaulted
        "V1|视频包|content|1500|2026-03-01".encode("gbk"),  # 4: malformed date
        "V1|视频包|content|1500".encode("gbk"),  # 5: short line
        "X9|未知包|content|1500|2026/3/1".encode("gbk"),  # 6: unmapped code
        b"V1|\xff\xfe|content|1500|2026/3/1",  # 7: bytes that are not GBK
        "V1|视频包|content|15.5|2026/3/1".encode("gbk"),  # 8: not whole fen
    ]
    write_gzip(dumps / "cp_202603.txt.gz", gbk)
    write_gzip(
        dumps / "cp_utf8_202603.txt.gz", [HEADER, "V1|视频包|content|1500|2026/3/1".encode()]
    )
    write_gzip(
        dumps / "cp_nocat_202603.txt.gz",
        [b"cpbm|cpmc|zf|sxrq", "V1|视频包|1500|2026/3/1".encode("gbk")],
    )
    result = ingest_source(spark, settings, "shop")

    rows = duckdb.sql(
        "SELECT product_id, product_name_en, product_name_zh, category, monthly_fee_cny, "
        "launch_date "
        f"FROM {_parquet(get_table('products').path(settings))} ORDER BY product_id"
    ).fetchall()
    assert rows == [
        ("DATA_PACK_L", "pack D1", "大流量包", "data", 20.0, "2026-03-15"),
        ("VIDEO_PACK", "pack V1", "视频包", "content", 15.0, "2026-03-01"),
    ]
    rejected = duckdb.sql(
        f"SELECT source_file, line_number, split_part(reason, ':', 1), reason, raw_text "
        f"FROM {_parquet(quarantine_path(settings, 'products'))} ORDER BY 1, 2"
    ).fetchall()
    got = {(f, n): code for f, n, code, _, _ in rejected}
    assert got == {
        ("cp_202603.txt.gz", 4): "malformed_date",
        ("cp_202603.txt.gz", 5): "field_count",
        ("cp_202603.txt.gz", 6): "unmapped_code",
        ("cp_202603.txt.gz", 7): "bad_encoding",
        ("cp_202603.txt.gz", 8): "bad_number",
        ("cp_nocat_202603.txt.gz", 2): "header_mismatch",
        ("cp_utf8_202603.txt.gz", 2): "bad_encoding",
    }
    reasons = {(f, n): (reason, text) for f, n, _, reason, text in rejected}
    assert "'2026-03-01' is not yyyy/M/d" in reasons[("cp_202603.txt.gz", 4)][0]
    assert "'X9' not in codes.products" in reasons[("cp_202603.txt.gz", 6)][0]
    assert reasons[("cp_202603.txt.gz", 7)][1] == "hex:" + gbk[6].hex().upper()  # line 7
    assert "lacks column lb" in reasons[("cp_nocat_202603.txt.gz", 2)][0]
    assert "the file is UTF-8, the mapping says GBK" in reasons[("cp_utf8_202603.txt.gz", 2)][0]
    assert reasons[("cp_202603.txt.gz", 5)][1] == "V1|视频包|content|1500"
    assert reasons[("cp_202603.txt.gz", 5)][0].startswith(
        "field_count: expected 5 fields, the line has 4"
    )
    by_file = {
        f.file: (f.lines_read, f.header_lines, f.rows_written, f.lines_rejected)
        for f in result.files
    }
    assert by_file == {
        "cp_202603.txt.gz": (8, 1, 2, 5),
        "cp_nocat_202603.txt.gz": (2, 1, 0, 1),
        "cp_utf8_202603.txt.gz": (2, 1, 0, 1),
    }

    # a re-run replaces the month: without the broken files, only good rows and no rejects
    for name in ("cp_nocat_202603.txt.gz", "cp_utf8_202603.txt.gz"):
        (dumps / name).unlink()
    write_gzip(dumps / "cp_202603.txt.gz", gbk[:3])
    again = ingest_source(spark, settings, "shop", months=parse_month_range("2026-03"))
    assert [(f.rows_written, f.lines_rejected) for f in again.files] == [(2, 0)]
    assert not list(quarantine_path(settings, "products").glob("month=2026-03/*.parquet"))
    products = _parquet(get_table("products").path(settings))
    assert duckdb.sql(f"SELECT count(*) FROM {products}").fetchall() == [(2,)]


def test_a_file_name_without_a_month_is_named(spark, tmp_path):
    settings = make_project(tmp_path / "project")
    products_source(settings.root, files="*.txt.gz")
    write_gzip(settings.root / "dumps" / "cp_latest.txt.gz", [HEADER])
    with pytest.raises(IngestError, match=r"cp_latest\.txt\.gz has no month"):
        ingest_source(spark, settings, "shop")
    failed = read_ingests(settings)[-1]  # a failed run is recorded too, naming the file
    assert failed["status"] == "failed" and "cp_latest.txt.gz" in failed["error"]
    assert not get_table("products").path(settings).exists()
