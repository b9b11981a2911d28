"""Action plans: what a department will do about a result, who leads it, by when, and how it goes.

Each change is one audited write transaction that takes `engine=` and the `viewer` (the
signed-in account, as `surveys.access.accounts.AccountInfo`). `add_plan` and `add_note` take
the caller's `session=` instead, for the demo loader, which builds everything in one
transaction.

Who may see and change a plan is decided in this package (checks.py), never by a page: a
manager sees and changes only the plans of their own departments; an administrator every plan,
including plans for the whole organisation (no department), which only an administrator may
make. A plan outside a manager's departments is reported exactly like a plan that does not
exist, so a guessed id says nothing.

All plan text is plain text: it is stored as written (markup characters included) and every
page shows it as text, never as Markdown or HTML. Invisible and control characters are refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import date

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from surveys import audit
from surveys.access.accounts import AccountInfo
from surveys.actions.checks import (
    check_draft,
    clean_text,
    department_name,
    described,
    is_day,
    scope_of,
    status_of,
    visible_plan,
)
from surveys.actions.records import (
    ACTIONS_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    OPEN_STATUSES,
    ORGANISATION_WIDE,
    OWNER_MAX_LENGTH,
    STATUS_WORDS,
    TITLE_MAX_LENGTH,
    DepartmentPlans,
    PlanDraft,
    PlanError,
    PlanForbidden,
    PlanNote,
    PlanNotFound,
    PlanOverview,
    PlanRecord,
    PlanStatus,
)
from surveys.clock import utc_now
from surveys.models import ActionPlan, ActionPlanNote
from surveys.reporting.reference import Reference
from surveys.reporting.source import load_reference
from surveys.storage import read_session, write_session

__all__ = [
    "ACTIONS_MAX_LENGTH",
    "NOTE_MAX_LENGTH",
    "OPEN_STATUSES",
    "ORGANISATION_WIDE",
    "OWNER_MAX_LENGTH",
    "STATUS_WORDS",
    "TITLE_MAX_LENGTH",
    "DepartmentPlans",
    "PlanDraft",
    "PlanError",
    "PlanForbidden",
    "PlanNote",
    "PlanNotFound",
    "PlanOverview",
    "PlanRecord",
    "PlanStatus",
    "add_note",
    "add_plan",
    "add_progress_note",
    "create_plan",
    "plan",
    "plan_overview",
    "plans_for_departments",
    "plans_visible_to",
    "set_status",
    "update_plan",
]

# --- Changes -----------------------------------------------------------------------------------


def add_plan(
    *,
    session: Session,
    viewer: AccountInfo,
    draft: PlanDraft,
    status: PlanStatus | str = PlanStatus.planned,
    created_on: date | None = None,
) -> int:
    """`create_plan` inside the caller's transaction (the demo loader builds its plans so)."""
    today = utc_now().date()
    reference = load_reference(session.connection())
    checked = check_draft(reference, viewer, draft, today=today)
    chosen = status_of(status)
    if created_on is not None and (not is_day(created_on) or created_on > today):
        raise PlanError("a plan cannot be made on a day still to come")
    row = ActionPlan(
        **checked.__dict__,
        status=chosen.value,
        created_by=viewer.username,
        created_on=created_on or today,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    audit.record(
        session=session,
        actor=viewer.username,
        action="plan.create",
        detail=f"{described(reference, checked.title, checked.department_id)}: "
        f"{STATUS_WORDS[chosen].lower()}, due {checked.due_on.isoformat()}",
    )
    return row.id


def create_plan(
    *,
    engine: Engine,
    viewer: AccountInfo,
    draft: PlanDraft,
    status: PlanStatus | str = PlanStatus.planned,
) -> int:
    """A new plan (planned unless `status` says otherwise); returns its id."""
    with write_session(engine) as session:
        return add_plan(session=session, viewer=viewer, draft=draft, status=status)


_FIELD_WORDS = {
    "title": "title",
    "actions": "what will be done",
    "owner": "owner",
    "show_owner": "whether staff see the owner",
    "due_on": "due date",
    "department_id": "department",
    "dimension_key": "what it addresses",
    "from_group_id": "what it addresses",
    "to_group_id": "what it addresses",
    "started_cycle_id": "starting cycle",
}


def update_plan(*, engine: Engine, viewer: AccountInfo, plan_id: int, draft: PlanDraft) -> bool:
    """Change a plan's fields (not its status: `set_status`); returns whether anything changed.

    Moving a plan to another department needs both departments in the viewer's scope."""
    with write_session(engine) as session:
        row = visible_plan(session, viewer, plan_id)
        reference = load_reference(session.connection())
        checked = check_draft(reference, viewer, draft, today=utc_now().date(), unchanged=row)
        changed = [
            field for field, value in checked.__dict__.items() if getattr(row, field) != value
        ]
        if not changed:
            return False
        for field in changed:
            setattr(row, field, getattr(checked, field))
        session.add(row)
        session.flush()
        audit.record(
            session=session,
            actor=viewer.username,
            action="plan.update",
            detail=f"{described(reference, checked.title, checked.department_id)}: "
            + ", ".join(dict.fromkeys(_FIELD_WORDS[field] for field in changed)),
        )
        return True


def set_status(
    *, engine: Engine, viewer: AccountInfo, plan_id: int, status: PlanStatus | str
) -> bool:
    """Move a plan to `status` (any status to any other: a dropped plan may be taken up
    again); returns whether it changed."""
    chosen = status_of(status)
    with write_session(engine) as session:
        row = visible_plan(session, viewer, plan_id)
        before = PlanStatus(row.status)
        if before is chosen:
            return False
        row.status = chosen.value
        session.add(row)
        session.flush()
        reference = load_reference(session.connection())
        audit.record(
            session=session,
            actor=viewer.username,
            action="plan.status",
            detail=f"{described(reference, row.title, row.department_id)}: "
            f"{STATUS_WORDS[before].lower()} to {STATUS_WORDS[chosen].lower()}",
        )
        return True


def add_note(
    *,
    session: Session,
    viewer: AccountInfo,
    plan_id: int,
    note: str,
    written_on: date | None = None,
) -> int:
    """`add_progress_note` inside the caller's transaction."""
    row = visible_plan(session, viewer, plan_id)
    cleaned = clean_text(
        note, what="a progress note", max_length=NOTE_MAX_LENGTH, required=True, prose=True
    )
    today = utc_now().date()
    day = written_on or today
    if not is_day(day):
        raise PlanError("a note's date must be a date")
    if day > today:
        raise PlanError("a progress note cannot be dated on a day still to come")
    added = ActionPlanNote(plan_id=plan_id, written_on=day, author=viewer.label, text=cleaned)
    session.add(added)
    session.flush()
    assert added.id is not None
    reference = load_reference(session.connection())
    audit.record(
        session=session,
        actor=viewer.username,
        action="plan.note",
        detail=f"{described(reference, row.title, row.department_id)}: "
        f"note dated {day.isoformat()}",
    )
    return added.id


def add_progress_note(
    *,
    engine: Engine,
    viewer: AccountInfo,
    plan_id: int,
    note: str,
    written_on: date | None = None,
) -> int:
    """A dated progress note (today unless `written_on` says an earlier day); returns its id."""
    with write_session(engine) as session:
        return add_note(
            session=session, viewer=viewer, plan_id=plan_id, note=note, written_on=written_on
        )


# --- Reading -----------------------------------------------------------------------------------


def _record(reference: Reference, row: ActionPlan, today: date) -> PlanRecord:
    assert row.id is not None
    dimension = None
    if row.dimension_key is not None:
        labels = {d.key: d.label for d in reference.dimensions}
        dimension = labels.get(row.dimension_key, row.dimension_key.replace("_", " ").capitalize())
    groups = {group.id: group for group in reference.groups}
    rating = groups.get(row.from_group_id) if row.from_group_id is not None else None
    rated = groups.get(row.to_group_id) if row.to_group_id is not None else None
    if rating is not None and rated is not None:
        addresses = f"How {rating.plural} see working with {rated.plural}"
    else:
        addresses = dimension or ""
    started = next(cycle for cycle in reference.cycles if cycle.id == row.started_cycle_id)
    status = PlanStatus(row.status)
    return PlanRecord(
        id=row.id,
        title=row.title,
        actions=row.actions,
        status=status,
        owner=row.owner,
        show_owner=row.show_owner,
        department_id=row.department_id,
        department=department_name(reference, row.department_id),
        dimension_key=row.dimension_key,
        dimension=dimension,
        from_group_id=row.from_group_id,
        from_group=rating.name if rating else None,
        to_group_id=row.to_group_id,
        to_group=rated.name if rated else None,
        addresses=addresses,
        due_on=row.due_on,
        started_cycle_id=row.started_cycle_id,
        started_cycle=started.name,
        started_opens=started.opens,
        created_by=row.created_by,
        created_on=row.created_on,
        overdue=status in OPEN_STATUSES and row.due_on < today,
    )


_STATUS_ORDER = {
    PlanStatus.in_progress: 0,
    PlanStatus.planned: 1,
    PlanStatus.done: 2,
    PlanStatus.dropped: 3,
}


def _ordered(records: Iterable[PlanRecord]) -> list[PlanRecord]:
    """Overdue plans first, then open plans by due date, then finished ones."""
    return sorted(
        records,
        key=lambda plan: (not plan.overdue, _STATUS_ORDER[plan.status], plan.due_on, plan.id),
    )


def _read(
    engine: Engine,
    *,
    scope: frozenset[int] | None,
    organisation_wide: bool,
    statuses: Collection[PlanStatus | str] | None = None,
) -> tuple[Reference, list[ActionPlan]]:
    query = select(ActionPlan)
    if scope is not None:
        in_scope = col(ActionPlan.department_id).in_(sorted(scope))
        query = query.where(
            in_scope | col(ActionPlan.department_id).is_(None) if organisation_wide else in_scope
        )
    elif not organisation_wide:
        query = query.where(col(ActionPlan.department_id).is_not(None))
    if statuses is not None:
        query = query.where(
            col(ActionPlan.status).in_(sorted(status_of(s).value for s in statuses))
        )
    with read_session(engine) as session:
        reference = load_reference(session.connection())
        rows = list(session.scalars(query))
        session.expunge_all()
    return reference, rows


def plans_visible_to(
    *,
    engine: Engine,
    viewer: AccountInfo,
    department_ids: Collection[int] | None = None,
    whole_organisation: bool | None = None,
    statuses: Collection[PlanStatus | str] | None = None,
) -> list[PlanRecord]:
    """The plans `viewer` may see, overdue first, optionally only some departments (narrowed
    within the viewer's, never widened) or statuses. The whole organisation's plans come with
    an administrator's list when `whole_organisation` says so (by default, when no departments
    are asked for); never with a manager's."""
    scope = scope_of(viewer)
    if department_ids is not None:
        wanted = frozenset(department_ids)
        scope = wanted if scope is None else scope & wanted
    if whole_organisation is None:
        whole_organisation = department_ids is None
    reference, rows = _read(
        engine,
        scope=scope,
        organisation_wide=viewer.is_admin and whole_organisation,
        statuses=statuses,
    )
    today = utc_now().date()
    return _ordered(_record(reference, row, today) for row in rows)


def plan(*, engine: Engine, viewer: AccountInfo, plan_id: int) -> PlanRecord:
    """One plan with its progress notes (newest first), or PlanNotFound."""
    with read_session(engine) as session:
        row = visible_plan(session, viewer, plan_id)
        reference = load_reference(session.connection())
        notes = tuple(
            PlanNote(note.id, note.written_on, note.author, note.text)
            for note in session.scalars(
                select(ActionPlanNote)
                .where(col(ActionPlanNote.plan_id) == plan_id)
                .order_by(col(ActionPlanNote.written_on).desc(), col(ActionPlanNote.id).desc())
            )
            if note.id is not None
        )
        record = _record(reference, row, utc_now().date())
    return replace(record, notes=notes)


def plans_for_departments(
    engine: Engine,
    *,
    department_ids: Collection[int] | None,
    since_cycle_id: int | None = None,
    until_cycle_id: int | None = None,
    organisation_wide: bool = False,
    statuses: Collection[PlanStatus | str] | None = None,
) -> list[PlanRecord]:
    """The plans of these departments (None: every department), for a summary that has
    already decided what its reader may see (the shared staff summary). Plans that started in
    `since_cycle_id` or later, and in `until_cycle_id` or earlier, when given; the whole
    organisation's plans too with `organisation_wide`. Owners are in every record: show
    `owner_for_staff` to staff, never `owner`."""
    scope = None if department_ids is None else frozenset(department_ids)
    reference, rows = _read(
        engine, scope=scope, organisation_wide=organisation_wide, statuses=statuses
    )
    opens = {cycle.id: cycle.opens for cycle in reference.cycles}
    if since_cycle_id is not None:
        since = opens[since_cycle_id]
        rows = [row for row in rows if opens[row.started_cycle_id] >= since]
    if until_cycle_id is not None:
        until = opens[until_cycle_id]
        rows = [row for row in rows if opens[row.started_cycle_id] <= until]
    today = utc_now().date()
    return _ordered(_record(reference, row, today) for row in rows)


def plan_overview(*, engine: Engine, viewer: AccountInfo) -> PlanOverview:
    """Every plan the viewer may see (an administrator: the whole organisation), counted by
    status and by department, with the overdue ones listed."""
    records = plans_visible_to(engine=engine, viewer=viewer)
    by_department: dict[tuple[str, int | None], list[PlanRecord]] = {}
    for record in records:
        key = (record.department, record.department_id)
        by_department.setdefault(key, []).append(record)

    def counted(plans: list[PlanRecord]) -> tuple[tuple[PlanStatus, int], ...]:
        counts = Counter(plan.status for plan in plans)
        return tuple((status, counts[status]) for status in PlanStatus)

    # The whole organisation's plans first, then departments by name.
    ordered = sorted(by_department.items(), key=lambda item: (item[0][1] is not None, item[0][0]))
    return PlanOverview(
        total=len(records),
        by_status=counted(records),
        overdue=tuple(sorted((r for r in records if r.overdue), key=lambda r: (r.due_on, r.id))),
        by_department=tuple(
            DepartmentPlans(
                department_id=department_id,
                department=name,
                by_status=counted(plans),
                overdue=sum(plan.overdue for plan in plans),
                total=len(plans),
            )
            for (name, department_id), plans in ordered
        ),
    )
