"""Item detail: how answers to each 1-5 item were spread, after reverse-scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.figures import suppressed_note
from surveys.reporting.release import atoms_of, is_small, release
from surveys.reporting.scope import Filters
from surveys.reporting.source import ReportSource, open_source
from surveys.scoring import FAVOURABLE_MIN, LIKERT_POINTS, NPS_SCALE

LIKERT_VALUES = tuple(range(1, LIKERT_POINTS + 1))


ITEM_COLUMNS = [
    "item_id",
    "code",
    "text",
    "dimension",
    "about_group",
    "n",
    "not_applicable",
    *(f"count_{v}" for v in LIKERT_VALUES),
    *(f"percent_{v}" for v in LIKERT_VALUES),
    "percent_favourable",
    "organisation_percent_favourable",
    "suppressed",
    "note",
]


def item_distributions(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    dimension: str | None = None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
) -> pd.DataFrame:
    """How answers to each 1-5 item of a dimension (or of every dimension) spread, after
    reverse-scoring: counts and percents per scored value, n and "does not apply"."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with open_source(data) as source:
        reference = source.reference()
        cycle = reference.cycle(cycle_id)
        if dimension is not None:
            reference.dimension(dimension)
        items = [
            item
            for item in reference.items.values()
            if item.instrument_id == cycle.instrument_id
            and item.scale != NPS_SCALE
            and (dimension is None or item.dimension == dimension)
        ]
        filters = Filters(departments, selected_departments, divisions, staff_groups)
        selection = filters.within(reference)
        benchmark = filters.benchmark()
        cells = source.cells([cycle_id])
        counts = source.answer_counts([cycle_id], [item.id for item in items], LIKERT_VALUES)
    atoms = atoms_of(cells, reference, [cycle_id], minimum)
    values = [f"v{v}" for v in LIKERT_VALUES]
    counts = counts.assign(measure=counts["item_id"], n=counts[values].sum(axis=1))
    released = release(
        atoms, counts, selection, keys=[], n="n", sums=["n_na", *values], minimum=minimum
    )
    # Beside part of the organisation, the whole organisation's percent favourable per item.
    organisation = np.full(len(items), np.nan)
    if benchmark is not None:
        whole = release(
            atoms, counts, benchmark.within(reference), keys=[], n="n", sums=values,
            minimum=minimum,
        )  # fmt: skip
        by_item = {m: i for i, m in enumerate(whole["measure"].tolist())}
        for row, item in enumerate(items):
            at = by_item.get(item.id)
            if at is None or is_small(np.asarray([whole["n"].iloc[at]]), minimum)[0]:
                continue
            answers = [
                LIKERT_POINTS + 1 - v if item.reverse else v
                for v in LIKERT_VALUES
                if v >= FAVOURABLE_MIN
            ]
            agreeing = sum(float(whole[f"v{a}"].iloc[at]) for a in answers)
            organisation[row] = 100 * agreeing / float(whole["n"].iloc[at])
    group_names = {group.id: group.name for group in reference.groups}
    position = {measure: row for row, measure in enumerate(released["measure"].tolist())}
    found = np.asarray([position.get(item.id, -1) for item in items], dtype=np.int64)
    released_values = np.vstack(
        [
            released[["n", "n_na", *values]].to_numpy(dtype=np.float64),
            np.full((1, 2 + len(values)), np.nan),  # where items with no figure point
        ]
    )
    shown_values = released_values[found].reshape(len(items), 2 + len(values))
    n = shown_values[:, 0]
    hidden = np.isnan(n) | is_small(n, minimum)
    shown_values[hidden] = np.nan
    n = shown_values[:, 0]
    reverse = np.asarray([item.reverse for item in items], dtype=bool)
    rows = np.arange(len(items))
    columns: dict[str, object] = {
        "item_id": [item.id for item in items],
        "code": [item.code for item in items],
        "text": [item.text for item in items],
        "dimension": [item.dimension for item in items],
        "about_group": [
            None if item.about_group_id is None else group_names.get(item.about_group_id)
            for item in items
        ],
        "n": _whole(n),
        "not_applicable": _whole(shown_values[:, 1]),
    }
    favourable = np.zeros(len(items))
    percents = {}
    for value in LIKERT_VALUES:
        # Negatively worded items: raw answer 1 is scored 5, and so on.
        raw = np.where(reverse, LIKERT_POINTS + 1 - value, value)
        count = shown_values[rows, 1 + raw]
        columns[f"count_{value}"] = _whole(count)
        percents[f"percent_{value}"] = 100 * count / n
        if value >= FAVOURABLE_MIN:
            favourable = favourable + count
    columns |= percents
    columns["percent_favourable"] = 100 * favourable / n
    columns["organisation_percent_favourable"] = organisation
    columns["suppressed"] = hidden
    columns["note"] = [suppressed_note(minimum) if h else "" for h in hidden.tolist()]
    return pd.DataFrame(columns)[ITEM_COLUMNS]


def _whole(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Counts as nullable integers: missing where suppressed."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(
        np.where(missing, 0, np.rint(np.nan_to_num(values))).astype(np.int64), missing
    )
