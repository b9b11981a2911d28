"""The demo hospital in a SQLite file: loaded once per test run, copied per module or test.

Loading the demo takes 10-30 s on two shared cores and a dozen modules read it, so one run
loads it once: the first xdist worker to ask builds it under a lock in the run's shared
temporary folder, and every other worker waits for that file instead of loading its own.
Modules and tests only ever use copies, so none sees what another changed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.demo import load_demo
from surveys.storage import make_engine, migrate


def build_demo_file(path: Path) -> Path:
    """A migrated database at `path` holding the demo hospital (with its accounts)."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    load_demo(engine)
    engine.dispose()
    # Closing the last connection checkpoints the WAL into the file: the file alone is whole.
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


def shared_demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's one demo file, built by whichever process asks first (the body of the
    session-scoped `demo_hospital_file` fixture)."""
    folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = folder.parent  # shared by this run's workers, and by nothing else
    path = folder / "demo-hospital.db"
    with (folder / "demo-hospital.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not path.exists():
            building = folder / "demo-hospital-building.db"
            building.unlink(missing_ok=True)  # left by a worker that died building it
            build_demo_file(building)
            building.rename(path)
    return path


def copy_demo(source: Path, folder: Path) -> Path:
    """A private copy of the demo file `source` in `folder`."""
    path = folder / "demo.db"
    shutil.copyfile(source, path)
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
