"""Accounts for administrators and managers: creating and changing them, listing, scope.

Staff who answer surveys never have accounts. An administrator sees and runs everything; a
manager sees results for the departments assigned to them and nothing else. That scope is
enforced in the queries that take `department_scope(account)`, never by hiding widgets.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, func, select
from sqlmodel import Session, col

from surveys import audit
from surveys.access.passwords import (
    AccountError,
    check_password,
    check_username,
    hash_password,
    is_username,
    normalise_username,
)
from surveys.audit import as_utc
from surveys.clock import utc_now
from surveys.config import get_settings
from surveys.models import Account, AccountDepartment, AccountRole, Department, LoginThrottle
from surveys.organisation.structure import OrganisationError, department_ids_by_name
from surveys.storage import read_session, write_session
from surveys.text import EMAIL_MAX_LENGTH, hidden_characters

# An email address is at most 254 characters (RFC 5321's path limit); the column holds 320.
# Unicode categories of control, format and unpaired surrogate characters.

DEMO_ADMIN = "admin"
DEMO_MANAGER = "ed.manager"
DEMO_MANAGER_DEPARTMENT = "Emergency"


@dataclass(frozen=True)
class AccountInfo:
    """Who is signed in, as every scoped query needs it.

    `department_ids` is None for an administrator, meaning every department.
    """

    id: int
    username: str
    role: str
    department_ids: frozenset[int] | None
    display_name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == AccountRole.admin

    @property
    def label(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class AccountSummary:
    """One account as the administrators' list shows it."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    departments: tuple[str, ...]
    sign_in: str  # "password" or "single sign-on"
    locked: bool


@dataclass(frozen=True)
class DemoAccounts:
    """The demo accounts `attune demo` made, for the command to tell the operator."""

    created: tuple[str, ...]
    # The generated password (the only time it exists in the clear; it is stored only as a
    # hash), or None when ATTUNE_DEMO_PASSWORD chose it and it must not be shown.
    password: str | None
    refused: tuple[tuple[str, str], ...] = ()  # (username, why) for each not created


# --- Plain text ----------------------------------------------------------------------------


def _check_plain(text: str, what: str) -> None:
    hidden = hidden_characters(text)
    if hidden:
        raise AccountError(
            f"the {what} contains invisible or control characters ({', '.join(hidden[:3])}); "
            "type it again"
        )


# --- Helpers that work inside the caller's transaction -----------------------------------------
# Used by sign_in, tickets and sso within their own sessions; everything public takes `engine=`.


def _find(session: Session, username: str) -> Account | None:
    name = normalise_username(username)
    if not is_username(name):
        return None  # no account has such a name; and PostgreSQL refuses NUL in a query
    return session.scalars(select(Account).where(col(Account.username) == name)).first()


def _require(session: Session, username: str) -> Account:
    account = _find(session, username)
    if account is None:
        name = normalise_username(username)
        shown = name if len(name) <= 120 else name[:120] + "…"
        raise AccountError(f"there is no account called {shown!r}")
    return account


def _department_ids(session: Session, role: str, departments: Sequence[str]) -> frozenset[int]:
    if role == AccountRole.admin:
        if departments:
            raise AccountError("administrators see every department; give departments to managers")
        return frozenset()
    try:
        return department_ids_by_name(session=session, names=departments)
    except OrganisationError as error:
        raise AccountError(str(error)) from None


def _set_departments(session: Session, account_id: int, department_ids: Iterable[int]) -> None:
    session.execute(
        delete(AccountDepartment).where(col(AccountDepartment.account_id) == account_id)
    )
    for department_id in sorted(department_ids):
        session.add(AccountDepartment(account_id=account_id, department_id=department_id))
    session.flush()


def _load_account(session: Session, account_id: int) -> AccountInfo | None:
    """The account as it is now (role and departments re-read), or None if disabled or gone."""
    account = session.get(Account, account_id)
    if account is None or not account.active or account.id is None:
        return None
    department_ids: frozenset[int] | None = None
    if account.role != AccountRole.admin:
        department_ids = frozenset(
            session.scalars(
                select(col(AccountDepartment.department_id)).where(
                    col(AccountDepartment.account_id) == account.id
                )
            )
        )
    return AccountInfo(
        account.id, account.username, account.role, department_ids, account.display_name
    )


