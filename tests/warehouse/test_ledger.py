"""The run ledger: append-only JSON lines, tolerant of a record cut by a crash."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import make_project
from workbench.cli import app, main  # noqa: F401
from workbench.warehouse.ledger import append_run, ledger_path, read_runs


def test_records_are_appended_in_order(tmp_path):
    settings = make_project(tmp_path)
    assert read_runs(settings) == []
    append_run(settings, {"run_id": "a", "status": "ok", "months": ["2026-01"]})
    append_run(settings, {"run_id": "b", "status": "failed", "error": "boom"})
    assert [r["run_id"] for r in read_runs(settings)] == ["a", "b"]
    assert read_runs(settings)[1]["error"] == "boom"


def test_a_truncated_line_is_skipped_not_fatal(tmp_path, caplog):
    settings = make_project(tmp_path)
    append_run(settings, {"run_id": "a", "status": "ok"})
    with open(ledger_path(settings), "a") as handle:
        handle.write('{"run_id": "b", "sta')  # a build killed mid-write
    append_run(settings, {"run_id": "c", "status": "ok"})
    assert [r["run_id"] for r in read_runs(settings)] == ["a", "c"]
    assert "not a complete record" in caplog.text


def test_runs_command_lists_the_ledger(tmp_path, monkeypatch):
    settings = make_project(tmp_path)
    append_run(
        settings,
        {
            "run_id": "20260101T000000-abc",
            "status": "failed",
            "months": ["2026-01"],
            "tables": [],
            "error": "ContractViolation: x",
        },
    )
    monkeypatch.setenv("WORKBENCH_CONFIG", str(settings.root / "pipelines" / "config.yml"))
    from workbench.cli import _register

    _register()
    out = CliRunner().invoke(app, ["runs"])
    assert out.exit_code == 0, out.output
    tables = CliRunner().invoke(app, ["tables", "--layer", "ods"])
    assert tables.exit_code == 0 and "ods_cdr__usage" in tables.output
    assert CliRunner().invoke(app, ["tables", "--layer", "nope"]).exit_code == 2
