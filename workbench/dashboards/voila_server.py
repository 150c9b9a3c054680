"""Voila as ``workbench serve`` runs it: Voila's own application, with these changes.

* The root URL is the workbench's portal (:mod:`workbench.dashboards.portal`) instead of Voila's
  file list, which no one is shown.
* ``/healthz`` answers, for a service manager or a load balancer, 503 ``warming`` until every
  preheated kernel has run its app's imports and waits for a page, then 200 ``ok``; both with
  the live kernels and the warm pool. The log says ``ready`` once, at that moment. A page asked
  for while the pool warms is still served: Voila hands it the next kernel when it is up.
* A page asked for while the server holds ``dashboards.max_kernels`` kernels gets a plain
  bilingual "busy" page with HTTP 503 (and ``Retry-After``), not a new kernel: each holds over
  200 MB, and an out-of-memory server fails every viewer at once.
* Pages set the ``_xsrf`` cookie, so that closing one ends its kernel:

A Voila page shuts its kernel down when the tab closes or navigates away, with a
``beforeunload`` beacon to ``/voila/api/shutdown/<kernel>`` that carries the ``_xsrf`` cookie the
server checks. Voila 0.5's page handler never sets that cookie (only its file list does, by
rendering a template), so a manager who opens an app from a signed link sends an empty token,
gets "403: '_xsrf' argument missing from POST" and leaves a kernel of over 200 MB alive until the
idle cull. Reading the handler's ``xsrf_token`` before the page streams sets the cookie on the
page's own response, and the beacon then shuts the kernel down.

* A kernel whose page left without that beacon (a browser killed, a machine asleep, a beacon
  lost on a loaded server: 2 of 100 visits in the load test of 2026-12-05) is shut down once its
  page's connection has stayed closed ``dashboards.page_gone_seconds``, not 15 minutes later by
  the idle cull. A page whose connection drops comes back within seconds and keeps its kernel;
  a preheated kernel has never had a page and is left alone.

Run as ``python -m workbench.dashboards.voila_server`` with Voila's arguments
(:func:`workbench.dashboards.voila.voila_command`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.dashboards.voila import APP_CELLS, JUPYTER_DATA

#: what a viewer over the capacity limit reads
BUSY_PAGE = (
    "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'><title>系统繁忙 Busy</title>"
    "<link rel='icon' href='data:,'></head><body style='font-family:sans-serif;margin:48px'>"
    "<h2 class='wb-busy'>系统繁忙，请一分钟后再试。</h2>"
    "<p>Busy: many pages are open right now. Please try again in a minute.</p></body></html>"
)


def serve_pages(max_kernels: int) -> None:
    """Make Voila's page handler refuse a page over ``max_kernels`` live kernels (503) and set
    the ``_xsrf`` cookie on the pages it serves."""
    import tornado.web
    from voila.tornado.handler import TornadoVoilaHandler

    stream_page = TornadoVoilaHandler.get.__wrapped__  # Voila's own, inside its login check

    @tornado.web.authenticated
    async def get(self: TornadoVoilaHandler, path: Any = None) -> None:
        if len(self.kernel_manager.list_kernel_ids()) >= max_kernels:
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.finish(BUSY_PAGE)
            return
        self.xsrf_token  # noqa: B018 - reading it sets the cookie on this response
        await stream_page(self, path)

    TornadoVoilaHandler.get = get


#: how the log names a kernel ended by :func:`end_kernels_of_gone_pages` (its id follows)
PAGE_GONE = "Ending the kernel of a page gone without its shutdown beacon:"


def end_kernels_of_gone_pages(manager: Any, grace_seconds: float) -> None:
    """Shut down a kernel ``grace_seconds`` after its last page connection closed, unless one
    has opened since.

    Wraps the kernel manager's ``notify_disconnect``, which Jupyter Server's websocket calls as a
    connection closes; the open connections are those its kernel model counts (as for the API's
    ``GET /api/kernels``).
    """
    from jupyter_core.utils import ensure_async
    from tornado.ioloop import IOLoop

    notify_disconnect = manager.notify_disconnect

    def unconnected(kernel_id: str) -> bool:
        """The kernel still runs and no page is connected to it."""
        return kernel_id in manager and manager.kernel_model(kernel_id)["connections"] == 0

    async def end_if_still_gone(kernel_id: str) -> None:
        if unconnected(kernel_id):
            manager.log.info(
                "%s %s (its connection closed %s s ago)", PAGE_GONE, kernel_id, grace_seconds
            )
            await ensure_async(manager.shutdown_kernel(kernel_id))

    def disconnected(kernel_id: str) -> None:
        notify_disconnect(kernel_id)
        if unconnected(kernel_id):
            IOLoop.current().call_later(grace_seconds, end_if_still_gone, kernel_id)

    manager.notify_disconnect = disconnected


#: code cells a preheated kernel runs before it waits for its page (the app's notebook:
#: imports and warm-up, then ``open_session``, which waits for the request)
CELLS_BEFORE_THE_PAGE = len(APP_CELLS) - 1


def warm_pool(manager: Any) -> tuple[int, int]:
    """(warm, size) of Voila's preheated pools: a pooled kernel is warm once it has started the
    notebook's last cell, the one that waits for a page, so its imports are done.

    Reads Voila 0.5's ``VoilaKernelManager._pools`` (notebook -> tasks, each giving the kernel
    and its renderer); without pools (``pool_size`` 0) the pool is (0, 0).
    """
    pools = getattr(manager, "_pools", None) or {}
    tasks = [task for pool in pools.values() for task in pool]
    warm = 0
    for task in tasks:
        if not task.done() or task.cancelled() or task.exception() is not None:
            continue
        executor = getattr(task.result()["renderer"], "executor", None)
        if executor is not None and executor.code_cells_executed > CELLS_BEFORE_THE_PAGE:
            warm += 1
    return warm, len(tasks)


class Readiness:
    """Whether the server has been ready once: every preheated kernel warm (none wanted: at
    once). Afterwards a pool refilling after a visit does not make the server unready."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted  # the pools' size, as Voila set them up before serving
        self.ready = wanted == 0

    def check(self, manager: Any) -> bool:
        """True the first time the pool is all warm (then :attr:`ready` stays True)."""
        if self.ready:
            return False
        warm, size = warm_pool(manager)
        self.ready = size >= self.wanted and warm >= self.wanted
        return self.ready


