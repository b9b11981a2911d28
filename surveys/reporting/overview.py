"""The overview: the headline figures of one cycle for a selection, and the biggest movers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.figures import (
    Figure,
    count_figure,
    figure_row,
    missing,
    score_figures,
    shown,
    with_change,
)
from surveys.reporting.rates import released_responses, response_rate
from surveys.reporting.reference import sorted_departments
from surveys.reporting.release import atoms_of, release
from surveys.reporting.scope import Filters
from surveys.reporting.source import ReportSource, open_source
from surveys.reporting.statistics import enps
from surveys.scoring import INDEX, NPS_SCALE

NPS_VALUES = tuple(range(0, 11))


@dataclass(frozen=True)
class DimensionFigure:
    key: str
    label: str
    figure: Figure


@dataclass(frozen=True)
class DepartmentFigure:
    department_id: int
    department: str
    division: str
    figure: Figure


@dataclass(frozen=True)
class Overview:
    """The headline figures of one cycle for a selection."""

    cycle_id: int
    cycle: str
    previous_cycle: str | None
    responses: int | None  # None when suppressed
    invited: int | None
    response_rate: float | None  # 0-1
    index: Figure
    enps: Figure
    dimensions: tuple[DimensionFigure, ...]  # shown ones highest first, then suppressed ones
    strongest: tuple[DimensionFigure, ...]
    weakest: tuple[DimensionFigure, ...]  # lowest first
    declines: tuple[DepartmentFigure, ...]  # largest fall in the index first
    improvements: tuple[DepartmentFigure, ...]  # largest rise first
    minimum: int

    @property
    def shows_nothing(self) -> bool:
        """Nothing released: every figure would read "fewer than N"."""
        return self.responses is None or (
            self.index.suppressed and all(d.figure.suppressed for d in self.dimensions)
        )

    def table(self) -> pd.DataFrame:
        rows = [
            figure_row("responses", "Responses", count_figure(self.responses, self.minimum)),
            figure_row("index", "Relationship Health Index", self.index),
            figure_row("enps", "eNPS", self.enps),
        ]
        rows += [figure_row(f"dimension:{d.key}", d.label, d.figure) for d in self.dimensions]
        rows += [
            figure_row(f"department:{d.department_id}", f"{d.department} (index)", d.figure)
            for d in (*self.declines, *self.improvements)
        ]
        frame = pd.DataFrame(rows)
        frame.insert(0, "cycle", self.cycle)
        return frame


def overview(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    movers: int = 3,
) -> Overview:
    """Responses, response rate, index, eNPS, dimensions and biggest movers for one cycle."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        selection = Filters(departments, selected_departments, divisions, staff_groups).within(
            reference
        )
        cells = source.cells(cycle_ids)
        invitations = source.invitations(cycle_id)
        measures = [INDEX, *(d.key for d in reference.dimensions)]
        scores = source.scores(cycle_ids, measures)
        nps_items = [item.id for item in reference.items.values() if item.scale == NPS_SCALE]
        nps = source.answer_counts(cycle_ids, nps_items, NPS_VALUES)
    atoms = atoms_of(cells, reference, cycle_ids, minimum)

    responses, invited = released_responses(atoms, cells, invitations, selection, cycle_id)
    rate = response_rate(responses, invited)

    sums = ["total", "total_sq"]
    overall = score_figures(
        release(atoms, scores, selection, keys=[], n="n", sums=sums, minimum=minimum),
        measures,
        [],
        minimum,
    )

    def figure(measure: str) -> Figure:
        now = overall.get((cycle_id, measure), missing(minimum))
        before = overall.get((previous.id, measure)) if previous else None
        return with_change(now, before)

    index = figure(INDEX)
    nps_values = [f"v{v}" for v in NPS_VALUES]
    nps = nps.assign(measure=0, n=nps[nps_values].sum(axis=1))
    enps_figures = _enps_figures(
        release(atoms, nps, selection, keys=[], n="n", sums=nps_values, minimum=minimum),
        minimum,
    )
    enps_figure = with_change(
        enps_figures.get(cycle_id, missing(minimum)),
        enps_figures.get(previous.id) if previous else None,
    )

    relationship_dimensions = [d for d in reference.dimensions if d.in_index]
    dimension_figures = [
        DimensionFigure(d.key, d.label, figure(d.key)) for d in reference.dimensions
    ]
    dimension_figures.sort(key=lambda d: (d.figure.suppressed, -(d.figure.value or 0.0), d.label))
    ranked = [
        d
        for d in dimension_figures
        if not d.figure.suppressed and d.key in {r.key for r in relationship_dimensions}
    ]
    strongest = tuple(ranked[:movers])
    weakest = tuple(reversed(ranked[-movers:])) if ranked else ()

    by_department = score_figures(
        release(
            atoms,
            scores[scores["measure"] == measures.index(INDEX)],
            selection,
            keys=["department_id"],
            n="n",
            sums=sums,
            minimum=minimum,
        ),
        measures,
        ["department_id"],
        minimum,
    )
    changes = []
    if previous is not None:
        for department in sorted_departments(reference, selection.departments):
            now = by_department.get((cycle_id, INDEX, department.id))
            before = by_department.get((previous.id, INDEX, department.id))
            if now is None or before is None:
                continue
            changed = with_change(now, before)
            changes.append(
                DepartmentFigure(
                    department.id,
                    department.name,
                    reference.divisions[department.division_id].name,
                    changed,
                )
            )
    falling = sorted((c for c in changes if (c.figure.change or 0) < 0), key=_change_key)
    rising = sorted(
        (c for c in changes if (c.figure.change or 0) > 0), key=_change_key, reverse=True
    )
    return Overview(
        cycle_id=cycle.id,
        cycle=cycle.name,
        previous_cycle=previous.name if previous else None,
        responses=responses,
        invited=invited,
        response_rate=rate,
        index=index,
        enps=enps_figure,
        dimensions=tuple(dimension_figures),
        strongest=strongest,
        weakest=weakest,
        declines=tuple(falling[:movers]),
        improvements=tuple(rising[:movers]),
        minimum=minimum,
    )


def _change_key(item: DepartmentFigure) -> tuple[float, str]:
    return (item.figure.change or 0.0, item.department)


def _enps_figures(released: pd.DataFrame, minimum: int) -> dict[int, Figure]:
    figures = {}
    for record in released.to_dict("records"):
        counts = {value: int(record[f"v{value}"]) for value in NPS_VALUES}
        figures[int(record["cycle_id"])] = shown(enps(counts), minimum)
    return figures
