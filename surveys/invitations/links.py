"""Invitation tokens: made with enough randomness to be unguessable, stored only as hashes.

`invite` and `open_link` are what the command line calls: each makes its links in one audited
write transaction. `add_invitations`, `add_open_link` and the `find_*` lookups take the
caller's `session=`: a roster makes all its links in one transaction, all or nothing.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select
from sqlmodel import Session

from surveys import audit
from surveys.config import get_settings
from surveys.csvsafe import rows_to_csv
from surveys.models import Department, Invitation, StaffGroup, SurveyCycle
from surveys.records import CycleState
from surveys.storage import write_session
from surveys.text import did_you_mean

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
class MadeLinks:
    """Links just made, as survey URLs; department and staff group are None for an open link."""

    cycle: str
    department: str | None
    staff_group: str | None
    urls: tuple[str, ...]


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
    """Make `count` one-time tokens for one department and staff group, inside the caller's
    transaction and not audited (the caller records what it made); returns the tokens.

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
            }
            for token in tokens
        ],
    )
    return tokens


def create_open_link(*, session: Session, cycle_id: int) -> str:
    """A reusable token for the cycle, inside the caller's transaction and not audited;
    respondents pick their department and group themselves."""
    if session.get(SurveyCycle, cycle_id) is None:
        raise ValueError(f"there is no survey cycle with id {cycle_id}")
    token = new_token()
    session.add(Invitation(token_hash=hash_token(token), cycle_id=cycle_id, is_open=True))
    session.flush()
    return token


def add_open_link(*, session: Session, cycle: Named, actor: str) -> str:
    """An open link's URL, made and audited inside the caller's transaction: the one way the
    Invitations page and `attune invite --open` make one."""
    token = create_open_link(session=session, cycle_id=cycle.id)
    audit.record(session=session, actor=actor, action="invitations.open_link", detail=cycle.name)
    return survey_url(token)


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
        + did_you_mean(name, [cycle.name for cycle in cycles])
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
    raise UnknownName(f"there is no department called {name!r}" + did_you_mean(name, active))


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
        + did_you_mean(name, candidates)
    )


def invite(
    *,
    engine: Engine,
    cycle: str,
    department: str,
    staff_group: str,
    count: int,
    actor: str,
    deliver: Callable[[MadeLinks], None] | None = None,
) -> MadeLinks:
    """Make `count` one-time links for a department and staff group, all found by name, in
    one audited transaction. `deliver` is called with the links before the transaction
    commits: if it raises (a file that cannot be written), no link is kept."""
    with write_session(engine) as session:
        chosen_cycle = find_cycle(session=session, name=cycle)
        chosen_department = find_department(session=session, name=department)
        chosen_group = find_staff_group(session=session, name=staff_group)
        tokens = create_invitations(
            session=session,
            cycle_id=chosen_cycle.id,
            department_id=chosen_department.id,
            staff_group_id=chosen_group.id,
            count=count,
        )
        audit.record(
            session=session,
            actor=actor,
            action="invitations.create",
            detail=(
                f"{chosen_cycle.name}: {count:,} one-time link{'s' if count != 1 else ''} for "
                f"{chosen_department.name}, {chosen_group.name}"
            ),
        )
        made = MadeLinks(
            chosen_cycle.name,
            chosen_department.name,
            chosen_group.name,
            tuple(survey_url(token) for token in tokens),
        )
        if deliver is not None:
            deliver(made)
        return made


def open_link(
    *,
    engine: Engine,
    cycle: str,
    actor: str,
    deliver: Callable[[MadeLinks], None] | None = None,
) -> MadeLinks:
    """Make one open link for the cycle called `cycle`, audited; `deliver` as for `invite`."""
    with write_session(engine) as session:
        chosen_cycle = find_cycle(session=session, name=cycle)
        url = add_open_link(session=session, cycle=chosen_cycle, actor=actor)
        made = MadeLinks(chosen_cycle.name, None, None, (url,))
        if deliver is not None:
            deliver(made)
        return made


LINKS_CSV_HEADER = ("cycle", "department", "staff_group", "link")


def links_csv(made: MadeLinks) -> str:
    """The links just made as CSV text (cycle, department, staff_group, link), safe to open in
    a spreadsheet: the one copy of the links there will ever be."""
    rows = [(made.cycle, made.department or "", made.staff_group or "", u) for u in made.urls]
    return rows_to_csv(LINKS_CSV_HEADER, rows)


def qr_code_png(url: str) -> bytes:
    """A QR code of `url` as a PNG, large enough to print on a ward poster."""
    import segno

    buffer = io.BytesIO()
    # Error correction "M" survives a crease or a smudge on a printed poster.
    segno.make(url, error="m").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()
