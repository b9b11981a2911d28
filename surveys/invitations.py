"""Invitation tokens: made with enough randomness to be unguessable, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlmodel import Session

from surveys.config import get_settings
from surveys.models import Invitation, SurveyCycle

# 24 random bytes = 192 bits, comfortably above the 128 bits an unguessable link needs.
TOKEN_BYTES = 24
MAX_INVITATIONS_PER_CALL = 50_000


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