def health_handler(readiness: Readiness) -> type:
    """``/healthz``: 503 ``warming`` until :class:`Readiness` holds, then 200 ``ok``; the live
    kernels and the warm pool as JSON."""
    import tornado.web

    class HealthHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            manager = self.settings.get("kernel_manager")
            kernels = len(manager.list_kernel_ids()) if manager is not None else 0
            warm, size = warm_pool(manager)
            if not readiness.ready:
                self.set_status(503)
                self.set_header("Retry-After", "5")
            self.set_header("Cache-Control", "no-store")
            self.finish(
                {
                    "status": "ok" if readiness.ready else "warming",
                    "kernels": kernels,
                    "pool_warm": warm,
                    "pool_size": size,
                }
            )

    return HealthHandler


def portal_handler(config: Path | None) -> type:
    """The tornado handler of the portal page (the settings read as ``config`` is now, so a user
    added or removed applies at the next visit, as in the apps; None: no project, no users)."""
    import tornado.web

    from workbench.dashboards.access import TOKEN_PARAM, settings_now
    from workbench.dashboards.portal import portal_page

    class PortalHandler(tornado.web.RequestHandler):
        def get(self, *_: Any, **__: Any) -> None:
            settings = settings_now(config) if config is not None else None
            status, page = portal_page(
                self.get_argument(TOKEN_PARAM, None), settings, self.settings.get("base_url", "/")
            )
            self.set_status(status)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(page)

    return PortalHandler


def main() -> None:
    from jupyter_server.utils import url_path_join
    from voila.app import Voila
    from voila.tornado.treehandler import TornadoVoilaTreeHandler

    from workbench.config import ConfigError, DashboardSettings, find_config, load_settings

    try:  # `workbench serve` passes the project's file in WORKBENCH_CONFIG
        config: Path | None = find_config()
    except ConfigError:  # a bare server (the benchmark's Voila floor): defaults, no portal users
        config = None
    dashboards = load_settings(config).dashboards if config else DashboardSettings()

    class WorkbenchVoila(Voila):
        readiness: Readiness

        def init_handlers(self) -> list:
            portal = portal_handler(config)
            # Voila's file list at the root and under /voila/tree becomes the portal
            handlers = [
                (h[0], portal) if len(h) > 1 and h[1] is TornadoVoilaTreeHandler else h
                for h in super().init_handlers()
            ]
            self.readiness = Readiness(wanted=warm_pool(self.kernel_manager)[1])
            end_kernels_of_gone_pages(self.kernel_manager, dashboards.page_gone_seconds)
            health = health_handler(self.readiness)
            return [(url_path_join(self.server_url, "/healthz"), health), *handlers]

        def listen(self) -> None:
            from tornado.ioloop import PeriodicCallback

            def announce() -> None:
                if self.readiness.check(self.kernel_manager):
                    self.log.info("ready: %d preheated kernels warm", self.readiness.wanted)
                    watch.stop()

            watch = PeriodicCallback(announce, 250)
            if self.readiness.ready:
                self.log.info("ready: no preheated kernels")
            else:
                watch.start()
            super().listen()  # runs the loop until the server stops

    serve_pages(dashboards.kernel_limit())
    # Voila finds page templates in the Jupyter data folders: the workbench's comes first
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(JUPYTER_DATA), os.environ.get("JUPYTER_PATH")])
    )
    WorkbenchVoila.launch_instance()


if __name__ == "__main__":
    main()
