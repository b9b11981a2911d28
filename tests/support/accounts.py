"""The test accounts' password, a fixed "now", cheap argon2, and signing in as a test would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from surveys.access import passwords
from surveys.access.sign_in import SignInResult, sign_in
from surveys.models import Account
from surveys.storage import read_session

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def use_fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: what is tested does not depend on the cost."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    passwords._dummy_hash.cache_clear()


def attempt(engine: Engine, username: str, password: str, *, at: datetime = NOW) -> SignInResult:
    return sign_in(engine=engine, username=username, password=password, now=at)


def account_id(engine: Engine, username: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(Account.id).where(Account.username == username)).one()
