"""Passwords: stored only as argon2id hashes, and unknown names cost the same hash check."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from surveys.access import passwords
from surveys.access.sign_in import SignInOutcome
from surveys.models import Account
from surveys.storage import read_session
from tests.support.accounts import PASSWORD, attempt
from tests.support.backends import backends

pytestmark = pytest.mark.usefixtures("fast_hashing")


@backends()
def test_password_is_stored_only_as_an_argon2id_hash(engine: Engine, hospital) -> None:  # noqa: F811
    with read_session(engine) as session:
        stored = session.scalars(select(Account.password_hash)).all()
    assert all(value.startswith("$argon2id$") for value in stored)
    assert not any(PASSWORD in value for value in stored)


def test_default_hasher_uses_real_argon2id_cost() -> None:
    hasher = PasswordHasher()
    assert hasher.time_cost >= 2 and hasher.memory_cost >= 19_456  # OWASP's floor


def test_unknown_username_costs_a_hash_check(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            checked.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", Spy(time_cost=1, memory_cost=64, parallelism=1))
    passwords._dummy_hash.cache_clear()
    assert attempt(engine, "nobody", PASSWORD).outcome is SignInOutcome.rejected
    assert checked == [passwords._dummy_hash()]