# --- Creating and changing accounts ------------------------------------------------------------


def create_account(
    *,
    engine: Engine,
    username: str,
    role: str,
    password: str | None,
    departments: Sequence[str] = (),
    display_name: str = "",
    email: str | None = None,
    actor: str,
) -> int:
    """A new account. `password` None makes an account that can only use single sign-on."""
    with write_session(engine) as session:
        return _create_account(
            session,
            username=username,
            role=role,
            password=password,
            departments=departments,
            display_name=display_name,
            email=email,
            actor=actor,
        )


def _create_account(
    session: Session,
    *,
    username: str,
    role: str,
    password: str | None,
    departments: Sequence[str],
    display_name: str,
    email: str | None,
    actor: str,
) -> int:
    name = check_username(username)
    if role not in AccountRole.__members__:
        raise AccountError("the role must be admin or manager")
    if role == AccountRole.manager and not departments:
        raise AccountError("a manager needs at least one department")
    if password is not None:
        check_password(password, username=name)
    _check_plain(display_name, "display name")
    email = (email or "").strip().lower() or None
    if email is not None:
        _check_plain(email, "email address")
        if len(email) > EMAIL_MAX_LENGTH:
            raise AccountError(f"an email address has at most {EMAIL_MAX_LENGTH} characters")
    if _find(session, name) is not None:
        raise AccountError(f"there is already an account called {name!r}")
    if (
        email is not None
        and session.scalars(select(col(Account.id)).where(col(Account.email) == email)).first()
    ):
        raise AccountError("another account already has that email address")
    department_ids = _department_ids(session, role, departments)
    account = Account(
        username=name,
        display_name=display_name.strip()[:200],
        email=email,
        role=role,
        password_hash=hash_password(password) if password is not None else None,
        active=True,
        created_at=utc_now(),
    )
    session.add(account)
    session.flush()
    assert account.id is not None
    _set_departments(session, account.id, department_ids)
    audit.record(
        session=session,
        actor=actor,
        action="account.create",
        detail=f"{name} ({role})" + (f": {', '.join(departments)}" if departments else ""),
    )
    return account.id


def set_password(*, engine: Engine, username: str, password: str, actor: str) -> None:
    """Give an account a new password and lift any sign-in lock on it."""
    with write_session(engine) as session:
        account = _require(session, username)
        check_password(password, username=account.username)
        account.password_hash = hash_password(password)
        session.add(account)
        session.execute(
            delete(LoginThrottle).where(col(LoginThrottle.username) == account.username)
        )
        session.flush()
        audit.record(
            session=session, actor=actor, action="account.set_password", detail=account.username
        )


def set_active(*, engine: Engine, username: str, active: bool, actor: str) -> None:
    """Disable an account (its sessions end at their next page load) or enable it again."""
    with write_session(engine) as session:
        account = _require(session, username)
        if not active and account.role == AccountRole.admin and account.active:
            others = session.scalar(
                select(func.count())
                .select_from(Account)
                .where(
                    col(Account.role) == AccountRole.admin,
                    col(Account.active) == True,  # noqa: E712 - SQL expression
                    col(Account.id) != account.id,
                )
            )
            if not others:
                raise AccountError("the last active administrator cannot be disabled")
        account.active = active
        session.add(account)
        session.flush()
        action = "account.enable" if active else "account.disable"
        audit.record(session=session, actor=actor, action=action, detail=account.username)


def set_departments(
    *, engine: Engine, username: str, departments: Sequence[str], actor: str
) -> None:
    """Replace the departments a manager may see."""
    with write_session(engine) as session:
        account = _require(session, username)
        if account.role != AccountRole.manager:
            raise AccountError("only managers have departments; administrators see every one")
        if not departments:
            raise AccountError("a manager needs at least one department")
        assert account.id is not None
        _set_departments(session, account.id, _department_ids(session, account.role, departments))
        audit.record(
            session=session,
            actor=actor,
            action="account.set_departments",
            detail=f"{account.username}: {', '.join(departments)}",
        )


