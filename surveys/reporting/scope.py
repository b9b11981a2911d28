"""What a report may add up: the viewer's departments, narrowed (never widened) by filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.records import CycleInfo, CycleState, DepartmentInfo, DivisionInfo, StaffGroupInfo
from surveys.reporting.reference import DimensionInfo, Reference, sorted_departments
from surveys.reporting.release import atoms_of, covered_cells
from surveys.reporting.source import ReportSource, open_source

ALL_SELECTED = "All selected departments"
# The benchmark row or line beside a part of the organisation (a manager's departments, or the
# departments a filter chose): the same staff groups across every department.
WHOLE_ORGANISATION = "Whole organisation"


@dataclass(frozen=True)
class Selection:
    """The departments and staff groups a figure may add up (ids that exist)."""

    departments: frozenset[int]
    groups: frozenset[int]


@dataclass(frozen=True)
class Filters:
    """What a page asks for. `scope` is the viewer's departments (None: everything); every
    filter is intersected with it, so no choice of filters reaches outside it."""

    scope: frozenset[int] | None
    departments: frozenset[int] | None = None
    divisions: frozenset[int] | None = None
    staff_groups: frozenset[int] | None = None

    def within(self, reference: Reference) -> Selection:
        chosen = set(reference.departments)
        if self.scope is not None:
            chosen &= self.scope
        if self.departments is not None:
            chosen &= self.departments
        if self.divisions is not None:
            chosen = {d for d in chosen if reference.departments[d].division_id in self.divisions}
        groups = {group.id for group in reference.groups}
        if self.staff_groups is not None:
            groups &= self.staff_groups
        return Selection(frozenset(chosen), frozenset(groups))

    def benchmark(self) -> Filters | None:
        """The whole organisation for the same staff groups, when these filters show only a
        part of it (None when they show it all already). A figure for it is released like any
        other, so a manager sees it only where it is large enough."""
        if self.scope is None and self.departments is None and self.divisions is None:
            return None
        return Filters(None, staff_groups=self.staff_groups)


@dataclass(frozen=True)
class FilterOptions:
    """What a viewer can pick from: only divisions and departments within their scope."""

    cycles: tuple[CycleInfo, ...]  # newest first
    divisions: tuple[DivisionInfo, ...]
    departments: tuple[DepartmentInfo, ...]
    staff_groups: tuple[StaffGroupInfo, ...]
    dimensions: tuple[DimensionInfo, ...]
    # Cycles in which the viewer's departments have at least one released figure.
    with_results: frozenset[int] = frozenset()

    @property
    def default_cycle(self) -> CycleInfo | None:
        """The cycle results pages open on: the newest with results, an open or closed one
        before a draft (a draft just created must not blank every page); without results
        anywhere, the newest cycle that is not a draft."""
        if not self.cycles:
            return None

        def rank(cycle: CycleInfo) -> tuple[bool, bool]:
            return cycle.id in self.with_results, cycle.state != CycleState.draft

        best = max(rank(cycle) for cycle in self.cycles)
        return next(cycle for cycle in self.cycles if rank(cycle) == best)  # newest first


def cycle_label(cycle: CycleInfo) -> str:
    """A cycle as a picker names it, with its state in words a ward manager uses."""
    state = {CycleState.draft: "not open yet"}.get(CycleState(cycle.state), cycle.state)
    return f"{cycle.name} ({state})"


def filter_options(
    data: Engine | ReportSource, *, departments: frozenset[int] | None
) -> FilterOptions:
    with open_source(data) as source:
        reference = source.reference()
        cycle_ids = [cycle.id for cycle in reference.cycles]
        cells = source.cells(cycle_ids)
    scope = Filters(departments).within(reference)
    atoms = atoms_of(cells, reference, cycle_ids, get_settings().min_group_size)
    with_results = frozenset(c for c in cycle_ids if covered_cells(atoms, scope, c))
    allowed = scope.departments
    visible = sorted_departments(reference, allowed)
    division_ids = {department.division_id for department in visible}
    return FilterOptions(
        cycles=tuple(reversed(reference.cycles)),
        divisions=tuple(
            sorted(
                (reference.divisions[d] for d in division_ids), key=lambda division: division.name
            )
        ),
        departments=tuple(visible),
        staff_groups=reference.shown_groups,
        dimensions=reference.dimensions,
        with_results=with_results,
    )


def open_cycle_notice() -> str:
    """Said on every results page that shows an open cycle (surveys/survey/steps.py)."""
    step = get_settings().min_group_size
    return (
        f"Results of an open cycle update in steps of at least {step} responses, so that "
        "nobody's answers can be worked out by watching."
    )


def nothing_to_show(
    options: FilterOptions,
    cycle_ids: Sequence[int],
    *,
    narrowed: bool,
    comments: bool = False,
) -> str:
    """One sentence for a view with nothing to show: why, and what would change that.

    Says "no results", never "no responses": a group of fewer than the minimum and a group
    nobody answered must look the same. `narrowed`: the viewer chose departments, divisions
    or staff groups, so choosing more could help.
    """
    settings = get_settings()
    minimum = settings.min_comment_group_size if comments else settings.min_group_size
    what = "comments" if comments else "results"
    cycles = [cycle for cycle in reversed(options.cycles) if cycle.id in cycle_ids]
    names = cycles[0].name if len(cycles) == 1 else f"{cycles[0].name} to {cycles[-1].name}"
    states = {CycleState(cycle.state) for cycle in cycles}
    enough = f"at least {minimum} people in a group"
    if states == {CycleState.draft}:
        opened = "has not opened yet" if len(cycles) == 1 else "have not opened yet"
        return (
            f"{names} {opened}, so nobody has answered; {what} appear once it is open and "
            f"{enough} have answered."
        )
    if narrowed and any(cycle.id in options.with_results for cycle in cycles):
        return (
            f"Too few people in this selection answered in {names} to show {what} without "
            f"identifying anyone ({enough} are needed): choose more departments or staff groups."
        )
    if CycleState.open in states:
        return f"No {what} yet in {names}: they appear once {enough} have answered."
    return (
        f"No {what} in {names}: fewer than {minimum} people in each group answered, too few "
        "to show without identifying anyone."
    )
