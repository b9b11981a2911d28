"""`attune instrument`: checking and listing instrument files."""

from __future__ import annotations

from pathlib import Path

import typer

from surveys.cli import fail, instrument_app
from surveys.config import get_settings


@instrument_app.command("check")
def instrument_check(path: Path) -> None:
    """Validate an instrument file and summarise it."""
    from surveys.instruments import InstrumentError, load_instrument

    try:
        instrument = load_instrument(path)
    except InstrumentError as error:
        raise fail(str(error)) from None
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
        raise fail(str(error)) from None
    for (key, version), instrument in sorted(found.items()):
        typer.echo(f"{key} v{version}  {instrument.title}  ({instrument.source})")
