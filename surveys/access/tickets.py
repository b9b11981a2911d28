"""Session tickets: signed proof, kept server-side, that an account signed in and when."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine

from surveys.access.accounts import AccountInfo, _load_account
from surveys.clock import utc_now
from surveys.config import get_settings
from surveys.storage import read_session

# Signs the session tickets this process hands out. Tickets live only in Streamlit's
# server-side session state, which does not outlive the process, so neither need this key.
_TICKET_KEY = secrets.token_bytes(32)


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
        account = _load_account(session, ticket.account_id)
    if account is None:
        return SessionCheck(None, None, SessionEnd.revoked)
    refreshed = issue_ticket(account.id, now=now, issued_at=ticket.issued_at, sso=ticket.sso)
    return SessionCheck(account, refreshed)
