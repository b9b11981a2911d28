"""Figures as reports show them: a value with its interval and n, or suppressed."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd

from surveys.reporting.release import fewer_than, is_small
from surveys.reporting.statistics import Estimate, change_is_significant, mean_intervals


class Figure(NamedTuple):
    """A number as shown: its 95% interval and n, or None with `suppressed=True`.

    `change` is the difference from the previous cycle when both are shown, and `significant`
    says whether that change is beyond chance at 95%. A suppressed figure never tells its n.
    (A named tuple rather than a dataclass: a heatmap makes tens of thousands of them.)
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    suppressed: bool
    change: float | None = None
    significant: bool = False
    note: str = ""

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, self.low, self.high, self.n)


def suppressed_note(minimum: int) -> str:
    return f"{fewer_than(minimum)} responses"


@functools.lru_cache(maxsize=8)
def missing(minimum: int) -> Figure:
    """The figure shown in place of one resting on too few responses (immutable, shared)."""
    return Figure(None, None, None, 0, True, note=suppressed_note(minimum))


def shown(estimate: Estimate, minimum: int) -> Figure:
    if estimate.value is None or is_small(estimate.n, minimum):
        return missing(minimum)
    return Figure(estimate.value, estimate.low, estimate.high, estimate.n, False)


def count_figure(count: int | None, minimum: int) -> Figure:
    if count is None:
        return missing(minimum)
    return Figure(float(count), None, None, count, False)


def with_change(current: Figure, previous: Figure | None) -> Figure:
    if previous is None or current.suppressed or previous.suppressed:
        return current
    assert current.value is not None and previous.value is not None
    return Figure(
        current.value,
        current.low,
        current.high,
        current.n,
        False,
        change=current.value - previous.value,
        significant=change_is_significant(previous, current),
    )


def score_figures(
    released: pd.DataFrame, measures: Sequence[str], keys: Sequence[str], minimum: int
) -> dict[tuple, Figure]:
    """(cycle_id, measure key, *keys) -> Figure, from released n/total/total_sq sums."""
    mean, low, high = released_means(released)
    identities = zip(
        *(released[column].tolist() for column in ("cycle_id", "measure", *keys)), strict=True
    )
    absent = missing(minimum)
    figures = {}
    for (cycle_id, measure, *rest), count, value, lower, upper in zip(
        identities,
        released["n"].tolist(),
        mean.tolist(),
        low.tolist(),
        high.tolist(),
        strict=True,
    ):
        key = (int(cycle_id), measures[int(measure)], *rest)
        if is_small(count, minimum):
            figures[key] = absent
        elif count == 1:
            figures[key] = Figure(value, None, None, 1, False)
        else:
            figures[key] = Figure(value, lower, upper, int(count), False)
    return figures


def released_means(released: pd.DataFrame) -> tuple:
    """Means and 95% bounds of released n/total/total_sq sums, all rows at once."""
    return mean_intervals(
        released["n"].to_numpy(dtype="float64"),
        released["total"].to_numpy(dtype="float64"),
        released["total_sq"].to_numpy(dtype="float64"),
    )


def figure_row(measure: str, label: str, figure: Figure) -> dict[str, object]:
    return {
        "measure": measure,
        "label": label,
        "value": figure.value,
        "low": figure.low,
        "high": figure.high,
        "n": figure.n if not figure.suppressed else None,
        "change": figure.change,
        "significant": figure.significant if figure.change is not None else None,
        "suppressed": figure.suppressed,
        "note": figure.note,
    }


def figure_values(figure: Figure) -> tuple[object, ...]:
    return (
        figure.value,
        figure.low,
        figure.high,
        None if figure.suppressed else figure.n,
        figure.suppressed,
        figure.note,
    )
