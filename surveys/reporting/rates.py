"""Response counts and the one response rate: per cycle, in the overview, and while a cycle runs.

Response rate = responses over personal invitations in exactly the cells the response count
adds up, plus selected cells where nobody answered; open links invite nobody. Responses
through an open link still count toward their cell, so a cell can pass its invitations: every
rate is capped at 100%.

Counts are released like every other figure (`surveys.reporting.release`): a count below the
minimum group size is shown as "fewer than N", never exactly (watching a count of 2 become 3
tells someone who just answered), and a count is exact only when it adds up whole atoms. A
group large enough but pooled with a small sibling is "not shown"; a department whose small
groups were pooled with another department's shows "at least" what it can.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.release import (
    AtomTable,
    atoms_of,
    covered_cells,
    fewer_than,
    is_small,
    release,
)
from surveys.reporting.scope import Filters, Selection
from surveys.reporting.source import ReportSource, open_source

NOT_SHOWN = "not shown"
ALL_GROUPS = "All staff groups"
RATE_COLUMNS = [
    "cycle",
    "division",
    "department",
    "staff_group",
    "invited",
    "responses",
    "responses_shown",
    "response_rate",
]


def response_rate(responses: int | None, invited: int | None) -> float | None:
    """The response rate (0-1) of released responses over the invitations behind them."""
    if not responses or not invited:
        return None
    return min(responses / invited, 1.0)


def released_responses(
    atoms: AtomTable,
    cells: pd.DataFrame,
    invitations: pd.DataFrame,
    selection: Selection,
    cycle_id: int,
) -> tuple[int | None, int | None]:
    """(responses, invited) of one cycle for a selection, as the module docstring defines
    them; both None when no whole atom can be released."""
    covered = covered_cells(atoms, selection, cycle_id)
    this_cycle = cells[cells["cycle_id"] == cycle_id]
    per_cell = dict(
        zip(
            zip(
                this_cycle["department_id"].tolist(),
                this_cycle["staff_group_id"].tolist(),
                strict=True,
            ),
            this_cycle["responses"].tolist(),
            strict=True,
        )
    )
    responses = sum(count for cell, count in per_cell.items() if cell in covered)
    if not responses:
        return None, None
    invited = 0
    # Invitations of selected cells nobody answered are not a secret: they count too.
    for department, group, count in invitations.itertuples(index=False):
        cell = (department, group)
        in_selection = department in selection.departments and group in selection.groups
        if in_selection and (cell in covered or cell not in per_cell):
            invited += int(count)
    return responses, invited


# --- Cycles, as the landing page lists them -----------------------------------------------------


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


def cycle_summaries(data: Engine | ReportSource) -> list[CycleSummary]:
    """Cycles, newest first, with their response counts and rates."""
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycle_ids = [cycle.id for cycle in reference.cycles]
        cells = source.cells(cycle_ids)
        invitations = {cycle_id: source.invitations(cycle_id) for cycle_id in cycle_ids}
    atoms = atoms_of(cells, reference, cycle_ids, minimum)
    everything = Filters(None).within(reference)
    summaries = []
    for cycle in reversed(reference.cycles):
        responses, invited = released_responses(
            atoms, cells, invitations[cycle.id], everything, cycle.id
        )
        summaries.append(
            CycleSummary(
                cycle.id,
                cycle.name,
                cycle.opens,
                cycle.closes,
                cycle.state,
                responses,
                int(invitations[cycle.id]["invited"].sum()),
                response_rate(responses, invited),
            )
        )
    return summaries


# --- Response rates while a cycle runs ----------------------------------------------------------


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

    def table(self) -> pd.DataFrame:
        """A row per department (staff group "All staff groups"), then one per staff group."""
        rows: list[dict[str, object]] = []
        for total in self.departments:
            rows.append(
                {
                    "cycle": self.cycle,
                    "division": total.division,
                    "department": total.department,
                    "staff_group": ALL_GROUPS,
                    "invited": total.invited,
                    "responses": total.responses,
                    "responses_shown": total.responses_label,
                    "response_rate": total.rate,
                }
            )
            rows += [
                {
                    "cycle": self.cycle,
                    "division": cell.division,
                    "department": cell.department,
                    "staff_group": cell.staff_group,
                    "invited": cell.invited,
                    "responses": cell.responses,
                    "responses_shown": cell.responses_label,
                    "response_rate": cell.rate,
                }
                for cell in self.cells
                if cell.department_id == total.department_id
            ]
        frame = pd.DataFrame(rows, columns=RATE_COLUMNS)
        frame["responses"] = frame["responses"].astype("Int64")
        return frame


def response_rates(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None = None,
) -> ResponseRates:
    """Invitations, responses and rates for a cycle, limited to `departments` (None: all)."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycle = reference.cycle(cycle_id)
        # Atoms are cut from the whole cycle, whatever part of it this question covers.
        cells = source.cells([cycle_id])
        invitations = source.invitations(cycle_id)
    atoms = atoms_of(cells, reference, [cycle_id], minimum)
    selection = Filters(departments).within(reference)
    counts = cells.assign(measure=0)

    def released(keys: list[str]) -> dict[tuple[int, ...], int]:
        figures = release(
            atoms, counts, selection, keys=keys, n="responses", sums=[], minimum=minimum
        )
        columns = [figures[key].tolist() for key in keys]
        return dict(zip(zip(*columns, strict=True), figures["responses"].tolist(), strict=True))

    # A cell is exact only when it is an atom by itself; a department when its cells' atoms
    # lie within it.
    exact_cells = released(["department_id", "staff_group_id"])
    exact_departments = released(["department_id"])
    responded = _by_cell(cells, "responses")
    invited = _by_cell(invitations, "invited")
    keys = {key for key in set(invited) | set(responded) if key[0] in selection.departments}
    group_order = {group.id: position for position, group in enumerate(reference.groups)}

    def division(department_id: int) -> str:
        return reference.divisions[reference.departments[department_id].division_id].name

    ordered = sorted(
        keys,
        key=lambda key: (
            division(key[0]),
            reference.departments[key[0]].name,
            group_order[key[1]],
        ),
    )
    group_names = {group.id: group.name for group in reference.groups}
    cell_rates: list[CellRate] = []
    for department_id, group_id in ordered:
        count = responded.get((department_id, group_id), 0)
        asked = invited.get((department_id, group_id), 0)
        exact = (department_id, group_id) in exact_cells
        if exact:
            label = f"{count:,}"
        elif is_small(count, minimum):
            label = fewer_than(minimum)
        else:
            label = NOT_SHOWN
        cell_rates.append(
            CellRate(
                department_id=department_id,
                department=reference.departments[department_id].name,
                division=division(department_id),
                staff_group_id=group_id,
                staff_group=group_names[group_id],
                invited=asked,
                responses=count if exact else None,
                responses_label=label,
                rate=response_rate(count, asked) if exact else None,
            )
        )

    totals: list[DepartmentRate] = []
    for department_id in dict.fromkeys(cell.department_id for cell in cell_rates):
        mine = [cell for cell in cell_rates if cell.department_id == department_id]
        count = sum(responded.get((department_id, cell.staff_group_id), 0) for cell in mine)
        asked = sum(cell.invited for cell in mine)
        shown = exact_departments.get((department_id,))
        if is_small(count, minimum):
            responses, label, rate = None, fewer_than(minimum), None
        elif shown == count:
            responses, label, rate = count, f"{count:,}", response_rate(count, asked)
        elif shown:
            # Only whole atoms may be added up; the rest went into atoms shared with others.
            responses, label, rate = None, f"at least {shown:,}", None
        else:
            responses, label, rate = None, NOT_SHOWN, None
        name = reference.departments[department_id].name
        totals.append(
            DepartmentRate(
                department_id, name, division(department_id), asked, responses, label, rate
            )
        )

    return ResponseRates(
        cycle_id=cycle.id,
        cycle=cycle.name,
        state=cycle.state,
        minimum=minimum,
        departments=tuple(totals),
        cells=tuple(cell_rates),
    )


def _by_cell(frame: pd.DataFrame, column: str) -> dict[tuple[int, int], int]:
    return {
        (int(department), int(group)): int(count)
        for department, group, count in zip(
            frame["department_id"].tolist(),
            frame["staff_group_id"].tolist(),
            frame[column].tolist(),
            strict=True,
        )
    }
