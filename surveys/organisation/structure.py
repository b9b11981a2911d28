"""Divisions, departments and staff groups: made, renamed, moved, archived and listed.

Pages and the command line call the functions that take `engine=`; each is one audited write
transaction (or one read). `add_division`, `add_department` and `staff_groups` take the
caller's `session=` instead, for callers that build an organisation in one transaction (the
demo loader, the benchmarks, test fixtures) or read it inside one (the survey form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel, col

from surveys import audit, text
from surveys.models import Department, Division, StaffGroup, SurveyCycle
from surveys.organisation.catalogue import sync_instruments
from surveys.records import DepartmentInfo, DivisionInfo, StaffGroupInfo
from surveys.storage import read_session, write_session

NAME_MAX_LENGTH = 120
GROUP_NAME_MAX_LENGTH = 80


class OrganisationError(ValueError):
    """A change to the organisation that cannot be made; the message says why."""


def clean_name(value: str, *, what: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """`value` stripped, or OrganisationError when it is empty, too long or not plain text.

    Names are shown in widget labels and survey questions, which Streamlit renders as
    Markdown, so they are held to plain text (surveys.text)."""
    name = value.strip()
    if not name:
        raise OrganisationError(f"the {what} needs a name")
    if len(name) > max_length:
        raise OrganisationError(f"the {what} name is longer than {max_length} characters")
    invisible = text.invisible_character(name)
    if invisible:
        raise OrganisationError(
            f"the {what} name contains the invisible or control character {invisible}"
        )
    formatting = text.markup(name)
    if formatting:
        raise OrganisationError(
            f"the {what} name contains {formatting!r}, which would be shown as "
            "formatting; names are plain text"
        )
    return re.sub(" {2,}", " ", name)


_Row = TypeVar("_Row", bound=SQLModel)
# The tables whose rows have a unique, case-insensitive name.
_Named = TypeVar("_Named", Division, Department, StaffGroup, SurveyCycle)


def _refuse_duplicate(
    session: Session,
    model: type[_Named],
    name: str,
    what: str,
    own_id: int | None,
) -> None:
    # Case-insensitive: rosters and the command line find names regardless of case.
    clash = session.scalars(
        select(model).where(func.lower(model.name) == name.lower(), col(model.id) != (own_id or -1))
    ).first()
    if clash is not None:
        raise OrganisationError(f"there is already a {what} called {clash.name!r}")


def _get(session: Session, model: type[_Row], row_id: int, what: str) -> _Row:
    row = session.get(model, row_id)
    if row is None:
        raise OrganisationError(f"there is no {what} with id {row_id}")
    return row


# --- Divisions and departments -------------------------------------------------------------------


def add_division(*, session: Session, name: str, actor: str | None = None) -> int:
    """A new division, inside the caller's transaction (audited when `actor` is given)."""
    name = clean_name(name, what="division")
    _refuse_duplicate(session, Division, name, "division", None)
    division = Division(name=name)
    session.add(division)
    session.flush()
    assert division.id is not None
    if actor:
        audit.record(session=session, actor=actor, action="division.create", detail=name)
    return division.id


def create_division(*, engine: Engine, name: str, actor: str) -> int:
    with write_session(engine) as session:
        return add_division(session=session, name=name, actor=actor)


def add_department(
    *, session: Session, name: str, division_id: int, actor: str | None = None
) -> int:
    """A new department, inside the caller's transaction (audited when `actor` is given)."""
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


def create_department(*, engine: Engine, name: str, division_id: int, actor: str) -> int:
    with write_session(engine) as session:
        return add_department(session=session, name=name, division_id=division_id, actor=actor)


def list_divisions(*, engine: Engine, include_archived: bool = True) -> list[DivisionInfo]:
    query = select(Division).order_by(Division.name)
    if not include_archived:
        query = query.where(col(Division.archived) == False)  # noqa: E712 - SQL expression
    with read_session(engine) as session:
        return [
            DivisionInfo(division.id, division.name, division.archived)
            for division in session.scalars(query)
            if division.id is not None
        ]


def list_departments(
    *,
    engine: Engine,
    include_archived: bool = True,
    department_ids: frozenset[int] | None = None,
) -> list[DepartmentInfo]:
    """Departments by division and name; only `department_ids` when given (None: all)."""
    query = (
        select(Department, col(Division.name))
        .join(Division, col(Division.id) == Department.division_id)
        .order_by(Division.name, Department.name)
    )
    if not include_archived:
        query = query.where(col(Department.archived) == False)  # noqa: E712 - SQL expression
    if department_ids is not None:
        query = query.where(col(Department.id).in_(sorted(department_ids)))
    with read_session(engine) as session:
        return [
            DepartmentInfo(
                department.id,
                department.name,
                department.division_id,
                division,
                department.archived,
            )
            for department, division in session.execute(query)
            if department.id is not None
        ]


def department_ids_by_name(*, session: Session, names: Iterable[str]) -> frozenset[int]:
    """The departments called `names` (case-insensitive, archived ones too), or
    OrganisationError naming each unknown one with the nearest existing name.

    Takes the caller's session: accounts check the names in the transaction that stores them."""
    departments = {
        department.name.lower(): department for department in session.scalars(select(Department))
    }
    found: set[int] = set()
    problems = []
    for name in names:
        department = departments.get(" ".join(name.split()).lower())
        if department is None or department.id is None:
            hint = text.did_you_mean(name, [d.name for d in departments.values()])
            problems.append(f"there is no department called {name.strip()!r}{hint}")
        else:
            found.add(department.id)
    if problems:
        raise OrganisationError("; ".join(problems))
    return frozenset(found)


