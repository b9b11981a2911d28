"""Filters given by name (the command line's), turned into ids within the viewer's scope.

A name is matched whatever its case. An unknown name is refused with the nearest real one; a
department or division that exists but lies outside the viewer's scope is refused as such,
never quietly dropped (a manager asking for another department must be told, not handed an
empty or an organisation-wide report).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from surveys.records import CycleInfo
from surveys.reporting.scope import FilterOptions, filter_options
from surveys.text import did_you_mean


class UnknownName(ValueError):
    """A cycle, department, division or staff group that does not exist."""


class OutsideScope(ValueError):
    """A department or division that exists, but not for this viewer."""


@dataclass(frozen=True)
class NamedSelection:
    """What was asked for, as ids a reporting function takes, and in words for a cover page."""

    scope: frozenset[int] | None
    cycle: CycleInfo
    selected_departments: frozenset[int] | None
    divisions: frozenset[int] | None
    staff_groups: frozenset[int] | None
    department_names: tuple[str, ...]  # the chosen ones, in the order given
    division_names: tuple[str, ...]
    group_names: tuple[str, ...]
    options: FilterOptions  # what the viewer may choose from

    def arguments(self, *, cycle: bool = True, groups: bool = True) -> dict[str, object]:
        """As a reporting function's keyword arguments, the scope included (as the pages'
        `Selection.arguments` gives them)."""
        arguments: dict[str, object] = {
            "departments": self.scope,
            "divisions": self.divisions,
            "selected_departments": self.selected_departments,
        }
        if cycle:
            arguments["cycle_id"] = self.cycle.id
        if groups:
            arguments["staff_groups"] = self.staff_groups
        return arguments

    @property
    def described(self) -> str:
        """The scope in words: "Whole organisation", "Emergency", "Division: Surgery"..."""
        if self.department_names:
            return ", ".join(self.department_names)
        if self.division_names:
            label = "Division" if len(self.division_names) == 1 else "Divisions"
            return f"{label}: {', '.join(self.division_names)}"
        if self.scope is None:
            return "Whole organisation"
        return ", ".join(department.name for department in self.options.departments)


def _match(given: str, names: Iterable[str]) -> str | None:
    by_lower = {name.lower(): name for name in names}
    return by_lower.get(given.strip().lower())


def _quoted(given: str) -> str:
    shown = given if len(given) <= 80 else given[:80] + "…"
    return repr(shown)


def select_by_name(
    engine: Engine,
    *,
    scope: frozenset[int] | None,
    cycle: str | None,
    departments: Sequence[str] = (),
    divisions: Sequence[str] = (),
    staff_groups: Sequence[str] = (),
) -> NamedSelection:
    """Resolve the names; `cycle` None means the cycle the pages open on."""
    options = filter_options(engine, departments=scope)
    everything = options if scope is None else filter_options(engine, departments=None)

    if cycle is None:
        chosen_cycle = options.default_cycle
        if chosen_cycle is None:
            raise UnknownName("there are no survey cycles yet")
    else:
        name = _match(cycle, (c.name for c in options.cycles))
        if name is None:
            raise UnknownName(
                f"there is no cycle called {_quoted(cycle)}"
                + did_you_mean(cycle, (c.name for c in options.cycles))
            )
        chosen_cycle = next(c for c in options.cycles if c.name == name)

    department_ids: list[int] = []
    department_names: list[str] = []
    for given in departments:
        visible = {d.name: d.id for d in options.departments}
        name = _match(given, visible)
        if name is None:
            if _match(given, (d.name for d in everything.departments)) is not None:
                raise OutsideScope(
                    f"{_quoted(given)} is outside the departments you may see "
                    f"({', '.join(visible) or 'none'})"
                )
            raise UnknownName(
                f"there is no department called {_quoted(given)}"
                + did_you_mean(given, (d.name for d in everything.departments))
            )
        if visible[name] not in department_ids:
            department_ids.append(visible[name])
            department_names.append(name)

    division_ids: list[int] = []
    division_names: list[str] = []
    for given in divisions:
        visible = {d.name: d.id for d in options.divisions}
        name = _match(given, visible)
        if name is None:
            if _match(given, (d.name for d in everything.divisions)) is not None:
                raise OutsideScope(
                    f"the division {_quoted(given)} is outside the departments you may see"
                )
            raise UnknownName(
                f"there is no division called {_quoted(given)}"
                + did_you_mean(given, (d.name for d in everything.divisions))
            )
        if visible[name] not in division_ids:
            division_ids.append(visible[name])
            division_names.append(name)

    group_ids: list[int] = []
    group_names: list[str] = []
    for given in staff_groups:
        found = next(
            (
                g
                for g in options.staff_groups
                if given.strip().lower() in (g.key.lower(), g.name.lower())
            ),
            None,
        )
        if found is None:
            raise UnknownName(
                f"there is no staff group called {_quoted(given)}"
                + did_you_mean(
                    given,
                    [g.key for g in options.staff_groups] + [g.name for g in options.staff_groups],
                )
            )
        if found.id not in group_ids:
            group_ids.append(found.id)
            group_names.append(found.name)

    return NamedSelection(
        scope=scope,
        cycle=chosen_cycle,
        selected_departments=frozenset(department_ids) or None,
        divisions=frozenset(division_ids) or None,
        staff_groups=frozenset(group_ids) or None,
        department_names=tuple(department_names),
        division_names=tuple(division_names),
        group_names=tuple(group_names),
        options=options,
    )


def chosen_selection(
    options: FilterOptions,
    *,
    scope: frozenset[int] | None,
    cycle_id: int,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
) -> NamedSelection:
    """What a page's filter bar chose (ids from `options`), named as the command line names it."""
    cycle = next(c for c in options.cycles if c.id == cycle_id)
    chosen_departments = tuple(
        d.name for d in options.departments if d.id in (selected_departments or ())
    )
    chosen_divisions = tuple(d.name for d in options.divisions if d.id in (divisions or ()))
    return NamedSelection(
        scope=scope,
        cycle=cycle,
        selected_departments=selected_departments,
        divisions=divisions,
        staff_groups=None,
        department_names=chosen_departments,
        division_names=chosen_divisions,
        group_names=(),
        options=options,
    )
