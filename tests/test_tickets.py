"""Session tickets: they expire, cannot be forged or stretched, and see account changes at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from surveys.access.accounts import set_active, set_departments
from surveys.access.tickets import SessionEnd, SessionTicket, check_session, issue_ticket
from surveys.config import get_settings
from tests.support.accounts import NOW, account_id
from tests.support.backends import backends

pytestmark = pytest.mark.usefixtures("fast_hashing")


@backends()
@pytest.mark.usefixtures("hospital")
def test_sessions_expire_idle_and_absolute(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_SESSION_HOURS", "8")
    monkeypatch.setenv("ATTUNE_SESSION_IDLE_MINUTES", "30")
    get_settings.cache_clear()
    ticket = issue_ticket(account_id(engine, "ed"), now=NOW)
    # Each use refreshes the idle timer, so steady work lasts until the absolute limit...
    moment = NOW
    for _ in range(15):
        moment += timedelta(minutes=29)
        check = check_session(engine=engine, ticket=ticket, now=moment)
        assert check.account is not None and check.account.username == "ed"
        assert check.ticket is not None
        ticket = check.ticket
    assert check_session(engine=engine, ticket=ticket, now=NOW + timedelta(hours=8)).ended is (
        SessionEnd.expired
    )
    # ...and half an hour away ends it.
    fresh = issue_ticket(account_id(engine, "ed"), now=NOW)
    idle = check_session(engine=engine, ticket=fresh, now=NOW + timedelta(minutes=30))
    assert idle.account is None and idle.ended is SessionEnd.idle


@backends()
@pytest.mark.usefixtures("hospital")
def test_a_forged_or_stretched_ticket_is_refused(engine: Engine) -> None:
    ticket = issue_ticket(account_id(engine, "ed"), now=NOW)
    forged = [
        SessionTicket(
            account_id(engine, "boss"),
            ticket.issued_at,
            ticket.last_seen_at,
            False,
            ticket.signature,
        ),
        SessionTicket(ticket.account_id, NOW + timedelta(hours=7), NOW, False, ticket.signature),
        {"account_id": 1, "role": "admin"},
        "admin",
    ]
    for fake in forged:
        check = check_session(engine=engine, ticket=fake, now=NOW)
        assert check.account is None and check.ended is SessionEnd.invalid


@backends()
def test_session_sees_role_and_department_changes_and_disabling(
    engine: Engine,
    hospital,  # noqa: F811
) -> None:
    ticket = issue_ticket(account_id(engine, "ed"), now=NOW)
    set_departments(engine=engine, username="ed", departments=["Oncology"], actor="boss")
    check = check_session(engine=engine, ticket=ticket, now=NOW)
    assert check.account is not None
    assert check.account.department_ids == frozenset({hospital["Oncology"]})
    set_active(engine=engine, username="ed", active=False, actor="boss")
    assert check_session(engine=engine, ticket=ticket, now=NOW).ended is SessionEnd.revoked