def rename_division(*, engine: Engine, division_id: int, name: str, actor: str) -> None:
    with write_session(engine) as session:
        division = _get(session, Division, division_id, "division")
        name = clean_name(name, what="division")
        _refuse_duplicate(session, Division, name, "division", division_id)
        old = division.name
        division.name = name
        session.add(division)
        session.flush()
        audit.record(
            session=session, actor=actor, action="division.rename", detail=f"{old} -> {name}"
        )


def set_division_archived(*, engine: Engine, division_id: int, archived: bool, actor: str) -> None:
    """Archive (or restore) a division; it may only be archived once its departments are."""
    with write_session(engine) as session:
        division = _get(session, Division, division_id, "division")
        if archived:
            active = session.scalar(
                select(func.count())
                .select_from(Department)
                .where(
                    col(Department.division_id) == division_id,
                    col(Department.archived) == False,  # noqa: E712 - SQL expression
                )
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


def rename_department(*, engine: Engine, department_id: int, name: str, actor: str) -> None:
    with write_session(engine) as session:
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


def move_department(*, engine: Engine, department_id: int, division_id: int, actor: str) -> None:
    """Put a department under another division; its survey history stays with it."""
    with write_session(engine) as session:
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
    *, engine: Engine, department_id: int, archived: bool, actor: str
) -> None:
    """Archive (or restore) a department. Its responses and results are kept; it just gets no
    new invitations and is not offered to respondents."""
    with write_session(engine) as session:
        department = _get(session, Department, department_id, "department")
        if not archived:
            division = _get(session, Division, department.division_id, "division")
            if division.archived:
                raise OrganisationError(
                    f"division {division.name!r} is archived; "
                    "restore it or move the department first"
                )
        department.archived = archived
        session.add(department)
        session.flush()
        action = "department.archive" if archived else "department.restore"
        audit.record(session=session, actor=actor, action=action, detail=department.name)


# --- Staff groups --------------------------------------------------------------------------------


def staff_groups(*, session: Session, include_archived: bool = False) -> list[StaffGroupInfo]:
    """The staff groups in survey order, read inside the caller's transaction."""
    query = select(StaffGroup).order_by(col(StaffGroup.position), col(StaffGroup.id))
    if not include_archived:
        query = query.where(col(StaffGroup.archived) == False)  # noqa: E712 - SQL expression
    return [
        StaffGroupInfo(
            id=group.id,
            key=group.key,
            name=group.name,
            plural=group.plural,
            archived=group.archived,
            position=group.position,
        )
        for group in session.scalars(query)
        if group.id is not None
    ]


def list_staff_groups(*, engine: Engine, include_archived: bool = False) -> list[StaffGroupInfo]:
    with read_session(engine) as session:
        return staff_groups(session=session, include_archived=include_archived)


def _group_key(name: str) -> str:
    """A stable key for item codes: lower-case letters, digits and underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not key or not key[0].isalpha():
        key = f"group_{key}".rstrip("_")
    return key[:40].rstrip("_")


def create_staff_group(*, engine: Engine, name: str, plural: str, actor: str) -> int:
    """Add a staff group at the end of the order and give it its questions in every
    instrument in use, so that respondents can rate it from the next survey on."""
    name = clean_name(name, what="staff group", max_length=GROUP_NAME_MAX_LENGTH)
    plural = clean_name(plural, what="staff group plural", max_length=GROUP_NAME_MAX_LENGTH)
    with write_session(engine) as session:
        _refuse_duplicate(session, StaffGroup, name, "staff group", None)
        key = _group_key(name)
        if (
            session.scalars(select(StaffGroup).where(col(StaffGroup.key) == key)).first()
            is not None
        ):
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
    *, engine: Engine, staff_group_id: int, name: str, plural: str, actor: str
) -> None:
    """Change how a group is named and addressed; its key, and so its questions, stay."""
    with write_session(engine) as session:
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


def move_staff_group(*, engine: Engine, staff_group_id: int, offset: int, actor: str) -> None:
    """Move a group `offset` places up (negative) or down the order the survey asks in."""
    with write_session(engine) as session:
        groups = list(
            session.scalars(
                select(StaffGroup).order_by(col(StaffGroup.position), col(StaffGroup.id))
            )
        )
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
    *, engine: Engine, staff_group_id: int, archived: bool, actor: str
) -> None:
    """Archive (or restore) a staff group; its past answers stay, it is no longer asked about."""
    with write_session(engine) as session:
        group = _get(session, StaffGroup, staff_group_id, "staff group")
        if archived:
            active = session.scalars(
                select(func.count())
                .select_from(StaffGroup)
                .where(col(StaffGroup.archived) == False)  # noqa: E712
            ).one()
            if not group.archived and active <= 1:
                raise OrganisationError("the last active staff group cannot be archived")
        group.archived = archived
        session.add(group)
        session.flush()
        if not archived:
            sync_instruments(session=session)
        action = "staff_group.archive" if archived else "staff_group.restore"
        audit.record(session=session, actor=actor, action=action, detail=group.name)
