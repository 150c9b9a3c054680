"""The command line: every sub-command answers --help; user errors are one line, exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from workbench import cli

runner = CliRunner()


def _command_paths() -> list[list[str]]:
    cli._register()
    root = typer.main.get_command(cli.app)
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        paths.append(prefix)
        # typer ships its own click: test for sub-commands rather than a click class
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    assert len(paths) > 8, paths  # the walk must reach the sub-commands
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "workbench")
def test_every_command_has_help(path):
    result = runner.invoke(cli.app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert "--help" in result.output


def test_the_console_script_and_module_entry_points_agree():
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "generate" in result.stdout


def test_a_bad_config_file_is_one_line_naming_the_key(tmp_path):
    config = tmp_path / "pipelines" / "config.yml"
    config.parent.mkdir()
    config.write_text(
        "spark:\n  driver_memory: lots\nprofiles:\n  tiny: {subscribers: 10, months: 2026-01}\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "--config",
            str(config),
            "generate",
            "--profile",
            "tiny",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "spark.driver_memory" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("param", "named"),
    [("sample_size=lots", "sample_size"), ("bogus=1", "bogus"), ("seed", "seed")],
)
def test_report_run_rejects_bad_parameters_before_starting_a_kernel(param, named):
    result = runner.invoke(cli.app, ["report", "run", "churn", "--period", "2026-06", "-p", param])
    assert result.exit_code == 2
    assert named in result.output


def test_report_parameters_from_text_are_typed_by_the_subject_spec():
    from workbench.params import coerce_overrides

    typed = coerce_overrides("churn", {"sample_size": "5000", "horizon_months": "2"})
    assert typed == {"sample_size": 5000, "horizon_months": 2}


def test_report_params_shows_each_declared_parameter_and_names_an_unknown_subject():
    from workbench.params import SPECS

    result = runner.invoke(cli.app, ["report", "params", "revenue"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name, param in SPECS["revenue"].items():
        assert name in result.output and repr(param.default) in result.output
    assert "0.5 to 0.99" in result.output  # the confidence's declared range
    unknown = runner.invoke(cli.app, ["report", "params", "revenu"])
    assert unknown.exit_code == 2 and "unknown subject 'revenu'" in unknown.output


def test_truth_profile_and_seed_need_a_workdir_of_their_own():
    """Generating into the current project would replace its operator: refused, one line."""
    result = runner.invoke(cli.app, ["truth", "--profile", "truth"])
    assert result.exit_code == 2, result.output
    assert "--profile and --seed need --workdir" in " ".join(result.output.split())


def test_the_truth_workdir_is_a_project_of_its_own(tmp_path):
    """Made with a copy of the current project's pipelines/ YAML, its data under it; made once
    (an edited copy is kept, the current project no longer read); a config whose data lies outside
    the folder is refused."""
    from tests.conftest import make_project
    from workbench.cli.truth import project_in
    from workbench.errors import InputDataError

    source = make_project(tmp_path / "main")
    work = project_in(tmp_path / "truth", lambda: source)
    assert work.root == (tmp_path / "truth").resolve()
    assert work.raw_dir == work.root / "data" / "raw"
    assert work.warehouse_dir.is_relative_to(work.root)
    copied = sorted(p.name for p in (work.root / "pipelines").glob("*.yml"))
    assert copied == sorted(p.name for p in (source.root / "pipelines").glob("*.yml"))
    assert "truth" in work.profiles

    config = work.root / "pipelines" / "config.yml"
    config.write_text(config.read_text().replace("raw: data/raw", "raw: data/raw_mine"))
    unread = project_in(tmp_path / "truth", lambda: pytest.fail("the current project was read"))
    assert unread.raw_dir == work.root / "data" / "raw_mine"
    config.write_text(config.read_text().replace("raw: data/raw_mine", f"raw: {tmp_path}/x"))
    with pytest.raises(InputDataError, match="outside"):
        project_in(tmp_path / "truth", lambda: source)
