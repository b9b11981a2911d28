"""The demo's action plans: ICU's teamwork programme (done), an Emergency plan on how nurses
and physicians work together (in progress), and an overdue plan to act on administrative
staff's feedback across the organisation. Takes the demo loader's `session=`: the demo builds
everything in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from surveys.access.accounts import AccountInfo
from surveys.actions.plans import PlanDraft, PlanStatus, add_note, add_plan
from surveys.models import Department, StaffGroup, SurveyCycle


@dataclass(frozen=True)
class _DemoPlan:
    department: str | None  # None: the whole organisation
    author: str  # who writes its progress notes
    started: int  # the cycle it started in, counted back from the newest (-1)
    status: PlanStatus
    draft: dict[str, Any]
    due_after_days: int
    notes: tuple[tuple[int, str], ...]  # (days after the plan was made, note)


DEMO_PLANS = (
    _DemoPlan(
        department="Intensive Care (ICU)",
        author="ICU nurse manager",
        started=-6,
        status=PlanStatus.done,
        draft={
            "title": "ICU teamwork programme",
            "dimension_key": "team_support",
            "actions": (
                "A daily safety huddle at 08:00 for nurses, intensivists and allied health.\n"
                "Families invited to join ward rounds.\n"
                "Teamwork training for every shift over six months."
            ),
            "owner": "ICU nurse manager and the intensivist lead",
            "show_owner": True,
        },
        due_after_days=200,
        notes=(
            (20, "Daily safety huddle started on both ICU pods."),
            (
                110,
                "Two thirds of staff have done the teamwork training. Families now join "
                "most ward rounds.",
            ),
            (205, "Programme complete. The huddle stays as normal practice."),
        ),
    ),
    _DemoPlan(
        department="Emergency",
        author="Demo Emergency manager",
        started=-3,
        status=PlanStatus.in_progress,
        draft={
            "title": "Nurses and physicians: rebuilding respect at handover",
            "from_group_key": "nursing",
            "to_group_key": "physicians",
            "actions": (
                "A joint nurse-physician huddle at the 07:30 and 19:30 handovers.\n"
                "An agreed escalation guide, so that a nurse's concern gets an answer.\n"
                "A monthly review of escalations that went badly, without blame."
            ),
            "owner": "Emergency clinical director and the nursing lead",
            "show_owner": False,
        },
        due_after_days=280,
        notes=(
            (25, "Joint handover huddles started on day and night shifts."),
            (100, "Escalation guide agreed with the physicians and printed for resus."),
        ),
    ),
    _DemoPlan(
        department=None,
        author="Demo administrator",
        started=-4,
        status=PlanStatus.in_progress,
        draft={
            "title": "Act on administrative staff's feedback",
            "dimension_key": "feedback",
            "actions": (
                "A suggestion log in every department, read at each monthly team meeting.\n"
                "A reply to every suggestion within a month, saying what happens to it.\n"
                "Administrative and support staff told about changes before patients are."
            ),
            "owner": "Head of operations",
            "show_owner": True,
        },
        due_after_days=195,
        notes=(
            (55, "Suggestion logs set up in Patient Access and Billing."),
            (
                140,
                "Replies are slow outside those two departments; the log is to be "
                "rolled out to the others next.",
            ),
        ),
    ),
)


def write_plans(*, session: Session, today: date, actor: str) -> None:
    """The demo's action plans, each made two weeks after its cycle closed and noted since
    (nothing dated after `today`), audited as `actor`."""
    cycles = session.scalars(select(SurveyCycle).order_by(col(SurveyCycle.opens))).all()
    groups = {group.key: group.id for group in session.scalars(select(StaffGroup))}
    names = sorted(session.scalars(select(col(Department.name))))
    for plan in DEMO_PLANS:
        if len(cycles) < -plan.started:
            continue
        started = cycles[plan.started]
        department_id = None
        if plan.department is not None:
            # The hospital's department, or the first site's in the health system.
            name = next(
                n for n in names if n == plan.department or n.startswith(f"{plan.department} – ")
            )
            department_id = session.scalars(
                select(col(Department.id)).where(col(Department.name) == name)
            ).one()
        made = min(started.closes + timedelta(days=14), today)
        fields = dict(plan.draft)
        for end in ("from_group", "to_group"):
            key = fields.pop(f"{end}_key", None)
            fields[f"{end}_id"] = None if key is None else groups[key]
        assert started.id is not None
        viewer = AccountInfo(
            id=0, username=actor, role="admin", department_ids=None, display_name=plan.author
        )
        plan_id = add_plan(
            session=session,
            viewer=viewer,
            draft=PlanDraft(
                department_id=department_id,
                started_cycle_id=started.id,
                due_on=made + timedelta(days=plan.due_after_days),
                **fields,
            ),
            status=plan.status,
            created_on=made,
        )
        for days, note in plan.notes:
            if made + timedelta(days=days) <= today:
                add_note(
                    session=session,
                    viewer=viewer,
                    plan_id=plan_id,
                    note=note,
                    written_on=made + timedelta(days=days),
                )
