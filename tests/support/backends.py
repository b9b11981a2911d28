"""Which database backends a test runs on: SQLite always, PostgreSQL when a server is given."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from surveys.storage import make_engine, migrate

# CI sets this; locally PostgreSQL tests skip with the reason below when it is absent.
POSTGRES_URL_VARIABLE = "ATTUNE_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = (
    f"PostgreSQL tests need a server: set {POSTGRES_URL_VARIABLE}, "
    "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def backends() -> pytest.MarkDecorator:
    """Run a test once on SQLite and once on PostgreSQL."""
    return pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def _admin_engine(base: str) -> Engine:
    # No pool: a test that restarts the server must not leave this engine a dead connection.
    return create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )


def schema_of(url: str) -> str:
    """The private schema a URL from `private_schema` points at."""
    found = re.search(r"search_path=(\w+)", make_url(url).query.get("options", ""))
    assert found, url
    return found.group(1)


def migrated_schema_script(base: str) -> str | None:
    """SQL that fills an empty schema named SCHEMA_PLACEHOLDER with what the migrations make
    (tables, indexes, sequences, and the rows they insert): a migrated schema dumped once by
    pg_dump. Replaying it takes a fraction of the migrations' time. None when pg_dump cannot
    be run, and the callers migrate instead."""
    if shutil.which("pg_dump") is None:
        return None
    with private_schema(base) as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        schema = schema_of(url)
        server = make_url(base)
        dumped = subprocess.run(
            [
                "pg_dump", "--inserts", "--no-owner",
                "--no-privileges", "--schema", schema,
                "--host", server.host or "localhost", "--port", str(server.port or 5432),
                "--username", server.username or "postgres", server.database or "postgres",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": server.password or ""},
        )  # fmt: skip
    if dumped.returncode != 0:
        return None
    statements = [
        line
        for line in dumped.stdout.splitlines()
        # psql's own commands (\restrict) are not SQL; the schema exists already.
        if not line.startswith("\\") and line != f"CREATE SCHEMA {schema};"
    ]
    return "\n".join(statements).replace(schema, SCHEMA_PLACEHOLDER)


SCHEMA_PLACEHOLDER = "attune_migrated_schema_placeholder"


def fill_schema(url: str, script: str) -> None:
    """Run `migrated_schema_script`'s SQL into the empty private schema `url` points at."""
    admin = _admin_engine(url)
    with admin.begin() as connection:
        # Straight to the driver, with no parameters: nothing in the rows is a placeholder.
        cursor = connection.connection.cursor()
        cursor.execute(script.replace(SCHEMA_PLACEHOLDER, schema_of(url)))
        cursor.close()
    admin.dispose()


@contextmanager
def private_schema(base: str) -> Iterator[str]:
    """A URL for a new, empty schema on the PostgreSQL server at `base`, dropped afterwards."""
    schema = f"attune_test_{secrets.token_hex(6)}"
    admin = _admin_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
