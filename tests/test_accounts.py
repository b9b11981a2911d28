"""Accounts: creating and changing them, department scope, the demo's accounts, `attune user`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from surveys.access.accounts import (
    AccountError,
    create_account,
    create_demo_accounts,
    department_scope,
    list_accounts,
    set_active,
    set_password,
)
from surveys.access.sign_in import SignInOutcome
from surveys.cli import app
from surveys.config import get_settings
from surveys.models import Account, AuditEvent
from surveys.organisation.structure import add_department, add_division
from surveys.storage import make_engine, migrate, read_session, write_session
from tests.support.accounts import PASSWORD, attempt
from tests.support.backends import backends

pytestmark = pytest.mark.usefixtures("fast_hashing")


@backends()
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"role": "manager", "departments": []}, "needs at least one department"),
        ({"role": "admin", "departments": ["Emergency"]}, "see every department"),
        ({"role": "manager", "departments": ["Emergncy"]}, "did you mean 'Emergency'?"),
        ({"role": "owner"}, "admin or manager"),
        ({"username": "boss"}, "already an account called 'boss'"),
        ({"username": "x"}, "2 to 120 characters"),
        ({"username": "bad name"}, "2 to 120 characters"),
        ({"password": "short"}, "at least 12 characters"),
        ({"password": "carol-is-my-password"}, "must not contain the username"),
        ({"password": "x" * 300}, "at most 256 characters"),
        ({"email": "c" * 243 + "@example.org"}, "at most 254 characters"),
    ],
)
@pytest.mark.usefixtures("hospital")
def test_bad_accounts_are_refused(engine: Engine, changes, message) -> None:
    given = {
        "username": "carol",
        "role": "manager",
        "password": PASSWORD,
        "departments": ["Oncology"],
        **changes,
    }
    with pytest.raises(AccountError, match=message.replace("?", r"\?")):
        create_account(engine=engine, actor="boss", **given)


@backends()
@pytest.mark.usefixtures("hospital")
def test_the_last_administrator_cannot_be_disabled(engine: Engine) -> None:
    with pytest.raises(AccountError, match="last active administrator"):
        set_active(engine=engine, username="boss", active=False, actor="boss")


@backends()
@pytest.mark.usefixtures("hospital")
def test_account_changes_are_audited_without_passwords(engine: Engine) -> None:
    set_password(engine=engine, username="ed", password="another long phrase", actor="boss")
    rows = list_accounts(engine=engine)
    with read_session(engine) as session:
        events = session.scalars(select(AuditEvent)).all()
    assert [row.username for row in rows] == ["boss", "ed"]
    assert rows[1].departments == ("Emergency",)
    assert {"account.create", "account.set_password"} <= {event.action for event in events}
    assert not any(
        "another long phrase" in event.detail or PASSWORD in event.detail for event in events
    )


@backends()
def test_department_scope_is_every_department_for_an_administrator_and_assigned_for_a_manager(
    engine: Engine,
    hospital,  # noqa: F811
) -> None:
    admin = attempt(engine, "boss", PASSWORD).account
    manager = attempt(engine, "ed", PASSWORD).account
    assert admin is not None and department_scope(admin) is None
    assert manager is not None and department_scope(manager) == {hospital["Emergency"]}


@backends()
def test_demo_accounts_use_the_configured_password(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_DEMO_PASSWORD", "demo password 2026")
    get_settings.cache_clear()
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        add_department(session=session, name="Emergency", division_id=division)
        made = create_demo_accounts(session=session)
    assert made.created == ("admin", "ed.manager")
    assert made.password is None  # the operator chose it: it is not shown
    admin = attempt(engine, "admin", "demo password 2026")
    manager = attempt(engine, "ed.manager", "demo password 2026")
    assert admin.account is not None and admin.account.is_admin
    assert manager.account is not None and len(manager.account.department_ids or ()) == 1


def test_demo_accounts_get_a_generated_password_told_once(engine: Engine) -> None:
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        add_department(session=session, name="Emergency", division_id=division)
    create_account(engine=engine, username="admin", role="admin", password=PASSWORD, actor="x")
    with write_session(engine) as session:
        made = create_demo_accounts(session=session)
    assert made.created == ("ed.manager",) and not made.refused
    password = made.password
    assert password is not None and len(password) >= 12
    assert attempt(engine, "ed.manager", password).outcome is SignInOutcome.ok
    # An existing account keeps its own password.
    assert attempt(engine, "admin", password).outcome is SignInOutcome.rejected
    assert attempt(engine, "admin", PASSWORD).outcome is SignInOutcome.ok


# --- The `attune user` command -----------------------------------------------------------------


def invoke(*args: str, input: str | None = None) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def cli_database() -> Iterator[Engine]:
    """The database DATABASE_URL names, migrated, with Emergency and Oncology."""
    engine = make_engine(get_settings().database_url)
    migrate(engine)
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology"):
            add_department(session=session, name=name, division_id=division)
    yield engine
    engine.dispose()


def test_cli_adds_users_from_a_hidden_prompt_or_stdin(cli_database: Engine) -> None:
    prompted = invoke("user", "add", "Boss", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Added admin boss." in prompted.output
    assert PASSWORD not in prompted.output  # the prompt does not echo
    piped = invoke(
        "user",
        "add",
        "ed",
        "--role",
        "manager",
        "--departments",
        "Emergency, Oncology",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert piped.exit_code == 0, piped.output
    assert "Added manager ed for Emergency, Oncology." in piped.output
    assert attempt(cli_database, "boss", PASSWORD, at=utc()).outcome is SignInOutcome.ok
    manager = attempt(cli_database, "ed", PASSWORD, at=utc()).account
    assert manager is not None and len(manager.department_ids or ()) == 2
    listed = invoke("user", "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split()[:3] == ["boss", "admin", "active"]
    assert lines[1].endswith("Emergency, Oncology")
    with read_session(cli_database) as session:
        actors = set(
            session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "account.create"))
        )
    assert all(actor.startswith("cli") for actor in actors)


def utc() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["ed", "--role", "manager"], None, "a manager needs --departments"),
        (
            ["boss", "--role", "admin", "--departments", "Emergency"],
            None,
            "leave out --departments",
        ),
        (["boss", "--role", "owner"], None, "--role must be admin or manager"),
        (["b s", "--role", "admin"], None, "2 to 120 characters"),
        (["boss", "--role", "admin", "--password-stdin"], "short\n", "at least 12 characters"),
        (["boss", "--role", "admin", "--password-stdin"], "", "no password on standard input"),
        (
            ["ed", "--role", "manager", "--departments", "Emergncy", "--password-stdin"],
            f"{PASSWORD}\n",
            "did you mean 'Emergency'?",
        ),
    ],
)
def test_cli_refuses_bad_accounts_with_a_message(
    cli_database: Engine, args: list[str], stdin: str | None, message: str
) -> None:
    result = invoke("user", "add", *args, input=stdin)
    assert result.exit_code == 1
    assert message in result.output
    with read_session(cli_database) as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 0


def test_cli_changes_disables_and_unlocks_accounts(cli_database: Engine) -> None:
    invoke("user", "add", "boss", "--role", "admin", "--password-stdin", input=f"{PASSWORD}\n")
    invoke(
        "user", "add", "ed", "--role", "manager", "--departments", "Emergency",
        "--password-stdin", input=f"{PASSWORD}\n",
    )  # fmt: skip
    for n in range(5):
        attempt(cli_database, "ed", f"guess number {n}", at=utc())
    assert "locked" in invoke("user", "list").output
    assert invoke("user", "unlock", "ed").output == "Unlocked ed.\n"
    assert invoke("user", "unlock", "ed").output == "ed was not locked.\n"
    changed = invoke("user", "set-password", "ed", "--password-stdin", input="a new passphrase\n")
    assert changed.exit_code == 0, changed.output
    assert attempt(cli_database, "ed", "a new passphrase", at=utc()).outcome is SignInOutcome.ok
    moved = invoke("user", "set-departments", "ed", "--departments", "Oncology")
    assert moved.output == "ed now sees Oncology.\n"
    assert invoke("user", "disable", "ed").exit_code == 0
    assert attempt(cli_database, "ed", "a new passphrase", at=utc()).outcome is (
        SignInOutcome.rejected
    )
    assert invoke("user", "enable", "ed").exit_code == 0
    last_admin = invoke("user", "disable", "boss")
    assert last_admin.exit_code == 1
    assert "last active administrator" in last_admin.output
    unknown = invoke("user", "disable", "nobody")
    assert unknown.exit_code == 1 and "no account called 'nobody'" in unknown.output


def test_cli_needs_a_migrated_database() -> None:
    result = invoke("user", "list")
    assert result.exit_code == 1
    assert "attune db upgrade" in result.output
