"""The `attune` command: database set-up, demo data and instrument checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from surveys.config import get_settings

app = typer.Typer(
    help="Attune: anonymous staff relationship-health surveys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
instrument_app = typer.Typer(help="Survey instruments.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(instrument_app, name="instrument")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _engine():  # type: ignore[no-untyped-def]
    from surveys.storage import DatabaseUnavailable, check_connection, make_engine

    try:
        engine = make_engine(get_settings().database_url)
        check_connection(engine)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _fail(f"invalid configuration: {where}: {first['msg']}") from None
    except DatabaseUnavailable as error:
        raise _fail(str(error)) from None
    return engine


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the schema to the newest version (safe to run again)."""
    from surveys.storage import migrate

    engine = _engine()
    migrate(engine)
    typer.echo(f"Schema is up to date ({engine.url.render_as_string(hide_password=True)}).")


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
        raise _fail(f"unknown scale {scale!r}; choose hospital or system") from None
    engine = _engine()
    if not schema_is_current(engine):
        raise _fail("the schema is not up to date; run `attune db upgrade` first")
    try:
        summary = load_demo(engine, scale=chosen)
    except DatabaseNotEmpty as error:
        if if_empty:
            typer.echo("Demo data not loaded: the database already holds data.")
            return
        raise _fail(str(error)) from None
    typer.echo(
        f"Loaded the {chosen.value} demo: {summary.departments} departments, "
        f"{summary.staff:,} staff, {summary.cycles} cycles, {summary.responses:,} responses, "
        f"{summary.answers:,} answers, {summary.comments:,} comments "
        f"in {summary.seconds:.1f} s."
    )


@instrument_app.command("check")
def instrument_check(path: Path) -> None:
    """Validate an instrument file and summarise it."""
    from surveys.instruments import InstrumentError, load_instrument

    try:
        instrument = load_instrument(path)
    except InstrumentError as error:
        raise _fail(str(error)) from None
    items = instrument.items([("group", "colleagues")])
    typer.echo(
        f"{path.name}: {instrument.title} v{instrument.version} is valid: "
        f"{len(instrument.sections)} sections, {len(instrument.dimensions)} dimensions, "
        f"{len(items)} questions with one staff group."
    )


@instrument_app.command("list")
def instrument_list() -> None:
    """List the built-in instruments and any in ATTUNE_INSTRUMENT_DIR."""
    from surveys.instruments import InstrumentError, discover_instruments

    try:
        found = discover_instruments(get_settings().instrument_dir)
    except InstrumentError as error:
        raise _fail(str(error)) from None
    for (key, version), instrument in sorted(found.items()):
        typer.echo(f"{key} v{version}  {instrument.title}  ({instrument.source})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
