"""`attune cycle`: survey cycles, with the dates on which they open, invite, remind and close."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from surveys.cli import actor, app, fail, open_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

cycle_app = typer.Typer(help="Survey cycles and their schedules.", no_args_is_help=True)
app.add_typer(cycle_app, name="cycle")


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} must be a date like 2026-10-01, not {value!r}") from None


def _find(engine: Engine, name: str) -> int:
    from surveys.organisation.cycles import list_cycles
    from surveys.text import did_you_mean

    cycles = list_cycles(engine=engine)
    for cycle in cycles:
        if cycle.name.lower() == name.strip().lower():
            return cycle.id
    raise fail(
        f"there is no survey cycle called {name!r}"
        + did_you_mean(name, [cycle.name for cycle in cycles])
    )


@cycle_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The cycle's name, e.g. '2027 Q1'.")],
    opens: Annotated[str, typer.Option("--opens", help="Opening date, YYYY-MM-DD.")],
    closes: Annotated[str, typer.Option("--closes", help="Closing date (its last day).")],
    invite_on: Annotated[
        str | None,
        typer.Option("--invite-on", help="Date the invitations go out (default: opening)."),
    ] = None,
    reminders: Annotated[
        str, typer.Option("--reminders", help="Reminder days after opening, e.g. 3,7.")
    ] = "3,7",
    instrument: Annotated[
        str | None,
        typer.Option("--instrument", help="Instrument key (default: the built-in one)."),
    ] = None,
) -> None:
    """Make a cycle that opens, sends its invitations and reminders, and closes by itself."""
    from surveys.organisation.catalogue import register_instrument
    from surveys.organisation.cycles import add_cycle
    from surveys.organisation.schedule import parse_reminder_days, put_schedule
    from surveys.organisation.structure import OrganisationError
    from surveys.storage import write_session

    opening, closing = _date(opens, "--opens"), _date(closes, "--closes")
    inviting = _date(invite_on, "--invite-on") if invite_on else None
    try:
        days = parse_reminder_days(reminders)
    except ValueError as error:
        raise fail(str(error)) from None
    instrument_definition = None
    if instrument is not None:
        from surveys.config import get_settings
        from surveys.instruments import InstrumentError, discover_instruments

        try:
            found = discover_instruments(get_settings().instrument_dir)
        except InstrumentError as error:
            raise fail(str(error)) from None
        versions = [version for key, version in found if key == instrument]
        if not versions:
            raise fail(
                f"there is no instrument {instrument!r} (choose from "
                + ", ".join(sorted({key for key, _ in found}))
                + ")"
            )
        instrument_definition = found[(instrument, max(versions))]
    engine = open_engine()
    try:
        with write_session(engine) as session:
            instrument_id = (
                register_instrument(session=session, definition=instrument_definition)
                if instrument_definition is not None
                else None
            )
            cycle_id = add_cycle(
                session=session,
                name=name,
                opens=opening,
                closes=closing,
                instrument_id=instrument_id,
                actor=actor(),
            )
            info = put_schedule(
                session=session,
                cycle_id=cycle_id,
                actor=actor(),
                invite_on=inviting,
                reminder_days=days,
            )
    except OrganisationError as error:
        raise fail(str(error)) from None
    reminder_words = ", ".join(f"day {day}" for day in info.reminder_days) or "none"
    typer.echo(
        f"Created {info.cycle}: opens {info.opens}, invitations {info.invite_on}, "
        f"reminders {reminder_words}, closes {info.closes}."
    )


@cycle_app.command("list")
def list_() -> None:
    """Every cycle with its state, dates and schedule."""
    from surveys.organisation.cycles import list_cycles
    from surveys.organisation.schedule import get_schedule

    engine = open_engine()
    for cycle in list_cycles(engine=engine):
        info = get_schedule(engine=engine, cycle_id=cycle.id)
        if info.automatic:
            days = ",".join(str(day) for day in info.reminder_days) or "none"
            plan = f"automatic; invitations {info.invite_on}, reminders {days}"
        else:
            plan = "opened and closed by hand"
        typer.echo(f"{cycle.name}\t{cycle.state}\t{cycle.opens} to {cycle.closes}\t{plan}")


def _change(name: str, action: str) -> None:
    from surveys.organisation.cycles import change_cycle_state
    from surveys.organisation.structure import OrganisationError

    engine = open_engine()
    cycle_id = _find(engine, name)
    try:
        state = change_cycle_state(engine=engine, cycle_id=cycle_id, action=action, actor=actor())
    except OrganisationError as error:
        raise fail(str(error)) from None
    typer.echo(f"{name} is now {state.value}.")


@cycle_app.command("open")
def open_(name: Annotated[str, typer.Argument(help="The cycle's name.")]) -> None:
    """Open a cycle now (or reopen a closed one), whatever its dates say."""
    _change(name, "open")


@cycle_app.command("close")
def close(name: Annotated[str, typer.Argument(help="The cycle's name.")]) -> None:
    """Close a cycle now; its links then say the survey has closed."""
    _change(name, "close")
