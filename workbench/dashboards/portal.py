"""The page at the dashboards' root URL: who is signed in, their regions, and a card per app
linking with their own token. Without a valid token it says how to get a link. Voila's file list
is never shown: managers open pages meant for them, not notebooks.

Pure HTML from the settings and the token (:func:`portal_page`); the server's handler
(:mod:`workbench.dashboards.voila_server`) only reads the request and writes the page.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import quote

from workbench.dashboards import APP_INFO
from workbench.dashboards.access import TOKEN_PARAM, AccessDenied, verify_token

if TYPE_CHECKING:
    from workbench.config import Settings

_STYLE = """
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 32px; color: #1f2328; }
.wb-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
            gap: 16px; max-width: 1400px; }
.wb-card { display: block; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px;
           text-decoration: none; color: inherit; }
.wb-card:hover { border-color: #0969da; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
.wb-card h3 { margin: 0 0 8px 0; color: #0969da; }
.wb-card p { margin: 4px 0; line-height: 1.4; }
.wb-who { color: #57606a; margin-bottom: 24px; }
"""


def _page(body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'>"
        "<title>经营分析工作台 Analytics workbench</title>"
        "<link rel='icon' href='data:,'>"  # no /favicon.ico request (a 404 in the console)
        f"<style>{_STYLE}</style></head><body>"
        "<h1>经营分析工作台 Analytics workbench</h1>"
        f"{body}</body></html>"
    )


def portal_page(
    token: str | None, settings: Settings | None, base_url: str = "/"
) -> tuple[int, str]:
    """The HTTP status and the page for a visit with ``token`` (the link's ``wb`` value);
    ``settings`` None: a server started without a project, which has no users."""
    try:
        if settings is None:
            raise AccessDenied("access denied: this server has no project configuration")
        viewer = verify_token(token or "", settings)
    except AccessDenied as exc:
        body = (
            f"<p class='wb-denied'><b>{html.escape(str(exc))}</b></p>"
            "<p>请使用分析团队发给您的链接打开本页。 Open this page with the link the analytics "
            "team sent you; they make one with <code>workbench serve link YOUR_NAME</code>.</p>"
        )
        return 403, _page(body)
    base = base_url.rstrip("/")
    cards = "".join(
        f"<a class='wb-card wb-card-{name}' "
        f"href='{base}/voila/render/{name}.ipynb?{TOKEN_PARAM}={quote(token or '')}'>"
        f"<h3>{html.escape(app.title_zh)} {html.escape(app.title_en)}</h3>"
        f"<p>{html.escape(app.answers_zh)}</p><p>{html.escape(app.answers_en)}</p></a>"
        for name, app in APP_INFO.items()
    )
    who = (
        f"<div class='wb-who'>用户 Viewer: <b class='wb-user'>{html.escape(viewer.user)}</b>"
        f" &middot; 范围 Scope: <b class='wb-scope'>{html.escape(viewer.scope_label)}</b></div>"
    )
    return 200, _page(f"{who}<div class='wb-cards'>{cards}</div>")
