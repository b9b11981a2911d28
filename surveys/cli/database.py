"""`attune db`: the schema."""

from __future__ import annotations

import typer

from surveys.cli import db_app, open_engine


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the schema to the newest version (safe to run again)."""
    from surveys.storage import migrate

    engine = open_engine()
    migrate(engine)
    typer.echo(f"Schema is up to date ({engine.url.render_as_string(hide_password=True)}).")
