"""Focus areas: for each department in scope, up to three places to start, each with a reason.

From released figures only, one of each kind at most:
- "driver": the lowest-scoring dimension that is also a strong key driver (surveys/reporting/
  drivers.py), judged on the department's own respondents when at least
  `ATTUNE_MIN_DRIVER_GROUP_SIZE` stand behind it, otherwise on the whole selection's;
- "relationship": a pair in the department's relationship matrix that is clearly one-sided
  (one group rates the other much lower than it is rated back) or has fallen beyond chance;
- "decline": the dimension whose score fell most since the previous cycle, beyond chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.drivers import (
    STRONG_LOW,
    DriverFigure,
    DriverSums,
    drivers_by_department,
    is_strong,
    middle_score,
)
from surveys.reporting.figures import Figure, score_figures, with_change
from surveys.reporting.reference import Reference, sorted_departments
from surveys.reporting.relationships import (
    Relationships,
    _relationship_figures,
    matrix,
)
from surveys.reporting.release import atoms_of, release
from surveys.reporting.scope import Filters, Selection
from surveys.reporting.source import DriverSource, ReportSource, open_source
from surveys.scoring import RECOMMENDATION

FocusKind = Literal["driver", "relationship", "decline"]


@dataclass(frozen=True)
class FocusArea:
    """One suggested place to start, for one department."""

    department_id: int
    department_name: str
    kind: FocusKind
    dimension_key: str | None  # None for a relationship
    dimension_label: str  # for a relationship: "Nursing staff working with physicians"
    from_group: str | None  # staff group key of the group rating (relationships only)
    to_group: str | None  # staff group key of the group rated (relationships only)
    title: str
    reason: str  # one line, in a ward manager's words

    def prefill(self) -> dict[str, object]:
        """What "Start an action plan" hands the action plan form."""
        return {
            "department_id": self.department_id,
            "dimension_key": self.dimension_key,
            "from_group": self.from_group,
            "to_group": self.to_group,
            "title": self.title,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FocusAreas:
    cycle_id: int
    cycle: str
    departments: tuple[tuple[int, str], ...]  # every department in scope, in order
    areas: tuple[FocusArea, ...]
    shows_nothing: bool = False  # no department has a released score to judge by

    def of(self, department_id: int) -> tuple[FocusArea, ...]:
        return tuple(area for area in self.areas if area.department_id == department_id)

    def table(self) -> pd.DataFrame:
        columns = ["department", "kind", "title", "reason"]
        return pd.DataFrame(
            [(a.department_name, a.kind, a.title, a.reason) for a in self.areas], columns=columns
        )


def _percent(value: float | None) -> str:
    return f"{value:.0f}%"


def focus_areas(
    data: Engine | DriverSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
) -> FocusAreas:
    """Up to three focus areas for each department of the selection, in department order."""
    minimum = get_settings().min_group_size
    with open_source(data) as opened:
        source = cast(DriverSource, opened)
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        selection = Filters(departments, selected_departments, divisions, staff_groups).within(
            reference
        )
        sums = DriverSums.read(source, reference, cycle_id, RECOMMENDATION)
        changes = _dimension_changes(source, reference, cycle_ids, selection, minimum)
        # The matrix is about how groups rate each other: every staff group, as on its page.
        whole = Filters(departments, selected_departments, divisions).within(reference)
        figures, sets = _relationship_figures(
            source, reference, cycle_ids, whole, minimum, by_department=True
        )
    overall = sums.figures(selection, keys=[]).get(-1, ())
    own = drivers_by_department(sums, selection)
    chosen = sorted_departments(reference, selection.departments)
    areas: list[FocusArea] = []
    for department in chosen:
        name = department.name
        found = [
            _driver_area(department.id, name, own.get(department.id, ()), overall),
            _relationship_area(
                reference,
                department.id,
                name,
                matrix(reference, cycle.id, figures, sets, minimum, department_id=department.id),
            ),
            _decline_area(
                department.id,
                name,
                changes.get(department.id, ()),
                previous.name if previous else "",
            ),
        ]
        areas += [area for area in found if area is not None]
    return FocusAreas(
        cycle_id=cycle.id,
        cycle=cycle.name,
        departments=tuple((d.id, d.name) for d in chosen),
        areas=tuple(areas),
        shows_nothing=not any(
            not driver.score.suppressed for drivers in own.values() for driver in drivers
        ),
    )


def _driver_area(
    department_id: int,
    name: str,
    own: tuple[DriverFigure, ...],
    overall: tuple[DriverFigure, ...],
) -> FocusArea | None:
    """The lowest-scoring dimension in the department that is a strong driver and scores
    below the middle of the department's dimensions."""
    own_impacts = {d.key: d.impact for d in own if not d.impact.suppressed}
    judged_here = bool(own_impacts)
    impacts = own_impacts if judged_here else {d.key: d.impact for d in overall}
    candidates = [
        d
        for d in own
        if d.quadrant == STRONG_LOW or (not judged_here and _low_in(d, own))
        if is_strong(impacts.get(d.key, _NONE))
    ]
    if not candidates:
        return None
    weakest = min(candidates, key=lambda d: (d.score.value or 0.0, d.label))
    where = "" if judged_here else " (judged across the selection: too few answered here)"
    return FocusArea(
        department_id=department_id,
        department_name=name,
        kind="driver",
        dimension_key=weakest.key,
        dimension_label=weakest.label,
        from_group=None,
        to_group=None,
        title=weakest.label,
        reason=(
            f"One of the lowest scores here ({_percent(weakest.score.value)} favourable), and it"
            f" goes closely with whether staff would recommend working here{where}."
        ),
    )


