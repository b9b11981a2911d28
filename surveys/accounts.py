"""Accounts for administrators and managers: passwords, throttled sign-in, sessions, scope, SSO.

Staff who answer surveys never have accounts. An administrator sees and runs everything; a
manager sees results for the departments assigned to them and nothing else. That scope is
enforced here and in the queries that take an `AccountInfo`, never by hiding widgets.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from surveys import audit
from surveys.audit import as_utc
from surveys.config import get_settings
from surveys.models import (
    Account,
    AccountDepartment,
    AccountRole,
    Department,
    LoginThrottle,
)
from surveys.organisation import OrganisationError, department_ids_by_name
from surveys.storage import read_session, write_session

_LOGGER = logging.getLogger(__name__)

# Failed sign-ins: this many within the window lock the username for the lock time.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)

PASSWORD_MIN_LENGTH = 12
# argon2 would hash a megabyte happily; a cap keeps a sign-in form from being used to burn CPU.
PASSWORD_MAX_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@+-]{1,119}$")
EMAIL_MAX_LENGTH = 320  # the account table's column
# Unicode categories of control, format and unpaired surrogate characters.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

DEMO_ADMIN = "admin"
DEMO_MANAGER = "ed.manager"
DEMO_MANAGER_DEPARTMENT = "Emergency"

# argon2id with the library's defaults (RFC 9106's second recommended option).
_hasher = PasswordHasher()

# Signs the session tickets this process hands out. Tickets live only in Streamlit's
# server-side session state, which does not outlive the process, so neither need this key.
_TICKET_KEY = secrets.token_bytes(32)


class AccountError(ValueError):
    """An account change that cannot be made; the message says why."""


class PermissionDenied(PermissionError):
    """The signed-in account may not do or see this."""


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


class SignInOutcome(StrEnum):
    ok = "ok"
    rejected = "rejected"
    locked = "locked"
    # The password is longer than any can be: refused before hashing, and not counted as a failure.
    too_long = "too_long"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    account: AccountInfo | None = None


@dataclass(frozen=True)
class SessionTicket:
    """Proof, kept in the server-side session, that an account signed in at `issued_at`.

    Signed so that nothing that can write session state can forge or stretch one.
    """

    account_id: int
    issued_at: datetime
    last_seen_at: datetime
    sso: bool
    signature: str


class SessionEnd(StrEnum):
    expired = "expired"  # past ATTUNE_SESSION_HOURS since sign-in
    idle = "idle"  # unused for longer than ATTUNE_SESSION_IDLE_MINUTES
    revoked = "revoked"  # account disabled or removed
    invalid = "invalid"  # not a ticket this process issued


@dataclass(frozen=True)
class SessionCheck:
    account: AccountInfo | None
    ticket: SessionTicket | None
    ended: SessionEnd | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- Usernames and passwords -------------------------------------------------------------------


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _is_username(name: str) -> bool:
    """Whether `name` (normalised) could be a username at all; nothing else is looked up."""
    return USERNAME_PATTERN.fullmatch(name) is not None


def hidden_characters(text: str) -> list[str]:
    """The control, format (bidirectional overrides, zero-width spaces) and unpaired surrogate
    characters in `text`, as U+XXXX: they disguise what a name says, and PostgreSQL cannot
    store NUL at all."""
    return [
        f"U+{ord(character):04X}"
        for character in dict.fromkeys(text)
        if unicodedata.category(character) in _HIDDEN_CATEGORIES
    ]


def _check_plain(text: str, what: str) -> None:
    hidden = hidden_characters(text)
    if hidden:
        raise AccountError(
            f"the {what} contains invisible or control characters ({', '.join(hidden[:3])}); "
            "type it again"
        )


def _without_hidden_characters(text: str) -> str:
    return "".join(
        character for character in text if unicodedata.category(character) not in _HIDDEN_CATEGORIES
    )


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        raise AccountError(
            "a username is 2 to 120 characters: letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str, *, username: str = "") -> None:
    """Refuse passwords too short to resist guessing, too long to hash cheaply, or the name."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"the password must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"the password must be at most {PASSWORD_MAX_LENGTH} characters")
    if any(unicodedata.category(character) == "Cs" for character in password):
        # Unpaired surrogates (undecodable bytes from a terminal) cannot be hashed as UTF-8.
        raise AccountError("the password contains bytes that are not text; type it again")
    if username and normalise_username(username) in password.lower():
        raise AccountError("the password must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def _verify(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, check against a dummy hash (to defeat timing attacks
    that would tell unknown usernames from known ones) and fail."""
    try:
        matched = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError):
        # UnicodeEncodeError: an unpaired surrogate, which no stored password contains.
        return False
    return matched and password_hash is not None


# --- Creating and changing accounts ------------------------------------------------------------


def _find(session: Session, username: str) -> Account | None:
    name = normalise_username(username)
    if not _is_username(name):
        return None  # no account has such a name; and PostgreSQL refuses NUL in a query
    return session.scalars(select(Account).where(Account.username == name)).first()


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
    session.execute(delete(AccountDepartment).where(AccountDepartment.account_id == account_id))
    for department_id in sorted(department_ids):
        session.add(AccountDepartment(account_id=account_id, department_id=department_id))
    session.flush()


def create_account(
    *,
    session: Session,
    username: str,
    role: str,
    password: str | None,
    departments: Sequence[str] = (),
    display_name: str = "",
    email: str | None = None,
    actor: str,
) -> int:
    """A new account. `password` None makes an account that can only use single sign-on."""
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
        and session.scalars(select(Account.id).where(Account.email == email)).first()
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


def set_password(*, session: Session, username: str, password: str, actor: str) -> None:
    """Give an account a new password and lift any sign-in lock on it."""
    account = _require(session, username)
    check_password(password, username=account.username)
    account.password_hash = hash_password(password)
    session.add(account)
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == account.username))
    session.flush()
    audit.record(
        session=session, actor=actor, action="account.set_password", detail=account.username
    )


def set_active(*, session: Session, username: str, active: bool, actor: str) -> None:
    """Disable an account (its sessions end at their next page load) or enable it again."""
    account = _require(session, username)
    if not active and account.role == AccountRole.admin and account.active:
        others = session.scalar(
            select(func.count())
            .select_from(Account)
            .where(
                Account.role == AccountRole.admin,
                Account.active == True,  # noqa: E712 - SQL expression
                Account.id != account.id,
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
    *, session: Session, username: str, departments: Sequence[str], actor: str
) -> None:
    """Replace the departments a manager may see."""
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


def unlock(*, session: Session, username: str, actor: str) -> bool:
    """Lift a sign-in lock; returns whether there was one."""
    name = normalise_username(username)
    if not _is_username(name):
        return False
    removed = session.execute(delete(LoginThrottle).where(LoginThrottle.username == name))
    if removed.rowcount:
        audit.record(session=session, actor=actor, action="account.unlock", detail=name)
    return bool(removed.rowcount)


def list_accounts(*, session: Session, now: datetime | None = None) -> list[AccountSummary]:
    now = now or utc_now()
    names: dict[int, list[str]] = {}
    for account_id, name in session.execute(
        select(AccountDepartment.account_id, Department.name)
        .join(Department, Department.id == AccountDepartment.department_id)
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
        active = select(Account.id).where(Account.active == True).limit(1)  # noqa: E712
        return session.scalars(active).first() is not None


def load_account(*, session: Session, account_id: int) -> AccountInfo | None:
    """The account as it is now (role and departments re-read), or None if disabled or gone."""
    account = session.get(Account, account_id)
    if account is None or not account.active or account.id is None:
        return None
    department_ids: frozenset[int] | None = None
    if account.role != AccountRole.admin:
        department_ids = frozenset(
            session.scalars(
                select(AccountDepartment.department_id).where(
                    AccountDepartment.account_id == account.id
                )
            )
        )
    return AccountInfo(
        account.id, account.username, account.role, department_ids, account.display_name
    )


# --- Signing in --------------------------------------------------------------------------------


def _throttle_row(session: Session, username: str, now: datetime) -> LoginThrottle:
    """The throttle row for `username`, created if missing, locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(username=username, failures=0, window_started=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["username"])
    )
    row = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.username == username)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row