def unlock(*, engine: Engine, username: str, actor: str) -> bool:
    """Lift a sign-in lock; returns whether there was one."""
    name = normalise_username(username)
    if not is_username(name):
        return False
    with write_session(engine) as session:
        # A DELETE without RETURNING gives a CursorResult; Session.execute is typed as Result.
        removed = cast(
            CursorResult[Any],
            session.execute(delete(LoginThrottle).where(col(LoginThrottle.username) == name)),
        )
        if removed.rowcount:
            audit.record(session=session, actor=actor, action="account.unlock", detail=name)
        return bool(removed.rowcount)


# --- Reading accounts --------------------------------------------------------------------------


def list_accounts(*, engine: Engine, now: datetime | None = None) -> list[AccountSummary]:
    now = now or utc_now()
    with read_session(engine) as session:
        names: dict[int, list[str]] = {}
        for account_id, name in session.execute(
            select(col(AccountDepartment.account_id), col(Department.name))
            .join(Department, col(Department.id) == AccountDepartment.department_id)
            .order_by(Department.name)
        ):
            names.setdefault(account_id, []).append(name)
        locked = {
            throttle.username
            for throttle in session.scalars(select(LoginThrottle))
            if throttle.locked_until is not None and as_utc(throttle.locked_until) > now
        }
        return [
            AccountSummary(
                id=account.id,
                username=account.username,
                display_name=account.display_name,
                role=account.role,
                active=account.active,
                departments=tuple(names.get(account.id, ())),
                sign_in="password" if account.password_hash else "single sign-on",
                locked=account.username in locked,
            )
            for account in session.scalars(select(Account).order_by(Account.username))
            if account.id is not None
        ]


def has_accounts(*, engine: Engine) -> bool:
    """Whether anyone at all can sign in (a new installation has nobody yet)."""
    with read_session(engine) as session:
        active = select(col(Account.id)).where(col(Account.active) == True).limit(1)  # noqa: E712
        return session.scalars(active).first() is not None


def account_named(*, engine: Engine, username: str) -> AccountInfo:
    """The active account called `username`, as the command line's `--as` acts for it.

    Raises AccountError when there is no such account or it is disabled.
    """
    with read_session(engine) as session:
        account = _require(session, username)
        assert account.id is not None
        info = _load_account(session, account.id)
    if info is None:
        raise AccountError(f"the account {account.username!r} is disabled")
    return info


def department_scope(account: AccountInfo) -> frozenset[int] | None:
    """The departments a query for `account` must be limited to; None means all of them.

    Every reporting query takes this as its `departments`: a manager's other departments,
    however asked for (a URL, session state), are never read.
    """
    return account.department_ids


# --- The demo ----------------------------------------------------------------------------------


def create_demo_accounts(*, session: Session, actor: str = "attune demo") -> DemoAccounts:
    """Give the demo an administrator and an Emergency manager; say what was made.

    Takes the caller's session, unlike the functions above: the demo loads everything in one
    transaction. The password comes from ATTUNE_DEMO_PASSWORD, or is generated here.
    Accounts that already exist are left alone.
    """
    configured = get_settings().demo_password
    password = secrets.token_urlsafe(12) if configured is None else configured.get_secret_value()
    emergency = [
        name
        for name in session.scalars(select(col(Department.name)).order_by(Department.name))
        if name == DEMO_MANAGER_DEPARTMENT or name.startswith(f"{DEMO_MANAGER_DEPARTMENT} – ")
    ]
    made: list[str] = []
    refused: list[tuple[str, str]] = []
    for username, role, departments in (
        (DEMO_ADMIN, AccountRole.admin.value, ()),
        (DEMO_MANAGER, AccountRole.manager.value, tuple(emergency)),
    ):
        if _find(session, username) is not None or (role == "manager" and not departments):
            continue
        try:
            _create_account(
                session,
                username=username,
                role=role,
                password=password,
                departments=departments,
                display_name="Demo administrator" if role == "admin" else "Demo Emergency manager",
                email=None,
                actor=actor,
            )
        except AccountError as error:
            refused.append((username, str(error)))
            continue
        made.append(username)
    return DemoAccounts(
        created=tuple(made),
        password=password if configured is None else None,
        refused=tuple(refused),
    )
