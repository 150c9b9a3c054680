"""The outbox: one JSON line per step of each delivered message in
``<paths.reports>/_ledger/outbox.jsonl``, and the message itself beside it in ``outbox/``.

A message is known by its key (kind, recipient, schedule, fire time, region). Before sending, a
caller *claims* the key under an exclusive lock on the outbox: the claim is refused when the key
was already sent or is claimed by a process still running, so two ``report due`` calls at once,
or a re-run, never send a message twice. After the attempt the caller records ``sent`` or
``failed`` (with the server's error). A ``failed`` key, or one claimed by a process that has
since died (a crash between claim and send), may be claimed again: the stored message is sent
as it was, with the same Message-ID, without running the report again.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.jsonl import append_record, read_records

if TYPE_CHECKING:
    from workbench.config import Settings

STATUSES = ("claimed", "sent", "failed", "dry-run")
KEY_FIELDS = ("kind", "recipient", "schedule", "fire_time", "region")


def outbox_path(settings: Settings) -> Path:
    return settings.reports_dir / "_ledger" / "outbox.jsonl"


def message_dir(settings: Settings) -> Path:
    """Where each claimed message is kept, as sent (``<message key hash>.eml``)."""
    return settings.reports_dir / "_ledger" / "outbox"


def message_key(record: dict[str, Any]) -> str:
    return "|".join(str(record.get(f) or "ALL" if f == "region" else record[f]) for f in KEY_FIELDS)


def read_outbox(settings: Settings, *, failed: bool = False) -> list[dict[str, Any]]:
    """Every outbox record, oldest first; ``failed``: only the messages whose latest state is
    failed (one record each)."""
    records = read_records(outbox_path(settings))
    if failed:
        return [r for r in latest(records).values() if r["status"] == "failed"]
    return records


def latest(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each message's latest record (dry runs aside: they never stand for a delivery)."""
    state: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("status") != "dry-run":
            state[message_key(record)] = record
    return state


def _alive(record: dict[str, Any]) -> bool:
    """Whether the process holding a claim still runs (a claim from another host is trusted)."""
    if record.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def may_send(record: dict[str, Any] | None) -> bool:
    """Whether a message in this latest state may be (re)sent."""
    if record is None or record["status"] == "failed":
        return True
    return record["status"] == "claimed" and not _alive(record)


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    path = outbox_path(settings).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # held for a read and an append: milliseconds
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stamp(record: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    return {
        **{k: v for k, v in record.items() if k not in ("error", "pid", "host")},
        "status": status,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }


def claim(settings: Settings, message: dict[str, Any], content: bytes | None) -> dict | None:
    """Claim a message for sending: write its content (when given; a retry sends the stored
    one) and record ``claimed``. None when it was sent already or another process holds it."""
    with _locked(settings):
        state = latest(read_records(outbox_path(settings))).get(message_key(message))
        if not may_send(state):
            return None
        stored = message_dir(settings) / message["file"]
        if content is not None:
            stored.parent.mkdir(parents=True, exist_ok=True)
            partial = stored.with_suffix(".part")
            partial.write_bytes(content)
            partial.replace(stored)
        record = _stamp(
            message, "claimed", pid=os.getpid(), host=socket.gethostname(), attempt=_attempt(state)
        )
        append_record(outbox_path(settings), record)
        return record


def _attempt(state: dict[str, Any] | None) -> int:
    return 1 if state is None else int(state.get("attempt", 0)) + 1


def settle(settings: Settings, record: dict[str, Any], error: str | None) -> dict[str, Any]:
    """Record the outcome of a claimed message: sent, or failed with the error."""
    done = _stamp(record, "failed" if error else "sent", **({"error": error} if error else {}))
    append_record(outbox_path(settings), done)
    return done


def record_dry_run(settings: Settings, message: dict[str, Any], path: Path) -> dict[str, Any]:
    """Record a message written to ``path`` instead of being sent."""
    done = _stamp(message, "dry-run", path=str(path))
    append_record(outbox_path(settings), done)
    return done


def retryable(settings: Settings) -> list[dict[str, Any]]:
    """Messages that failed (fewer than ``delivery.max_attempts`` times), or whose sender died
    after claiming them: the next call sends them."""
    limit = settings.delivery.max_attempts
    return [
        r
        for r in latest(read_records(outbox_path(settings))).values()
        if may_send(r) and int(r.get("attempt", 0)) < limit
    ]
