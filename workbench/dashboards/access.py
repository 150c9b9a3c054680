"""Who is looking at a dashboard, from a signed link.

Voila hands the page's query string to the kernel (``voila.utils.get_query_string()``), and a
viewer can edit a URL at will. So the link carries ``wb=<token>``: the user and an expiry, signed
with HMAC-SHA256 under a server secret. The kernel verifies the signature before anything is read;
an edited user, expiry or signature fails and the app shows "access denied". The user's regions
come from the configuration (``dashboards.users``), never from the URL. In production a reverse
proxy with single sign-on should issue these links (or pass a header) instead of a person running
``workbench serve link``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.config import Settings

log = logging.getLogger(__name__)

SECRET_ENV = "WORKBENCH_DASHBOARD_SECRET"
TOKEN_PARAM = "wb"


class AccessDenied(WorkbenchError):
    """The link is missing, expired, altered, or names an unknown user."""


@dataclass(frozen=True)
class Viewer:
    """A dashboard user and the regions they may see (``None``: every region).

    ``denied`` holds the reason when the link did not verify: such a viewer sees no region.
    """

    user: str
    regions: frozenset[str] | None
    denied: str | None = None

    def can_see(self, region_id: str) -> bool:
        return self.regions is None or region_id in self.regions

    @property
    def scope_label(self) -> str:
        return "all regions" if self.regions is None else ", ".join(sorted(self.regions))


def viewer_for(user: str, settings: Settings) -> Viewer:
    """The configured user's viewer; unknown users are refused."""
    entry = settings.dashboards.users.get(user)
    if entry is None:
        raise AccessDenied(f"user {user!r} is not in dashboards.users")
    regions = None if entry.regions == "all" else frozenset(entry.regions)
    return Viewer(user, regions)


# An HMAC key shorter than this can be guessed or was cut short (a crash while it was written,
# an administrator's `touch`): refused, never used. The generated one has 64 (32 random bytes
# in hex).
MIN_SECRET_BYTES = 32


class SecretError(AccessDenied):
    """The link secret is missing, too short or readable by others; the message names it."""


def _create_secret(path: Path) -> None:
    """Write a new secret to a private temporary file, then link it into place: a reader sees
    no file or the whole secret, and of two processes creating it at once one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
            log.info("created the dashboard link secret %s", path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


def _secret(settings: Settings) -> bytes:
    """The signing secret: $WORKBENCH_DASHBOARD_SECRET, else a generated 0600 file.

    Raises:
        SecretError: shorter than :data:`MIN_SECRET_BYTES`, or the file is not private.
    """
    if os.environ.get(SECRET_ENV):  # set and not empty; else the file
        value = os.environ[SECRET_ENV].strip().encode()
        if len(value) < MIN_SECRET_BYTES:
            raise SecretError(
                f"${SECRET_ENV}: the link secret has {len(value)} bytes, at least "
                f"{MIN_SECRET_BYTES} are needed (e.g. `python -c 'import secrets; "
                f"print(secrets.token_hex(32))'`)"
            )
        return value
    path = settings.resolve(settings.dashboards.secret_file)
    if not path.is_file():
        _create_secret(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretError(f"{path}: the link secret must be private (chmod 600), it is {mode:o}")
    value = Path(path).read_text(encoding="utf-8", errors="replace").strip().encode()
    if len(value) < MIN_SECRET_BYTES:
        raise SecretError(
            f"{path}: the link secret has {len(value)} bytes, at least {MIN_SECRET_BYTES} are "
            "needed; delete the file and a new one is generated (every issued link then stops "
            "working)"
        )
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def issue_token(user: str, settings: Settings, *, now: float | None = None) -> str:
    """A token for a configured ``user``, valid for ``dashboards.link_ttl_hours``."""
    viewer_for(user, settings)
    expiry = int(
        (now if now is not None else time.time()) + settings.dashboards.link_ttl_hours * 3600
    )
    payload = _b64(f"{user}|{expiry}".encode())
    return f"{payload}.{_sign(payload, _secret(settings))}"


def verify_token(token: str, settings: Settings, *, now: float | None = None) -> Viewer:
    """The viewer a token was issued for; :class:`AccessDenied` when it is not valid."""
    payload, _, signature = (token or "").partition(".")
    if not payload or not signature or not (payload + signature).isascii():
        raise AccessDenied("access denied: the link has no valid token; ask for a new link")
    if not hmac.compare_digest(signature, _sign(payload, _secret(settings))):
        raise AccessDenied("access denied: the link was altered; ask for a new link")
    try:
        user, _, expiry = _unb64(payload).decode().rpartition("|")
        expires_at = int(expiry)
    except (ValueError, UnicodeDecodeError):
        raise AccessDenied("access denied: the link is malformed") from None
    if (now if now is not None else time.time()) > expires_at:
        raise AccessDenied("access denied: the link has expired; ask for a new link")
    return viewer_for(user, settings)


def signed_link(user: str, settings: Settings, base_url: str, app: str | None = None) -> str:
    """The URL a user opens: an app page (or the app list) with the signed token."""
    from workbench.dashboards import APPS

    if app is not None and app not in APPS:
        raise AccessDenied(f"app {app!r}: choose one of {', '.join(APPS)}")
    token = quote(issue_token(user, settings))
    base = base_url.rstrip("/")
    page = f"/voila/render/{app}.ipynb" if app else "/"
    return f"{base}{page}?{TOKEN_PARAM}={token}"


def viewer_from_query(query: str, settings: Settings) -> Viewer:
    """The viewer of a query string such as ``wb=<token>&x=1``."""
    values = parse_qs(query or "").get(TOKEN_PARAM, [])
    if len(values) != 1:
        raise AccessDenied("access denied: open the app through the link you were given")
    return verify_token(values[0], settings)


def denied_viewer(reason: str) -> Viewer:
    """A viewer who sees nothing; the apps show ``reason`` instead of data."""
    return Viewer("", frozenset(), denied=reason)


def current_viewer(settings: Settings) -> Viewer:
    """The viewer of this kernel's page (waits for the request under preheated kernels).

    A link that does not verify gives a :func:`denied_viewer`, so the page shows a plain
    "access denied" rather than a traceback.
    """
    from voila.utils import get_query_string

    query = get_query_string() or os.environ.get("QUERY_STRING", "")
    try:
        return viewer_from_query(query, settings)
    except AccessDenied as exc:
        log.warning("dashboard access denied: %s", exc)
        return denied_viewer(str(exc))
