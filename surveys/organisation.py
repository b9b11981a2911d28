"""The organisation's reference data: divisions, departments, staff groups, instruments, cycles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from surveys.instruments import Instrument as InstrumentDefinition
from surveys.models import (
    CellRollup,
    CycleState,
    Department,
    Division,
    Instrument,
    Item,
    StaffGroup,
    SurveyCycle,
)


class InstrumentChanged(ValueError):
    """An instrument file changed without a new version number."""


@dataclass(frozen=True)
class StaffGroupInfo:
    id: int
    key: str
    name: str
    plural: str
    position: int


@dataclass(frozen=True)
class CycleInfo:
    id: int
    name: str
    opens: date
    closes: date
    state: str
    instrument_id: int


@dataclass(frozen=True)
class ItemInfo:
    """A stored question, enough for scoring and rollups (see surveys.scoring.ScoredItem)."""

    id: int
    code: str
    section: str
    dimension: str
    scale: str
    reverse: bool
    in_index: bool
    about_group_id: int | None


def create_division(*, session: Session, name: str) -> int:
    division = Division(name=name.strip())
    session.add(division)
    session.flush()
    assert division.id is not None
    return division.id


def create_department(*, session: Session, name: str, division_id: int) -> int:
    department = Department(name=name.strip(), division_id=division_id)
    session.add(department)
    session.flush()
    assert department.id is not None
    return department.id


def list_staff_groups(*, session: Session, include_archived: bool = False) -> list[StaffGroupInfo]:
    query = select(StaffGroup).order_by(StaffGroup.position, StaffGroup.id)
    if not include_archived:
        query = query.where(StaffGroup.archived == False)  # noqa: E712 - SQL expression
    return [
        StaffGroupInfo(group.id, group.key, group.name, group.plural, group.position)
        for group in session.scalars(query)
        if group.id is not None
    ]


def instrument_checksum(definition: InstrumentDefinition) -> str:
    return definition.checksum


def register_instrument(*, session: Session, definition: InstrumentDefinition) -> int:
    """Store the instrument and one item row per concrete question; safe to call again.

    Items for staff groups added since the last call are added; existing items never change,
    so answers already given keep meaning what they meant.
    """
    checksum = instrument_checksum(definition)
    stored = session.scalars(
        select(Instrument).where(
            Instrument.key == definition.key, Instrument.version == definition.version
        )
    ).first()
    if stored is None:
        stored = Instrument(
            key=definition.key,
            version=definition.version,
            title=definition.title,
            checksum=checksum,
        )
        session.add(stored)
        session.flush()
    elif stored.checksum != checksum:
        raise InstrumentChanged(
            f"{definition.source.name}: instrument {definition.key!r} version "
            f"{definition.version} is already in use with different content; "
            "give the changed file a new version number"
        )
    assert stored.id is not None
    groups = list_staff_groups(session=session)
    group_ids = {group.key: group.id for group in groups}
    in_index = {dimension.key: dimension.in_index for dimension in definition.dimensions}
    existing = set(session.scalars(select(Item.code).where(Item.instrument_id == stored.id)))
    for item in definition.items([(group.key, group.plural) for group in groups]):
        if item.code in existing:
            continue
        session.add(
            Item(
                instrument_id=stored.id,
                code=item.code,
                key=item.key,
                section=item.section,
                about_group_id=group_ids[item.about_group] if item.about_group else None,
                dimension=item.dimension,
                scale=item.scale,
                reverse=item.reverse,
                in_index=in_index[item.dimension],
                position=item.position,
            )
        )
    session.flush()
    return stored.id


def instrument_items(*, session: Session, instrument_id: int) -> dict[str, ItemInfo]:
    """The stored questions of an instrument, by code."""
    rows = session.scalars(select(Item).where(Item.instrument_id == instrument_id))
    return {
        item.code: ItemInfo(
            id=item.id,
            code=item.code,
            section=item.section,
            dimension=item.dimension,
            scale=item.scale,
            reverse=item.reverse,
            in_index=item.in_index,
            about_group_id=item.about_group_id,
        )
        for item in rows
        if item.id is not None
    }


def create_cycle(
    *,
    session: Session,
    name: str,
    opens: date,
    closes: date,
    instrument_id: int,
    state: CycleState = CycleState.draft,
) -> int:
    if closes < opens:
        raise ValueError("a cycle cannot close before it opens")
    cycle = SurveyCycle(
        name=name.strip(),
        opens=opens,
        closes=closes,
        state=state.value,
        instrument_id=instrument_id,
    )
    session.add(cycle)
    session.flush()
    assert cycle.id is not None
    return cycle.id


def list_cycles(*, session: Session) -> list[CycleInfo]:
    cycles = session.scalars(select(SurveyCycle).order_by(SurveyCycle.opens, SurveyCycle.id))
    return [
        CycleInfo(c.id, c.name, c.opens, c.closes, c.state, c.instrument_id)
        for c in cycles
        if c.id is not None
    ]


def has_survey_data(*, session: Session) -> bool:
    """Whether any cycle or response exists (the demo only fills an empty database)."""
    cycles = session.scalar(select(func.count()).select_from(SurveyCycle)) or 0
    cells = session.scalar(select(func.count()).select_from(CellRollup)) or 0
    departments = session.scalar(select(func.count()).select_from(Department)) or 0
    return bool(cycles or cells or departments)
