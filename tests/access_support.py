"""Shared by the access tests: cheap argon2, and a hospital with an administrator and a manager."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from surveys.access import passwords
from surveys.access.accounts import create_account
from surveys.access.sign_in import SignInResult, sign_in
from surveys.models import Account
from surveys.organisation.structure import add_department, add_division
from surveys.storage import read_session, write_session

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cheap argon2 parameters: the behaviour under test does not depend on the cost."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture
def hospital(engine: Engine) -> dict[str, int]:
    """Three departments, an administrator `boss` and a manager `ed` for Emergency."""
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        ids = {
            name: add_department(session=session, name=name, division_id=division)
            for name in ("Emergency", "Intensive Care (ICU)", "Oncology")
        }
    create_account(engine=engine, username="boss", role="admin", password=PASSWORD, actor="t")
    create_account(
        engine=engine,
        username="ed",
        role="manager",
        password=PASSWORD,
        departments=["Emergency"],
        actor="t",
    )
    return ids


def attempt(engine: Engine, username: str, password: str, *, at: datetime = NOW) -> SignInResult:
    return sign_in(engine=engine, username=username, password=password, now=at)


def account_id(engine: Engine, username: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(Account.id).where(Account.username == username)).one()
