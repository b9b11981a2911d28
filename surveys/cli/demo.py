"""`attune demo`: the demo organisation."""

from __future__ import annotations

from typing import Annotated

import typer

from surveys.cli import actor, app, fail, open_engine


@app.command("demo")
def demo(
    scale: Annotated[
        str, typer.Option(help="hospital (about 2,500 staff) or system (about 100,000 staff).")
    ] = "hospital",
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing, successfully, if data exists.")
    ] = False,
) -> None:
    """Load the demo organisation and its survey history into an empty database."""
    from surveys.demo import DatabaseNotEmpty, Scale, load_demo
    from surveys.storage import schema_is_current

    try:
        chosen = Scale(scale)
    except ValueError:
        raise fail(f"unknown scale {scale!r}; choose hospital or system") from None
    engine = open_engine()
    if not schema_is_current(engine):
        raise fail("the schema is not up to date; run `attune db upgrade` first")
    try:
        summary = load_demo(engine, scale=chosen, actor=actor())
    except DatabaseNotEmpty as error:
        if if_empty:
            typer.echo("Demo data not loaded: the database already holds data.")
            return
        raise fail(str(error)) from None
    accounts = summary.accounts
    if accounts is not None:
        for username, why in accounts.refused:
            typer.echo(f"Demo account {username} not created: {why}")
        if accounts.created:
            # The only time a generated password exists in the clear; it is stored only as a hash.
            shown = accounts.password or "(the value of ATTUNE_DEMO_PASSWORD)"
            typer.echo(f"Demo accounts: {' and '.join(accounts.created)}. Password: {shown}")
    typer.echo(
        f"Loaded the {chosen.value} demo: {summary.departments} departments, "
        f"{summary.staff:,} staff, {summary.cycles} cycles, {summary.responses:,} responses, "
        f"{summary.answers:,} answers, {summary.comments:,} comments "
        f"in {summary.seconds:.1f} s."
    )
    if summary.shared_link:
        # Staff open this without signing in; administrators find it under "Share results".
        typer.echo(f"Results shared with staff (you said, we did): {summary.shared_link}")
