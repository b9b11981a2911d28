"""Hostile sign-ins and account details: rejected without a crash or any argon2 work they do
not need, and refused account changes write nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from surveys.access import passwords
from surveys.access.accounts import create_account, set_password, unlock
from surveys.access.passwords import PASSWORD_MAX_LENGTH, AccountError
from surveys.access.sign_in import SignInOutcome, sign_in
from surveys.access.sso import RoleMap, sso_sign_in
from surveys.text import hidden_characters
from tests.support.accounts import NOW, PASSWORD
from tests.support.backends import backends
from tests.support.hostile import (
    HOSTILE_TEXTS,
    INJECTION,
    INVISIBLE,
    ONE_MEGABYTE,
    changed_tables,
    database_dump,
    hostile_text,
    new_rows,
)

# Hypothesis runs every example of a test against the one database its fixture made; each
# example compares the database before and after itself, so sharing it is sound.
FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# A failed sign-in of a name that could be an account counts towards its lock (and the lock
# is audited): that is the only writing a rejected sign-in may do.
THROTTLE_TABLES = {"login_throttle", "audit_event"}


class CountingHasher(PasswordHasher):
    """Cheap argon2 that counts its verifications, to show what reached the hash."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        CountingHasher.verified += 1
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def counting_hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        passwords, "_hasher", CountingHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    passwords._dummy_hash.cache_clear()
    CountingHasher.verified = 0
    yield
    passwords._dummy_hash.cache_clear()


def could_be_a_username(username: str) -> bool:
    return passwords.is_username(passwords.normalise_username(username))


HOSTILE_USERNAMES = {
    **HOSTILE_TEXTS,
    "known name with a NUL": "boss\x00",
    "known name with a zero-width space": "bo\u200bss",
    "known name behind a right-to-left override": "\u202eboss",
    "known name with a quote": "boss'--",
    "sql always true": "boss' OR '1'='1",
    "known name, a megabyte long": "boss" + " " * ONE_MEGABYTE + "x",
    "unpaired surrogate": "boss\ud800",
}


@backends()
def test_hostile_usernames_are_rejected_and_write_nothing(
    engine: Engine,
    hospital,
) -> None:
    before = database_dump(engine)
    for name, username in HOSTILE_USERNAMES.items():
        result = sign_in(engine=engine, username=username, password=PASSWORD, now=NOW)
        assert result.outcome is SignInOutcome.rejected, name
        assert result.account is None
        assert database_dump(engine) == before, name
    assert CountingHasher.verified == 0  # nothing that cannot be a name costs a hash


@backends()
def test_hostile_passwords_are_rejected_and_only_counted(
    engine: Engine,
    hospital,
) -> None:
    passwords = {
        **{name: text for name, text in HOSTILE_TEXTS.items() if name != "one megabyte"},
        "the password with a NUL": PASSWORD + "\x00",
        "the password behind a right-to-left override": "\u202e" + PASSWORD,
        "the password with a zero-width space": PASSWORD.replace(" ", "\u200b ", 1),
        "sql always true": "' OR '1'='1' --",
        "unpaired surrogate": PASSWORD + "\ud800",
    }
    before = database_dump(engine)
    for attempt, (name, password) in enumerate(passwords.items()):
        username = ("boss", "ed", "nobody")[attempt % 3]  # under five tries each: no lock
        if attempt and attempt % 12 == 0:
            for each in ("boss", "ed", "nobody"):
                unlock(engine=engine, username=each, actor="test")
            before = database_dump(engine)
        result = sign_in(engine=engine, username=username, password=password, now=NOW)
        assert result.outcome is SignInOutcome.rejected, name
        assert changed_tables(before, database_dump(engine)) <= THROTTLE_TABLES, name
    assert sign_in(engine=engine, username="ed", password=PASSWORD).outcome is SignInOutcome.ok


@backends()
def test_an_overlong_password_is_refused_unhashed_with_its_own_outcome(
    engine: Engine,
    hospital,
) -> None:
    longest = "p" * PASSWORD_MAX_LENGTH
    set_password(engine=engine, username="ed", password=longest, actor="test")
    before = database_dump(engine)
    for password in (
        longest + "x",
        longest + "\x00",
        "x" * ONE_MEGABYTE,
        HOSTILE_TEXTS["one megabyte"],
    ):
        result = sign_in(engine=engine, username="ed", password=password, now=NOW)
        assert result.outcome is SignInOutcome.too_long
        assert database_dump(engine) == before
    # Before the cap, any text starting with a 256-character password signed in with it.
    assert CountingHasher.verified == 0
    assert sign_in(engine=engine, username="ed", password=longest).outcome is SignInOutcome.ok


