"""Invitation tokens: made with enough randomness to be unguessable, stored only as hashes."""

from __future__ import annotations

import difflib
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlmodel import Session

from surveys.config import get_settings
from surveys.models import CycleState, Department, Invitation, StaffGroup, SurveyCycle

# 24 random bytes = 192 bits, comfortably above the 128 bits an unguessable link needs.
TOKEN_BYTES = 24
MAX_INVITATIONS_PER_CALL = 50_000


class UnknownName(LookupError):
    """A cycle, department or staff group that does not exist; the message suggests one that
    does when the name looks like a typo."""


class CycleClosed(ValueError):
    """Links cannot be made for a cycle that has closed: nobody could use them."""


@dataclass(frozen=True)
class Named:
    """Something an operator refers to by name: a cycle, a department or a staff group."""

    id: int
    name: str


@dataclass(frozen=True)
class InvitationContext:
    """What a valid token admits: the cycle and, for personal links, the cell."""

    cycle_id: int
    department_id: int | None
    staff_group_id: int | None
    is_open: bool
    used: bool


def hash_token(token: str) -> str:
    # A plain SHA-256 suffices: tokens carry 192 random bits, so there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def survey_url(token: str) -> str:
    return f"{get_settings().base_url}/survey?token={token}"


def create_invitations(
    *, session: Session, cycle_id: int, department_id: int, staff_group_id: int, count: int
) -> list[str]:
    """Make `count` one-time tokens for one department and staff group; returns the tokens.

    The tokens exist only in the return value: the database keeps their hashes.
    """
    if not 1 <= count <= MAX_INVITATIONS_PER_CALL:
        raise ValueError(f"count must be between 1 and {MAX_INVITATIONS_PER_CALL:,}")
    if session.get(SurveyCycle, cycle_id) is None:
        raise ValueError(f"there is no survey cycle with id {cycle_id}")
    tokens = [new_token() for _ in range(count)]
    session.execute(
        insert(Invitation),
        [
            {
                "token_hash": hash_token(token),
                "cycle_id": cycle_id,
                "department_id": department_id,
                "staff_group_id": staff_group_id,
                "is_open": False,
                "used": False,
            }
            for token in tokens
        ],
    )
    return tokens


def create_open_link(*, session: Session, cycle_id: int) -> str:
    """A reusable link for the cycle; respondents pick their department and group themselves."""
    if session.get(SurveyCycle, cycle_id) is None:
        raise ValueError(f"there is no survey cycle with id {cycle_id}")
    token = new_token()
    session.add(Invitation(token_hash=hash_token(token), cycle_id=cycle_id, is_open=True))
    session.flush()
    return token


def find_invitation(*, session: Session, token: str) -> InvitationContext | None:
    """The invitation a token belongs to, or None for an unknown token."""
    if not token or len(token) > 200:
        return None
    invitation = session.scalars(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()
    if invitation is None:
        return None
    return InvitationContext(
        invitation.cycle_id,
        invitation.department_id,
        invitation.staff_group_id,
        invitation.is_open,
        invitation.used,
    )


def _did_you_mean(given: str, candidates: Iterable[str]) -> str:
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(given.strip().lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""


def find_cycle(*, session: Session, name: str) -> Named:
    """The cycle called `name` (case-insensitive), refusing one that has closed."""
    cycles = list(session.scalars(select(SurveyCycle)))
    wanted = name.strip().lower()
    for cycle in cycles:
        if cycle.name.lower() == wanted and cycle.id is not None:
            if cycle.state == CycleState.closed:
                raise CycleClosed(
                    f"survey cycle {cycle.name!r} is closed; links for it could not be used"
                )
            return Named(cycle.id, cycle.name)
    raise UnknownName(
        f"there is no survey cycle called {name!r}"
        + _did_you_mean(name, [cycle.name for cycle in cycles])
    )


def find_department(*, session: Session, name: str) -> Named:
    """The active department called `name` (case-insensitive)."""
    departments = list(session.scalars(select(Department)))
    wanted = name.strip().lower()
    for department in departments:
        if department.name.lower() == wanted and department.id is not None:
            if department.archived:
                raise UnknownName(f"department {department.name!r} is archived")
            return Named(department.id, department.name)
    active = [department.name for department in departments if not department.archived]
    raise UnknownName(f"there is no department called {name!r}" + _did_you_mean(name, active))


def find_staff_group(*, session: Session, name: str) -> Named:
    """The active staff group whose key or name is `name` (case-insensitive)."""
    groups = [group for group in session.scalars(select(StaffGroup)) if not group.archived]
    wanted = name.strip().lower()
    for group in groups:
        if wanted in (group.key.lower(), group.name.lower()) and group.id is not None:
            return Named(group.id, group.name)
    # Keys last, so that a key wins over a name that differs only in case.
    candidates = [group.name for group in groups] + [group.key for group in groups]
    raise UnknownName(
        f"there is no staff group {name!r} (choose from "
        + ", ".join(group.key for group in groups)
        + ")"
        + _did_you_mean(name, candidates)
    )
