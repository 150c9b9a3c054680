"""``workbench targets export``: a campaign target list from the churn scores or the offers."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli import common

targets_app = typer.Typer(help="Campaign target lists.", no_args_is_help=True)


@targets_app.command("export")
def export(
    campaign: Annotated[
        str, typer.Option("--campaign", help="Campaign name (letters, digits, _ - .).")
    ],
    source: Annotated[str, typer.Option("--source", help="churn (scores) or offers.")],
    size: Annotated[
        int | None, typer.Option("--size", help="Keep the top N after suppression.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Only this region_id.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or parquet.")] = "csv",
    authorised: Annotated[
        bool, typer.Option("--authorised", help="Write full MSISDNs (masked otherwise).")
    ] = False,
    period: Annotated[
        str | None, typer.Option("--period", help="Mart month YYYY-MM (default: the latest).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Contact date YYYY-MM-DD (default: day after the period)."),
    ] = None,
    file_name: Annotated[
        str | None, typer.Option("--file-name", help="File name inside targets.output.")
    ] = None,
    offer: Annotated[
        str | None, typer.Option("--offer", help="Retention offer (product id) of a churn list.")
    ] = None,
    cost_per_contact: Annotated[
        float | None,
        typer.Option(
            "--cost-per-contact", help="CNY per treated contact (default: targets config)."
        ),
    ] = None,
    offer_cost: Annotated[
        float | None,
        typer.Option("--offer-cost", help="CNY per accepted offer (default: targets config)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Campaign name shown in reports.")
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="Who exports (default: the OS user). The first export of a campaign makes "
            "them its owner; only they add or change its waves.",
        ),
    ] = None,
    wave: Annotated[
        str | None,
        typer.Option(
            "--wave", help="Wave id within the campaign (default: contact date [+ _region])."
        ),
    ] = None,
    replace_wave: Annotated[
        bool,
        typer.Option(
            "--replace-wave", help="Replace an existing wave whose list differs (logged)."
        ),
    ] = False,
) -> None:
    """Select, suppress, hold out a control group, write the list and log the export, as one
    transaction; the campaign (owner, offer, costs, regions), the wave and both groups are
    recorded for the campaign ROI."""
    from datetime import date

    from workbench.log import console
    from workbench.targets.errors import TargetError

    with common.user_errors():
        settings = common.settings()
        contact_date = None
        if as_of is not None:
            try:
                contact_date = date.fromisoformat(as_of)
            except ValueError:
                raise TargetError(f"--as-of {as_of!r}: expected YYYY-MM-DD") from None
        from workbench.spark import get_spark
        from workbench.targets.export import export_targets

        result = export_targets(
            get_spark(settings.spark),
            settings,
            campaign=campaign,
            source=source,
            size=size,
            region=region,
            fmt=fmt,
            authorised=authorised,
            period=period,
            as_of=contact_date,
            file_name=file_name,
            offer=offer,
            cost_per_contact_cny=cost_per_contact,
            offer_cost_cny=offer_cost,
            campaign_name=name,
            owner=owner,
            wave=wave,
            replace_wave=replace_wave,
        )
    for step in result.counts:
        console.print(f"  {step['rule']:<16} {step['before']:>9} -> {step['after']:>9}")
    console.print(
        f"{result.campaign} wave {result.wave_id} ({result.action.replace('_', ' ')} by "
        f"{result.user}): {result.n_treated} treated, {result.n_control} control -> "
        f"{result.file} (sha256 {result.checksum[:12]}...)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(targets_app, name="targets")
