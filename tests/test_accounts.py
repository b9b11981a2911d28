"""Accounts: argon2 passwords, throttled sign-in, sessions, department scope and single sign-on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from surveys import accounts
from surveys.accounts import (
    AccountError,
    AccountInfo,
    RoleMap,
    RoleMapError,
    SessionEnd,
    SignInOutcome,
    allowed_departments,
    check_session,
    create_account,
    create_demo_accounts,
    issue_ticket,
    list_accounts,
    set_active,
    set_departments,
    set_password,
    sign_in,
    sso_sign_in,
)
from surveys.cli import app
from surveys.config import get_settings
from surveys.models import Account, AuditEvent, LoginThrottle
from surveys.organisation import create_department, create_division
from surveys.storage import make_engine, migrate, read_session, write_session
from tests.support.accounts import NOW, PASSWORD
from tests.support.backends import backends


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cheap argon2 parameters: the behaviour under test does not depend on the cost."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    accounts._dummy_hash.cache_clear()
    yield
    accounts._dummy_hash.cache_clear()


def attempt(engine: Engine, username: str, password: str, *, at: datetime = NOW):
    return sign_in(engine=engine, username=username, password=password, now=at)


@backends()
def test_password_is_stored_only_as_an_argon2id_hash(engine: Engine, hospital) -> None:
    with read_session(engine) as session:
        stored = session.scalars(select(Account.password_hash)).all()
    assert all(value.startswith("$argon2id$") for value in stored)
    assert not any(PASSWORD in value for value in stored)


def test_default_hasher_uses_real_argon2id_cost() -> None:
    hasher = PasswordHasher()
    assert hasher.time_cost >= 2 and hasher.memory_cost >= 19_456  # OWASP's floor


@backends()
def test_right_password_signs_in_with_role_and_departments(engine: Engine, hospital) -> None:
    admin = attempt(engine, "boss", PASSWORD)
    manager = attempt(engine, "  ED ", PASSWORD)
    assert admin.outcome is SignInOutcome.ok and admin.account is not None
    assert admin.account.role == "admin" and admin.account.department_ids is None
    assert manager.outcome is SignInOutcome.ok and manager.account is not None
    assert manager.account.department_ids == frozenset({hospital["Emergency"]})


@backends()
@pytest.mark.parametrize(
    ("username", "password"),
    [("boss", "wrong password entirely"), ("nobody", PASSWORD), ("boss", ""), ("", PASSWORD)],
    ids=["wrong password", "unknown user", "empty password", "empty username"],
)
def test_wrong_credentials_are_rejected_alike(
    engine: Engine, hospital, username: str, password: str
) -> None:
    result = attempt(engine, username, password)
    assert result.outcome is SignInOutcome.rejected
    assert result.account is None


def test_unknown_username_costs_a_hash_check(engine: Engine, monkeypatch) -> None:
    checked: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            checked.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "_hasher", Spy(time_cost=1, memory_cost=64, parallelism=1))
    accounts._dummy_hash.cache_clear()
    assert attempt(engine, "nobody", PASSWORD).outcome is SignInOutcome.rejected
    assert checked == [accounts._dummy_hash()]


@backends()
def test_disabled_and_single_sign_on_accounts_cannot_use_a_password(
    engine: Engine, hospital
) -> None:
    with write_session(engine) as session:
        set_active(session=session, username="ed", active=False, actor="boss")
        create_account(
            session=session,
            username="sso.only@example.org",
            role="admin",
            password=None,
            actor="boss",
        )
    assert attempt(engine, "ed", PASSWORD).outcome is SignInOutcome.rejected
    assert attempt(engine, "sso.only@example.org", "").outcome is SignInOutcome.rejected


@backends()
@pytest.mark.parametrize("username", ["boss", "nobody"], ids=["known", "unknown"])
def test_five_failures_lock_a_username_known_or_not(
    engine: Engine, hospital, username: str
) -> None:
    outcomes = [
        attempt(engine, username, f"guess number {n}", at=NOW + timedelta(minutes=n)).outcome
        for n in range(5)
    ]
    assert outcomes == [SignInOutcome.rejected] * 4 + [SignInOutcome.locked]
    # Locked: even the right password is refused, for either kind of username.
    assert attempt(engine, username, PASSWORD, at=NOW + timedelta(minutes=6)).outcome is (
        SignInOutcome.locked
    )
    with read_session(engine) as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor == username))
        assert "sign_in.locked" in list(actions)


@backends()
def test_lock_survives_a_restart_and_then_expires(
    engine: Engine, database_url: str, hospital
) -> None:
    for n in range(5):
        attempt(engine, "boss", f"guess number {n}")
    engine.dispose()
    restarted = make_engine(database_url)
    try:
        locked_at = NOW + timedelta(minutes=14)
        assert attempt(restarted, "boss", PASSWORD, at=locked_at).outcome is SignInOutcome.locked
        later = NOW + accounts.LOCK_DURATION + timedelta(seconds=1)
        assert attempt(restarted, "boss", PASSWORD, at=later).outcome is SignInOutcome.ok
        with read_session(restarted) as session:
            assert session.get(LoginThrottle, "boss") is None
    finally:
        restarted.dispose()


@backends()
def test_failures_older_than_the_window_are_forgotten(engine: Engine, hospital) -> None:
    for n in range(4):
        attempt(engine, "boss", f"guess number {n}")
    later = NOW + accounts.FAILURE_WINDOW + timedelta(minutes=1)
    assert attempt(engine, "boss", "another guess", at=later).outcome is SignInOutcome.rejected
    assert attempt(engine, "boss", PASSWORD, at=later).outcome is SignInOutcome.ok


@backends()
def test_new_password_lifts_the_lock(engine: Engine, hospital) -> None:
    for n in range(5):
        attempt(engine, "ed", f"guess number {n}")
    with write_session(engine) as session:
        set_password(session=session, username="ed", password="a brand new passphrase", actor="x")
    assert attempt(engine, "ed", "a brand new passphrase").outcome is SignInOutcome.ok


@backends()
def test_sessions_expire_idle_and_absolute(engine: Engine, hospital, monkeypatch) -> None:
    monkeypatch.setenv("ATTUNE_SESSION_HOURS", "8")
    monkeypatch.setenv("ATTUNE_SESSION_IDLE_MINUTES", "30")
    get_settings.cache_clear()
    ticket = issue_ticket(hospital_account_id(engine, "ed"), now=NOW)
    # Each use refreshes the idle timer, so steady work lasts until the absolute limit...
    moment = NOW
    for _ in range(15):
        moment += timedelta(minutes=29)
        check = check_session(engine=engine, ticket=ticket, now=moment)
        assert check.account is not None and check.account.username == "ed"
        ticket = check.ticket
    assert check_session(engine=engine, ticket=ticket, now=NOW + timedelta(hours=8)).ended is (
        SessionEnd.expired
    )
    # ...and half an hour away ends it.
    fresh = issue_ticket(hospital_account_id(engine, "ed"), now=NOW)
    idle = check_session(engine=engine, ticket=fresh, now=NOW + timedelta(minutes=30))
    assert idle.account is None and idle.ended is SessionEnd.idle


@backends()
def test_a_forged_or_stretched_ticket_is_refused(engine: Engine, hospital) -> None:
    ticket = issue_ticket(hospital_account_id(engine, "ed"), now=NOW)
    forged = [
        accounts.SessionTicket(
            hospital_account_id(engine, "boss"),
            ticket.issued_at,
            ticket.last_seen_at,
            False,
            ticket.signature,
        ),
        accounts.SessionTicket(
            ticket.account_id, NOW + timedelta(hours=7), NOW, False, ticket.signature
        ),
        {"account_id": 1, "role": "admin"},
        "admin",
    ]
    for fake in forged:
        check = check_session(engine=engine, ticket=fake, now=NOW)
        assert check.account is None and check.ended is SessionEnd.invalid


@backends()
def test_session_sees_role_and_department_changes_and_disabling(engine: Engine, hospital) -> None:
    ticket = issue_ticket(hospital_account_id(engine, "ed"), now=NOW)
    with write_session(engine) as session:
        set_departments(session=session, username="ed", departments=["Oncology"], actor="boss")
    check = check_session(engine=engine, ticket=ticket, now=NOW)
    assert check.account is not None
    assert check.account.department_ids == frozenset({hospital["Oncology"]})
    with write_session(engine) as session:
        set_active(session=session, username="ed", active=False, actor="boss")
    assert check_session(engine=engine, ticket=ticket, now=NOW).ended is SessionEnd.revoked


def hospital_account_id(engine: Engine, username: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(Account.id).where(Account.username == username)).one()


@pytest.mark.parametrize(
    ("department_ids", "requested", "allowed"),
    [
        (None, {1, 2, 3}, {1, 2, 3}),
        (frozenset({1}), {1, 2, 3}, {1}),
        (frozenset({1}), {2}, set()),
        (frozenset({1, 2}), set(), set()),
        (frozenset(), {1}, set()),
    ],
    ids=["admin sees all", "manager keeps own", "manager asks for another", "none", "no scope"],
)
def test_allowed_departments(department_ids, requested, allowed) -> None:
    role = "admin" if department_ids is None else "manager"
    account = AccountInfo(1, "someone", role, department_ids)
    assert allowed_departments(account, requested) == frozenset(allowed)


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
    ],
)
def test_bad_accounts_are_refused(engine: Engine, hospital, changes, message) -> None:
    given = {
        "username": "carol",
        "role": "manager",
        "password": PASSWORD,
        "departments": ["Oncology"],
        **changes,
    }
    with (
        pytest.raises(AccountError, match=message.replace("?", r"\?")),
        write_session(engine) as session,
    ):
        create_account(session=session, actor="boss", **given)


@backends()
def test_the_last_administrator_cannot_be_disabled(engine: Engine, hospital) -> None:
    with (
        pytest.raises(AccountError, match="last active administrator"),
        write_session(engine) as session,
    ):
        set_active(session=session, username="boss", active=False, actor="boss")


@backends()
def test_account_changes_are_audited_without_passwords(engine: Engine, hospital) -> None:
    with write_session(engine) as session:
        set_password(session=session, username="ed", password="another long phrase", actor="boss")
        rows = list_accounts(session=session)
        events = session.scalars(select(AuditEvent)).all()
    assert [row.username for row in rows] == ["boss", "ed"]
    assert rows[1].departments == ("Emergency",)
    assert {"account.create", "account.set_password"} <= {event.action for event in events}
    assert not any(
        "another long phrase" in event.detail or PASSWORD in event.detail for event in events
    )


ROLE_MAP = RoleMap.model_validate(
    {
        "groups_claim": "groups",
        "rule": [
            {"role": "admin", "groups": ["attune-admins"]},
            {"role": "manager", "emails": ["Lead@Example.org"], "departments": ["Oncology"]},
            {"role": "manager", "groups": ["ed-managers"], "departments": ["Emergency"]},
        ],
    }
)


@backends()
@pytest.mark.parametrize(
    ("claims", "role", "departments"),
    [
        ({"email": "a@example.org", "groups": ["attune-admins", "ed-managers"]}, "admin", None),
        (
            {"email": "lead@example.org", "groups": "ed-managers"},
            "manager",
            {"Oncology", "Emergency"},
        ),
        ({"email": "lead@example.org", "email_verified": True}, "manager", {"Oncology"}),
        ({"email": "b@example.org", "groups": ["staff"]}, None, None),
        ({"email": "lead@example.org", "email_verified": False}, None, None),
        ({"groups": ["attune-admins"]}, None, None),
    ],
    ids=["admin group", "email and group", "email", "unknown", "unverified email", "no email"],
)
def test_single_sign_on_roles_come_from_the_role_map(
    engine: Engine, hospital, claims, role, departments
) -> None:
    account = sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP, now=NOW)
    if role is None:
        assert account is None
        with read_session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Account)) == 2
        return
    assert account is not None and account.role == role
    assert account.username == claims["email"]
    if departments is None:
        assert account.department_ids is None
    else:
        assert account.department_ids == frozenset(hospital[name] for name in departments)


@backends()
def test_single_sign_on_respects_disabling_and_never_takes_over_a_password_account(
    engine: Engine, hospital
) -> None:
    claims = {"email": "a@example.org", "groups": ["attune-admins"]}
    assert sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP) is not None
    with write_session(engine) as session:
        set_active(session=session, username="a@example.org", active=False, actor="boss")
    assert sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP) is None
    with write_session(engine) as session:
        create_account(
            session=session, username="c@example.org", role="admin", password=PASSWORD, actor="x"
        )
    takeover = {"email": "c@example.org", "groups": ["attune-admins"]}
    assert sso_sign_in(engine=engine, claims=takeover, mapping=ROLE_MAP) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rule = [", "not valid TOML"),
        ('[[rule]]\nrole = "owner"\n', "rule.0.role"),
        ('[[rule]]\nrole = "admin"\nemail = ["a@b.org"]\n', "rule.0.email"),
        ('[[rule]]\nrole = "admin"\ngroups = "admins"\n', "rule.0.groups"),
    ],
)
def test_bad_role_maps_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(content)
    monkeypatch.setenv("ATTUNE_SSO_ROLE_MAP", str(path))
    get_settings.cache_clear()
    with pytest.raises(RoleMapError, match=message):
        accounts.role_map()


def test_role_map_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(
        'groups_claim = "roles"\n\n[[rule]]\nrole = "manager"\nemails = ["x@y.org"]\n'
        'departments = ["Emergency"]\n'
    )
    monkeypatch.setenv("ATTUNE_SSO_ROLE_MAP", str(path))
    get_settings.cache_clear()
    mapping = accounts.role_map()
    assert mapping.groups_claim == "roles"
    assert mapping.grant({"email": "X@y.org"}) == ("manager", ("Emergency",))
    assert mapping.grant({"email": "z@y.org", "roles": ["anything"]}) is None


def test_without_a_role_map_nobody_gets_in_through_sso() -> None:
    assert accounts.role_map().grant({"email": "a@b.org", "groups": ["admins"]}) is None


@backends()
def test_demo_accounts_use_the_configured_password(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("ATTUNE_DEMO_PASSWORD", "demo password 2026")
    get_settings.cache_clear()
    with write_session(engine) as session:
        division = create_division(session=session, name="Acute care")
        create_department(session=session, name="Emergency", division_id=division)
        create_demo_accounts(session=session)
    assert "demo password 2026" not in capsys.readouterr().out
    admin = attempt(engine, "admin", "demo password 2026")
    manager = attempt(engine, "ed.manager", "demo password 2026")
    assert admin.account is not None and admin.account.is_admin
    assert manager.account is not None and len(manager.account.department_ids or ()) == 1


def test_demo_accounts_get_a_generated_password_printed_once(engine: Engine, capsys) -> None:
    with write_session(engine) as session:
        division = create_division(session=session, name="Acute care")
        create_department(session=session, name="Emergency", division_id=division)
        create_account(
            session=session, username="admin", role="admin", password=PASSWORD, actor="x"
        )
        create_demo_accounts(session=session)
    printed = capsys.readouterr().out
    assert printed.startswith("Demo accounts: ed.manager. Password: ")
    password = printed.rsplit(": ", 1)[1].strip()
    assert len(password) >= 12
    assert attempt(engine, "ed.manager", password).outcome is SignInOutcome.ok
    # An existing account keeps its own password.
    assert attempt(engine, "admin", password).outcome is SignInOutcome.rejected
    assert attempt(engine, "admin", PASSWORD).outcome is SignInOutcome.ok


# --- The `attune user` command -----------------------------------------------------------------


def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def cli_database() -> Iterator[Engine]:
    """The database DATABASE_URL names, migrated, with Emergency and Oncology."""
    engine = make_engine(get_settings().database_url)
    migrate(engine)
    with write_session(engine) as session:
        division = create_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology"):
            create_department(session=session, name=name, division_id=division)
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
