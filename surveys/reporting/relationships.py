"""Relationships: how each staff group rates working with each other group, and with patients."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.records import ItemInfo, StaffGroupInfo
from surveys.reporting.figures import Figure, figure_row, figure_values, missing, shown, with_change
from surveys.reporting.reference import Reference, cycles_in_range
from surveys.reporting.release import atoms_of, release
from surveys.reporting.scope import Filters, Selection
from surveys.reporting.source import ReportSource, open_source
from surveys.reporting.statistics import change_is_significant, pooled_percent_favourable
from surveys.scoring import PATIENTS, relationship_target

PATIENTS_LABEL = "Patients and families"
# Pairs where one group rates the other at least this much lower are flagged (if significant).
ASYMMETRY_POINTS = 10.0


@dataclass(frozen=True)
class RelationshipCell:
    rater_id: int
    rater: str
    rated_id: int | None  # None for patients and families
    rated: str
    figure: Figure


@dataclass(frozen=True)
class Asymmetry:
    """`rater` rates `rated` clearly lower than `rated` rates `rater`."""

    rater_id: int
    rater: str
    rated_id: int
    rated: str
    value: float
    reverse_value: float
    difference: float  # reverse_value - value, in points


@dataclass(frozen=True)
class Relationships:
    """Percent favourable of each group (rows: rated) as each group sees it (columns: rating)."""

    cycle_id: int
    cycle: str
    raters: tuple[StaffGroupInfo, ...]
    rated: tuple[tuple[int | None, str], ...]  # staff groups, then patients and families
    cells: tuple[RelationshipCell, ...]
    asymmetries: tuple[Asymmetry, ...]
    minimum: int

    @property
    def shows_nothing(self) -> bool:
        """Every cell suppressed (or none at all)."""
        return all(cell.figure.suppressed for cell in self.cells)

    def cell(self, rater_id: int, rated_id: int | None) -> RelationshipCell:
        return next(c for c in self.cells if (c.rater_id, c.rated_id) == (rater_id, rated_id))

    def table(self) -> pd.DataFrame:
        asymmetric = {(a.rater_id, a.rated_id) for a in self.asymmetries}
        frame = pd.DataFrame(
            [
                {
                    "cycle": self.cycle,
                    "rating_group": cell.rater,
                    "rated_group": cell.rated,
                    **figure_row("", "", cell.figure),
                    "rates_lower_than_rated_back": (cell.rater_id, cell.rated_id) in asymmetric,
                }
                for cell in self.cells
            ]
        )
        return frame.drop(columns=["measure", "label"])


def _relationship_sets(reference: Reference) -> dict[str, list[ItemInfo]]:
    """The items of each relationship the matrix shows: the shown groups, then patients."""
    by_target: dict[str | None, list[ItemInfo]] = {}
    for item in reference.items.values():
        by_target.setdefault(relationship_target(item.section, item.about_group_id), []).append(
            item
        )
    keys = [f"group:{group.id}" for group in reference.shown_groups] + [PATIENTS]
    return {key: by_target[key] for key in keys if by_target.get(key)}


def _relationship_figures(
    source: ReportSource,
    reference: Reference,
    cycle_ids: list[int],
    selection: Selection,
    minimum: int,
    by_department: bool = False,
) -> tuple[dict[tuple, Figure], dict[str, list[ItemInfo]]]:
    """(cycle_id, set key, rater group id) -> Figure; with `by_department`, one matrix per
    department: (cycle_id, set key, rater group id, department id) -> Figure."""
    sets = _relationship_sets(reference)
    cells = source.cells(cycle_ids)
    counts = source.relationship_counts(cycle_ids, sets)
    atoms = atoms_of(cells, reference, cycle_ids, minimum)
    keys = list(sets)
    # Respondents behind a set in a cell: its answers per item of the cycle's instrument.
    instrument_of = {cycle.id: cycle.instrument_id for cycle in reference.cycles}
    cycle_order = np.asarray(sorted(instrument_of), dtype=np.int64)
    items_in_set = np.asarray(
        [
            [
                max(1, sum(1 for item in sets[key] if item.instrument_id == instrument_of[c]))
                for c in cycle_order.tolist()
            ]
            for key in keys
        ],
        dtype=np.float64,
    ).reshape(len(keys), len(cycle_order))
    if len(counts):
        per_item = items_in_set[
            counts["measure"].to_numpy(),
            np.searchsorted(cycle_order, counts["cycle_id"].to_numpy()),
        ]
        counts = counts.assign(n=counts["applicable"].to_numpy() / per_item)
    else:
        counts = counts.assign(n=pd.Series(dtype="float64"))
    released = release(
        atoms,
        counts,
        selection,
        keys=["staff_group_id", *(["department_id"] if by_department else [])],
        n="n",
        sums=["favourable", "applicable"],
        minimum=minimum,
    )
    figures: dict[tuple, Figure] = {}
    departments = released["department_id"].tolist() if by_department else [None] * len(released)
    for cycle_id, measure, rater, favourable, applicable, department in zip(
        *(
            released[column].tolist()
            for column in ("cycle_id", "measure", "staff_group_id", "favourable", "applicable")
        ),
        departments,
        strict=True,
    ):
        items = items_in_set[int(measure), int(np.searchsorted(cycle_order, cycle_id))]
        estimate = pooled_percent_favourable(int(favourable), int(applicable), int(items))
        key = (int(cycle_id), keys[int(measure)], int(rater))
        figures[key if department is None else (*key, int(department))] = shown(estimate, minimum)
    return figures, sets


def _rated_targets(
    reference: Reference, sets: Mapping[str, object]
) -> list[tuple[int | None, str, str]]:
    targets: list[tuple[int | None, str, str]] = [
        (group.id, group.name, f"group:{group.id}")
        for group in reference.shown_groups
        if f"group:{group.id}" in sets
    ]
    if PATIENTS in sets:
        targets.append((None, PATIENTS_LABEL, PATIENTS))
    return targets


def relationships(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    asymmetry_points: float = ASYMMETRY_POINTS,
) -> Relationships:
    """How each staff group rates working with each other group, and with patients."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        selection = Filters(departments, selected_departments, divisions).within(reference)
        figures, sets = _relationship_figures(source, reference, cycle_ids, selection, minimum)
    return matrix(reference, cycle.id, figures, sets, minimum, asymmetry_points)


