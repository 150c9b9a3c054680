"""The warehouse write lock, with real concurrency: writers in separate processes.

Each writer process runs :func:`child` (``python -c``); it stages and publishes one month of
``quarantine_rows`` with pyarrow (no Spark), so every test takes seconds. Processes coordinate
through files in a signals folder: ``<who>.holding`` / ``<who>.staged`` (written by the child,
holding its staging run id) and ``<who>.release`` (written by the test).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, make_project
from workbench.catalog import get_table
from workbench.config import Settings, load_settings
from workbench.warehouse import lock, storage
from workbench.warehouse.lock import (
    LockHolder,
    WarehouseBusy,
    lock_depth,
    lock_path,
    read_holder,
    warehouse_lock,
)

TABLE = get_table("quarantine_rows")
MONTH = "2026-01"
WAIT_SECONDS = 60  # for a signal; far above what any step here takes


# -- the writer process ------------------------------------------------------------------------
def published(settings: Settings) -> list[str]:
    """The writers whose rows are in the published month (``source_file`` holds their names)."""
    import pyarrow.parquet as pq

    folder = storage.partition_dir(TABLE.path(settings), MONTH)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    return sorted(v for f in files for v in pq.read_table(f).column("source_file").to_pylist())


def stage(settings: Settings, run_id: str, writers: list[str]) -> None:
    """Stage the month with one row per writer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([f for f in TABLE.arrow_schema if f.name != "month"])
    n = len(writers)
    rows = {
        "source_table": ["usage"] * n,
        "reason": ["duplicate"] * n,
        "source_file": writers,
        "source_row": list(range(n)),
        "record_json": ["{}"] * n,
    }
    target = storage.partition_dir(storage.staged_path(settings, run_id, TABLE), MONTH)
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows, schema=schema), target / "part-00000.parquet")


def publish(settings: Settings, run_id: str) -> None:
    storage.publish(settings, run_id, storage.plan_moves(settings, run_id, TABLE, [MONTH]))


def wait_for(path: Path, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {seconds} s")
        time.sleep(0.02)


def child() -> None:
    """A writer: ``python -c '...child()' MODE WHO SIGNALS [hold]``.

    ``append``: under the lock, read the month, stage it plus its own row, (hold,) publish.
    ``stage``: stage its own row without the lock, hold, then publish under the lock.
    ``count``: add 1 to a counter file, 5 times, each a read-modify-write under the lock.
    """
    mode, who, signals = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    hold = sys.argv[4:] == ["hold"]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    run_id = f"run-{who}"
    if mode == "append":
        with warehouse_lock(settings, f"test append {who}"):
            stage(settings, run_id, [*published(settings), who])
            (signals / f"{who}.holding").write_text(run_id)
            if hold:
                wait_for(signals / f"{who}.release")
            publish(settings, run_id)
    elif mode == "stage":
        stage(settings, run_id, [who])
        (signals / f"{who}.staged").write_text(run_id)
        wait_for(signals / f"{who}.release")
        with warehouse_lock(settings, f"test publish {who}"):
            publish(settings, run_id)
    elif mode == "count":
        lock.POLL_SECONDS = 0.01
        counter = settings.warehouse_dir / "counter.txt"
        for _ in range(5):
            with warehouse_lock(settings, f"test count {who}"):
                value = int(counter.read_text()) if counter.exists() else 0
                time.sleep(0.01)  # a lost update shows if another writer gets in here
                counter.write_text(str(value + 1))
    else:
        raise SystemExit(f"unknown mode {mode}")


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_project(tmp_path / "project")


@pytest.fixture
def signals(tmp_path) -> Path:
    folder = tmp_path / "signals"
    folder.mkdir()
    return folder


@pytest.fixture
def start(settings, signals):
    """Start a writer process; any still running at the end is killed."""
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "WORKBENCH_CONFIG": str(settings.root / "pipelines" / "config.yml"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }

    def run(mode: str, who: str, *extra: str) -> subprocess.Popen:
        log_file = open(signals / f"{who}.log", "w")  # noqa: SIM115 (the child writes it)
        code = "from tests.warehouse.test_lock import child; child()"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, mode, who, str(signals), *extra],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()
        started.append(proc)
        return proc

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def finish(proc: subprocess.Popen, signals: Path, who: str) -> str:
    """Wait for a writer to exit successfully; returns its log."""
    proc.wait(timeout=WAIT_SECONDS)
    output = (signals / f"{who}.log").read_text()
    assert proc.returncode == 0, output
    return output


def wait_for_text(path: Path, text: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.02)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, the lock files aside."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and lock.LOCKS not in p.relative_to(root).parts
    }


