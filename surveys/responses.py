"""Storing a completed survey: the response, its answers, its comment and the rollups, at once."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import insert
from sqlmodel import Session

from surveys import rollups
from surveys.models import Answer, Comment, Response
from surveys.organisation import ItemInfo
from surveys.scoring import LIKERT_POINTS, NPS_SCALE
from surveys.storage import new_random_id

NPS_MAX = 10


class InvalidAnswer(ValueError):
    """An answer outside its item's scale."""


def check_value(item: ItemInfo, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswer(f"{item.code}: answer must be a whole number, not {value!r}")
    low, high = (0, NPS_MAX) if item.scale == NPS_SCALE else (1, LIKERT_POINTS)
    if not low <= value <= high:
        raise InvalidAnswer(f"{item.code}: answer {value} is outside {low}-{high}")


def store_response(
    *,
    session: Session,
    cycle_id: int,
    department_id: int,
    staff_group_id: int,
    instrument_id: int,
    answers: Mapping[ItemInfo, int | None],
    comment: str | None,
) -> None:
    """Write one response inside the caller's transaction; nothing is kept if anything fails."""
    for item, value in answers.items():
        check_value(item, value)
    response_id = new_random_id()
    session.add(
        Response(
            id=response_id,
            cycle_id=cycle_id,
            department_id=department_id,
            staff_group_id=staff_group_id,
            instrument_id=instrument_id,
        )
    )
    session.flush()
    if answers:
        session.execute(
            insert(Answer),
            [
                {"response_id": response_id, "item_id": item.id, "value": value}
                for item, value in answers.items()
            ],
        )
    comment = (comment or "").strip()
    if comment:
        session.add(
            Comment(
                id=new_random_id(),
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=staff_group_id,
                text=comment,
            )
        )
    rollups.add_response(
        session=session,
        cycle_id=cycle_id,
        department_id=department_id,
        staff_group_id=staff_group_id,
        answers=answers,
        has_comment=bool(comment),
    )
    session.flush()