def matrix(
    reference: Reference,
    cycle_id: int,
    figures: Mapping[tuple, Figure],
    sets: Mapping[str, object],
    minimum: int,
    asymmetry_points: float = ASYMMETRY_POINTS,
    department_id: int | None = None,
) -> Relationships:
    """The matrix of one cycle from `_relationship_figures` (of one department's, when the
    figures are by department), with changes and asymmetries."""
    cycle, previous = reference.cycle(cycle_id), reference.previous_cycle(cycle_id)
    suffix = () if department_id is None else (department_id,)
    targets = _rated_targets(reference, sets)
    cells = []
    for rated_id, rated_name, key in targets:
        for rater in reference.shown_groups:
            now = figures.get((cycle.id, key, rater.id, *suffix), missing(minimum))
            before = figures.get((previous.id, key, rater.id, *suffix)) if previous else None
            cells.append(
                RelationshipCell(
                    rater.id, rater.name, rated_id, rated_name, with_change(now, before)
                )
            )
    result = Relationships(
        cycle_id=cycle.id,
        cycle=cycle.name,
        raters=reference.shown_groups,
        rated=tuple((rated_id, name) for rated_id, name, _ in targets),
        cells=tuple(cells),
        asymmetries=(),
        minimum=minimum,
    )
    return _with_asymmetries(result, asymmetry_points)


def _with_asymmetries(result: Relationships, points: float) -> Relationships:
    flagged = []
    by_pair = {(c.rater_id, c.rated_id): c for c in result.cells}
    for (rater_id, rated_id), cell in by_pair.items():
        if rated_id is None or rated_id == rater_id:
            continue
        back = by_pair.get((rated_id, rater_id))
        if back is None or cell.figure.suppressed or back.figure.suppressed:
            continue
        assert cell.figure.value is not None and back.figure.value is not None
        difference = back.figure.value - cell.figure.value
        if difference >= points and change_is_significant(
            cell.figure.estimate, back.figure.estimate
        ):
            flagged.append(
                Asymmetry(
                    rater_id,
                    cell.rater,
                    rated_id,
                    cell.rated,
                    cell.figure.value,
                    back.figure.value,
                    difference,
                )
            )
    flagged.sort(key=lambda a: -a.difference)
    return Relationships(
        cycle_id=result.cycle_id,
        cycle=result.cycle,
        raters=result.raters,
        rated=result.rated,
        cells=result.cells,
        asymmetries=tuple(flagged),
        minimum=result.minimum,
    )


RELATIONSHIP_TREND_COLUMNS = [
    "cycle_id",
    "cycle",
    "opens",
    "rater_id",
    "rater",
    "rated_id",
    "rated",
    "value",
    "low",
    "high",
    "n",
    "suppressed",
    "note",
]


def relationship_trends(
    data: Engine | ReportSource,
    *,
    departments: frozenset[int] | None,
    cycle_range: tuple[int, int] | None = None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
) -> pd.DataFrame:
    """The relationship matrix in every cycle of the range: one row per cycle and pair."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycles = cycles_in_range(reference, cycle_range)
        selection = Filters(departments, selected_departments, divisions).within(reference)
        figures, sets = _relationship_figures(
            source, reference, [c.id for c in cycles], selection, minimum
        )
    rows = []
    for cycle in cycles:
        for rated_id, rated_name, key in _rated_targets(reference, sets):
            for rater in reference.shown_groups:
                shown = figures.get((cycle.id, key, rater.id), missing(minimum))
                rows.append(
                    (cycle.id, cycle.name, cycle.opens, rater.id, rater.name, rated_id, rated_name)
                    + figure_values(shown)
                )
    frame = pd.DataFrame(rows, columns=RELATIONSHIP_TREND_COLUMNS)
    frame["rated_id"] = frame["rated_id"].astype("Int64")
    return frame
