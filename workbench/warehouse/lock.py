"""One writer at a time: the warehouse-wide write lock.

Every writer of the warehouse (a build, ``campaigns refresh``, an export's warehouse writes, a
response load, a subject result write) holds this lock while it stages and publishes, so a build
never discards a running writer's staging and two read-modify-writes of one table never
interleave. Readers take no lock: publishing is atomic (see :mod:`workbench.warehouse.storage`).

The lock is the file ``<warehouse>/_locks/writer.json``; while it exists the warehouse is held.
It is created whole (a complete temporary file hard-linked to its name, which fails if the name
exists) and records the holder: purpose, process id, host, user, start time, and the boot id and
process start time that tell a live process from a later one that reuses its pid.

- **Waiting.** A writer that finds the lock held waits, polling, for ``warehouse.lock_wait_seconds``
  (``0``: fail at once, ``null``: no limit) and logs once per holder whom it waits for; then it
  raises :class:`WarehouseBusy` naming the holder. ``wait`` / ``timeout_seconds`` override it.
- **Stale locks.** A holder on this host whose process is gone (killed, crashed, machine
  rebooted) no longer holds anything: the next writer takes the lock over and logs it. A holder on
  another host cannot be checked from here and is always waited for.
- **Re-entrant.** The thread holding the lock may take it again (a build that calls a refresh);
  only the outermost release removes the file. Other threads of the process wait like another
  process would.

Checking and replacing the file happen under a short ``flock`` on ``writer.guard``, so two writers
that find the same stale lock cannot both take it over. The kernel drops that ``flock`` when its
process dies, so the guard itself is never stale.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

LOCKS = "_locks"  # shared with the per-table locks of workbench.targets.tables
LOCK_FILE = "writer.json"
GUARD_FILE = "writer.guard"
# Short enough that a waiting export starts soon after a build ends, long enough to cost nothing.
POLL_SECONDS = 0.25
_PROC = Path("/proc")


class LockError(WorkbenchError):
    """The warehouse write lock cannot be read or taken."""


class WarehouseBusy(LockError):
    """Another writer holds the warehouse write lock (it is named in the message)."""

    def __init__(self, message: str, holder: LockHolder | None):
        super().__init__(message)
        self.holder = holder


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (clock ticks after boot) from /proc, or None."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    after = stat[stat.rindex(")") + 2 :].split()
    return after[0], int(after[19])


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry and no $USER
        return str(os.getuid())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ProcessRef:
    """A process, identified well enough to tell whether it still runs."""

    pid: int
    host: str
    boot_id: str | None = None
    start_ticks: int | None = None

    @classmethod
    def current(cls) -> ProcessRef:
        stat = _proc_stat(os.getpid())
        return cls(os.getpid(), socket.gethostname(), _boot_id(), stat[1] if stat else None)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ProcessRef:
        """The process fields of a JSON record (the lock file, a staging owner)."""
        return cls(
            pid=int(record["pid"]),
            host=str(record["host"]),
            boot_id=record.get("boot_id"),
            start_ticks=record.get("start_ticks"),
        )

    @property
    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def is_running(self) -> bool:
        """False only when the process is known to be gone; True also when it cannot be told
        (another host), so a caller never removes what a live writer may still use."""
        if not self.on_this_host:
            return True
        boot = _boot_id()
        if self.boot_id and boot and self.boot_id != boot:
            return False  # the machine rebooted since
        stat = _proc_stat(self.pid)
        if stat is None and _PROC.is_dir():
            return False
        if stat is None:  # no /proc (macOS): existence only
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        state, ticks = stat
        if state in ("Z", "X"):  # killed, not yet reaped by its parent
            return False
        # another process that was given the same pid later
        return self.start_ticks is None or ticks == self.start_ticks


@dataclass(frozen=True)
class LockHolder:
    """Who holds the warehouse write lock; also the JSON content of the lock file."""

    purpose: str
    pid: int
    host: str
    started_at: str  # ISO 8601, UTC
    token: str  # unique per acquisition: a release removes only its own file
    user: str
    boot_id: str | None = None
    start_ticks: int | None = None

    @classmethod
    def for_this_process(cls, purpose: str) -> LockHolder:
        me = ProcessRef.current()
        return cls(
            purpose=purpose,
            pid=me.pid,
            host=me.host,
            started_at=_now(),
            token=uuid.uuid4().hex,
            user=_user(),
            boot_id=me.boot_id,
            start_ticks=me.start_ticks,
        )

    @property
    def process(self) -> ProcessRef:
        return ProcessRef(self.pid, self.host, self.boot_id, self.start_ticks)

    def describe(self) -> str:
        return (
            f"{self.purpose!r} (pid {self.pid} on {self.host}, user {self.user}, "
            f"since {self.started_at})"
        )


def lock_path(settings: Settings) -> Path:
    return settings.warehouse_dir / LOCKS / LOCK_FILE


def read_holder(settings: Settings) -> LockHolder | None:
    """The recorded holder of the warehouse lock (None when it is free); it may be stale."""
    return _read(lock_path(settings))


def _read(path: Path) -> LockHolder | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
        known = {f.name for f in fields(LockHolder)}
        return LockHolder(**{k: v for k, v in record.items() if k in known})
    except (ValueError, TypeError) as exc:
        # the file is always written whole, so this is damage from outside
        raise LockError(
            f"{path}: unreadable warehouse lock ({exc}); remove it if no writer is running"
        ) from None


@contextmanager
def _guard(folder: Path) -> Iterator[None]:
    """The short exclusive section in which the lock file is checked, created or removed."""
    path = folder / GUARD_FILE
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask decides
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as exc:
        raise LockError(f"{path}: cannot lock ({exc}); the warehouse folder needs flock") from None
    try:
        yield
    finally:
        os.close(handle)  # releases the flock


def _create(path: Path, holder: LockHolder) -> None:
    """Create the lock file whole: a complete temporary file linked to its final name."""
    tmp = path.with_name(f".{path.name}.{holder.token}")
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            json.dump(asdict(holder), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # FileExistsError if someone holds it: never overwritten
    finally:
        tmp.unlink(missing_ok=True)


def _try_take(path: Path, purpose: str) -> tuple[LockHolder | None, LockHolder | None]:
    """One attempt: ``(mine, None)`` when taken, ``(None, holder)`` when a live writer has it.

    Called only while no thread of this process holds the lock, so a file naming this very
    process is a leftover (an interrupt between taking the file and entering the block).
    """
    with _guard(path.parent):
        current = _read(path)
        if current is not None:
            ours = current.process == ProcessRef.current()
            if not ours and current.process.is_running():
                return None, current
            log.warning(
                "taking over the warehouse lock of %s: %s",
                current.describe(),
                "left by this process" if ours else "that process is no longer running",
            )
            path.unlink()
        mine = LockHolder.for_this_process(purpose)
        _create(path, mine)
        return mine, None


def _release(path: Path, holder: LockHolder) -> None:
    with _guard(path.parent):
        current = _read(path)
        if current is not None and current.token == holder.token:
            path.unlink()
        else:
            log.warning(
                "%s: the warehouse lock of %s was gone at its release", path, holder.describe()
            )


def _busy(holder: LockHolder | None, path: Path, waited: float, limit: float) -> WarehouseBusy:
    who = holder.describe() if holder else "another thread of this process"
    hint = ""
    if holder is not None and not holder.process.on_this_host:
        hint = f"; if that process is gone, remove {path}"
    waiting = f"waited {waited:.0f} s" if limit else "not waiting"
    return WarehouseBusy(
        f"the warehouse {path.parent.parent} is being written by {who}; {waiting} "
        f"(warehouse.lock_wait_seconds){hint}",
        holder,
    )


def _take_file(path: Path, purpose: str, limit: float | None) -> LockHolder:
    """Take the lock file, waiting up to ``limit`` seconds (None: no limit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    announced: str | None = None
    while True:
        mine, holder = _try_take(path, purpose)
        if mine is not None:
            if announced:
                log.info("took the warehouse lock for %r", purpose)
            return mine
        assert holder is not None
        waited = time.monotonic() - started
        if limit is not None and waited >= limit:
            raise _busy(holder, path, waited, limit)
        if holder.token != announced:
            log.warning(
                "%r waits for the warehouse lock held by %s (%s)",
                purpose,
                holder.describe(),
                "no time limit" if limit is None else f"up to {limit:.0f} s",
            )
            announced = holder.token
        pause = POLL_SECONDS if limit is None else min(POLL_SECONDS, limit - waited)
        time.sleep(max(pause, 0.0))


@dataclass
class _State:
    """This process's hold on one warehouse's lock."""

    threads: threading.RLock
    holder: LockHolder | None = None
    depth: int = 0
    owner: int | None = None  # thread ident


# keyed by process id too: a child forked while the parent held the lock holds nothing
_STATES: dict[tuple[int, str], _State] = {}
_STATES_LOCK = threading.Lock()


def _state(settings: Settings) -> _State:
    key = (os.getpid(), str(settings.warehouse_dir))
    with _STATES_LOCK:
        return _STATES.setdefault(key, _State(threading.RLock()))


def _limit(settings: Settings, wait: bool | None, timeout_seconds: float | None) -> float | None:
    """Seconds to wait for the lock (None: no limit)."""
    if wait is False:
        return 0.0
    if wait is True or timeout_seconds is not None:
        return timeout_seconds
    return settings.warehouse.lock_wait_seconds


def held_here(settings: Settings) -> LockHolder | None:
    """The holder when the calling thread holds the warehouse lock, else None."""
    state = _state(settings)
    return state.holder if state.owner == threading.get_ident() else None


def lock_depth(settings: Settings) -> int:
    """How many nested :func:`warehouse_lock` blocks the calling thread is in (0: none)."""
    state = _state(settings)
    return state.depth if state.owner == threading.get_ident() else 0


@contextmanager
def warehouse_lock(
    settings: Settings,
    purpose: str,
    *,
    wait: bool | None = None,
    timeout_seconds: float | None = None,
) -> Iterator[LockHolder]:
    """Hold the warehouse write lock for the block.

    Args:
        purpose: what the holder does, shown to whoever waits (``"build 20260301T...-ab12cd"``,
            ``"export RET_MAR by gz_manager"``).
        wait: ``False``: fail at once if it is held; ``True``: wait ``timeout_seconds`` (None:
            no limit); ``None``: wait ``timeout_seconds`` if given, else
            ``warehouse.lock_wait_seconds``.

    Yields:
        the holder recorded in the lock file (the outermost one when taken again by its thread).

    Raises:
        WarehouseBusy: another writer held it for longer than the wait; the message names it.
    """
    state = _state(settings)
    limit = _limit(settings, wait, timeout_seconds)
    path = lock_path(settings)
    started = time.monotonic()
    if not state.threads.acquire(blocking=False):
        if limit == 0:
            raise _busy(state.holder, path, 0.0, 0.0)
        log.warning(
            "%r waits for the warehouse lock held by this process's %s",
            purpose,
            state.holder.describe() if state.holder else "other thread",
        )
        if not state.threads.acquire(timeout=-1 if limit is None else limit):
            raise _busy(state.holder, path, time.monotonic() - started, limit or 0.0)
    try:
        if state.depth == 0:
            remaining = None if limit is None else max(0.0, limit - (time.monotonic() - started))
            state.holder = _take_file(path, purpose, remaining)
            state.owner = threading.get_ident()
        state.depth += 1
        holder = state.holder
        assert holder is not None
        try:
            yield holder
        finally:
            state.depth -= 1
            if state.depth == 0:
                state.holder = state.owner = None
                _release(path, holder)
    finally:
        state.threads.release()