_NONE = Figure(None, None, None, 0, True)


def _low_in(driver: DriverFigure, drivers: tuple[DriverFigure, ...]) -> bool:
    """The score is shown and below the middle of the department's shown scores."""
    middle = middle_score(drivers)
    return driver.score.value is not None and middle is not None and driver.score.value < middle


def _relationship_area(
    reference: Reference, department_id: int, name: str, relationships: Relationships
) -> FocusArea | None:
    """The most one-sided pair (also falling, first), or else the pair that fell most."""
    keys = {group.id: group.key for group in reference.groups}
    plural = {group.id: group.plural for group in reference.groups}
    falling = {
        (c.rater_id, c.rated_id): c
        for c in relationships.cells
        if c.rated_id is not None
        and c.rated_id != c.rater_id
        and c.figure.significant
        and (c.figure.change or 0.0) < 0
    }
    if relationships.asymmetries:
        pick = max(
            relationships.asymmetries,
            key=lambda a: ((a.rater_id, a.rated_id) in falling, a.difference),
        )
        rater, rated = pick.rater_id, pick.rated_id
        cell = relationships.cell(rater, rated)
        reason = (
            f"{plural[rater].capitalize()} rate working with {plural[rated]}"
            f" {pick.difference:.0f} points lower than {plural[rated]} rate working with them"
            f" ({_percent(pick.value)} against {_percent(pick.reverse_value)} favourable)"
        )
        if cell.figure.change is not None and (rater, rated) in falling:
            reason += f", and it fell {-cell.figure.change:.0f} points since the last survey"
        reason += "."
    elif falling:
        cell = min(falling.values(), key=lambda c: (c.figure.change or 0.0, c.rater))
        rater, rated = cell.rater_id, cast(int, cell.rated_id)
        assert cell.figure.change is not None
        reason = (
            f"How {plural[rater]} rate working with {plural[rated]} fell"
            f" {-cell.figure.change:.0f} points since the last survey, to"
            f" {_percent(cell.figure.value)} favourable, more than chance would explain."
        )
    else:
        return None
    return FocusArea(
        department_id=department_id,
        department_name=name,
        kind="relationship",
        dimension_key=None,
        dimension_label=f"{plural[rater].capitalize()} working with {plural[rated]}",
        from_group=keys[rater],
        to_group=keys[rated],
        title=f"{plural[rater].capitalize()} and {plural[rated]}",
        reason=reason,
    )


@dataclass(frozen=True)
class _Change:
    key: str
    label: str
    figure: Figure


def _dimension_changes(
    source: ReportSource,
    reference: Reference,
    cycle_ids: list[int],
    selection: Selection,
    minimum: int,
) -> dict[int, tuple[_Change, ...]]:
    """Each department's dimension scores with their change since the previous cycle."""
    if len(cycle_ids) < 2:
        return {}
    previous_id, cycle_id = cycle_ids
    dimensions = [d for d in reference.dimensions if d.in_index]
    measures = [d.key for d in dimensions]
    atoms = atoms_of(source.cells(cycle_ids), reference, cycle_ids, minimum)
    figures = score_figures(
        release(
            atoms,
            source.scores(cycle_ids, measures),
            selection,
            keys=["department_id"],
            n="n",
            sums=["total", "total_sq"],
            minimum=minimum,
        ),
        measures,
        ["department_id"],
        minimum,
    )
    result: dict[int, list[_Change]] = {}
    for (cycle, measure, department), figure in figures.items():
        if cycle != cycle_id:
            continue
        before = figures.get((previous_id, measure, department))
        changed = with_change(figure, before)
        label = next(d.label for d in dimensions if d.key == measure)
        result.setdefault(int(department), []).append(_Change(measure, label, changed))
    return {department: tuple(changes) for department, changes in result.items()}


def _decline_area(
    department_id: int, name: str, changes: tuple[_Change, ...], previous: str
) -> FocusArea | None:
    falls = [c for c in changes if c.figure.significant and (c.figure.change or 0.0) < 0]
    if not falls:
        return None
    worst = min(falls, key=lambda c: (c.figure.change or 0.0, c.label))
    assert worst.figure.change is not None
    return FocusArea(
        department_id=department_id,
        department_name=name,
        kind="decline",
        dimension_key=worst.key,
        dimension_label=worst.label,
        from_group=None,
        to_group=None,
        title=worst.label,
        reason=(
            f"Fell {-worst.figure.change:.0f} points since {previous}, to"
            f" {_percent(worst.figure.value)} favourable: more than chance would explain."
        ),
    )
