"""Every aggregate anyone sees, read from rollups, with small groups suppressed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, select

from surveys.config import get_settings
from surveys.models import CellRollup, Invitation, SurveyCycle
from surveys.storage import read_session


@dataclass(frozen=True)
class CycleSummary:
    """One survey cycle as the landing page shows it.

    `responses` and `response_rate` are None when fewer than the minimum group size
    responded: a count of 1 or 2 would tell a watcher whose answers just arrived.
    """

    id: int
    name: str
    opens: date
    closes: date
    state: str
    responses: int | None
    invited: int
    response_rate: float | None


def suppressed(count: int, *, minimum: int | None = None) -> bool:
    """Whether a group of `count` respondents is too small to report."""
    minimum = get_settings().min_group_size if minimum is None else minimum
    return count < minimum


def data_version(engine: Engine) -> int:
    """Changes whenever a response arrives; cached queries are keyed on it."""
    with read_session(engine) as session:
        total = session.scalar(select(func.coalesce(func.sum(CellRollup.responses), 0)))
    return int(total or 0)


def cycle_summaries(engine: Engine) -> list[CycleSummary]:
    """Cycles, newest first, with their response counts and rates."""
    with read_session(engine) as session:
        responses = dict(
            session.execute(
                select(CellRollup.cycle_id, func.sum(CellRollup.responses)).group_by(
                    CellRollup.cycle_id
                )
            ).all()
        )
        invited = dict(
            session.execute(
                select(Invitation.cycle_id, func.count())
                .where(Invitation.is_open == False)  # noqa: E712 - SQL expression
                .group_by(Invitation.cycle_id)
            ).all()
        )
        cycles = session.scalars(select(SurveyCycle).order_by(SurveyCycle.opens.desc())).all()
    summaries = []
    for cycle in cycles:
        assert cycle.id is not None
        count = int(responses.get(cycle.id, 0))
        invitations = int(invited.get(cycle.id, 0))
        shown = None if suppressed(count) else count
        rate = shown / invitations if shown is not None and invitations else None
        summaries.append(
            CycleSummary(
                cycle.id,
                cycle.name,
                cycle.opens,
                cycle.closes,
                cycle.state,
                shown,
                invitations,
                rate,
            )
        )
    return summaries