def is_locked(*, session: Session, username: str, now: datetime | None = None) -> bool:
    name = normalise_username(username)
    if not _is_username(name):
        return False
    throttle = session.get(LoginThrottle, name)
    return bool(
        throttle
        and throttle.locked_until is not None
        and as_utc(throttle.locked_until) > (now or utc_now())
    )


def sign_in(
    *, engine: Engine, username: str, password: str, now: datetime | None = None
) -> SignInResult:
    """Check a username and password, counting failures per username (known or not).

    The result never says whether the username exists: unknown names, disabled accounts,
    single-sign-on-only accounts and wrong passwords are all just `rejected`, after the
    same argon2 work, and unknown names are locked out exactly like known ones.

    What cannot be a username or a password is refused before any hashing and writes
    nothing: a name no account could have (`rejected`: it tells nothing about who exists)
    and a password longer than PASSWORD_MAX_LENGTH (`too_long`), which would
    otherwise make argon2 a way to burn CPU.
    """
    now = now or utc_now()
    if not isinstance(username, str) or not isinstance(password, str):
        return SignInResult(SignInOutcome.rejected)
    name = normalise_username(username)
    if not name or not password:
        return SignInResult(SignInOutcome.rejected)
    if len(password) > PASSWORD_MAX_LENGTH:
        return SignInResult(SignInOutcome.too_long)
    if not _is_username(name):
        return SignInResult(SignInOutcome.rejected)
    with read_session(engine) as session:
        if is_locked(session=session, username=name, now=now):
            return SignInResult(SignInOutcome.locked)
        account = _find(session, name)
        stored_hash = account.password_hash if account is not None and account.active else None
        account_id = account.id if account is not None else None
    # The slow hash is checked outside the write transaction so it never holds the lock.
    matched = _verify(stored_hash, password)
    with write_session(engine) as session:
        throttle = _throttle_row(session, name, now)
        if throttle.locked_until is not None and as_utc(throttle.locked_until) > now:
            return SignInResult(SignInOutcome.locked)
        if matched and account_id is not None:
            session.delete(throttle)
            account = session.get(Account, account_id)
            if (
                account is not None
                and account.password_hash
                and _hasher.check_needs_rehash(account.password_hash)
            ):
                account.password_hash = hash_password(password)
                session.add(account)
            audit.record(session=session, actor=name, action="sign_in", detail="password", at=now)
            info = load_account(session=session, account_id=account_id)
            if info is not None:
                return SignInResult(SignInOutcome.ok, info)
            return SignInResult(SignInOutcome.rejected)
        if as_utc(throttle.window_started) + FAILURE_WINDOW <= now:
            throttle.window_started, throttle.failures = now, 0
        throttle.failures += 1
        outcome = SignInOutcome.rejected
        if throttle.failures >= MAX_FAILURES:
            throttle.locked_until = now + LOCK_DURATION
            throttle.failures, throttle.window_started = 0, now
            outcome = SignInOutcome.locked
            audit.record(
                session=session,
                actor=name,
                action="sign_in.locked",
                detail=f"{MAX_FAILURES} failed sign-ins within "
                f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes",
                at=now,
            )
        session.add(throttle)
        _forget_stale_throttles(session, now)
        return SignInResult(outcome)


