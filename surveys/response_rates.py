"""Response rates per department and staff group while a cycle runs, with small counts banded.

A count below the minimum group size is shown as "fewer than N", never exactly: watching a
count of 2 become 3 tells someone who just answered. Exact counts follow the same atoms as every
other figure (surveys.suppression): a count is exact only when it adds up whole atoms, so no
subtraction, here or against another page, gives a small group away. A group large enough but
pooled with a small sibling is "not shown"; a department whose small groups were pooled with
another department's shows "at least" what it can.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from surveys.config import get_settings
from surveys.models import CellRollup, Department, Division, Invitation, StaffGroup, SurveyCycle
from surveys.suppression import partition

NOT_SHOWN = "not shown"


@dataclass(frozen=True)
class CellRate:
    """One department and staff group. `responses` and `rate` are None when banded."""

    department_id: int
    department: str
    division: str
    staff_group_id: int
    staff_group: str
    invited: int
    responses: int | None
    responses_label: str
    rate: float | None


@dataclass(frozen=True)
class DepartmentRate:
    department_id: int
    department: str
    division: str
    invited: int
    responses: int | None
    responses_label: str
    rate: float | None


@dataclass(frozen=True)
class ResponseRates:
    cycle_id: int
    cycle: str
    state: str
    minimum: int
    departments: tuple[DepartmentRate, ...]
    cells: tuple[CellRate, ...]


def band_label(minimum: int) -> str:
    return f"fewer than {minimum}"


def _rate(responses: int, invited: int) -> float | None:
    # Responses through an open link count too, so a cell can pass its invitations; cap at 100%.
    return min(responses / invited, 1.0) if invited else None


def response_rates(
    *,
    session: Session,
    cycle_id: int,
    department_ids: frozenset[int] | None = None,
    minimum: int | None = None,
) -> ResponseRates:
    """Invitations, responses and rates for a cycle, limited to `department_ids` (None: all).

    Personal invitations count as invited; open links invite nobody in particular.
    """
    minimum = get_settings().min_group_size if minimum is None else minimum
    cycle = session.get(SurveyCycle, cycle_id)
    if cycle is None or cycle.id is None:
        raise LookupError(f"there is no survey cycle with id {cycle_id}")
    invited_query = (
        select(Invitation.department_id, Invitation.staff_group_id, func.count())
        .where(Invitation.cycle_id == cycle_id, Invitation.is_open == False)  # noqa: E712
        .group_by(Invitation.department_id, Invitation.staff_group_id)
    )
    responded_query = select(
        CellRollup.department_id, CellRollup.staff_group_id, CellRollup.responses
    ).where(CellRollup.cycle_id == cycle_id)
    if department_ids is not None:
        invited_query = invited_query.where(Invitation.department_id.in_(sorted(department_ids)))
        responded_query = responded_query.where(
            CellRollup.department_id.in_(sorted(department_ids))
        )
    invited = {(d, g): int(n) for d, g, n in session.execute(invited_query)}
    responded = {(d, g): int(n) for d, g, n in session.execute(responded_query)}
    keys = set(invited) | set(responded)
    departments = {
        department.id: (department.name, division, department.division_id)
        for department, division in session.execute(
            select(Department, Division.name).join(Division, Division.id == Department.division_id)
        )
    }
    groups = {
        group.id: (group.position, group.name) for group in session.scalars(select(StaffGroup))
    }
    # Atoms are cut from the whole cycle, whatever part of it this question covers.
    every_cell = {
        (d, g): int(n)
        for d, g, n in session.execute(
            select(CellRollup.department_id, CellRollup.staff_group_id, CellRollup.responses).where(
                CellRollup.cycle_id == cycle_id
            )
        )
    }
    atoms = partition(
        every_cell,
        division_of={department: info[2] for department, info in departments.items()},
        minimum=minimum,
    )
    ordered = sorted(
        keys,
        key=lambda key: (departments[key[0]][1], departments[key[0]][0], groups[key[1]]),
    )

    cells: list[CellRate] = []
    for department_id, group_id in ordered:
        count = responded.get((department_id, group_id), 0)
        asked = invited.get((department_id, group_id), 0)
        exact = count >= minimum and atoms.covered({(department_id, group_id)}) == {
            (department_id, group_id)
        }
        if exact:
            label = f"{count:,}"
        elif count < minimum:
            label = band_label(minimum)
        else:
            label = NOT_SHOWN
        cells.append(
            CellRate(
                department_id=department_id,
                department=departments[department_id][0],
                division=departments[department_id][1],
                staff_group_id=group_id,
                staff_group=groups[group_id][1],
                invited=asked,
                responses=count if exact else None,
                responses_label=label,
                rate=_rate(count, asked) if exact else None,
            )
        )

    totals: list[DepartmentRate] = []
    for department_id in dict.fromkeys(cell.department_id for cell in cells):
        answered = {
            (department_id, cell.staff_group_id)
            for cell in cells
            if cell.department_id == department_id
            and responded.get((department_id, cell.staff_group_id), 0)
        }
        count = sum(responded[cell] for cell in answered)
        asked = sum(cell.invited for cell in cells if cell.department_id == department_id)
        covered = atoms.covered(answered)
        if count < minimum:
            responses, label, rate = None, band_label(minimum), None
        elif covered == answered:
            responses, label, rate = count, f"{count:,}", _rate(count, asked)
        elif covered:
            # Only whole atoms may be added up; the rest went into atoms shared with others.
            responses, label, rate = None, f"at least {sum(responded[c] for c in covered):,}", None
        else:
            responses, label, rate = None, NOT_SHOWN, None
        name, division, _ = departments[department_id]
        totals.append(DepartmentRate(department_id, name, division, asked, responses, label, rate))

    return ResponseRates(
        cycle_id=cycle.id,
        cycle=cycle.name,
        state=cycle.state,
        minimum=minimum,
        departments=tuple(totals),
        cells=tuple(cells),
    )
