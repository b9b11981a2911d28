"""The `attune` command. One module per command group; this one holds what they share."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from surveys.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Attune: anonymous staff relationship-health surveys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
instrument_app = typer.Typer(help="Survey instruments.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(instrument_app, name="instrument")


def fail(message: str) -> typer.Exit:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def actor() -> str:
    # Who ran the command, as far as the machine knows: the audit log's "who".
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def open_engine() -> Engine:
    from surveys.storage import DatabaseUnavailable, check_connection, make_engine

    try:
        engine = make_engine(get_settings().database_url)
        check_connection(engine)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise fail(f"invalid configuration: {where}: {first['msg']}") from None
    except DatabaseUnavailable as error:
        raise fail(str(error)) from None
    return engine


def main() -> None:
    app()


def _register_commands() -> None:
    """Import every module of this package: each registers its commands on the apps above."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_commands()
