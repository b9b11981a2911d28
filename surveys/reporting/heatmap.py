"""The heatmap: departments (or divisions) × dimensions for one cycle, in percent favourable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.figures import Figure, figure_row, missing, released_means
from surveys.reporting.reference import DimensionInfo, sorted_departments
from surveys.reporting.release import AtomTable, atoms_of, is_small, scores_by_department
from surveys.reporting.scope import ALL_SELECTED, WHOLE_ORGANISATION, Filters, Selection
from surveys.reporting.source import ReportSource, open_source
from surveys.reporting.statistics import changes_are_significant, standard_errors


def _department_grid(
    atoms: AtomTable,
    scores: pd.DataFrame,
    selection: Selection,
    *,
    cycle_id: int,
    previous_id: int | None,
    departments: Sequence[int | None],
    measures: int,
    minimum: int,
    key: str = "department_id",
) -> list[Figure | None]:
    """Figures for every department (None: all selected) × measure, in that order, with the
    change from the previous cycle: the same arithmetic as `_score_figures` and
    `_with_change`, done for the whole grid at once. None where suppressed. With `key`
    "division_id", `departments` holds division ids instead."""
    released = scores_by_department(atoms, scores, selection, minimum, key=key)
    mean, low, high = released_means(released)
    count = released["n"].to_numpy(dtype=np.float64)
    shown = ~is_small(count, minimum)
    place = {department: index for index, department in enumerate(departments)}
    row = np.asarray(
        [place.get(None if d == -1 else d, -1) for d in released[key].tolist()],
        dtype=np.int64,
    )
    position = row * measures + released["measure"].to_numpy(dtype=np.int64)
    size = len(departments) * measures

    def layer(cycle: int | None) -> tuple[np.ndarray, ...]:
        value, lower, upper, n = (np.full(size, np.nan) for _ in range(4))
        if cycle is not None:
            mask = shown & (row >= 0) & (released["cycle_id"].to_numpy() == cycle)
            value[position[mask]] = mean[mask]
            lower[position[mask]] = low[mask]
            upper[position[mask]] = high[mask]
            n[position[mask]] = count[mask]
        return value, lower, upper, n

    value, lower, upper, n = layer(cycle_id)
    before, before_low, before_high, _ = layer(previous_id)
    change = value - before
    significant = changes_are_significant(
        change, standard_errors(before_low, before_high), standard_errors(lower, upper)
    )
    figures: list[Figure | None] = []
    for v, lo, hi, k, c, sig in zip(
        value.tolist(), lower.tolist(), upper.tolist(), n.tolist(), change.tolist(),
        significant.tolist(), strict=True,
    ):  # fmt: skip
        if v != v:  # NaN: nothing shown
            figures.append(None)
            continue
        low, high = (None, None) if lo != lo else (lo, hi)
        figures.append(
            Figure(v, low, high, int(k), False, None if c != c else c, bool(sig) and c == c)
        )
    return figures


# --- Heatmap ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapCell:
    department_id: (
        int | None
    )  # None for the rows of all selected departments and the whole organisation
    department: str
    dimension: str
    label: str
    figure: Figure


HeatmapRows = Literal["department", "division"]


@dataclass(frozen=True)
class Heatmap:
    """Departments (or divisions) × dimensions for one cycle, in percent favourable."""

    cycle_id: int
    cycle: str
    previous_cycle: str | None
    # (department id, name), the total row first; division ids and names when `by` says so.
    rows: tuple[tuple[int | None, str], ...]
    dimensions: tuple[DimensionInfo, ...]
    cells: tuple[HeatmapCell, ...]
    minimum: int
    by: HeatmapRows = "department"

    @property
    def shows_nothing(self) -> bool:
        """Every cell of the viewer's own rows suppressed (or none at all): the whole
        organisation's row beside them is a benchmark, not a result of theirs."""
        return all(
            cell.figure.suppressed
            for cell in self.cells
            if cell.department != WHOLE_ORGANISATION or cell.department_id is not None
        )

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            [
                {
                    "cycle": self.cycle,
                    "department_id": cell.department_id,
                    "department": cell.department,
                    "dimension": cell.dimension,
                    "dimension_label": cell.label,
                    **figure_row(cell.dimension, cell.label, cell.figure),
                }
                for cell in self.cells
            ]
        )
        if frame.empty:
            return frame
        frame["department_id"] = frame["department_id"].astype("Int64")
        frame = frame.drop(columns=["measure", "label"])
        if self.by == "division":
            frame = frame.rename(columns={"department_id": "division_id", "department": "division"})
        return frame


def heatmap(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    by: HeatmapRows = "department",
) -> Heatmap:
    """Every selected department's percent favourable per dimension, with n and change; with
    `by` "division", a row per division instead (for organisations too large to read whole).
    A division's figure adds up only whole atoms, like every other figure."""
    if by not in ("department", "division"):
        raise ValueError(f"A heatmap has a row per department or per division, not {by!r}")
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        filters = Filters(departments, selected_departments, divisions, staff_groups)
        selection = filters.within(reference)
        benchmark = filters.benchmark()
        cells = source.cells(cycle_ids)
        measures = [d.key for d in reference.dimensions]
        scores = source.scores(cycle_ids, measures)
    atoms = atoms_of(cells, reference, cycle_ids, minimum)
    shown = sorted_departments(reference, selection.departments)
    # With one department, "all selected" would only repeat it.
    rows: list[tuple[int | None, str]] = [(None, ALL_SELECTED)] if len(shown) != 1 else []
    if by == "division":
        division_ids = {department.division_id for department in shown}
        rows += sorted(
            ((d, reference.divisions[d].name) for d in division_ids), key=lambda row: row[1]
        )
    else:
        rows += [(d.id, d.name) for d in shown]
    grid = _department_grid(
        atoms,
        scores,
        selection,
        cycle_id=cycle.id,
        previous_id=previous.id if previous else None,
        departments=[row_id for row_id, _ in rows],
        measures=len(measures),
        minimum=minimum,
        key=f"{by}_id",
    )
    if benchmark is not None:  # the whole organisation first, as the row to compare against
        rows.insert(0, (None, WHOLE_ORGANISATION))
        grid = (
            _department_grid(
                atoms,
                scores,
                benchmark.within(reference),
                cycle_id=cycle.id,
                previous_id=previous.id if previous else None,
                departments=[None],
                measures=len(measures),
                minimum=minimum,
                key=f"{by}_id",
            )
            + grid
        )
    absent = missing(minimum)
    heat_cells = []
    figures = iter(grid)
    for department_id, name in rows:
        for dimension in reference.dimensions:
            figure = next(figures)
            heat_cells.append(
                HeatmapCell(department_id, name, dimension.key, dimension.label, figure or absent)
            )
    return Heatmap(
        cycle_id=cycle.id,
        cycle=cycle.name,
        previous_cycle=previous.name if previous else None,
        rows=tuple(rows),
        dimensions=reference.dimensions,
        cells=tuple(heat_cells),
        minimum=minimum,
        by=by,
    )
