"""Voila as ``workbench serve`` runs it: Voila's own application, with one correction.

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


def main() -> None:
    from voila.app import main as voila_main

    set_xsrf_cookie_on_pages()
    voila_main()


if __name__ == "__main__":
    main()