# -- two processes -----------------------------------------------------------------------------
def test_a_second_writer_waits_for_the_first_and_nothing_is_lost(settings, signals, start):
    first = start("append", "A", "hold")
    wait_for(signals / "A.holding")
    second = start("append", "B")
    # B reports whom it waits for, then waits: A's read-modify-write is still open
    wait_for_text(signals / "B.log", "waits for the warehouse lock")
    time.sleep(0.5)
    assert second.poll() is None and published(settings) == []
    (signals / "A.release").touch()
    finish(first, signals, "A")
    output = finish(second, signals, "B")
    assert "'test append A'" in output and f"pid {first.pid}" in output and "since 20" in output
    assert output.count("waits for the warehouse lock") == 1  # said once, not at every poll
    assert published(settings) == ["A", "B"]  # B read A's row before adding its own
    assert read_holder(settings) is None
    assert not any((settings.warehouse_dir / "_staging").iterdir())


def test_with_no_wait_a_writer_fails_at_once_naming_the_holder(settings, signals, start, tmp_path):
    holder = start("append", "A", "hold")
    wait_for(signals / "A.holding")
    no_wait = make_project(tmp_path / "project", **{"warehouse.lock_wait_seconds": 0})
    began = time.monotonic()
    with pytest.raises(WarehouseBusy) as busy, warehouse_lock(no_wait, "test export"):
        pytest.fail("the lock was held by A")
    assert time.monotonic() - began < 2
    message = str(busy.value)
    assert "'test append A'" in message and f"pid {holder.pid}" in message
    assert "since 20" in message and "warehouse.lock_wait_seconds" in message
    assert busy.value.holder is not None and busy.value.holder.pid == holder.pid
    # the same with the default wait, told not to wait by the caller
    with (
        pytest.raises(WarehouseBusy, match="test append A"),
        warehouse_lock(settings, "test export", wait=False),
    ):
        pytest.fail("the lock was held by A")
    # and a short wait gives up after it
    began = time.monotonic()
    with (
        pytest.raises(WarehouseBusy, match="waited"),
        warehouse_lock(settings, "test export", timeout_seconds=0.5),
    ):
        pytest.fail("the lock was held by A")
    assert 0.5 <= time.monotonic() - began < 3
    (signals / "A.release").touch()
    finish(holder, signals, "A")
    assert published(settings) == ["A"]
    with warehouse_lock(no_wait, "test export") as mine:  # free now: taken at once
        assert read_holder(settings) == mine


def test_a_writer_killed_holding_the_lock_is_recovered_without_touching_a_live_writer(
    settings, signals, start, caplog
):
    live = start("stage", "L")  # a live writer that has staged and not yet published
    wait_for(signals / "L.staged")
    killed = start("append", "K", "hold")
    wait_for(signals / "K.holding")
    staging = settings.warehouse_dir / "_staging"
    live_run, killed_run = (signals / "L.staged").read_text(), (signals / "K.holding").read_text()
    live_files = tree(staging / live_run)
    assert storage.OWNER in live_files and (staging / killed_run).is_dir()
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert read_holder(settings).pid == killed.pid  # the lock file outlives its holder

    caplog.set_level(logging.INFO, logger="workbench.warehouse")
    with warehouse_lock(settings, "test next writer", wait=False) as mine:
        assert mine.pid == os.getpid()
        handled = storage.recover(settings)
    assert f"pid {killed.pid}" in caplog.text and "taking over" in caplog.text
    assert handled == [killed_run]
    assert not (staging / killed_run).exists()
    assert tree(staging / live_run) == live_files  # not one byte of the live writer's staging
    assert f"leaving {staging / live_run} alone" in caplog.text

    (signals / "L.release").touch()
    finish(live, signals, "L")
    assert published(settings) == ["L"]  # K never published; L's staging was intact
    assert not any(staging.iterdir()) and read_holder(settings) is None


def test_writers_racing_for_a_stale_lock_never_overlap(settings, signals, start):
    # a lock left by a process that is gone: every writer finds it stale at once
    dead = replace(LockHolder.for_this_process("killed build"), pid=_dead_pid(), start_ticks=1)
    _write_holder(settings, dead)
    writers = [start("count", who) for who in ("C1", "C2", "C3")]
    for who, proc in zip(("C1", "C2", "C3"), writers, strict=True):
        finish(proc, signals, who)
    assert (settings.warehouse_dir / "counter.txt").read_text() == "15"  # no update lost
    assert read_holder(settings) is None


