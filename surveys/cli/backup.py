"""`attune backup` and `attune restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from surveys.cli import actor, app, fail, open_engine


@app.command("backup")
def backup_command(
    destination: Annotated[Path, typer.Argument(help="New file to write the backup to.")],
) -> None:
    """Back up the whole database while it is in use (SQLite online backup, or pg_dump)."""
    from surveys.backup import BackupError, backup

    try:
        written = backup(open_engine(), destination)
    except BackupError as error:
        raise fail(str(error)) from None
    typer.echo(f"Backup written to {written} ({written.stat().st_size:,} bytes).")


@app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(help="A file made by `attune backup`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that already holds data.")
    ] = False,
) -> None:
    """Restore a backup into the configured database (stop the app first)."""
    from surveys.backup import BackupError, restore

    try:
        restore(open_engine(), source, replace=replace, actor=actor())
    except BackupError as error:
        raise fail(str(error)) from None
    typer.echo(f"Restored {source.name}.")
