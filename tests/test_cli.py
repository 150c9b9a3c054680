"""The command line: every sub-command answers --help; user errors are one line, exit status 2."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
import typer
from typer.testing import CliRunner

from workbench import cli

runner = CliRunner()


def _command_paths() -> list[list[str]]:
    cli._register()
    root = typer.main.get_command(cli.app)
    paths: list[list[str]] = []

    def walk(command: click.Command, prefix: list[str]) -> None:
        paths.append(prefix)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "workbench")
def test_every_command_has_help(path):
    result = runner.invoke(cli.app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert "--help" in result.output


def test_the_console_script_and_module_entry_points_agree():
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "generate" in result.stdout


def test_a_bad_config_file_is_one_line_naming_the_key(tmp_path):
    config = tmp_path / "pipelines" / "config.yml"
    config.parent.mkdir()
    config.write_text("spark:\n  driver_memory: lots\nprofiles:\n  tiny: {subscribers: 10, months: 2026-01}\n")
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--config", str(config), "generate", "--profile", "tiny"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "spark.driver_memory" in result.stderr
    assert "Traceback" not in result.stderr