def test_recover_leaves_a_live_writers_publish_alone_and_completes_it_once_gone(
    settings, monkeypatch
):
    stage(settings, "run-A", ["A"])
    publish(settings, "run-A")
    # W is cut between the two renames of its swap: its journal is written, the old month is in
    # its trash, the new one still staged, and the month is missing from the table meanwhile
    stage(settings, "run-W", ["W"])
    real_rename, calls = storage.os.rename, []

    def crash_on_second(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt("between the renames")
        real_rename(src, dst)

    monkeypatch.setattr(storage.os, "rename", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        publish(settings, "run-W")
    monkeypatch.setattr(storage.os, "rename", real_rename)
    # ... and W is another process, still running
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _set_owner(settings, "run-W", writer.pid)
        before = tree(settings.warehouse_dir)
        assert storage.recover(settings) == []
        assert tree(settings.warehouse_dir) == before  # no rename, no restore, no delete
        assert published(settings) == []
    finally:
        writer.kill()
        writer.wait()
    assert storage.recover(settings) == ["run-W"]  # gone: its publish is rolled forward
    assert published(settings) == ["W"]
    assert not any((settings.warehouse_dir / "_staging").iterdir())
    assert not any((settings.warehouse_dir / "_trash").iterdir())


def test_recover_by_the_outermost_holder_discards_its_own_failed_run_but_not_when_nested(settings):
    with warehouse_lock(settings, "outer export"):
        stage(settings, "run-outer", ["O"])  # the outer writer is in the middle of its run
        with warehouse_lock(settings, "nested build"):
            assert storage.recover(settings) == []  # not the nested writer's to discard
        assert (settings.warehouse_dir / "_staging" / "run-outer").is_dir()
        # the outermost holder recovers after its own failure: its run is finished
        assert storage.recover(settings) == ["run-outer"]


# -- one process -------------------------------------------------------------------------------
def test_the_lock_is_reentrant_in_its_thread_and_other_threads_wait(settings):
    with warehouse_lock(settings, "outer build") as outer:
        with warehouse_lock(settings, "inner refresh", wait=False) as inner:
            assert inner == outer and lock_depth(settings) == 2
            assert read_holder(settings) == outer
        assert lock_path(settings).is_file()  # still held by the outer block
        errors: list[Exception] = []

        def other_thread() -> None:
            try:
                with warehouse_lock(settings, "other thread", wait=False):
                    pass
            except WarehouseBusy as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1 and "outer build" in str(errors[0])
    assert read_holder(settings) is None and lock_depth(settings) == 0

    taken = threading.Event()
    with warehouse_lock(settings, "first"):
        waiter = threading.Thread(
            target=lambda: _hold_then_set(settings, "second", taken), daemon=True
        )
        waiter.start()
        time.sleep(0.3)
        assert not taken.is_set()  # waits while the first holds it
    waiter.join(timeout=10)
    assert taken.is_set()


def test_a_lock_of_a_reused_pid_is_stale_but_one_on_another_host_is_not(settings, caplog):
    me = LockHolder.for_this_process("build long ago")
    if me.start_ticks is None:
        pytest.skip("no /proc: a reused pid cannot be told from its holder")
    # this process's pid, but not this process: the holder died and the pid was given again
    _write_holder(settings, replace(me, start_ticks=me.start_ticks - 1, token="old"))
    with warehouse_lock(settings, "next writer", wait=False) as mine:
        assert mine.token != "old"
    assert "taking over the warehouse lock of 'build long ago'" in caplog.text

    # a file naming this very process while no thread of it holds the lock is a leftover
    _write_holder(settings, replace(LockHolder.for_this_process("interrupted"), token="left"))
    with warehouse_lock(settings, "next writer", wait=False) as mine:
        assert mine.token != "left"
    assert "'interrupted'" in caplog.text and "left by this process" in caplog.text

    _write_holder(settings, replace(me, host="another-host", pid=1))
    with (
        pytest.raises(WarehouseBusy, match=r"on another-host.*remove"),
        warehouse_lock(settings, "next writer", wait=False),
    ):
        pytest.fail("a holder on another host cannot be checked and is waited for")


def test_an_unreadable_lock_file_names_the_file(settings):
    lock_path(settings).parent.mkdir(parents=True)
    lock_path(settings).write_text("{not json")
    with (
        pytest.raises(lock.LockError, match=r"writer\.json: unreadable"),
        warehouse_lock(settings, "a writer", wait=False),
    ):
        pytest.fail("an unreadable lock must not be taken")


def test_the_wait_key_is_validated(tmp_path):
    from workbench.config import ConfigError

    with pytest.raises(ConfigError, match=r"warehouse\.lock_wait_seconds"):
        make_project(tmp_path, **{"warehouse.lock_wait_seconds": -1})
    no_limit = make_project(tmp_path, **{"warehouse.lock_wait_seconds": None})
    assert no_limit.warehouse.lock_wait_seconds is None


def _hold_then_set(settings: Settings, purpose: str, done: threading.Event) -> None:
    with warehouse_lock(settings, purpose, timeout_seconds=10):
        done.set()


def _write_holder(settings: Settings, holder: LockHolder) -> None:
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(holder)))


def _set_owner(settings: Settings, run_id: str, pid: int) -> None:
    """Record another process as the owner of a staging run."""
    owner = replace(lock.ProcessRef.current(), pid=pid, start_ticks=lock._proc_stat(pid)[1])
    path = storage.staging_root(settings, run_id) / storage.OWNER
    path.write_text(json.dumps({**asdict(owner), "run_id": run_id}))


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