@backends()
@FUZZ
@given(
    username=st.one_of(
        st.sampled_from(["boss", "ed", "nobody", "BOSS "]), hostile_text(max_size=130)
    ),
    password=hostile_text(max_size=300),
)
def test_any_sign_in_is_rejected_and_writes_only_the_failure_count(
    engine: Engine,
    hospital,
    username: str,
    password: str,
) -> None:
    before = database_dump(engine)
    verified = CountingHasher.verified
    result = sign_in(engine=engine, username=username, password=password, now=NOW)
    after = database_dump(engine)
    assert result.account is None
    if len(password) > PASSWORD_MAX_LENGTH:
        assert result.outcome is SignInOutcome.too_long
    if (
        result.outcome is SignInOutcome.too_long
        or not could_be_a_username(username)
        or not password
    ):
        event(f"{result.outcome.value}, unhashed")
        assert after == before
        assert CountingHasher.verified == verified
    else:
        event(f"{result.outcome.value}, hashed and counted")
        assert result.outcome in (SignInOutcome.rejected, SignInOutcome.locked)
        assert changed_tables(before, after) <= THROTTLE_TABLES
        throttles = {row["username"] for row in after["login_throttle"]}
        assert throttles <= {row["username"] for row in before["login_throttle"]} | {
            passwords.normalise_username(username)
        }


# --- Account details (the administrators' page and `attune user add`) -------------------------


@backends()
def test_hostile_account_details_are_refused_and_write_nothing(
    engine: Engine,
    hospital,
) -> None:
    refusals = [
        *({"username": text} for text in HOSTILE_TEXTS.values()),
        *({"display_name": "Carol " + text} for text in INVISIBLE.values()),
        {"display_name": "Carol\u202e (administrator)"},
        {"email": "carol\u200b@example.org"},
        {"email": "carol@example.org\x00"},
        {"email": "c" * 400 + "@example.org"},
        {"password": "x" * ONE_MEGABYTE},
        {"password": "long enough but \ud800"},
        {"departments": [INJECTION["sql quote"]]},
        {"departments": [INJECTION["path traversal"]]},
    ]
    before = database_dump(engine)
    for changes in refusals:
        given = {"username": "carol", "role": "manager", "password": PASSWORD}
        given |= {"departments": ["Oncology"], **changes}
        with pytest.raises(AccountError) as refused:
            create_account(engine=engine, actor="boss", **given)
        message = str(refused.value)
        assert len(message) < 300, message[:300]
        assert "\x00" not in message and "\u202e" not in message
        assert database_dump(engine) == before, changes


@backends()
def test_markup_and_quotes_in_display_names_are_kept_as_text(
    engine: Engine,
    hospital,
) -> None:
    # Shown with st.text or escaped, never rendered; quotes and apostrophes are real names.
    names = ["<b>Carol</b>", "[Carol](javascript:alert(1))", "Carol O'Brien", ":red[Carol]"]
    for number, name in enumerate(names):
        create_account(
            engine=engine, username=f"carol{number}", role="admin", password=PASSWORD,
            display_name=name, actor="boss",
        )  # fmt: skip
    result = sign_in(engine=engine, username="carol3", password=PASSWORD)
    assert result.account is not None and result.account.display_name == ":red[Carol]"


@backends()
@FUZZ
@given(
    username=st.one_of(
        st.from_regex(r"[a-z0-9][a-z0-9._@+-]{1,20}", fullmatch=True), hostile_text()
    ),
    display_name=hostile_text(max_size=220),
    email=st.one_of(st.none(), st.emails(), hostile_text(max_size=40)),
)
def test_any_account_details_are_stored_as_given_or_refused(
    engine: Engine,
    hospital,
    username: str,
    display_name: str,
    email: str | None,
) -> None:
    before = database_dump(engine)
    try:
        create_account(
            engine=engine, username=username, role="admin", password=PASSWORD,
            display_name=display_name, email=email, actor="boss",
        )  # fmt: skip
    except AccountError as refused:
        event("refused")
        assert str(refused)
        assert database_dump(engine) == before
        return
    event("created")
    after = database_dump(engine)
    assert changed_tables(before, after) == {"account", "audit_event"}
    (account,) = new_rows(before, after, "account")
    assert account["username"] == passwords.normalise_username(username)
    assert account["display_name"] == display_name.strip()[:200]
    assert not hidden_characters(account["display_name"])
    assert account["email"] == ((email or "").strip().lower() or None)


@backends()
def test_hostile_single_sign_on_claims_never_crash_or_disguise_a_name(
    engine: Engine,
    hospital,
) -> None:
    mapping = RoleMap.model_validate({"rule": [{"role": "admin", "groups": ["attune-admins"]}]})
    before = database_dump(engine)
    for email in ("lead\x00@example.org", "le\u200bad@example.org", "\u202elead@example.org"):
        claims = {"email": email, "groups": ["attune-admins"], "name": "Lee"}
        assert sso_sign_in(engine=engine, claims=claims, mapping=mapping) is None
        assert database_dump(engine) == before
    claims = {
        "email": "lead@example.org",
        "groups": ["attune-admins"],
        "name": "Lee\x00 \u202eLead <script>",
    }
    account = sso_sign_in(engine=engine, claims=claims, mapping=mapping)
    assert account is not None and account.display_name == "Lee Lead <script>"
