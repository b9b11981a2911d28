"""Shared fixtures: throwaway SQLite files and PostgreSQL schemas, fresh settings per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from surveys.config import get_settings
from surveys.storage import make_engine, migrate

# CI sets this; locally PostgreSQL tests skip with the reason below when it is absent.
POSTGRES_URL_VARIABLE = "ATTUNE_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = (
    f"PostgreSQL tests need a server: set {POSTGRES_URL_VARIABLE}, "
    "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts from default settings and its own default SQLite file."""
    for name in list(os.environ):
        if name.startswith("ATTUNE_") and name != POSTGRES_URL_VARIABLE:
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a private schema on the PostgreSQL server."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'attune.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip(POSTGRES_SKIP_REASON)
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


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty database."""
    created = make_engine(database_url)
    migrate(created)
    yield created
    created.dispose()


def backends() -> pytest.MarkDecorator:
    """Run a test once on SQLite and once on PostgreSQL."""
    return pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
