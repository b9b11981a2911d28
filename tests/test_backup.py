"""Backup and restore round trips on real SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlmodel import SQLModel
from typer.testing import CliRunner

from surveys.backup import BackupError, backup, restore
from surveys.cli import app
from surveys.config import get_settings
from surveys.demo import load_demo
from surveys.reporting import cycle_summaries
from surveys.storage import make_engine, migrate, read_session
from tests.support.backends import POSTGRES_SKIP_REASON, postgres_url
from tests.support.demo import copy_demo


def snapshot(engine: Engine) -> dict:
    """Every row of every table, in a stable order, plus what the landing page reports."""
    tables = {}
    with read_session(engine) as session:
        for name, table in SQLModel.metadata.tables.items():
            rows = session.execute(select(table)).all()
            tables[name] = sorted(tuple(str(value) for value in row) for row in rows)
    return {"tables": tables, "cycles": cycle_summaries(engine)}


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the PostgreSQL server (pg_dump works on whole databases)."""
    base = postgres_url()
    if base is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    names = [f"attune_backup_{secrets.token_hex(4)}" for _ in range(2)]
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine_url = admin.url
    try:
        yield tuple(engine_url.set(database=name).render_as_string(False) for name in names)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def round_trip(source: Engine, target_url: str, tmp_path: Path) -> None:
    """Back up `source` (holding the demo hospital) and restore it into `target_url`."""
    before = snapshot(source)
    written = backup(source, tmp_path / "attune.backup")
    assert written.stat().st_size > 0
    target = make_engine(target_url)
    restore(target, written)
    target = make_engine(target_url)
    after = snapshot(target)
    # Everything comes back, and the restore itself is audited in the restored log.
    # Sets, not lists: the demo hospital has tens of thousands of rows.
    added = {
        name: sorted(set(rows) - set(before["tables"][name]))
        for name, rows in after["tables"].items()
    }
    added = {name: rows for name, rows in added.items() if rows}
    assert list(added) == ["audit_event"] and len(added["audit_event"]) == 1, added
    assert "database.restore" in added["audit_event"][0]
    after["tables"]["audit_event"].remove(added["audit_event"][0])
    assert after == before
    source.dispose()
    target.dispose()


def test_sqlite_backup_restores_into_an_empty_database_identically(
    demo_hospital_file: Path, tmp_path: Path
) -> None:
    source = make_engine(f"sqlite:///{copy_demo(demo_hospital_file, tmp_path)}")
    round_trip(source, f"sqlite:///{tmp_path / 'b.db'}", tmp_path)


@pytest.mark.slow  # about 20 s: the demo hospital loaded, dumped and restored on PostgreSQL
def test_postgres_backup_restores_into_an_empty_database_identically(
    postgres_databases: tuple[str, str], tmp_path: Path
) -> None:
    source_url, target_url = postgres_databases
    source = make_engine(source_url)
    migrate(source)
    load_demo(source)
    round_trip(source, target_url, tmp_path)


def test_restore_refuses_a_database_that_holds_data(
    demo_hospital_file: Path, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{copy_demo(demo_hospital_file, tmp_path)}")
    written = backup(engine, tmp_path / "copy.backup")
    with pytest.raises(BackupError, match="already holds data"):
        restore(engine, written)
    restore(engine, written, replace=True)  # explicitly allowed


def test_backup_never_overwrites_and_rejects_a_non_backup(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    migrate(engine)
    existing = tmp_path / "existing.backup"
    existing.write_text("precious")
    with pytest.raises(BackupError, match="already exists"):
        backup(engine, existing)
    assert existing.read_text() == "precious"
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(BackupError, match="not a SQLite backup"):
        restore(empty, existing)
    assert list(tmp_path.glob(".attune-backup-*")) == []  # no partial file left behind


def test_cli_backup_and_restore(
    demo_hospital_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    # The demo hospital (what `attune demo` loads, as tests/test_cli.py shows).
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{copy_demo(demo_hospital_file, tmp_path)}")
    get_settings.cache_clear()
    result = runner.invoke(app, ["backup", str(tmp_path / "cli.backup")])
    assert result.exit_code == 0, result.output
    assert "Backup written to" in result.output
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    get_settings.cache_clear()
    result = runner.invoke(app, ["restore", str(tmp_path / "cli.backup")])
    assert result.exit_code == 0, result.output
    assert len(cycle_summaries(make_engine(get_settings().database_url))) == 8
    refused = runner.invoke(app, ["restore", str(tmp_path / "cli.backup")])
    assert refused.exit_code == 1
    assert "--replace" in refused.output
