"""Shared fixtures: throwaway databases, fresh settings, and the small hospitals tests share."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from surveys.access.accounts import create_account
from surveys.config import get_settings
from surveys.instruments import builtin_instrument
from surveys.models import Department
from surveys.organisation import structure
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import add_department, add_division, staff_groups
from surveys.records import CycleState
from surveys.storage import make_engine, migrate, write_session
from tests.support.accounts import PASSWORD, use_fast_hashing
from tests.support.backends import (
    POSTGRES_SKIP_REASON,
    POSTGRES_URL_VARIABLE,
    fill_schema,
    migrated_schema_script,
    postgres_url,
    private_schema,
)
from tests.support.demo import shared_demo_file
from tests.support.mail import mail_server, mail_settings  # noqa: F401 - shared fixtures


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
    with private_schema(base) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head: copying it is ~200 times cheaper than migrating."""
    path = tmp_path_factory.mktemp("migrated") / "attune.db"
    created = make_engine(f"sqlite:///{path}")
    migrate(created)
    created.dispose()
    # Closing the last connection checkpoints the WAL into the file: the file alone is whole.
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


@pytest.fixture(scope="session")
def migrated_postgres_script() -> str | None:
    """What the migrations make in a PostgreSQL schema, as SQL dumped once per process:
    replaying it into a test's empty schema is several times cheaper than migrating."""
    base = postgres_url()
    return None if base is None else migrated_schema_script(base)


@pytest.fixture(scope="session")
def demo_hospital_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo hospital in a SQLite file, loaded once per run; use a copy (support.demo)."""
    return shared_demo_file(tmp_path_factory)


@pytest.fixture
def engine(database_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database: on SQLite a copy of one migrated file, on PostgreSQL one
    migrated schema's dump replayed (either way just what the migrations make)."""
    url = make_url(database_url)
    copied = False
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), url.database)
        copied = True
    elif url.get_backend_name() == "postgresql":
        script = request.getfixturevalue("migrated_postgres_script")
        if script is not None:
            fill_schema(database_url, script)
            copied = True
    created = make_engine(database_url)
    if not copied:
        migrate(created)
    yield created
    created.dispose()


@pytest.fixture
def survey(engine: Engine) -> dict:
    """Emergency and ICU (active) and an archived ward; an open, a closed and a draft cycle."""
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        departments = {
            name: add_department(session=session, name=name, division_id=division_id)
            for name in ("Emergency", "ICU", "Old ward")
        }
        session.get(Department, departments["Old ward"]).archived = True
        cycles = {
            name: add_cycle(
                session=session,
                name=name,
                opens=opens,
                closes=date(opens.year, opens.month + 1, 28),
                instrument_id=instrument_id,
                state=state,
            )
            for name, opens, state in (
                ("2026 Q4", date(2026, 10, 12), CycleState.open),
                ("2026 Q3", date(2026, 7, 12), CycleState.closed),
                ("2027 Q1", date(2027, 1, 12), CycleState.draft),
            )
        }
        groups = {group.key: group.id for group in staff_groups(session=session)}
    return {"departments": departments, "cycles": cycles, "groups": groups}


@pytest.fixture
def cycle(engine: Engine) -> int:
    """An open cycle in a hospital with Emergency, Oncology and an archived Pharmacy."""
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology", "Pharmacy"):
            add_department(session=session, name=name, division_id=division)
        pharmacy = structure.department_ids_by_name(session=session, names=["Pharmacy"])
        cycle_id = add_cycle(
            session=session,
            name="2027 Q1",
            opens=date(2027, 1, 11),
            closes=date(2027, 3, 1),
            state=CycleState.open,
        )
    structure.set_department_archived(
        engine=engine, department_id=next(iter(pharmacy)), archived=True, actor="boss"
    )
    return cycle_id


@pytest.fixture
def hospital(engine: Engine) -> dict[str, int]:
    """Three departments, an administrator `boss` and a manager `ed` for Emergency."""
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        ids = {
            name: add_department(session=session, name=name, division_id=division)
            for name in ("Emergency", "Intensive Care (ICU)", "Oncology")
        }
    create_account(engine=engine, username="boss", role="admin", password=PASSWORD, actor="t")
    create_account(
        engine=engine,
        username="ed",
        role="manager",
        password=PASSWORD,
        departments=["Emergency"],
        actor="t",
    )
    return ids


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 for tests that sign in: what they test does not depend on the cost."""
    use_fast_hashing(monkeypatch)
