"""Which personal links have been used: one row per cell lists them (`models.UsedLinks`).

A submission adds its link to its cell's row in the same transaction as its response
(`mark_used`); everything that asks whether a link was used reads that row (`is_used`,
`used_ids`, `used_clause`, or `used_sql` inside the driver's SQL). The link's own row is
never written by a submission, so on PostgreSQL no transaction id pairs it with the response.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import String, and_, cast, exists, literal, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from surveys.models import Invitation, UsedLinks
from surveys.storage import driver_sql

_CELL = (
    "cycle_id = :cycle_id AND department_id = :department_id AND staff_group_id = :staff_group_id"
)


def used_sql(alias: str) -> str:
    """SQL that is true when the link `alias` (a row of invitation) has been used."""
    return (
        f"EXISTS (SELECT 1 FROM used_link u WHERE u.cycle_id = {alias}.cycle_id"
        f" AND u.department_id = {alias}.department_id"
        f" AND u.staff_group_id = {alias}.staff_group_id"
        f" AND (',' || u.invitation_ids || ',') LIKE ('%,' || CAST({alias}.id AS TEXT) || ',%'))"
    )


def used_clause() -> ColumnElement[bool]:
    """`used_sql` for queries built with SQLAlchemy: true for a used `Invitation`."""
    listed = literal(",") + col(UsedLinks.invitation_ids) + literal(",")
    return exists().where(
        and_(
            col(UsedLinks.cycle_id) == col(Invitation.cycle_id),
            col(UsedLinks.department_id) == col(Invitation.department_id),
            col(UsedLinks.staff_group_id) == col(Invitation.staff_group_id),
            listed.like(literal("%,") + cast(col(Invitation.id), String) + literal(",%")),
        )
    )


def listed_ids(text: str | None) -> set[int]:
    return {int(number) for number in (text or "").split(",") if number}


def _listed(ids: set[int]) -> str:
    return ",".join(str(number) for number in sorted(ids))


def is_used(session: Session, invitation: Invitation) -> bool:
    if invitation.is_open:
        return False
    listed = session.scalar(
        select(col(UsedLinks.invitation_ids)).where(
            col(UsedLinks.cycle_id) == invitation.cycle_id,
            col(UsedLinks.department_id) == invitation.department_id,
            col(UsedLinks.staff_group_id) == invitation.staff_group_id,
        )
    )
    return invitation.id in listed_ids(listed)


def used_ids(session: Session, cycle_id: int) -> set[int]:
    """Every used personal link of a cycle."""
    used: set[int] = set()
    for listed in session.scalars(
        select(col(UsedLinks.invitation_ids)).where(col(UsedLinks.cycle_id) == cycle_id)
    ):
        used |= listed_ids(listed)
    return used


@functools.cache
def _mark_sql(dialect: str) -> tuple[str, str]:
    """(read, write) for `mark_used`, as the driver's SQL; on PostgreSQL one statement."""
    if dialect == "postgresql":
        # One upsert: the cell's row is locked, and a second writer of the cell waits and
        # then merges into what the first committed. Its WHERE finds the link already
        # listed (a second browser with the same link), and then no row is written.
        listed = "string_to_array(u.invitation_ids, ',')"
        merged = (
            "(SELECT string_agg(CAST(x AS TEXT), ',' ORDER BY x) FROM (SELECT CAST(unnest("
            f"{listed}) AS BIGINT) UNION SELECT CAST(:id AS BIGINT)) AS merged(x))"
        )
        return "", driver_sql(
            dialect,
            "INSERT INTO used_link AS u (cycle_id, department_id, staff_group_id,"
            " invitation_ids) VALUES (:cycle_id, :department_id, :staff_group_id,"
            " CAST(:id AS TEXT)) ON CONFLICT (cycle_id, department_id, staff_group_id)"
            f" DO UPDATE SET invitation_ids = {merged}"
            f" WHERE NOT (CAST(:id AS TEXT) = ANY({listed}))",
        )
    # SQLite has one writer at a time, so the row read here is the row written over.
    return (
        f"SELECT invitation_ids FROM used_link WHERE {_CELL}",
        "INSERT INTO used_link (cycle_id, department_id, staff_group_id, invitation_ids)"
        " VALUES (:cycle_id, :department_id, :staff_group_id, :ids)"
        " ON CONFLICT (cycle_id, department_id, staff_group_id)"
        " DO UPDATE SET invitation_ids = excluded.invitation_ids",
    )


def mark_used(
    cursor: Any, dialect: str, invitation_id: int, cycle_id: int, cell: tuple[int, int]
) -> bool:
    """Add a personal link to its cell's used links, on a DBAPI cursor inside the caller's
    transaction. False when it was already there: the row count decides, so when browsers
    race with one link exactly one of them marks it."""
    where = {"cycle_id": cycle_id, "department_id": cell[0], "staff_group_id": cell[1]}
    read, write = _mark_sql(dialect)
    if dialect == "postgresql":
        cursor.execute(write, {**where, "id": invitation_id})
        return bool(cursor.rowcount == 1)
    cursor.execute(read, where)
    row = cursor.fetchone()
    ids = listed_ids(row[0] if row else None)
    if invitation_id in ids:
        return False
    cursor.execute(write, {**where, "ids": _listed(ids | {invitation_id})})
    return True
