"""The demo hospital in a SQLite file, loaded once per test module and copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.demo import load_demo
from surveys.storage import make_engine, migrate


def demo_file(folder: Path) -> Path:
    """A migrated database holding the demo hospital (with its accounts)."""
    path = folder / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    load_demo(engine)
    engine.dispose()
    return path


def demo_engine(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An engine on the demo file at `path`, with DATABASE_URL pointing at it (for the CLI);
    the body of a test module's `demo` fixture."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    engine = make_engine(get_settings().database_url)
    yield engine
    engine.dispose()


def use_copy(source: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point DATABASE_URL at a private copy of `source`; returns the URL."""
    path = folder / "copy.db"
    shutil.copyfile(source, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return url
