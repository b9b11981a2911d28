"""`attune roster import`: a cycle's staff emails, for the job runner to invite."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from surveys.cli import actor, app, fail, open_engine

roster_app = typer.Typer(help="Staff to invite by email.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")


@roster_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV with columns department,staff_group,email.")],
    cycle: Annotated[str, typer.Option("--cycle", help="Survey cycle, by name.")],
) -> None:
    """Store a roster's addresses for the cycle, all or nothing; `attune run-due` sends them.

    Every problem is listed with its line; nothing is stored unless the whole file is right.
    """
    from surveys.invitations.delivery import import_email_roster
    from surveys.invitations.links import CycleClosed, UnknownName, find_cycle
    from surveys.invitations.roster import MAX_ROSTER_BYTES, RosterError
    from surveys.storage import read_session

    try:
        data = file.read_bytes()[: MAX_ROSTER_BYTES + 1]
    except OSError as error:
        raise fail(f"cannot read {file}: {error.strerror or error}") from None
    engine = open_engine()
    try:
        with read_session(engine) as session:
            found = find_cycle(session=session, name=cycle)
        added = import_email_roster(engine=engine, data=data, cycle_id=found.id, actor=actor())
    except (UnknownName, CycleClosed) as error:
        raise fail(str(error)) from None
    except RosterError as error:
        typer.secho(f"Error: {file} was not imported; nothing was stored.", fg="red", err=True)
        for problem in error.problems:
            typer.echo(f"  {problem}", err=True)
        if error.more:
            typer.echo(f"  and {error.more} more", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(
        f"Stored {added:,} address{'es' if added != 1 else ''} for {found.name}; "
        "`attune run-due` sends their invitations when the schedule says."
    )
