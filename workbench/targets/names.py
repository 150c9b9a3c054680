"""Names of the target-list loop: campaign ids, wave ids, list file names, and the default campaign
names the dashboards propose.

Every one of them becomes a path component or a key, so each is checked with a full match of
:data:`NAME` (a trailing newline is not a name), ``.`` and ``..`` are refused, and a file name may
not take the name of the loop's own bookkeeping (the export log).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

from workbench.names import is_path_component
from workbench.targets.errors import TargetError

#: a campaign, wave or file name: starts with a letter or digit, at most 100 characters
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
NAME_HELP = (
    "use 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit, without "
    "'..' or slashes"
)
#: the export log (see :mod:`workbench.targets.log`); a list file never takes its name
LOG_NAME = "export_log.jsonl"
RESERVED_FILE_NAMES = frozenset({LOG_NAME})
# a user name part of a default campaign name (the whole name stays within 100 characters)
_USER_PART = 40


def check_name(name: object, what: str = "campaign") -> str:
    """A campaign, wave or file name usable as one path component; anything else is refused
    (slashes, ``..``, absolute paths, leading dots, spaces, newlines, other characters)."""
    if not is_path_component(name, NAME) or ".." in str(name):
        raise TargetError(f"{what} {name!r}: {NAME_HELP}")
    return str(name)


def safe_output_path(folder: Path, file_name: str, fmt: str | None = None) -> Path:
    """``folder / file_name``, refusing a name that would leave ``folder``, that is reserved
    (:data:`RESERVED_FILE_NAMES`, compared without case), or whose extension is not ``.<fmt>``."""
    check_name(file_name, "file name")
    if file_name.lower() in RESERVED_FILE_NAMES:
        raise TargetError(
            f"file name {file_name!r} is reserved for the export log; choose another --file-name"
        )
    if fmt is not None and not file_name.lower().endswith(f".{fmt}"):
        raise TargetError(f"file name {file_name!r}: a {fmt} list must end in .{fmt}")
    root = folder.resolve()
    target = (root / file_name).resolve()
    if target.parent != root:
        raise TargetError(f"file name {file_name!r} escapes the output folder {root}")
    return target


def _name_part(text: str) -> str:
    """``text`` reduced to letters, digits and ``_`` (runs of anything else become one ``_``)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def user_part(user: str) -> str:
    """A user name as a name part: ``gz.manager`` -> ``gz_manager_1a2b3c``. When the name had to
    change (or be cut), a short hash of the original keeps two users from sharing a part."""
    clean = _name_part(user)[:_USER_PART] or "user"
    if clean != user:
        clean += "_" + hashlib.sha256(user.encode()).hexdigest()[:6]
    return clean


def default_campaign_name(prefix: str, period: str, user: str) -> str:
    """The campaign name a dashboard proposes: unique per user and month, e.g.
    ``retention_202606_gz_manager`` (two managers exporting in one month never share one)."""
    parts = [_name_part(prefix) or "campaign", period.replace("-", ""), user_part(user)]
    return check_name("_".join(parts)[:100])


def default_wave_id(as_of: date, region: str | None) -> str:
    """A wave's id when none is given: its contact date and region (``20260701_GZ``), so
    re-running the same export is the same wave and another day or region is a new one."""
    return check_name(f"{as_of:%Y%m%d}" + (f"_{_name_part(region)}" if region else ""), "wave")


def operator_name() -> str:
    """Who runs the CLI: the OS user (the uid when the system has no name for it)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry and no $USER
        return str(os.getuid())


_OWNER = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


def check_owner(owner: object) -> str:
    """A campaign owner (a dashboard user or an OS user): 1-100 printable characters without
    surrounding spaces, so the same person is always the same owner."""
    if not isinstance(owner, str) or _OWNER.fullmatch(owner) is None or owner != owner.strip():
        raise TargetError(
            f"--owner {owner!r}: 1-100 printable characters, no surrounding spaces or newlines"
        )
    return owner
