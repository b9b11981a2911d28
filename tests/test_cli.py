"""The `attune` command as an operator uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from typer.testing import CliRunner

from surveys import audit
from surveys.cli import actor, app
from surveys.config import get_settings
from surveys.instruments import BUILTIN_DIR
from surveys.models import Response
from surveys.storage import MIGRATIONS_DIR, make_engine, migrate, read_session
from tests.support.accounts import PASSWORD

runner = CliRunner()
# The newest migration: what a fresh `attune db upgrade` reaches.
HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


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
    # And the link to 2026 Q3's summary for staff, published by the demo, also shown once.
    assert f"(you said, we did): {get_settings().base_url}/shared?k=" in result.output
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
    assert created.output == f"Created the database at sqlite:///{path} (schema {HEAD}).\n"
    again = invoke("db", "upgrade")
    assert again.output == f"Schema is up to date at sqlite:///{path} (schema {HEAD}).\n"
    older = tmp_path / "older.db"
    migrate(make_engine(f"sqlite:///{older}"), "0003")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{older}")
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output == (
        f"Upgraded the database at sqlite:///{older} from schema 0003 to {HEAD}.\n"
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
        invoke("share", "revoke", "--cycle", "2026 Q3"),
        invoke("share", "publish", "--cycle", "2026 Q3"),
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
    # The demo's action plans (plan.*) are recorded too; they are the action plans' tests' own.
    actions = [event.action for event in reversed(events) if not event.action.startswith("plan.")]
    assert actions == [
        "database.create",
        "account.create",
        "account.create",
        "share.publish",  # the demo's summary of 2026 Q3 for staff
        "demo.load",
        "invitations.create",
        "invitations.open_link",
        "share.revoke",
        "share.publish",
        "account.create",
        "account.disable",
        "database.restore",
    ]
    assert {event.actor for event in events} == {actor()}
    assert actor().startswith("cli:")
    assert events[0].detail == "attune.backup"
    assert events[-1].detail == f"schema {HEAD}"


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
