"""The organisation's reference data: divisions, departments, staff groups, instruments, cycles."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from surveys import audit
from surveys.config import get_settings
from surveys.instruments import Instrument as InstrumentDefinition
from surveys.instruments import builtin_instrument, discover_instruments
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

NAME_MAX_LENGTH = 120
GROUP_NAME_MAX_LENGTH = 80
# Names are shown in widget labels and survey questions, which Streamlit renders as Markdown,
# so they are held to plain text: no control or invisible characters and no markup.
_INVISIBLE = re.compile("[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MARKUP = re.compile(r"[<>\[\]`$*_\\|#~]|:[a-z-]+\[|^[-+]\s")


class InstrumentChanged(ValueError):
    """An instrument file changed without a new version number."""


class OrganisationError(ValueError):
    """A change to the organisation that cannot be made; the message says why."""


@dataclass(frozen=True)
class DivisionInfo:
    id: int
    name: str
    archived: bool


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    name: str
    division_id: int
    division: str
    archived: bool


@dataclass(frozen=True)
class StaffGroupInfo:
    id: int
    key: str
    name: str
    plural: str
    position: int
    archived: bool = False


@dataclass(frozen=True)
class CycleInfo:
    id: int
    name: str
    opens: date
    closes: date
    state: str
    instrument_id: int


# Which state each action moves a cycle to, and from which states it may do so.
CYCLE_TRANSITIONS: dict[str, tuple[CycleState, frozenset[CycleState]]] = {
    "open": (CycleState.open, frozenset({CycleState.draft, CycleState.closed})),
    "close": (CycleState.closed, frozenset({CycleState.open})),
}


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


def clean_name(value: str, *, what: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """`value` stripped, or OrganisationError when it is empty, too long or not plain text."""
    name = value.strip()
    if not name:
        raise OrganisationError(f"the {what} needs a name")
    if len(name) > max_length:
        raise OrganisationError(f"the {what} name is longer than {max_length} characters")
    invisible = _INVISIBLE.search(name)
    if invisible:
        raise OrganisationError(
            f"the {what} name contains the invisible or control character "
            f"U+{ord(invisible.group()):04X}"
        )
    markup = _MARKUP.search(name)
    if markup:
        raise OrganisationError(
            f"the {what} name contains {markup.group().strip()!r}, which would be shown as "
            "formatting; names are plain text"
        )
    return re.sub(" {2,}", " ", name)


def _refuse_duplicate(session: Session, model: type, name: str, what: str, own_id: int | None):  # type: ignore[no-untyped-def]
    # Case-insensitive: rosters and the command line find names regardless of case.
    clash = session.scalars(
        select(model).where(func.lower(model.name) == name.lower(), model.id != (own_id or -1))
    ).first()
    if clash is not None:
        raise OrganisationError(f"there is already a {what} called {clash.name!r}")


def _get(session: Session, model: type, row_id: int, what: str):  # type: ignore[no-untyped-def]
    row = session.get(model, row_id)
    if row is None:
        raise OrganisationError(f"there is no {what} with id {row_id}")
    return row


def create_division(*, session: Session, name: str, actor: str | None = None) -> int:
    name = clean_name(name, what="division")
    _refuse_duplicate(session, Division, name, "division", None)
    division = Division(name=name)
    session.add(division)
    session.flush()
    assert division.id is not None
    if actor:
        audit.record(session=session, actor=actor, action="division.create", detail=name)
    return division.id


def create_department(
    *, session: Session, name: str, division_id: int, actor: str | None = None
) -> int:
    name = clean_name(name, what="department")
    division = _get(session, Division, division_id, "division")
    if division.archived:
        raise OrganisationError(f"division {division.name!r} is archived")
    _refuse_duplicate(session, Department, name, "department", None)
    department = Department(name=name, division_id=division_id)
    session.add(department)
    session.flush()
    assert department.id is not None
    if actor:
        audit.record(
            session=session,
            actor=actor,
            action="department.create",
            detail=f"{name} in {division.name}",
        )
    return department.id


def list_divisions(*, session: Session, include_archived: bool = True) -> list[DivisionInfo]:
    query = select(Division).order_by(Division.name)
    if not include_archived:
        query = query.where(Division.archived == False)  # noqa: E712 - SQL expression
    return [
        DivisionInfo(division.id, division.name, division.archived)
        for division in session.scalars(query)
        if division.id is not None
    ]


def list_departments(
    *,
    session: Session,
    include_archived: bool = True,
    department_ids: frozenset[int] | None = None,
) -> list[DepartmentInfo]:
    """Departments by division and name; only `department_ids` when given (None: all)."""
    query = (
        select(Department, Division.name)
        .join(Division, Division.id == Department.division_id)
        .order_by(Division.name, Department.name)
    )
    if not include_archived:
        query = query.where(Department.archived == False)  # noqa: E712 - SQL expression
    if department_ids is not None:
        query = query.where(Department.id.in_(sorted(department_ids)))
    return [
        DepartmentInfo(
            department.id, department.name, department.division_id, division, department.archived
        )
        for department, division in session.execute(query)
        if department.id is not None
    ]


def department_ids_by_name(*, session: Session, names: Iterable[str]) -> frozenset[int]:
    """The departments called `names` (case-insensitive, archived ones too), or
    OrganisationError naming each unknown one with the nearest existing name."""
    departments = {
        department.name.lower(): department for department in session.scalars(select(Department))
    }
    found: set[int] = set()
    problems = []
    for name in names:
        department = departments.get(" ".join(name.split()).lower())
        if department is None or department.id is None:
            close = difflib.get_close_matches(
                name.strip().lower(), list(departments), n=1, cutoff=0.6
            )
            hint = f"; did you mean {departments[close[0]].name!r}?" if close else ""
            problems.append(f"there is no department called {name.strip()!r}{hint}")
        else:
            found.add(department.id)
    if problems:
        raise OrganisationError("; ".join(problems))
    return frozenset(found)


def rename_division(*, session: Session, division_id: int, name: str, actor: str) -> None:
    division = _get(session, Division, division_id, "division")
    name = clean_name(name, what="division")
    _refuse_duplicate(session, Division, name, "division", division_id)
    old = division.name
    division.name = name
    session.add(division)
    session.flush()
    audit.record(session=session, actor=actor, action="division.rename", detail=f"{old} -> {name}")


def set_division_archived(
    *, session: Session, division_id: int, archived: bool, actor: str
) -> None:
    """Archive (or restore) a division; it may only be archived once its departments are."""
    division = _get(session, Division, division_id, "division")
    if archived:
        active = session.scalar(
            select(func.count())
            .select_from(Department)
            .where(Department.division_id == division_id, Department.archived == False)  # noqa: E712
        )
        if active:
            raise OrganisationError(
                f"division {division.name!r} still has {active} active department(s); "
                "move or archive them first"
            )
    division.archived = archived
    session.add(division)
    session.flush()
    action = "division.archive" if archived else "division.restore"
    audit.record(session=session, actor=actor, action=action, detail=division.name)


def rename_department(*, session: Session, department_id: int, name: str, actor: str) -> None:
    department = _get(session, Department, department_id, "department")
    name = clean_name(name, what="department")
    _refuse_duplicate(session, Department, name, "department", department_id)
    old = department.name
    department.name = name
    session.add(department)
    session.flush()
    audit.record(
        session=session, actor=actor, action="department.rename", detail=f"{old} -> {name}"
    )


def move_department(*, session: Session, department_id: int, division_id: int, actor: str) -> None:
    """Put a department under another division; its survey history stays with it."""
    department = _get(session, Department, department_id, "department")
    division = _get(session, Division, division_id, "division")
    if division.archived:
        raise OrganisationError(f"division {division.name!r} is archived")
    old = _get(session, Division, department.division_id, "division")
    department.division_id = division_id
    session.add(department)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="department.move",
        detail=f"{department.name}: {old.name} -> {division.name}",
    )


def set_department_archived(
    *, session: Session, department_id: int, archived: bool, actor: str
) -> None:
    """Archive (or restore) a department. Its responses and results are kept; it just gets no
    new invitations and is not offered to respondents."""
    department = _get(session, Department, department_id, "department")
    if not archived:
        division = _get(session, Division, department.division_id, "division")
        if division.archived:
            raise OrganisationError(
                f"division {division.name!r} is archived; restore it or move the department first"
            )
    department.archived = archived
    session.add(department)
    session.flush()
    action = "department.archive" if archived else "department.restore"
    audit.record(session=session, actor=actor, action=action, detail=department.name)


def list_staff_groups(*, session: Session, include_archived: bool = False) -> list[StaffGroupInfo]:
    query = select(StaffGroup).order_by(StaffGroup.position, StaffGroup.id)
    if not include_archived:
        query = query.where(StaffGroup.archived == False)  # noqa: E712 - SQL expression
    return [
        StaffGroupInfo(
            group.id, group.key, group.name, group.plural, group.position, group.archived
        )
        for group in session.scalars(query)
        if group.id is not None
    ]


def _group_key(name: str) -> str:
    """A stable key for item codes: lower-case letters, digits and underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not key or not key[0].isalpha():
        key = f"group_{key}".rstrip("_")
    return key[:40].rstrip("_")


