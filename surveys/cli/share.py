"""`attune share`: a cycle's summary for staff ("you said, we did"), published and revoked."""

from __future__ import annotations

from typing import Annotated

import typer

from surveys.cli import actor, app, fail, open_engine

share_app = typer.Typer(
    help="Share a cycle's results with staff through a link (you said, we did).",
    no_args_is_help=True,
)
app.add_typer(share_app, name="share")

CycleOption = Annotated[str, typer.Option("--cycle", help="The cycle's name, e.g. '2026 Q3'.")]


@share_app.command("publish")
def publish(cycle: CycleOption) -> None:
    """Publish a closed cycle's summary for staff and print its link."""
    from surveys.actions.sharing import ShareError, find_cycle, publish_summary

    engine = open_engine()
    try:
        url = publish_summary(
            engine=engine, cycle_id=find_cycle(engine=engine, name=cycle), actor=actor()
        )
    except ShareError as error:
        raise fail(str(error)) from None
    typer.echo(url)
    typer.echo(
        "Anyone holding this link can read the summary without signing in. Revoke it with "
        f"`attune share revoke --cycle '{cycle.strip()}'`.",
        err=True,
    )


@share_app.command("revoke")
def revoke(cycle: CycleOption) -> None:
    """Revoke a cycle's summary link: it opens nothing from now on."""
    from surveys.actions.sharing import ShareError, find_cycle, revoke_summary

    engine = open_engine()
    try:
        revoke_summary(engine=engine, cycle_id=find_cycle(engine=engine, name=cycle), actor=actor())
    except ShareError as error:
        raise fail(str(error)) from None
    typer.echo(f"The link to {cycle.strip()}'s summary no longer opens anything.")
