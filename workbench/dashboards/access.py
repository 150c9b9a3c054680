"""Who is looking at a dashboard, from a signed link.

Voila hands the page's query string to the kernel (:func:`~.voila.page_query_string`), and a
viewer can edit a URL at will. So the link carries ``wb=<token>``: the user and an expiry, signed
with HMAC-SHA256 under a server secret. The kernel verifies the signature before anything is read;
an edited user, expiry or signature fails and the app shows "access denied". The user's regions
come from the configuration (``dashboards.users``), never from the URL. In production a reverse
proxy with single sign-on should issue these links (or pass a header) instead of a person running
``workbench serve link``.

Access is not settled once per page: a page's :class:`Session` checks the link again against the
configuration file as it is on disk at every read and every export (:meth:`Viewer.allowed_now`,
called by the apps at each action and by :func:`~workbench.dashboards.data.region_filter` before
each read). A user removed from ``dashboards.users`` or whose link has expired is denied on their
next action; a user given other regions gets a page rebuilt for them. A preheated kernel runs
the notebook before anyone asks, so the settings are read when the request arrives, never before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

from workbench.config import ConfigError
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
    ``session`` is the page's :class:`Session` when the viewer came from a link (not compared:
    two viewers are equal when they are the same user with the same regions).
    """

    user: str
    regions: frozenset[str] | None
    denied: str | None = None
    session: Session | None = field(default=None, compare=False, repr=False)

    def can_see(self, region_id: str) -> bool:
        return self.regions is None or region_id in self.regions

    def allowed_now(self) -> bool:
        """Check this viewer's access again before an action (a read, a filter or tab change, an
        export): True to go on. False when it has changed -- the link expired, the user was
        removed or given other regions, the settings changed -- or this page was replaced
        earlier; the page is then rebuilt for the viewer as they are now (an "access denied"
        page when they are gone) and the action must do nothing. A denied viewer is never
        allowed; one made without a session (tests, scripts) always is."""
        if self.denied:
            return False
        return self.session is None or self.session.allows(self)

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
    try:
        return viewer_for(user, settings)
    except AccessDenied:
        raise AccessDenied(
            f"access denied: user {user!r} is no longer configured (not in dashboards.users); "
            "ask for access"
        ) from None


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


#: config path -> (its modification stamp, the settings read from it)
_settings_cache: dict[Path, tuple[tuple[int, int, int], Settings]] = {}
#: a file modified this recently is read again even when its stamp is unchanged: the kernel's
#: clock behind modification times ticks coarsely, and two writes of the same size within one
#: tick leave the same stamp (git's "racily clean" entries)
RACY_NS = 2_000_000_000


def settings_now(config: Path) -> Settings:
    """The settings in ``config`` as the file is now.

    Read again only when the file changed (its modification time, size or inode: an editor's
    atomic rename changes the inode) or was modified in the last two seconds, so a check at
    every action usually costs one ``stat``.

    Raises:
        ConfigError: the file is missing or invalid.
    """
    from workbench.config import load_settings

    path = Path(config)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    cached = _settings_cache.get(path)
    if cached is not None and cached[0] == stamp and time.time_ns() - stamp[0] > RACY_NS:
        return cached[1]
    settings = load_settings(path)
    _settings_cache[path] = (stamp, settings)
    return settings


def _check(config: Path, token: str | None, now: float | None = None) -> tuple[Settings, Viewer]:
    """The settings as the file is now and the viewer ``token`` stands for under them."""
    try:
        settings = settings_now(config)
    except ConfigError as exc:
        log.error("dashboard access refused, the configuration cannot be read: %s", exc)
        raise AccessDenied(
            "access denied: the dashboard configuration cannot be read; try again shortly"
        ) from None
    if not token:
        raise AccessDenied("access denied: open the app through the link you were given")
    return settings, verify_token(token, settings, now=now)


