"""Instruments in the database: registered from their files, kept in step with the staff groups.

These take the caller's `session=`: they run inside the transaction that makes a cycle or a
staff group, or that stores a submission.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from surveys.config import get_settings
from surveys.instruments import Instrument as InstrumentDefinition
from surveys.instruments import discover_instruments
from surveys.models import Instrument, Item, StaffGroup
from surveys.records import ItemInfo


class InstrumentChanged(ValueError):
    """An instrument file changed without a new version number."""


def register_instrument(*, session: Session, definition: InstrumentDefinition) -> int:
    """Store the instrument and one item row per concrete question; safe to call again.

    Items for staff groups added since the last call are added; existing items never change,
    so answers already given keep meaning what they meant.
    """
    stored = session.scalars(
        select(Instrument).where(
            col(Instrument.key) == definition.key, col(Instrument.version) == definition.version
        )
    ).first()
    if stored is None:
        stored = Instrument(
            key=definition.key,
            version=definition.version,
            title=definition.title,
            checksum=definition.checksum,
        )
        session.add(stored)
        session.flush()
    elif stored.checksum != definition.checksum:
        raise InstrumentChanged(
            f"{definition.source.name}: instrument {definition.key!r} version "
            f"{definition.version} is already in use with different content; "
            "give the changed file a new version number"
        )
    assert stored.id is not None
    # The active staff groups, in survey order: each gets its questions.
    groups = session.execute(
        select(col(StaffGroup.key), col(StaffGroup.plural), col(StaffGroup.id))
        .where(col(StaffGroup.archived) == False)  # noqa: E712 - SQL expression
        .order_by(col(StaffGroup.position), col(StaffGroup.id))
    ).all()
    group_ids = {key: group_id for key, _, group_id in groups}
    in_index = {dimension.key: dimension.in_index for dimension in definition.dimensions}
    existing = set(
        session.scalars(select(col(Item.code)).where(col(Item.instrument_id) == stored.id))
    )
    for item in definition.items([(key, plural) for key, plural, _ in groups]):
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
    rows = session.scalars(select(Item).where(col(Item.instrument_id) == instrument_id))
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
            instrument_id=item.instrument_id,
            position=item.position,
        )
        for item in rows
        if item.id is not None
    }


def sync_instruments(*, session: Session) -> int:
    """Give every stored instrument whose file is available its questions for the active
    staff groups; returns how many questions were added."""
    before = session.scalar(select(func.count()).select_from(Item)) or 0
    available = discover_instruments(get_settings().instrument_dir)
    for instrument in session.scalars(select(Instrument)).all():
        definition = available.get((instrument.key, instrument.version))
        if definition is not None:
            register_instrument(session=session, definition=definition)
    after = session.scalar(select(func.count()).select_from(Item)) or 0
    return after - before
