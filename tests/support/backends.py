"""Which database backends a test runs on: SQLite always, PostgreSQL when a server is given."""

from __future__ import annotations

import os

import pytest

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