def _forget_stale_throttles(session: Session, now: datetime) -> None:
    # Unknown usernames would otherwise pile up forever.
    session.execute(
        delete(LoginThrottle)
        .where(
            LoginThrottle.window_started < now - FAILURE_WINDOW - LOCK_DURATION,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
        .execution_options(synchronize_session=False)
    )


def record_sign_out(*, engine: Engine, account: AccountInfo) -> None:
    with write_session(engine) as session:
        audit.record(session=session, actor=account.username, action="sign_out")


# --- Sessions ----------------------------------------------------------------------------------


def _signature(account_id: int, issued_at: datetime, last_seen_at: datetime, sso: bool) -> str:
    message = f"{account_id}|{issued_at.isoformat()}|{last_seen_at.isoformat()}|{int(sso)}"
    return hmac.new(_TICKET_KEY, message.encode(), hashlib.sha256).hexdigest()


def issue_ticket(
    account_id: int,
    *,
    now: datetime | None = None,
    issued_at: datetime | None = None,
    sso: bool = False,
) -> SessionTicket:
    now = now or utc_now()
    issued_at = issued_at or now
    return SessionTicket(
        account_id, issued_at, now, sso, _signature(account_id, issued_at, now, sso)
    )


def check_session(*, engine: Engine, ticket: object, now: datetime | None = None) -> SessionCheck:
    """Whether a ticket still admits its account; if so, the account as it is now (so role,
    department and disabling changes apply at once) and a refreshed ticket."""
    now = now or utc_now()
    if not isinstance(ticket, SessionTicket) or not hmac.compare_digest(
        ticket.signature,
        _signature(ticket.account_id, ticket.issued_at, ticket.last_seen_at, ticket.sso),
    ):
        return SessionCheck(None, None, SessionEnd.invalid)
    settings = get_settings()
    if now - ticket.issued_at >= timedelta(hours=settings.session_hours):
        return SessionCheck(None, None, SessionEnd.expired)
    if now - ticket.last_seen_at >= timedelta(minutes=settings.session_idle_minutes):
        return SessionCheck(None, None, SessionEnd.idle)
    with read_session(engine) as session:
        account = load_account(session=session, account_id=ticket.account_id)
    if account is None:
        return SessionCheck(None, None, SessionEnd.revoked)
    refreshed = issue_ticket(account.id, now=now, issued_at=ticket.issued_at, sso=ticket.sso)
    return SessionCheck(account, refreshed)


# --- Scope -------------------------------------------------------------------------------------


def allowed_departments(account: AccountInfo, requested: Iterable[int]) -> frozenset[int]:
    """The departments of `requested` that `account` may see: all of them for an
    administrator, only those assigned for a manager. Anything else is dropped, so a
    department id smuggled in through a URL or session state simply returns nothing."""
    wanted = frozenset(requested)
    if account.department_ids is None:
        return wanted
    return wanted & account.department_ids


def department_scope(account: AccountInfo) -> frozenset[int] | None:
    """The departments a query for `account` must be limited to; None means all of them."""
    return account.department_ids


def require_admin(account: AccountInfo | None) -> AccountInfo:
    if account is None or not account.is_admin:
        raise PermissionDenied("this needs an administrator")
    return account


# --- Single sign-on ----------------------------------------------------------------------------


class RoleMapError(ValueError):
    """The single sign-on role map cannot be used; the message names the file and problem."""


class _RoleRule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    role: Literal["admin", "manager"]
    emails: list[str] = []
    groups: list[str] = []
    departments: list[str] = []


class RoleMap(BaseModel):
    """Who gets which role through single sign-on (see the README for the file format)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    groups_claim: str = "groups"
    rules: list[_RoleRule] = Field(default=[], alias="rule")

    def grant(self, claims: Mapping[str, object]) -> tuple[str, tuple[str, ...]] | None:
        """The role and department names the claims earn, or None for no access.

        An administrator rule wins over manager rules; managers get the union of the
        departments of every rule they match.
        """
        email = claims.get("email")
        # An address the provider has not verified could belong to anyone.
        if claims.get("email_verified") is False or not isinstance(email, str):
            email = ""
        email = email.strip().lower()
        raw_groups = claims.get(self.groups_claim)
        if isinstance(raw_groups, str):
            groups = {raw_groups}
        elif isinstance(raw_groups, list | tuple):
            groups = {str(group) for group in raw_groups}
        else:
            groups = set()
        matched = [
            rule
            for rule in self.rules
            if (email and email in {address.lower() for address in rule.emails})
            or groups & set(rule.groups)
        ]
        if not matched:
            return None
        if any(rule.role == AccountRole.admin for rule in matched):
            return AccountRole.admin.value, ()
        departments: list[str] = []
        for rule in matched:
            departments += [name for name in rule.departments if name not in departments]
        return AccountRole.manager.value, tuple(departments)


@functools.lru_cache(maxsize=4)
def _load_role_map(path: Path, modified: float) -> RoleMap:
    del modified  # part of the cache key: an edited file is read again
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return RoleMap.model_validate(data)
    except OSError as error:
        raise RoleMapError(f"{path}: cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise RoleMapError(f"{path.name}: not valid TOML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RoleMapError(f"{path.name}: {where}: {first['msg']}") from None


def role_map() -> RoleMap:
    """The role map ATTUNE_SSO_ROLE_MAP names; without one, nobody gets in through SSO."""
    path = get_settings().sso_role_map
    if path is None:
        return RoleMap()
    try:
        modified = path.stat().st_mtime
    except OSError as error:
        raise RoleMapError(f"{path}: cannot be read: {error.strerror}") from None
    return _load_role_map(path, modified)


def sso_sign_in(
    *,
    engine: Engine,
    claims: Mapping[str, object],
    mapping: RoleMap,
    now: datetime | None = None,
) -> AccountInfo | None:
    """The account for someone the identity provider vouched for, or None for no access.

    The role map decides the role and departments at every sign-in. Attune keeps an account
    row (username = email, no password) so that the audit log names the person and
    `attune user disable` can shut them out whatever the identity provider says.
    """
    grant = mapping.grant(claims)
    email = str(claims.get("email") or "").strip().lower()
    if grant is None or not email or hidden_characters(email) or len(email) > EMAIL_MAX_LENGTH:
        return None
    role, department_names = grant
    with write_session(engine) as session:
        account = session.scalars(
            select(Account).where(or_(Account.email == email, Account.username == email))
        ).first()
        if account is not None and (account.password_hash or not account.active):
            # A password account is not taken over by an identity provider's say-so.
            return None
        known = {
            department.name.lower(): department.id
            for department in session.scalars(select(Department))
        }
        department_ids = {known[name.lower()] for name in department_names if name.lower() in known}
        missing = [name for name in department_names if name.lower() not in known]
        if missing:
            _LOGGER.warning("SSO role map names unknown departments: %s", ", ".join(missing))
        if account is None:
            if not USERNAME_PATTERN.match(email[:120]):
                return None
            account = Account(
                username=email[:120],
                display_name=_without_hidden_characters(str(claims.get("name") or ""))[:200],
                email=email,
                role=role,
                password_hash=None,
                active=True,
                created_at=now or utc_now(),
            )
            session.add(account)
            session.flush()
            audit.record(
                session=session, actor=email, action="account.create", detail="single sign-on"
            )
        account.role = role
        session.add(account)
        session.flush()
        assert account.id is not None
        _set_departments(session, account.id, department_ids if role != AccountRole.admin else ())
        audit.record(
            session=session, actor=account.username, action="sign_in", detail="single sign-on"
        )
        return load_account(session=session, account_id=account.id)


# --- The demo ----------------------------------------------------------------------------------


def create_demo_accounts(*, session: Session) -> None:
    """Give the demo an administrator and an Emergency manager, and say how to sign in.

    The password comes from ATTUNE_DEMO_PASSWORD, or is generated and printed this once.
    Accounts that already exist are left alone.
    """
    settings = get_settings()
    generated = settings.demo_password is None
    password = (
        secrets.token_urlsafe(12) if generated else settings.demo_password.get_secret_value()  # type: ignore[union-attr]
    )
    emergency = [
        name
        for name in session.scalars(select(Department.name).order_by(Department.name))
        if name == DEMO_MANAGER_DEPARTMENT or name.startswith(f"{DEMO_MANAGER_DEPARTMENT} – ")
    ]
    made = []
    for username, role, departments in (
        (DEMO_ADMIN, AccountRole.admin.value, ()),
        (DEMO_MANAGER, AccountRole.manager.value, tuple(emergency)),
    ):
        if _find(session, username) is not None or (role == "manager" and not departments):
            continue
        try:
            create_account(
                session=session,
                username=username,
                role=role,
                password=password,
                departments=departments,
                display_name="Demo administrator" if role == "admin" else "Demo Emergency manager",
                actor="attune demo",
            )
        except AccountError as error:
            print(f"Demo account {username} not created: {error}")
            continue
        made.append(username)
    if not made:
        return
    shown = password if generated else "(the value of ATTUNE_DEMO_PASSWORD)"
    # The only time a generated password exists in the clear; it is stored only as a hash.
    print(f"Demo accounts: {' and '.join(made)}. Password: {shown}")
