"""An export is one transaction: stopped at any step (an error, a kill inside the process, a real
kill of the process), it is complete (file, contacts, wave, campaign, one log line) or has left
no trace once the next writer has recovered it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from workbench.filters import equals
from workbench.marts import read_mart
from workbench.targets.export import export_targets, file_checksum_ok
from workbench.targets.log import LOG_NAME, read_records
from workbench.targets.transaction import PENDING, STEPS, recover_pending
from workbench.warehouse import storage

#: steps after which the export is committed: recovery completes it
COMMITTED = ("committed", "logged", "published", "mid_publish")


class Killed(BaseException):
    """The process dies here: not an error the export could clean up after (a kill, a power
    cut); what is left is for the next writer's recovery."""


def _stop_at(step: str, error: type[BaseException] = Killed):
    def hook(name: str) -> None:
        if name == step:
            raise error(f"stopped at {step}")

    return hook


def _rows(settings, table: str, campaign: str) -> int:
    """Rows of the campaign in a table (read by DuckDB: milliseconds, not a Spark job)."""
    return len(read_mart(table, settings, filters=[equals("campaign_id", campaign)]))


def _leftovers(settings) -> list[str]:
    """Hidden working files an export may leave only while it runs."""
    folder = settings.targets_dir
    staging = settings.warehouse_dir / storage.STAGING
    return sorted(
        [p.name for p in folder.glob(".*.tmp")]
        + [p.name for p in (folder / PENDING).glob("*")]
        + [p.name for p in staging.glob("export-*")]
    )


def _outcome(settings, campaign: str) -> str:
    """``complete`` or ``none``; anything in between fails the test with what was found."""
    lines = [
        r for r in read_records(settings.targets_dir / LOG_NAME) if r.get("campaign") == campaign
    ]
    files = sorted(p.name for p in settings.targets_dir.glob(f"{campaign}_*"))
    found = {
        "log lines": len(lines),
        "files": files,
        "contacts": _rows(settings, "ads_target_contacts", campaign),
        "waves": _rows(settings, "ads_target_waves", campaign),
        "campaigns": _rows(settings, "ads_target_campaigns", campaign),
        "leftovers": _leftovers(settings),
    }
    if found == {
        "log lines": 0,
        "files": [],
        "contacts": 0,
        "waves": 0,
        "campaigns": 0,
        "leftovers": [],
    }:
        return "none"
    assert len(lines) == 1, found
    (record,) = lines
    assert file_checksum_ok(record["file"], record["checksum"]), found
    assert file_checksum_ok(record["control_file"], record["control_checksum"]), found
    assert found["contacts"] == record["n_treated"] + record["n_control"] > 0, found
    assert (found["waves"], found["campaigns"], found["leftovers"]) == (1, 1, []), found
    waves = read_mart("ads_target_waves", settings)
    (wave,) = waves[waves["campaign_id"] == campaign].itertuples()
    assert wave.export_id == record["export_id"] and wave.file_sha256 == record["checksum"]
    return "complete"


def test_an_export_stopped_at_any_step_is_complete_or_leaves_no_trace(
    spark, small_warehouse, monkeypatch
):
    settings = small_warehouse
    for step in (*STEPS, "mid_publish"):
        campaign = f"K_{step}"
        with monkeypatch.context() as patch:
            hook = None
            if step == "mid_publish":  # killed between two renames of the publish
                real, moved = storage.apply_move, []

                def one_move_then_die(move, real=real, moved=moved):
                    if moved:
                        raise Killed("stopped inside the publish")
                    moved.append(real(move))

                patch.setattr(storage, "apply_move", one_move_then_die)
            else:
                hook = _stop_at(step)
            with pytest.raises(Killed):
                export_targets(
                    spark, settings, campaign=campaign, source="churn", size=6, hook=hook
                )
        if step not in COMMITTED:  # nothing visible even before recovery
            assert not list(settings.targets_dir.glob(f"{campaign}_*"))
            assert _rows(settings, "ads_target_contacts", campaign) == 0
        expected = "complete" if step in COMMITTED else "none"
        (done,) = recover_pending(settings)
        assert done.endswith("completed" if expected == "complete" else "undone"), step
        assert _outcome(settings, campaign) == expected, step
    assert recover_pending(settings) == []  # nothing left to do


def test_an_error_before_the_commit_is_undone_at_once(spark, small_warehouse):
    settings = small_warehouse
    for step in ("files_written", "ready"):
        with pytest.raises(RuntimeError, match=step):
            export_targets(
                spark,
                settings,
                campaign="E1",
                source="churn",
                size=4,
                hook=_stop_at(step, RuntimeError),
            )
        assert _leftovers(settings) == []  # no recovery needed
        assert _outcome(settings, "E1") == "none"


def test_the_next_export_recovers_a_killed_one(spark, small_warehouse):
    settings = small_warehouse
    with pytest.raises(Killed):
        export_targets(
            spark, settings, campaign="K1", source="churn", size=4, hook=_stop_at("committed")
        )
    assert _leftovers(settings)  # the pending record and the temporary files wait
    export_targets(spark, settings, campaign="K2", source="churn", size=4)
    assert _outcome(settings, "K1") == "complete"
    assert _outcome(settings, "K2") == "complete"


_CHILD = """
import json, os, sys
from workbench.config import Settings
from workbench.spark import get_spark
from workbench.targets.export import export_targets

payload = json.loads(sys.stdin.read())
settings = Settings.model_validate({**payload["settings"], "root": payload["root"]})

def hook(step):
    if step == payload["step"]:
        os._exit(9)  # no cleanup of any kind, the warehouse lock file left behind

export_targets(get_spark(settings.spark), settings, campaign=payload["campaign"],
               source="churn", size=4, hook=hook)
"""


@pytest.mark.parametrize("step", ["staged", "committed"])
def test_a_killed_export_process_is_complete_or_leaves_no_trace(spark, small_warehouse, step):
    settings = small_warehouse
    campaign = f"P_{step}"
    payload = {
        "settings": settings.model_dump(mode="json"),
        "root": str(settings.root),
        "step": step,
        "campaign": campaign,
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout=600,
        check=False,
    )
    assert done.returncode == 9, done.stderr[-3000:]
    assert Path(settings.warehouse_dir / "_locks" / "writer.json").exists()  # left by the dead
    recover_pending(settings)  # takes over the dead process's lock
    expected = "complete" if step in COMMITTED else "none"
    assert _outcome(settings, campaign) == expected
