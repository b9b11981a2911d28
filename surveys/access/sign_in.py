"""Signing in with a password: failures counted per username, a lock after too many, sign-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, delete, or_, select
from sqlmodel import Session, col

from surveys import audit
from surveys.access.accounts import AccountInfo, _find, _load_account
from surveys.access.passwords import (
    PASSWORD_MAX_LENGTH,
    hash_password,
    is_username,
    needs_rehash,
    normalise_username,
    verify_password,
)
from surveys.audit import as_utc
from surveys.clock import utc_now
from surveys.models import Account, LoginThrottle
from surveys.storage import dialect_insert, read_session, write_session

# Failed sign-ins: this many within the window lock the username for the lock time.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)


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


def _throttle_row(session: Session, username: str, now: datetime) -> LoginThrottle:
    """The throttle row for `username`, created if missing, locked for this transaction."""
    session.execute(
        dialect_insert(session)(LoginThrottle)
        .values(username=username, failures=0, window_started=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["username"])
    )
    row = session.scalars(
        select(LoginThrottle)
        .where(col(LoginThrottle.username) == username)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row


def _is_locked(session: Session, name: str, now: datetime) -> bool:
    throttle = session.get(LoginThrottle, name)
    return bool(
        throttle and throttle.locked_until is not None and as_utc(throttle.locked_until) > now
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
    # Length first, whatever the username: an over-long password is always told as such.
    if len(password) > PASSWORD_MAX_LENGTH:
        return SignInResult(SignInOutcome.too_long)
    name = normalise_username(username)
    if not name or not password:
        return SignInResult(SignInOutcome.rejected)
    if not is_username(name):
        return SignInResult(SignInOutcome.rejected)
    with read_session(engine) as session:
        if _is_locked(session, name, now):
            return SignInResult(SignInOutcome.locked)
        account = _find(session, name)
        stored_hash = account.password_hash if account is not None and account.active else None
        account_id = account.id if account is not None else None
    # The slow hash is checked outside the write transaction so it never holds the lock.
    matched = verify_password(stored_hash, password)
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
                and needs_rehash(account.password_hash)
            ):
                account.password_hash = hash_password(password)
                session.add(account)
            audit.record(session=session, actor=name, action="sign_in", detail="password", at=now)
            info = _load_account(session, account_id)
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
            col(LoginThrottle.window_started) < now - FAILURE_WINDOW - LOCK_DURATION,
            or_(col(LoginThrottle.locked_until).is_(None), col(LoginThrottle.locked_until) < now),
        )
        .execution_options(synchronize_session=False)
    )


def record_sign_out(*, engine: Engine, account: AccountInfo) -> None:
    with write_session(engine) as session:
        audit.record(session=session, actor=account.username, action="sign_out")