def create_staff_group(*, session: Session, name: str, plural: str, actor: str) -> int:
    """Add a staff group at the end of the order and give it its questions in every
    instrument in use, so that respondents can rate it from the next survey on."""
    name = clean_name(name, what="staff group", max_length=GROUP_NAME_MAX_LENGTH)
    plural = clean_name(plural, what="staff group plural", max_length=GROUP_NAME_MAX_LENGTH)
    _refuse_duplicate(session, StaffGroup, name, "staff group", None)
    key = _group_key(name)
    if session.scalars(select(StaffGroup).where(StaffGroup.key == key)).first() is not None:
        raise OrganisationError(f"there is already a staff group with the key {key!r}")
    last = session.scalar(select(func.max(StaffGroup.position)))
    group = StaffGroup(key=key, name=name, plural=plural, position=(last or 0) + 1)
    session.add(group)
    session.flush()
    assert group.id is not None
    items = sync_instruments(session=session)
    audit.record(
        session=session,
        actor=actor,
        action="staff_group.create",
        detail=f"{name} ({key}); {items} question(s) added",
    )
    return group.id


def rename_staff_group(
    *, session: Session, staff_group_id: int, name: str, plural: str, actor: str
) -> None:
    """Change how a group is named and addressed; its key, and so its questions, stay."""
    group = _get(session, StaffGroup, staff_group_id, "staff group")
    name = clean_name(name, what="staff group", max_length=GROUP_NAME_MAX_LENGTH)
    plural = clean_name(plural, what="staff group plural", max_length=GROUP_NAME_MAX_LENGTH)
    _refuse_duplicate(session, StaffGroup, name, "staff group", staff_group_id)
    old = f"{group.name} / {group.plural}"
    group.name, group.plural = name, plural
    session.add(group)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="staff_group.rename",
        detail=f"{old} -> {name} / {plural}",
    )


