"""Survey cycles: made, opened, closed and listed.

Pages call the functions that take `engine=`. `add_cycle` takes the caller's `session=`, for
callers that make cycles in the transaction that builds the rest (the demo loader, the
benchmarks, test fixtures).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from surveys import audit
from surveys.instruments import builtin_instrument
from surveys.models import CellRollup, Department, SurveyCycle
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.structure import OrganisationError, _get, _refuse_duplicate, clean_name
from surveys.records import CycleInfo, CycleState
from surveys.storage import read_session, write_session
from surveys.survey import drafts, steps

# Which state each action moves a cycle to, and from which states it may do so.
CYCLE_TRANSITIONS: dict[str, tuple[CycleState, frozenset[CycleState]]] = {
    "open": (CycleState.open, frozenset({CycleState.draft, CycleState.closed})),
    "close": (CycleState.closed, frozenset({CycleState.open})),
}


def add_cycle(
    *,
    session: Session,
    name: str,
    opens: date,
    closes: date,
    instrument_id: int | None = None,
    state: CycleState = CycleState.draft,
    actor: str | None = None,
) -> int:
    """A new survey cycle, inside the caller's transaction (audited when `actor` is given);
    without `instrument_id` it asks the built-in instrument."""
    name = clean_name(name, what="survey cycle")
    if closes < opens:
        raise OrganisationError("a cycle cannot close before it opens")
    _refuse_duplicate(session, SurveyCycle, name, "survey cycle", None)
    if instrument_id is None:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
    cycle = SurveyCycle(
        name=name,
        opens=opens,
        closes=closes,
        state=state.value,
        instrument_id=instrument_id,
    )
    session.add(cycle)
    session.flush()
    assert cycle.id is not None
    if actor:
        audit.record(
            session=session,
            actor=actor,
            action="cycle.create",
            detail=f"{name}: {opens.isoformat()} to {closes.isoformat()}",
        )
    return cycle.id


def create_cycle(
    *,
    engine: Engine,
    name: str,
    opens: date,
    closes: date,
    actor: str,
    instrument_id: int | None = None,
    state: CycleState = CycleState.draft,
) -> int:
    with write_session(engine) as session:
        return add_cycle(
            session=session,
            name=name,
            opens=opens,
            closes=closes,
            instrument_id=instrument_id,
            state=state,
            actor=actor,
        )


def change_cycle_state(*, engine: Engine, cycle_id: int, action: str, actor: str) -> CycleState:
    """Open or close a cycle ("open" also reopens a closed one); returns the new state."""
    with write_session(engine) as session:
        return apply_cycle_state(session=session, cycle_id=cycle_id, action=action, actor=actor)


def apply_cycle_state(
    *, session: Session, cycle_id: int, action: str, actor: str, why: str = ""
) -> CycleState:
    """`change_cycle_state` inside the caller's transaction: the one place a cycle opens or
    closes, by hand or by the job runner (`why` says "on its opening date", say)."""
    if action not in CYCLE_TRANSITIONS:
        raise OrganisationError(f"unknown cycle action {action!r}")
    target, allowed_from = CYCLE_TRANSITIONS[action]
    cycle = _get(session, SurveyCycle, cycle_id, "survey cycle")
    current = CycleState(cycle.state)
    if current not in allowed_from:
        raise OrganisationError(
            f"survey cycle {cycle.name!r} is {current.value}; it cannot {action}"
        )
    # Conditional on the state read: of two callers at once, only one moves the cycle.
    moved = session.execute(
        update(SurveyCycle)
        .where(col(SurveyCycle.id) == cycle_id, col(SurveyCycle.state) == current.value)
        .values(state=target.value)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
        raise OrganisationError(f"survey cycle {cycle.name!r} changed meanwhile; try again")
    name = cycle.name
    session.expire(cycle)
    if target is CycleState.open:
        steps.start(session=session, cycle_id=cycle_id)
    else:
        steps.release_all(session=session, cycle_id=cycle_id)
        # After the state's UPDATE: on PostgreSQL a draft being saved meanwhile holds the
        # cycle's row, so that UPDATE waits for it and this DELETE then sees it.
        drafts.delete_cycle_drafts(session=session, cycle_id=cycle_id)
    audit.record(
        session=session,
        actor=actor,
        action="cycle.open" if target is CycleState.open else "cycle.close",
        detail=f"{name} ({why})" if why else name,
    )
    return target


def list_cycles(*, engine: Engine) -> list[CycleInfo]:
    with read_session(engine) as session:
        cycles = session.scalars(
            select(SurveyCycle).order_by(col(SurveyCycle.opens), col(SurveyCycle.id))
        )
        return [
            CycleInfo(c.id, c.name, c.opens, c.closes, c.state, c.instrument_id)
            for c in cycles
            if c.id is not None
        ]


def overlapping_open_cycles(cycles: Sequence[CycleInfo]) -> list[tuple[CycleInfo, CycleInfo]]:
    """Pairs of open cycles whose dates overlap: staff then get two surveys at once, and a
    department's figures split between them."""
    open_cycles = sorted((c for c in cycles if c.state == CycleState.open), key=lambda c: c.opens)
    return [
        (first, second)
        for index, first in enumerate(open_cycles)
        for second in open_cycles[index + 1 :]
        if second.opens <= first.closes
    ]


def has_survey_data(*, session: Session) -> bool:
    """Whether any cycle or response exists (the demo only fills an empty database); takes
    the caller's session so that the demo checks and fills in one transaction."""
    cycles = session.scalar(select(func.count()).select_from(SurveyCycle)) or 0
    cells = session.scalar(select(func.count()).select_from(CellRollup)) or 0
    departments = session.scalar(select(func.count()).select_from(Department)) or 0
    return bool(cycles or cells or departments)
