"""``workbench docs``: build the data dictionary (one page per table and KPI, the lineage graph,
a search box) and, with ``--serve``, serve it on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

log = logging.getLogger("workbench")


def docs(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write (default: <paths.reports>/dictionary)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Serve the folder on 127.0.0.1 after building it.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port for --serve.")] = 8877,
) -> None:
    """Build the data dictionary from the catalog, the models, the KPIs and the build ledger."""
    from workbench.docs.site import build_docs, docs_server

    with common.user_errors():
        index = build_docs(common.settings(), out.resolve() if out else None)
    typer.echo(f"data dictionary: {index}")
    if serve:
        server = docs_server(index.parent, port)
        host, bound = server.server_address[:2]
        typer.echo(f"serving it on http://{host}:{bound}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


def register(app: typer.Typer) -> None:
    app.command("docs")(docs)
