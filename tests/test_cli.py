"""The `attune` command as an operator uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from surveys import audit
from surveys.cli import actor, app
from surveys.config import get_settings
from surveys.instruments import BUILTIN_DIR
from surveys.models import Response
from surveys.storage import make_engine, migrate, read_session
from tests.support.accounts import PASSWORD

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return runner.invoke(app, list(args))


def test_upgrade_then_demo_then_demo_if_empty() -> None:
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "Created the database" in result.output
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


def test_upgrade_says_whether_it_created_upgraded_or_found_the_schema_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    created = invoke("db", "upgrade")
    assert created.exit_code == 0, created.output
    assert created.output == f"Created the database at sqlite:///{path} (schema 0011).\n"
    again = invoke("db", "upgrade")
    assert again.output == f"Schema is up to date at sqlite:///{path} (schema 0011).\n"
    older = tmp_path / "older.db"
    migrate(make_engine(f"sqlite:///{older}"), "0003")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{older}")
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output == (
        f"Upgraded the database at sqlite:///{older} from schema 0003 to 0011.\n"
    )


INVITE = ("invite", "--cycle", "2026 Q4", "--department", "Emergency", "--group", "nursing",
          "--count", "2")  # fmt: skip
ADD_ADMIN = ("user", "add", "chief", "--role", "admin")


def test_every_change_made_on_the_command_line_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner_says = [
        invoke("db", "upgrade"),
        invoke("demo"),
        invoke(*INVITE, "--out", str(tmp_path / "links.csv")),
        invoke("invite", "--open", "--cycle", "2026 Q4"),
        runner.invoke(app, [*ADD_ADMIN, "--password-stdin"], input=f"{PASSWORD}\n"),
        invoke("user", "disable", "chief"),
        invoke("backup", str(tmp_path / "attune.backup")),
    ]
    assert all(result.exit_code == 0 for result in runner_says), [r.output for r in runner_says]
    # Restored into a new database, the log is the backup's with the restore on top.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'restored.db'}")
    restored = invoke("restore", str(tmp_path / "attune.backup"))
    assert restored.exit_code == 0, restored.output
    events = audit.list_events(engine=make_engine(get_settings().database_url))
    assert [event.action for event in reversed(events)] == [
        "database.create",
        "account.create",
        "account.create",
        "demo.load",
        "invitations.create",
        "invitations.open_link",
        "account.create",
        "account.disable",
        "database.restore",
    ]
    assert {event.actor for event in events} == {actor()}
    assert actor().startswith("cli:")
    assert events[0].detail == "attune.backup"
    assert events[-1].detail == "schema 0011"


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


def test_run_due_status_reports_the_last_run_and_fails_when_it_is_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    never = invoke("run-due", "--status")
    assert never.exit_code == 1
    assert "no job runner has finished a run yet" in never.output
    assert invoke("run-due", "--now", "2026-10-01T09:00:00+00:00").exit_code == 0
    fresh = invoke("run-due", "--status")
    assert fresh.exit_code == 0, fresh.output
    assert "last run finished" in fresh.output
    # A second run updates the same runner's row rather than adding one.
    assert invoke("run-due").exit_code == 0
    assert len(invoke("run-due", "--status").output.splitlines()) == 1
    monkeypatch.setenv("ATTUNE_WORKER_STALE_SECONDS", "600")
    late = invoke("run-due", "--status", "--now", "2099-01-01T00:00:00+00:00")
    assert late.exit_code == 1
    assert "in the last 600 s" in late.output


def test_run_due_status_fails_when_the_latest_run_failed() -> None:
    from surveys.jobs import heartbeats, record_heartbeat

    assert invoke("db", "upgrade").exit_code == 0
    engine = make_engine(get_settings().database_url)
    record_heartbeat(engine, succeeded=True, worker="host-a")
    record_heartbeat(engine, succeeded=False, worker="host-b")
    assert [beat.worker for beat in heartbeats(engine)] == ["host-b", "host-a"]
    result = invoke("run-due", "--status")
    assert result.exit_code == 1
    assert "host-b: last run FAILED" in result.output
    assert "the latest run failed" in result.output
    engine.dispose()
