"""Which database backends a test runs on: SQLite always, PostgreSQL when a server is given."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

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


@contextmanager
def private_schema(base: str) -> Iterator[str]:
    """A URL for a new, empty schema on the PostgreSQL server at `base`, dropped afterwards."""
    schema = f"attune_test_{secrets.token_hex(6)}"
    # No pool: a test that restarts the server must not leave this engine a dead connection.
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
