"""Voila as ``workbench serve`` runs it: Voila's own application, with two changes.

The root URL is the workbench's portal (:mod:`workbench.dashboards.portal`) instead of Voila's
file list, which no one is shown.

Why: a Voila page shuts its kernel down when the tab closes or navigates away, with a
``beforeunload`` beacon to ``/voila/api/shutdown/<kernel>`` that carries the ``_xsrf`` cookie the
server checks. Voila 0.5's page handler never sets that cookie (only its file list does, by
rendering a template), so a manager who opens an app from a signed link sends an empty token,
gets "403: '_xsrf' argument missing from POST" and leaves a kernel of about 300 MB alive until the
idle cull. Reading the handler's ``xsrf_token`` before the page streams sets the cookie on the
page's own response, and the beacon then shuts the kernel down.

Run as ``python -m workbench.dashboards.voila_server`` with Voila's arguments
(:func:`workbench.dashboards.voila.voila_command`).
"""

from __future__ import annotations

from typing import Any


def set_xsrf_cookie_on_pages() -> None:
    """Make Voila's page handler set the ``_xsrf`` cookie before it streams the page."""
    import tornado.web
    from voila.tornado.handler import TornadoVoilaHandler

    stream_page = TornadoVoilaHandler.get.__wrapped__  # Voila's own, inside its login check

    @tornado.web.authenticated
    async def get(self: TornadoVoilaHandler, path: Any = None) -> None:
        self.xsrf_token  # noqa: B018 - reading it sets the cookie on this response
        await stream_page(self, path)

    TornadoVoilaHandler.get = get


def portal_handler() -> type:
    """The tornado handler of the portal page (the settings read as the file is now, so a user
    added or removed applies at the next visit, as in the apps)."""
    import os
    from pathlib import Path

    import tornado.web

    from workbench.config import CONFIG_ENV
    from workbench.dashboards.access import TOKEN_PARAM, settings_now
    from workbench.dashboards.portal import portal_page

    class PortalHandler(tornado.web.RequestHandler):
        def get(self, *_: Any, **__: Any) -> None:
            settings = settings_now(Path(os.environ[CONFIG_ENV]))
            status, page = portal_page(
                self.get_argument(TOKEN_PARAM, None), settings, self.settings.get("base_url", "/")
            )
            self.set_status(status)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(page)

    return PortalHandler


def main() -> None:
    from voila.app import Voila
    from voila.tornado.treehandler import TornadoVoilaTreeHandler

    class WorkbenchVoila(Voila):
        def init_handlers(self) -> list:
            portal = portal_handler()
            # Voila's file list at the root and under /voila/tree becomes the portal
            return [
                (h[0], portal) if len(h) > 1 and h[1] is TornadoVoilaTreeHandler else h
                for h in super().init_handlers()
            ]

    set_xsrf_cookie_on_pages()
    WorkbenchVoila.launch_instance()


if __name__ == "__main__":
    main()
