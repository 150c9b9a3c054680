"""``workbench generate``: help, clear user errors (exit 2) and a real small run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import make_project
from workbench import cli

runner = CliRunner()


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    if not any(c.name == "generate" for c in cli.app.registered_commands):
        cli._register()
    settings = make_project(
        tmp_path_factory.mktemp("cli_project"), **{"profiles.tiny.subscribers": 200}
    )
    return settings.root / "pipelines" / "config.yml"


def test_help_lists_every_option(config):
    result = runner.invoke(cli.app, ["generate", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--profile", "--seed", "--months", "--out", "--partitions"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "galactic"], "profiles.galactic"),
        (["--months", "2026-13..2026-02"], "--months"),
        (["--months", "2026-05..2026-01"], "ends before it starts"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(config, args, message):
    result = runner.invoke(cli.app, ["--config", str(config), "generate", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_small_run_writes_the_extracts_and_the_manifest(spark, config, tmp_path):
    out = tmp_path / "raw"
    result = runner.invoke(
        cli.app,
        [
            "--config",
            str(config),
            "generate",
            "--profile",
            "tiny",
            "--seed",
            "5",
            "--months",
            "2026-01",
            "--out",
            str(out),
            "--partitions",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 5 and manifest["months"] == ["2026-01"]
    assert (out / "usage" / "month=2026-01").is_dir()
    assert manifest["campaign_truth"]["campaign_id"] is None
