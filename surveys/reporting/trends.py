"""Trends: the index or one dimension per department across cycles, with 95% bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.figures import released_means, suppressed_note
from surveys.reporting.reference import cycles_in_range, sorted_departments
from surveys.reporting.release import atoms_of, is_small, scores_by_department, scores_overall
from surveys.reporting.scope import ALL_SELECTED, WHOLE_ORGANISATION, Filters
from surveys.reporting.source import ReportSource, open_source
from surveys.scoring import INDEX

TREND_COLUMNS = [
    "cycle_id",
    "cycle",
    "opens",
    "department_id",
    "department",
    "measure",
    "label",
    "value",
    "low",
    "high",
    "n",
    "suppressed",
    "note",
]


def trends(
    data: Engine | ReportSource,
    *,
    departments: frozenset[int] | None,
    measure: str = INDEX,
    cycle_range: tuple[int, int] | None = None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
) -> pd.DataFrame:
    """The index (or one dimension) per department and cycle, with 95% bands.

    One row per cycle and selected department, plus rows with `department_id` NA for all
    selected departments together and, when the selection is only part of the organisation,
    for the whole organisation (the benchmark); suppressed points have NA values and
    `suppressed` True.
    """
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        if measure == INDEX:
            label = "Relationship Health Index"
        else:
            label = reference.dimension(measure).label
        cycles = cycles_in_range(reference, cycle_range)
        cycle_ids = [cycle.id for cycle in cycles]
        filters = Filters(departments, selected_departments, divisions, staff_groups)
        selection = filters.within(reference)
        benchmark = filters.benchmark()
        cells = source.cells(cycle_ids)
        scores = source.scores(cycle_ids, [measure])
    atoms = atoms_of(cells, reference, cycle_ids, minimum)
    released = scores_by_department(atoms, scores, selection, minimum)
    if benchmark is not None:
        whole = scores_overall(atoms, scores, benchmark.within(reference), minimum)
        whole = whole.assign(department_id=-2)
        released = pd.concat([whole, released], ignore_index=True)
    mean, low, high = released_means(released)
    shown = ~is_small(released["n"].to_numpy(), minimum)
    figures = pd.DataFrame(
        {
            "cycle_id": released["cycle_id"].to_numpy(dtype=np.int64),
            "department_id": released["department_id"].to_numpy(dtype=np.int64),
            "value": np.where(shown, mean, np.nan),
            "low": np.where(shown, low, np.nan),
            "high": np.where(shown, high, np.nan),
            "n": np.where(shown, released["n"].to_numpy(dtype=np.float64), np.nan),
        }
    )
    # Every cycle × (all selected, then each department), figures where there are some. With
    # one department, "all selected" would only repeat it.
    shown_departments = sorted_departments(reference, selection.departments)
    targets = [(-2, WHOLE_ORGANISATION)] if benchmark is not None else []
    targets += [(-1, ALL_SELECTED)] if len(shown_departments) != 1 else []
    targets += [(d.id, d.name) for d in shown_departments]
    grid = pd.DataFrame(
        {
            "cycle_id": np.repeat([c.id for c in cycles], len(targets)),
            "cycle": np.repeat([c.name for c in cycles], len(targets)),
            "opens": np.repeat(np.asarray([c.opens for c in cycles], dtype=object), len(targets)),
            "department_id": np.tile([t[0] for t in targets], len(cycles)).astype(np.int64),
            "department": np.tile(np.asarray([t[1] for t in targets], dtype=object), len(cycles)),
        }
    )
    frame = grid.merge(figures, on=["cycle_id", "department_id"], how="left")
    frame["suppressed"] = frame["value"].isna()
    frame["note"] = np.where(frame["suppressed"], suppressed_note(minimum), "")
    frame["n"] = frame["n"].astype("Int64")
    frame["department_id"] = frame["department_id"].astype("Int64").mask(frame["department_id"] < 0)
    frame["measure"], frame["label"] = measure, label
    return frame[TREND_COLUMNS]


def trend_shows_nothing(frame: pd.DataFrame) -> bool:
    """Every point of the viewer's own lines suppressed: the whole organisation's line beside
    them is a benchmark, not a result of theirs."""
    return bool(frame.loc[frame["department"] != WHOLE_ORGANISATION, "suppressed"].all())
