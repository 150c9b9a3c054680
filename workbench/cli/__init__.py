"""The ``workbench`` command. Each sub-command lives in its own module and only parses
arguments, loads settings and calls the package; ``--help`` works on every one."""

from __future__ import annotations

import typer

from workbench.cli import common

app = typer.Typer(
    name="workbench",
    help="Analytical CRM workbench for a mobile operator: generate, build, analyse, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(common.root_options)


def _register() -> None:
    # Imported here so `workbench --help` stays fast and modules stay independent.
    from workbench.cli import build, demo, generate, report

    generate.register(app)
    build.register(app)
    demo.register(app)
    report.register(app)
    from workbench.cli import campaigns, targets

    targets.register(app)
    campaigns.register(app)
    from workbench.cli import serve

    serve.register(app)
    from workbench.cli import bench, truth

    bench.register(app)
    truth.register(app)
    from workbench.cli import docs, ingest, lab

    docs.register(app)
    ingest.register(app)
    lab.register(app)


def main() -> None:
    _register()
    app()
