"""``workbench campaigns load-responses FILE``, ``workbench campaigns refresh`` and
``workbench campaigns withdraw-wave``: campaign responses back into the warehouse, the exported
campaigns' results rebuilt from them, and a wave taken back by its owner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli import common

campaigns_app = typer.Typer(help="Campaign responses, results and waves.", no_args_is_help=True)


@campaigns_app.command("load-responses")
def load_responses(
    file: Annotated[Path, typer.Argument(help="Responses, .csv or .parquet.")],
) -> None:
    """Validate a responses file, quarantine bad rows with reasons and load the rest."""
    from workbench.log import console

    with common.user_errors():
        settings = common.settings()
        from workbench.spark import get_spark
        from workbench.targets.responses import load_responses as load

        result = load(get_spark(settings.spark), settings, file)
    console.print(
        f"{result.source_file}: {result.n_read} read, {result.n_accepted} loaded, "
        f"{result.n_quarantined} quarantined",
        highlight=False,
    )
    for reason, n in sorted(result.by_reason.items()):
        console.print(f"  {reason:<20} {n:>7}", highlight=False)
    if result.n_accepted:
        console.print(
            "measure them: `workbench campaigns refresh` (or the next build of those months)",
            highlight=False,
        )


@campaigns_app.command("refresh")
def refresh(
    campaign: Annotated[
        list[str] | None,
        typer.Option("--campaign", help="Only this exported campaign (repeatable)."),
    ] = None,
) -> None:
    """Rebuild the campaign dimension and the campaign results of the months the exported
    campaigns contacted in, so the campaign ROI report sees their responses."""
    from workbench.log import console

    with common.user_errors():
        settings = common.settings()
        from workbench.spark import get_spark
        from workbench.targets.refresh import refresh_campaign_results

        result = refresh_campaign_results(get_spark(settings.spark), settings, campaign or None)
    months = ", ".join(result.months) or "none in the warehouse yet"
    console.print(
        f"{', '.join(result.campaigns)}: campaign results rebuilt for {months} "
        f"({result.rows_written} contacts)",
        highlight=False,
    )
    if result.waiting:
        console.print(
            f"contacts of {', '.join(result.waiting)} are measured once that month is built",
            highlight=False,
        )


@campaigns_app.command("withdraw-wave")
def withdraw_wave(
    campaign: Annotated[str, typer.Option("--campaign", help="The exported campaign.")],
    wave: Annotated[str, typer.Option("--wave", help="The wave to withdraw.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the export log).")],
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="Who withdraws (default: the OS user): the owner."),
    ] = None,
) -> None:
    """Withdraw one wave of a campaign you own: its contacts leave the warehouse, its files are
    deleted, the wave is kept as withdrawn and the export log records who, when and why."""
    from workbench.log import console

    with common.user_errors():
        settings = common.settings()
        from workbench.spark import get_spark
        from workbench.targets.withdraw import withdraw_wave as withdraw

        result = withdraw(
            get_spark(settings.spark),
            settings,
            campaign=campaign,
            wave=wave,
            reason=reason,
            user=owner,
        )
    console.print(
        f"{result.campaign} wave {result.wave_id} withdrawn by {result.user}: "
        f"{result.n_contacts_removed} contacts removed, "
        f"{len(result.files_removed)} file(s) deleted",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(campaigns_app, name="campaigns")
