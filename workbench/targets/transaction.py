"""An export (or a wave's withdrawal) as one transaction: its warehouse rows, its files and its
export-log line appear together or not at all.

The steps, each named for the ``hook`` tests use to stop an export there:

1. ``begin``: a *pending record* ``<targets.output>/.pending/<op_id>.json`` names the operation,
   its warehouse staging run and the temporary names of its files (written whole, 0600);
2. ``files_written``: the list files are written under those hidden temporary names;
3. ``staged``: the warehouse tables (contacts, campaign, waves) are staged and their contracts
   checked (:func:`workbench.targets.tables.stage_replacements`): nothing is visible yet;
4. ``ready``: the pending record gets the moves that publish the staging and the log line;
5. **commit**: the staging is published (journal first, so a kill during the swaps is rolled
   forward), then ``committed``;
6. ``logged``: the log line is appended (once: a line with the operation's id is not repeated);
7. ``published``: the files are renamed to their final names, files the operation replaces are
   removed, and the pending record is deleted.

A failure (an exception) before the commit undoes steps 1-4 at once. A process killed at any
step leaves a pending record; :func:`recover_pending`, run by the next export or withdrawal under
the warehouse write lock, finishes it: an operation whose staging was published (its journal is
there, or its wave row carries its id) is completed (steps 6-7); any other is undone (staging,
temporary files and record deleted). So after recovery every operation is complete or has left
no trace. Pending records are written and removed only under the warehouse write lock, so one
found by the lock's holder belongs to a writer that is gone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.targets.errors import TargetError
from workbench.targets.log import LOG_NAME, append_record, read_records
from workbench.targets.tables import StagedWrite, discard_staged, publish_staged
from workbench.targets.writers import checksum, publish_file, temp_path

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

PENDING = ".pending"
STEPS = ("begin", "files_written", "staged", "ready", "committed", "logged", "published")
Hook = Callable[[str], None]


@dataclass
class Pending:
    """What an unfinished operation needs to be completed or undone (JSON on disk)."""

    op_id: str
    campaign_id: str
    wave_id: str
    run_id: str
    files: list[list[str]] = field(default_factory=list)  # [temporary, final]
    remove: list[list[str]] = field(default_factory=list)  # [path, sha256 it must still have]
    moves: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] | None = None


def pending_dir(settings: Settings) -> Path:
    return settings.targets_dir / PENDING


def _pending_path(settings: Settings, op_id: str) -> Path:
    return pending_dir(settings) / f"{op_id}.json"


def _write_pending(settings: Settings, pending: Pending) -> None:
    """Write the record whole (temporary file, fsync, rename), readable by its owner only."""
    folder = pending_dir(settings)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = _pending_path(settings, pending.op_id)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(asdict(pending), default=str).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_pending(path: Path) -> Pending:
    try:
        return Pending(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise TargetError(
            f"{path}: unreadable pending export record ({exc}); it is always written whole, "
            "so something else changed it"
        ) from None


class Transaction:
    """One operation's steps (see the module doc). Use :meth:`begin`, :meth:`add_file`,
    :meth:`staged`, :meth:`ready`, then :meth:`commit`; :meth:`abort` before the commit."""

    def __init__(
        self, settings: Settings, op_id: str, campaign: str, wave: str, hook: Hook | None = None
    ) -> None:
        self.settings = settings
        self.pending = Pending(op_id, campaign, wave, run_id=f"export-{op_id}")
        self.hook = hook
        self.committed = False

    @property
    def run_id(self) -> str:
        return self.pending.run_id

    def step(self, name: str) -> None:
        if self.hook is not None:
            self.hook(name)

    def begin(self) -> None:
        _write_pending(self.settings, self.pending)
        self.step("begin")

    def add_file(self, final: Path) -> Path:
        """The temporary name to write ``final`` under (recorded before a byte is written)."""
        tmp = temp_path(final, self.pending.op_id)
        self.pending.files.append([str(tmp), str(final)])
        _write_pending(self.settings, self.pending)
        return tmp

    def remove_on_commit(self, path: str, sha256: str) -> None:
        """Delete ``path`` once committed, if it still holds what was recorded (a replaced
        wave's file that the new one does not overwrite)."""
        self.pending.remove.append([path, sha256])

    def staged(self, staged: StagedWrite) -> None:
        self.pending.moves = [asdict(m) for m in staged.moves]
        self.step("staged")

    def ready(self, record: dict[str, Any]) -> None:
        self.pending.record = record
        _write_pending(self.settings, self.pending)
        self.step("ready")

    def commit(self, staged: StagedWrite) -> None:
        if self.pending.record is None:
            raise RuntimeError("commit before ready: the log line is not recorded")
        publish_staged(self.settings, staged)
        self.committed = True
        self.step("committed")
        _finish(self.settings, self.pending, self.step)

    def abort(self) -> None:
        """Undo an uncommitted operation (staging, temporary files, pending record)."""
        if self.committed:
            return
        _undo(self.settings, self.pending)


def _undo(settings: Settings, pending: Pending) -> None:
    discard_staged(settings, pending.run_id)
    for tmp, _ in pending.files:
        Path(tmp).unlink(missing_ok=True)
    _pending_path(settings, pending.op_id).unlink(missing_ok=True)


def _logged(settings: Settings, op_id: str) -> bool:
    return any(r.get("export_id") == op_id for r in read_records(settings.targets_dir / LOG_NAME))


def _finish(settings: Settings, pending: Pending, step: Hook | None = None) -> None:
    """Steps 6-7 of a committed operation; each is idempotent, so recovery may repeat them."""
    if pending.record is not None and not _logged(settings, pending.op_id):
        append_record(
            settings.targets_dir / LOG_NAME, pending.record, mode=settings.targets.file_mode
        )
    if step:
        step("logged")
    for tmp, final in pending.files:
        if Path(tmp).exists():
            publish_file(Path(tmp), Path(final))
    for path, sha in pending.remove:
        if Path(path).is_file() and checksum(Path(path)) == sha:
            Path(path).unlink()
    if step:
        step("published")
    _pending_path(settings, pending.op_id).unlink(missing_ok=True)


def _journaled(settings: Settings, run_id: str) -> list[Any] | None:
    """The moves of a run whose publish journal was written (None: never committed)."""
    from workbench.warehouse.storage import JOURNAL, Move, staging_root

    journal = staging_root(settings, run_id) / JOURNAL
    if not journal.is_file():
        return None
    return [Move(**m) for m in json.loads(journal.read_text(encoding="utf-8"))]


def _wave_carries(settings: Settings, campaign: str, wave: str, op_id: str) -> bool:
    """Whether the published wave row was written by operation ``op_id`` (its commit marker)."""
    from workbench.marts import read_mart

    waves = read_mart("ads_target_waves", settings)
    hit = (waves["campaign_id"] == campaign) & (waves["wave_id"] == wave)
    return bool((waves.loc[hit, "export_id"] == op_id).any())


def recover_pending(settings: Settings) -> list[str]:
    """Complete or undo every operation a killed export or withdrawal left (see the module
    doc); returns ``"<op_id>: completed|undone"`` for each. Takes the warehouse write lock
    (again, when the caller holds it)."""
    from workbench.warehouse.lock import warehouse_lock
    from workbench.warehouse.storage import publish

    folder = pending_dir(settings)
    if not folder.is_dir():
        return []
    done = []
    with warehouse_lock(settings, "recover unfinished exports"):
        for tmp in folder.glob(".*.tmp"):  # a record cut short while written: never used
            tmp.unlink(missing_ok=True)
        for path in sorted(folder.glob("*.json")):
            pending = _read_pending(path)
            moves = _journaled(settings, pending.run_id)
            if moves is not None:
                publish(settings, pending.run_id, moves)  # roll the swaps forward
            committed = moves is not None or _wave_carries(
                settings, pending.campaign_id, pending.wave_id, pending.op_id
            )
            if committed:
                log.warning("completing the interrupted export %s", pending.op_id)
                discard_staged(settings, pending.run_id)  # left by a publish cut short
                _finish(settings, pending)
                done.append(f"{pending.op_id}: completed")
            else:
                log.warning("undoing the interrupted export %s", pending.op_id)
                _undo(settings, pending)
                done.append(f"{pending.op_id}: undone")
    return done
