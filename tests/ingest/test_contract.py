"""The raw contract is generated from the catalog, and docs/raw_contract.md is in step with it;
`workbench ingest` on the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from workbench import cli
from workbench.catalog import tables
from workbench.ingest.contract import raw_contract

from ..conftest import PROJECT_ROOT, make_project
from .test_ingest import HEADER, products_source, write_gzip

runner = CliRunner()


def test_the_documented_contract_is_the_catalog_s():
    documented = (PROJECT_ROOT / "docs" / "raw_contract.md").read_text(encoding="utf-8")
    assert documented == raw_contract(), (
        "regenerate: workbench ingest --contract > docs/raw_contract.md"
    )


def test_the_contract_names_every_raw_column_with_its_rejections():
    text = raw_contract()
    for table in tables("raw"):
        section = text.split(f"## {table.name}\n", 1)[1].split("\n## ", 1)[0]
        for column in table.columns:
            assert f"| `{column.name}` | {column.type} |" in section, (table.name, column.name)
    usage = text.split("## usage\n", 1)[1].split("\n## ", 1)[0]
    assert "| `duration_sec` | bigint | 时长（秒） |" in usage and "negative_duration" in usage
    assert "future_date" in usage.split("`started_at`", 1)[1].split("\n", 1)[0]


def test_the_cli_prints_the_contract_and_names_a_missing_source(tmp_path):
    cli._register()
    shown = runner.invoke(cli.app, ["ingest", "--contract"])
    assert shown.exit_code == 0 and shown.output == raw_contract()
    settings = make_project(tmp_path)
    config = str(settings.root / "pipelines" / "config.yml")
    missing = runner.invoke(cli.app, ["--config", config, "ingest", "nope"])
    assert missing.exit_code == 2 and "no mapping file" in missing.output


def test_the_cli_ingests_and_shows_every_file(spark, tmp_path):
    settings = make_project(tmp_path)
    products_source(settings.root)
    write_gzip(
        settings.root / "dumps" / "cp_202604.txt.gz",
        [HEADER, "V1|视频包|content|1500|2026/4/1".encode("gbk")],
    )
    config = str(settings.root / "pipelines" / "config.yml")
    result = runner.invoke(cli.app, ["--config", config, "ingest", "shop", "--months", "2026-04"])
    assert result.exit_code == 0, result.output
    assert "cp_202604.txt.gz" in result.output and "rejected by reason: none" in result.output
