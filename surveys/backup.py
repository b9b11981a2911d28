"""Backups: SQLite's online backup API, or pg_dump/pg_restore for PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL

from surveys import audit
from surveys.models import AuditEvent
from surveys.organisation.cycles import has_survey_data
from surveys.storage import read_session, write_session


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def libpq_url(url: URL) -> str:
    """The URL as pg_dump and pg_restore understand it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], *, what: str, password: str | None) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed; install the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client) to {what}"
        )
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password  # not on the command line, where `ps` would show it
    # The command is a fixed tool with our own arguments, never shell-interpreted.
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{tool} failed to {what}: {result.stderr.strip()}")


def backup(engine: Engine, destination: Path) -> Path:
    """Write a consistent copy of the whole database to `destination` while it is in use.

    The file appears complete or not at all: it is written beside the destination and renamed.
    """
    destination = destination.resolve()
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=".attune-backup-")
    os.close(handle)
    try:
        if engine.dialect.name == "sqlite":
            source = sqlite3.connect(_sqlite_path(engine))
            target = sqlite3.connect(partial)
            try:
                # The online backup API copies a consistent snapshot without stopping writers.
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            url = engine.url
            _run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                 f"--file={partial}", f"--dbname={libpq_url(url.set(password=None))}"],
                what="back up the database",
                password=url.password,
            )  # fmt: skip
        os.replace(partial, destination)
    finally:
        Path(partial).unlink(missing_ok=True)
    return destination


def restore(
    engine: Engine, source: Path, *, replace: bool = False, actor: str = "attune restore"
) -> None:
    """Bring a backup back into `engine`'s database, which must be empty unless `replace`,
    and record in the restored audit log that `actor` restored it."""
    _restore(engine, source, replace=replace)
    with engine.connect() as connection:
        # A backup from before the audit log (schema 0001) has nowhere to record it until
        # `attune db upgrade`; the restore itself is still complete.
        if AuditEvent.__tablename__ not in inspect(connection).get_table_names():
            return
    with write_session(engine) as session:
        audit.record(
            session=session,
            actor=actor,
            action="database.restore",
            detail=f"{source.name}{' over existing data' if replace else ''}",
        )


def _restore(engine: Engine, source: Path, *, replace: bool) -> None:
    source = source.resolve()
    if not source.is_file():
        raise BackupError(f"{source} is not a backup file")
    if not replace and _holds_data(engine):
        raise BackupError(
            "the target database already holds data; restore into an empty database, "
            "or pass --replace to overwrite it"
        )
    if engine.dialect.name == "sqlite":
        try:
            backup_connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            backup_connection.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{source.name} is not a SQLite backup: {error}") from error
        engine.dispose()
        target = sqlite3.connect(_sqlite_path(engine))
        try:
            backup_connection.backup(target)
        finally:
            target.close()
            backup_connection.close()
        return
    url = engine.url
    engine.dispose()
    _run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", f"--dbname={libpq_url(url.set(password=None))}", str(source)],
        what="restore the backup",
        password=url.password,
    )  # fmt: skip


def _holds_data(engine: Engine) -> bool:
    with engine.connect() as connection:
        if "survey_cycle" not in inspect(connection).get_table_names():
            return False
    with read_session(engine) as session:
        return has_survey_data(session=session)
