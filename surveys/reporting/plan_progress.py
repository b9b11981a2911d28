"""Whether an action plan worked: what it addresses, in every cycle since it began.

The figures are the trends and relationship trends every results page shows, for the plan's
department (or everything in the viewer's scope, for a plan for the whole organisation),
released the same way; this module only picks the plan's line out of them and says in words
how it moved between the cycle the plan started in and the latest cycle with results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.records import CycleState
from surveys.reporting.figures import Figure, suppressed_note
from surveys.reporting.relationships import relationship_trends
from surveys.reporting.scope import WHOLE_ORGANISATION
from surveys.reporting.source import ReportSource, open_source
from surveys.reporting.statistics import change_is_significant
from surveys.reporting.trends import trends


@dataclass(frozen=True)
class ProgressPoint:
    cycle_id: int
    cycle: str
    opens: date
    figure: Figure  # % favourable, or suppressed


@dataclass(frozen=True)
class PlanProgress:
    """What the plan addresses, % favourable in each cycle from the one it started in."""

    measure: str  # what the line is, in words
    where: str  # the department, or the viewer's departments together
    points: tuple[ProgressPoint, ...]  # oldest first; the first is the cycle the plan began in
    verdict: str  # how it moved, in words
    minimum: int

    def table(self) -> pd.DataFrame:
        """One row per cycle, in the columns `reporting.trends` returns (for its charts), with
        `series` naming the line."""
        return pd.DataFrame(
            {
                "cycle_id": [point.cycle_id for point in self.points],
                "cycle": [point.cycle for point in self.points],
                "opens": [point.opens for point in self.points],
                "series": [self.measure] * len(self.points),
                "value": [point.figure.value for point in self.points],
                "low": [point.figure.low for point in self.points],
                "high": [point.figure.high for point in self.points],
                "n": pd.array(
                    [None if p.figure.suppressed else p.figure.n for p in self.points],
                    dtype="Int64",
                ),
                "suppressed": [point.figure.suppressed for point in self.points],
                "note": [point.figure.note for point in self.points],
            }
        )


def _figure(row: pd.Series) -> Figure:
    suppressed = bool(row["suppressed"]) or pd.isna(row["value"])
    if suppressed:
        return Figure(None, None, None, 0, True, note=str(row.get("note") or ""))
    return Figure(
        float(row["value"]),
        None if pd.isna(row["low"]) else float(row["low"]),
        None if pd.isna(row["high"]) else float(row["high"]),
        int(row["n"]),
        False,
    )


def _verdict(measure: str, points: tuple[ProgressPoint, ...], minimum: int) -> str:
    shown = [point for point in points if not point.figure.suppressed]
    if not points:
        return "No survey cycle has results since the plan began."
    if not shown:
        return (
            f"No figures to compare yet: fewer than {minimum} responses stand behind each "
            "cycle since the plan began, or no cycle since then has results."
        )
    first, last = shown[0], shown[-1]
    if first is last:
        return (
            f"{measure}: {first.figure.value:.0f}% favourable in {first.cycle}. The next cycle "
            "with results will show whether the plan is working."
        )
    assert first.figure.value is not None and last.figure.value is not None
    change = last.figure.value - first.figure.value
    moved = (
        "no change"
        if round(change) == 0
        else f"{'up' if change > 0 else 'down'} {abs(change):.0f} points"
    )
    beyond = change_is_significant(first.figure, last.figure)
    return (
        f"{measure}: {first.figure.value:.0f}% favourable in {first.cycle}, "
        f"{last.figure.value:.0f}% in {last.cycle} ({moved}; "
        + ("more than chance would explain)." if beyond else "within what chance could explain).")
    )


def plan_progress(
    data: Engine | ReportSource,
    *,
    departments: frozenset[int] | None,
    department_id: int | None,
    since_cycle_id: int,
    dimension_key: str | None = None,
    from_group_id: int | None = None,
    to_group_id: int | None = None,
) -> PlanProgress | None:
    """A plan's dimension (or relationship: how `from_group_id` rates `to_group_id`) in its
    department, in every cycle from `since_cycle_id` on that is not a draft; None for a plan
    that addresses neither. `departments` is the viewer's scope, as for every report; the
    plan's department only narrows it."""
    minimum = get_settings().min_group_size
    selected = None if department_id is None else frozenset({department_id})
    with open_source(data) as source:
        reference = source.reference()
        begun = [cycle for cycle in reference.cycles if cycle.state != CycleState.draft]
        start = reference.cycle(since_cycle_id)
        cycles = [cycle for cycle in begun if (cycle.opens, cycle.id) >= (start.opens, start.id)]
        if dimension_key is None and (from_group_id is None or to_group_id is None):
            return None
        if department_id is None:
            where = "All your departments" if departments is not None else "The whole organisation"
        else:
            where = reference.departments[department_id].name
        if not cycles:
            measure = reference.dimension(dimension_key).label if dimension_key is not None else ""
            return PlanProgress(measure, where, (), _verdict(measure, (), minimum), minimum)
        cycle_range = (cycles[0].id, cycles[-1].id)
        if dimension_key is not None:
            measure = reference.dimension(dimension_key).label
            frame = trends(
                source,
                departments=departments,
                measure=dimension_key,
                cycle_range=cycle_range,
                selected_departments=selected,
            )
            # The whole organisation's line is a benchmark beside the viewer's own: never
            # the plan's line (a manager's plan for the organisation covers their departments).
            frame = frame[frame["department"] != WHOLE_ORGANISATION]
            if department_id is None and frame["department_id"].isna().any():
                frame = frame[frame["department_id"].isna()]
            elif department_id is not None:
                frame = frame[frame["department_id"] == department_id]
        else:
            groups = {group.id: group for group in reference.groups}
            measure = (
                f"How {groups[from_group_id].plural} see working with "  # type: ignore[index]
                f"{groups[to_group_id].plural}"  # type: ignore[index]
            )
            frame = relationship_trends(
                source,
                departments=departments,
                cycle_range=cycle_range,
                selected_departments=selected,
            )
            frame = frame[(frame["rater_id"] == from_group_id) & (frame["rated_id"] == to_group_id)]
    by_cycle = {int(row["cycle_id"]): row for _, row in frame.iterrows()}
    missing = Figure(None, None, None, 0, True, note=suppressed_note(minimum))
    points = tuple(
        ProgressPoint(
            cycle.id,
            cycle.name,
            cycle.opens,
            _figure(by_cycle[cycle.id]) if cycle.id in by_cycle else missing,
        )
        for cycle in cycles
    )
    return PlanProgress(measure, where, points, _verdict(measure, points, minimum), minimum)
