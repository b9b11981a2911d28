"""The audit log: who did what, and when, written in the same transaction as the action.

Only administrative facts go in: names of departments, cycles and accounts, counts of links.
Never survey answers, never a token, never an email address from a roster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from surveys.clock import utc_now
from surveys.models import AuditEvent
from surveys.storage import read_session

DETAIL_MAX_LENGTH = 2_000

# What each action code means, in the words the Audit log page shows. Every code the code base
# records has its words here (tests/test_audit.py reads every audit.record call to check).
ACTION_WORDS: dict[str, str] = {
    "sign_in": "Signed in",
    "sign_in.locked": "Locked out after failed sign-ins",
    "sign_out": "Signed out",
    "account.create": "Added an account",
    "account.set_password": "Set a password",
    "account.set_departments": "Set a manager's departments",
    "account.enable": "Enabled an account",
    "account.disable": "Disabled an account",
    "account.unlock": "Lifted a sign-in lock",
    "cycle.create": "Created a cycle",
    "cycle.open": "Opened a cycle",
    "cycle.close": "Closed a cycle",
    "cycle.schedule": "Changed a cycle's schedule or message",
    "mail.roster": "Added addresses to invite by email",
    "mail.send": "Sent invitation emails",
    "mail.remind": "Sent reminder emails",
    "mail.test": "Sent a test invitation email",
    "division.create": "Added a division",
    "division.rename": "Renamed a division",
    "division.archive": "Archived a division",
    "division.restore": "Restored a division",
    "department.create": "Added a department",
    "department.rename": "Renamed a department",
    "department.move": "Moved a department to another division",
    "department.archive": "Archived a department",
    "department.restore": "Restored a department",
    "staff_group.create": "Added a staff group",
    "staff_group.rename": "Renamed a staff group",
    "staff_group.move": "Reordered the staff groups",
    "staff_group.archive": "Archived a staff group",
    "staff_group.restore": "Restored a staff group",
    "invitations.create": "Made one-time links",
    "invitations.roster": "Made links from a roster",
    "invitations.open_link": "Made an open link",
    "plan.create": "Made an action plan",
    "plan.update": "Changed an action plan",
    "plan.status": "Changed an action plan's status",
    "plan.note": "Added a progress note to an action plan",
    "share.publish": "Published a cycle's summary for staff",
    "share.revoke": "Revoked the link to a cycle's summary for staff",
    "demo.load": "Loaded the demo",
    "database.create": "Created the database",
    "database.upgrade": "Upgraded the database",
    "database.restore": "Restored a backup",
    "codebook.add": "Added a phrase to the comment codebook",
    "codebook.remove": "Removed a phrase from the comment codebook",
}


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    detail: str


def record(
    *, session: Session, actor: str, action: str, detail: str = "", at: datetime | None = None
) -> None:
    """Add one event to the log; it commits or rolls back with the caller's transaction."""
    if not actor.strip():
        raise ValueError("an audited action needs an actor")
    session.add(
        AuditEvent(
            at=at or utc_now(),
            actor=actor.strip()[:120],
            action=action[:80],
            detail=detail[:DETAIL_MAX_LENGTH],
        )
    )
    session.flush()


def list_events(
    *,
    engine: Engine,
    limit: int = 500,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """The newest events first, optionally only one actor's or one kind of action."""
    query = (
        select(AuditEvent)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    )
    if actor:
        query = query.where(col(AuditEvent.actor) == actor)
    if action:
        query = query.where(col(AuditEvent.action) == action)
    with read_session(engine) as session:
        return [
            AuditEntry(event.id, as_utc(event.at), event.actor, event.action, event.detail)
            for event in session.scalars(query)
            if event.id is not None
        ]


def list_actions(*, engine: Engine) -> list[str]:
    """Every kind of action the log holds, for a filter."""
    query = select(col(AuditEvent.action)).distinct().order_by(AuditEvent.action)
    with read_session(engine) as session:
        return list(session.scalars(query))


def describe(action: str) -> str:
    """The action in words; a code with no words (from an older release, say) as it is."""
    return ACTION_WORDS.get(action, action)


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
