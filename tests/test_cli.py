"""The `attune` command as an operator uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from surveys.cli import app
from surveys.config import get_settings
from surveys.instruments import BUILTIN_DIR
from surveys.models import Response
from surveys.storage import make_engine, read_session

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return runner.invoke(app, list(args))


def test_upgrade_then_demo_then_demo_if_empty() -> None:
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "Schema is up to date" in result.output
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert "Loaded the hospital demo: 14 departments" in result.output
    # The demo accounts' password is shown this once (the domain returns it; the CLI prints).
    assert "Demo accounts: admin and ed.manager. Password: " in result.output
    engine = make_engine(get_settings().database_url)
    with read_session(engine) as session:
        responses = session.scalar(select(func.count()).select_from(Response))
    assert f"{responses:,} responses" in result.output
    again = invoke("demo", "--if-empty")
    assert again.exit_code == 0
    assert "already holds data" in again.output
    refused = invoke("demo")
    assert refused.exit_code == 1
    assert "only loads into an empty database" in refused.output


def test_demo_before_upgrade_says_what_to_run() -> None:
    result = invoke("demo")
    assert result.exit_code == 1
    assert "attune db upgrade" in result.output


def test_unknown_demo_scale_is_refused() -> None:
    invoke("db", "upgrade")
    result = invoke("demo", "--scale", "galaxy")
    assert result.exit_code == 1
    assert "choose hospital or system" in result.output


def test_unreachable_database_gives_a_message_not_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/attune")
    result = invoke("db", "upgrade")
    assert result.exit_code == 1
    assert "Cannot open the database at postgresql+psycopg://nobody@127.0.0.1:1/attune" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_invalid_setting_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "none")
    result = invoke("db", "upgrade")
    assert result.exit_code == 1
    assert "ATTUNE_MIN_GROUP_SIZE" in result.output


def test_instrument_check_accepts_the_builtin_and_explains_a_broken_file(tmp_path: Path) -> None:
    builtin = BUILTIN_DIR / "relationship_health_v1.toml"
    result = invoke("instrument", "check", str(builtin))
    assert result.exit_code == 0
    assert "is valid: 4 sections, 13 dimensions" in result.output
    broken = tmp_path / "ours.toml"
    broken.write_text(builtin.read_text().replace('dimension = "respect"', 'dimension = "respekt"'))
    result = invoke("instrument", "check", str(broken))
    assert result.exit_code == 1
    assert "ours.toml" in result.output
    assert "unknown dimension 'respekt'" in result.output


@pytest.mark.parametrize("command", [[], ["db"], ["instrument"], ["demo"], ["db", "upgrade"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output