def move_staff_group(*, session: Session, staff_group_id: int, offset: int, actor: str) -> None:
    """Move a group `offset` places up (negative) or down the order the survey asks in."""
    groups = list(session.scalars(select(StaffGroup).order_by(StaffGroup.position, StaffGroup.id)))
    index = next((i for i, group in enumerate(groups) if group.id == staff_group_id), None)
    if index is None:
        raise OrganisationError(f"there is no staff group with id {staff_group_id}")
    target = min(max(index + offset, 0), len(groups) - 1)
    moved = groups.pop(index)
    groups.insert(target, moved)
    for position, group in enumerate(groups):
        if group.position != position:
            group.position = position
            session.add(group)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="staff_group.move",
        detail=f"{moved.name} to place {target + 1} of {len(groups)}",
    )


def set_staff_group_archived(
    *, session: Session, staff_group_id: int, archived: bool, actor: str
) -> None:
    """Archive (or restore) a staff group; its past answers stay, it is no longer asked about."""
    group = _get(session, StaffGroup, staff_group_id, "staff group")
    if archived:
        active = session.scalar(
            select(func.count()).select_from(StaffGroup).where(StaffGroup.archived == False)  # noqa: E712
        )
        if not group.archived and active <= 1:
            raise OrganisationError("the last active staff group cannot be archived")
    group.archived = archived
    session.add(group)
    session.flush()
    if not archived:
        sync_instruments(session=session)
    action = "staff_group.archive" if archived else "staff_group.restore"
    audit.record(session=session, actor=actor, action=action, detail=group.name)


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


def create_cycle(
    *,
    session: Session,
    name: str,
    opens: date,
    closes: date,
    instrument_id: int | None = None,
    state: CycleState = CycleState.draft,
    actor: str | None = None,
) -> int:
    """A new survey cycle; without `instrument_id` it asks the built-in instrument."""
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


def change_cycle_state(*, session: Session, cycle_id: int, action: str, actor: str) -> CycleState:
    """Open or close a cycle ("open" also reopens a closed one); returns the new state."""
    if action not in CYCLE_TRANSITIONS:
        raise OrganisationError(f"unknown cycle action {action!r}")
    target, allowed_from = CYCLE_TRANSITIONS[action]
    cycle = _get(session, SurveyCycle, cycle_id, "survey cycle")
    current = CycleState(cycle.state)
    if current not in allowed_from:
        raise OrganisationError(
            f"survey cycle {cycle.name!r} is {current.value}; it cannot {action}"
        )
    cycle.state = target.value
    session.add(cycle)
    session.flush()
    audit.record(session=session, actor=actor, action=f"cycle.{action}", detail=cycle.name)
    return target


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
