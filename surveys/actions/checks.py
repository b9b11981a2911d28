"""Who may see and change which plan, and what a plan may say: checked before anything is written.

A manager's scope is their departments; an administrator's is every plan, the whole
organisation's plans included. A plan outside a manager's scope is reported exactly like a
plan that does not exist, so a guessed id says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from surveys import text
from surveys.access.accounts import AccountInfo
from surveys.actions.records import (
    ACTIONS_MAX_LENGTH,
    ORGANISATION_WIDE,
    OWNER_MAX_LENGTH,
    STATUS_WORDS,
    TITLE_MAX_LENGTH,
    PlanDraft,
    PlanError,
    PlanForbidden,
    PlanNotFound,
    PlanStatus,
)
from surveys.models import ActionPlan
from surveys.reporting.reference import Reference

# --- Who may see what --------------------------------------------------------------------------


def scope_of(viewer: AccountInfo) -> frozenset[int] | None:
    """The departments whose plans `viewer` may see; None for every plan."""
    if viewer.is_admin:
        return None
    return viewer.department_ids or frozenset()


def may_see(viewer: AccountInfo, department_id: int | None) -> bool:
    scope = scope_of(viewer)
    return scope is None or (department_id is not None and department_id in scope)


def _require_department(viewer: AccountInfo, department_id: int | None) -> None:
    if may_see(viewer, department_id):
        return
    if department_id is None:
        raise PlanForbidden("only an administrator can make a plan for the whole organisation")
    raise PlanForbidden("you can make and change plans only for your own departments")


def visible_plan(session: Session, viewer: AccountInfo, plan_id: object) -> ActionPlan:
    if not isinstance(plan_id, int) or isinstance(plan_id, bool):
        raise PlanNotFound("there is no such plan")
    row = session.get(ActionPlan, plan_id)
    if row is None or not may_see(viewer, row.department_id):
        raise PlanNotFound(f"there is no plan {plan_id} among the plans you can see")
    return row


# --- Plain text --------------------------------------------------------------------------------


def clean_text(value: object, *, what: str, max_length: int, required: bool, prose: bool) -> str:
    if not isinstance(value, str):
        raise PlanError(f"the {what} must be text")
    cleaned = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not cleaned:
        raise PlanError(f"the plan needs {what}")
    if len(cleaned) > max_length:
        raise PlanError(
            f"the {what} is {len(cleaned):,} characters long; at most {max_length:,} fit"
        )
    if not prose and "\n" in cleaned:
        raise PlanError(f"the {what} must be one line")
    invisible = text.invisible_character(cleaned, prose=prose)
    if invisible:
        raise PlanError(
            f"the {what} contains the invisible or control character {invisible}; "
            "type it again without it"
        )
    return cleaned


def is_day(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


# --- Checking a draft --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    title: str
    actions: str
    owner: str
    show_owner: bool
    due_on: date
    department_id: int | None
    dimension_key: str | None
    from_group_id: int | None
    to_group_id: int | None
    started_cycle_id: int


def _optional_id(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise PlanError(f"the {what} is not one Attune knows")
    return value


def check_draft(
    reference: Reference,
    viewer: AccountInfo,
    draft: PlanDraft,
    *,
    today: date,
    unchanged: ActionPlan | None = None,
) -> _Checked:
    """The draft made safe to store, or PlanError / PlanForbidden saying what is wrong.

    `unchanged` is the stored plan when editing: what it already points at (an archived
    department, say) may stay, but nothing new may be archived."""
    if not isinstance(draft, PlanDraft):
        raise PlanError("a plan must be given as a PlanDraft")
    title = clean_text(
        draft.title, what="a title", max_length=TITLE_MAX_LENGTH, required=True, prose=False
    )
    actions = clean_text(
        draft.actions,
        what="what will be done",
        max_length=ACTIONS_MAX_LENGTH,
        required=True,
        prose=True,
    )
    owner = clean_text(
        draft.owner, what="owner", max_length=OWNER_MAX_LENGTH, required=False, prose=False
    )
    if not isinstance(draft.show_owner, bool):
        raise PlanError("'show owner' must be yes or no")

    department_id = _optional_id(draft.department_id, "department")
    if department_id is not None:
        department = reference.departments.get(department_id)
        if department is None:
            raise PlanError("that department does not exist")
        kept = unchanged is not None and unchanged.department_id == department_id
        if department.archived and not kept:
            raise PlanError(f"{department.name} is archived; restore it first")
    _require_department(viewer, department_id)

    dimension_key = draft.dimension_key or None
    from_group_id = _optional_id(draft.from_group_id, "staff group")
    to_group_id = _optional_id(draft.to_group_id, "staff group")
    known = {dimension.key for dimension in reference.dimensions}
    if dimension_key is not None and (
        not isinstance(dimension_key, str) or dimension_key not in known
    ):
        raise PlanError(f"there is no dimension {text.shown(dimension_key)}")
    if (from_group_id is None) != (to_group_id is None):
        raise PlanError("a relationship needs both staff groups: the one rating and the one rated")
    if from_group_id is not None and dimension_key is not None:
        raise PlanError("a plan addresses one dimension or one relationship, not both")
    groups = {group.id: group for group in reference.groups}
    for group_id, column in ((from_group_id, "from_group_id"), (to_group_id, "to_group_id")):
        if group_id is None:
            continue
        group = groups.get(group_id)
        if group is None:
            raise PlanError("that staff group does not exist")
        kept = unchanged is not None and getattr(unchanged, column) == group_id
        if group.archived and not kept:
            raise PlanError(f"the staff group {group.name} is archived")

    started_cycle_id = _optional_id(draft.started_cycle_id, "survey cycle")
    if started_cycle_id is None:
        begun = [cycle for cycle in reference.cycles if cycle.opens <= today] or list(
            reference.cycles
        )
        if not begun:
            raise PlanError("there is no survey cycle yet: a plan starts from a cycle's results")
        started_cycle_id = begun[-1].id
    cycles = {cycle.id: cycle for cycle in reference.cycles}
    if started_cycle_id not in cycles:
        raise PlanError("that survey cycle does not exist")
    started = cycles[started_cycle_id]

    if not is_day(draft.due_on):
        raise PlanError("the due date must be a date")
    if draft.due_on < started.opens:
        raise PlanError(
            f"the due date ({draft.due_on:%-d %b %Y}) is before {started.name} opened "
            f"({started.opens:%-d %b %Y}), the cycle the plan starts from"
        )
    return _Checked(
        title=title,
        actions=actions,
        owner=owner,
        show_owner=draft.show_owner,
        due_on=draft.due_on,
        department_id=department_id,
        dimension_key=dimension_key,
        from_group_id=from_group_id,
        to_group_id=to_group_id,
        started_cycle_id=started_cycle_id,
    )


def department_name(reference: Reference, department_id: int | None) -> str:
    if department_id is None:
        return ORGANISATION_WIDE
    department = reference.departments.get(department_id)
    return department.name if department else f"Department {department_id}"


def described(reference: Reference, title: str, department_id: int | None) -> str:
    return f"{title[:100]} ({department_name(reference, department_id)})"


def status_of(value: object) -> PlanStatus:
    try:
        return PlanStatus(str(value))
    except ValueError:
        words = ", ".join(STATUS_WORDS[status].lower() for status in PlanStatus)
        raise PlanError(f"a plan's status is one of: {words}") from None
