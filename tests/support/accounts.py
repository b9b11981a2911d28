"""The test accounts' password, a fixed "now", and cheap argon2 for tests that sign in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from surveys import accounts

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def use_fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: what is tested does not depend on the cost."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    accounts._dummy_hash.cache_clear()
