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


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
