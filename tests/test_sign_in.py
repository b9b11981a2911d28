"""Signing in with a password: roles come back, failures are counted, five lock the name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from surveys.access.accounts import create_account, set_active, set_password
from surveys.access.sign_in import FAILURE_WINDOW, LOCK_DURATION, SignInOutcome
from surveys.models import AuditEvent, LoginThrottle
from surveys.storage import make_engine, read_session
from tests.support.accounts import NOW, PASSWORD, attempt
from tests.support.backends import backends

pytestmark = pytest.mark.usefixtures("fast_hashing")


@backends()
def test_right_password_signs_in_with_role_and_departments(
    engine: Engine,
    hospital,  # noqa: F811
) -> None:
    admin = attempt(engine, "boss", PASSWORD)
    manager = attempt(engine, "  ED ", PASSWORD)
    assert admin.outcome is SignInOutcome.ok and admin.account is not None
    assert admin.account.role == "admin" and admin.account.department_ids is None
    assert manager.outcome is SignInOutcome.ok and manager.account is not None
    assert manager.account.department_ids == frozenset({hospital["Emergency"]})


@backends()
@pytest.mark.usefixtures("hospital")
@pytest.mark.parametrize(
    ("username", "password"),
    [("boss", "wrong password entirely"), ("nobody", PASSWORD), ("boss", ""), ("", PASSWORD)],
    ids=["wrong password", "unknown user", "empty password", "empty username"],
)
def test_wrong_credentials_are_rejected_alike(engine: Engine, username: str, password: str) -> None:
    result = attempt(engine, username, password)
    assert result.outcome is SignInOutcome.rejected
    assert result.account is None


@backends()
@pytest.mark.usefixtures("hospital")
def test_disabled_and_single_sign_on_accounts_cannot_use_a_password(engine: Engine) -> None:
    set_active(engine=engine, username="ed", active=False, actor="boss")
    create_account(
        engine=engine, username="sso.only@example.org", role="admin", password=None, actor="boss"
    )
    assert attempt(engine, "ed", PASSWORD).outcome is SignInOutcome.rejected
    assert attempt(engine, "sso.only@example.org", "").outcome is SignInOutcome.rejected


@backends()
@pytest.mark.usefixtures("hospital")
@pytest.mark.parametrize("username", ["boss", "nobody"], ids=["known", "unknown"])
def test_five_failures_lock_a_username_known_or_not(engine: Engine, username: str) -> None:
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
@pytest.mark.usefixtures("hospital")
def test_lock_survives_a_restart_and_then_expires(engine: Engine, database_url: str) -> None:
    for n in range(5):
        attempt(engine, "boss", f"guess number {n}")
    engine.dispose()
    restarted = make_engine(database_url)
    try:
        locked_at = NOW + timedelta(minutes=14)
        assert attempt(restarted, "boss", PASSWORD, at=locked_at).outcome is SignInOutcome.locked
        later = NOW + LOCK_DURATION + timedelta(seconds=1)
        assert attempt(restarted, "boss", PASSWORD, at=later).outcome is SignInOutcome.ok
        with read_session(restarted) as session:
            assert session.get(LoginThrottle, "boss") is None
    finally:
        restarted.dispose()


@backends()
@pytest.mark.usefixtures("hospital")
def test_failures_older_than_the_window_are_forgotten(engine: Engine) -> None:
    for n in range(4):
        attempt(engine, "boss", f"guess number {n}")
    later = NOW + FAILURE_WINDOW + timedelta(minutes=1)
    assert attempt(engine, "boss", "another guess", at=later).outcome is SignInOutcome.rejected
    assert attempt(engine, "boss", PASSWORD, at=later).outcome is SignInOutcome.ok


@backends()
@pytest.mark.usefixtures("hospital")
def test_new_password_lifts_the_lock(engine: Engine) -> None:
    for n in range(5):
        attempt(engine, "ed", f"guess number {n}")
    set_password(engine=engine, username="ed", password="a brand new passphrase", actor="x")
    assert attempt(engine, "ed", "a brand new passphrase").outcome is SignInOutcome.ok
