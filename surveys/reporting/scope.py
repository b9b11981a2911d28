"""What a report may add up: the viewer's departments, narrowed (never widened) by filters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.records import CycleInfo, DepartmentInfo, DivisionInfo, StaffGroupInfo
from surveys.reporting.reference import DimensionInfo, Reference, sorted_departments
from surveys.reporting.source import ReportSource, open_source

ALL_SELECTED = "All selected departments"


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


@dataclass(frozen=True)
class FilterOptions:
    """What a viewer can pick from: only divisions and departments within their scope."""

    cycles: tuple[CycleInfo, ...]  # newest first
    divisions: tuple[DivisionInfo, ...]
    departments: tuple[DepartmentInfo, ...]
    staff_groups: tuple[StaffGroupInfo, ...]
    dimensions: tuple[DimensionInfo, ...]


def filter_options(
    data: Engine | ReportSource, *, departments: frozenset[int] | None
) -> FilterOptions:
    with open_source(data) as source:
        reference = source.reference()
    allowed = Filters(departments).within(reference).departments
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
    )


def open_cycle_notice() -> str:
    """Said on every results page that shows an open cycle (surveys/survey/steps.py)."""
    step = get_settings().min_group_size
    return (
        f"Results of an open cycle update in steps of at least {step} responses, so that "
        "nobody's answers can be worked out by watching."
    )
