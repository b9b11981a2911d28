"""The organisation as reports name it: reference data (read models from surveys.records)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from surveys.records import (
    CycleInfo,
    DepartmentInfo,
    DivisionInfo,
    ItemInfo,
    StaffGroupInfo,
)


@dataclass(frozen=True)
class DimensionInfo:
    key: str
    label: str
    in_index: bool


@dataclass(frozen=True)
class Reference:
    """The organisation as reports name it: small tables, read whole on every report."""

    divisions: Mapping[int, DivisionInfo]
    departments: Mapping[int, DepartmentInfo]
    groups: tuple[StaffGroupInfo, ...]
    cycles: tuple[CycleInfo, ...]  # oldest first
    items: Mapping[int, ItemInfo]
    dimensions: tuple[DimensionInfo, ...]  # every scored dimension, in instrument order

    def cycle(self, cycle_id: int) -> CycleInfo:
        for cycle in self.cycles:
            if cycle.id == cycle_id:
                return cycle
        raise UnknownCycle(f"there is no survey cycle {cycle_id}")

    def previous_cycle(self, cycle_id: int) -> CycleInfo | None:
        ids = [cycle.id for cycle in self.cycles]
        position = ids.index(self.cycle(cycle_id).id)
        return self.cycles[position - 1] if position else None

    def with_previous(self, cycle_id: int) -> tuple[CycleInfo, CycleInfo | None, list[int]]:
        """The cycle, the one before it (if any), and the ids of both, for change figures."""
        cycle, previous = self.cycle(cycle_id), self.previous_cycle(cycle_id)
        return cycle, previous, [c.id for c in (previous, cycle) if c is not None]

    @property
    def shown_groups(self) -> tuple[StaffGroupInfo, ...]:
        """Groups offered as filters and matrix rows: not archived."""
        return tuple(group for group in self.groups if not group.archived)

    def dimension(self, key: str) -> DimensionInfo:
        for dimension in self.dimensions:
            if dimension.key == key:
                return dimension
        raise UnknownDimension(f"there is no dimension {key!r}")

    @property
    def division_of(self) -> dict[int, int]:
        return {department.id: department.division_id for department in self.departments.values()}


class UnknownCycle(LookupError):
    """A cycle id that does not exist."""


class UnknownDimension(LookupError):
    """A dimension key that no instrument defines."""


def sorted_departments(reference: Reference, ids: Collection[int]) -> list[DepartmentInfo]:
    """Departments by division name, then name."""
    return sorted(
        (reference.departments[d] for d in ids),
        key=lambda d: (reference.divisions[d.division_id].name, d.name),
    )


def cycles_in_range(reference: Reference, cycle_range: tuple[int, int] | None) -> list[CycleInfo]:
    if cycle_range is None:
        return list(reference.cycles)
    first, last = (reference.cycle(cycle_id) for cycle_id in cycle_range)
    if (first.opens, first.id) > (last.opens, last.id):
        first, last = last, first
    return [
        cycle
        for cycle in reference.cycles
        if (first.opens, first.id) <= (cycle.opens, cycle.id) <= (last.opens, last.id)
    ]