def current_viewer(config: Path, token: str | None, *, now: float | None = None) -> Viewer:
    """The viewer ``token`` stands for under the configuration file ``config`` as it is now:
    the signature, the expiry, the user still configured and their current regions.

    Raises:
        AccessDenied: naming the reason (the link expired, the user is no longer configured,
            the link was altered, the configuration cannot be read).
    """
    return _check(config, token, now)[1]


def _same_page(a: Settings, b: Settings) -> bool:
    """Whether a page built under ``a`` is the same under ``b``: equal but for other users'
    entries, which each of their own pages checks (an administrator editing one user does not
    rebuild everyone's page)."""

    def without_users(settings: Settings) -> Settings:
        dashboards = settings.dashboards.model_copy(update={"users": {}})
        return settings.model_copy(update={"dashboards": dashboards})

    return a is b or without_users(a) == without_users(b)


class Session:
    """One page's access: the token of its link, checked again against the configuration file
    as it is on disk before every action (:meth:`allows`).

    :attr:`settings` and :attr:`viewer` are those the page is built for; when a check finds
    either changed they are replaced and :attr:`on_change` is called to rebuild the page
    (:func:`workbench.dashboards.ui.app_page`).

    Args:
        token: the link's token (``None``: the page was opened without one).
        config: the configuration file.
        clock: seconds since the epoch (tests pass a fake one).

    Raises:
        ConfigError: the configuration cannot be read when the page opens.
    """

    def __init__(
        self, token: str | None, config: Path, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.token, self.config, self.clock = token, Path(config).resolve(), clock
        self.on_change: Callable[[], None] | None = None
        self._notifying = self._pending = False
        self.settings = settings_now(self.config)  # a broken configuration serves no page
        try:
            self.settings, self.viewer = self.check()
        except AccessDenied as exc:
            log.warning("dashboard access denied: %s", exc)
            self.viewer = denied_viewer(str(exc))

    def check(self) -> tuple[Settings, Viewer]:
        """The settings and the viewer as of now (this session's viewer: it can be checked).

        Raises:
            AccessDenied: naming the reason.
        """
        settings, viewer = _check(self.config, self.token, self.clock())
        return settings, replace(viewer, session=self)

    def allows(self, viewer: Viewer) -> bool:
        """Check again before an action of a page built for ``viewer``: True to go on.

        False when the page is out of date: the link's access is gone (the page becomes an
        "access denied" page), the user's regions or the settings changed (the page is rebuilt
        for them), or ``viewer`` is a page this session already replaced.
        """
        try:
            settings, current = self.check()
        except AccessDenied as exc:
            settings, current = self.settings, denied_viewer(str(exc))
        stale = viewer != self.viewer or viewer.denied is not None
        if current == self.viewer and _same_page(settings, self.settings):
            self.settings = settings
            return not stale
        if current.denied:
            log.warning("dashboard access withdrawn from %s: %s", self.viewer.user, current.denied)
        else:
            log.info("dashboard access of %s changed: %s", current.user, current.scope_label)
        self.settings, self.viewer = settings, current
        self._changed()
        return False

    def _changed(self) -> None:
        # a rebuild reads marts, and each read checks again: a change found during a rebuild
        # is rebuilt after it, not inside it
        if self._notifying:
            self._pending = True
            return
        self._notifying = True
        try:
            self._pending = True
            while self._pending:
                self._pending = False
                if self.on_change is not None:
                    self.on_change()
        finally:
            self._notifying = False


def open_session(config: Path | None = None) -> Session:
    """This kernel's page session: waits for the page request, then takes the link's token and
    the configuration file as they are now.

    Under preheated kernels Voila runs the notebook before anyone asks; everything read before
    this call may predate the request (a user removed since, other regions), so the apps get
    their settings from the session, never from an earlier cell.
    """
    from workbench.config import find_config
    from workbench.dashboards.voila import page_query_string

    query = page_query_string()
    values = parse_qs(query or "").get(TOKEN_PARAM, [])
    return Session(values[0] if len(values) == 1 else None, config or find_config())
