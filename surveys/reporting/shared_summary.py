"""The staff summary of one cycle ("you said, we did"): what the shared link shows.

It computes no figure itself. The organisation's headline figures, its strongest and weakest
dimensions, and each department's figures are `overview` results for the same cycle (the
whole organisation, then each department selected on its own), so every number on the shared
page equals the one the results pages show for that scope, suppressed where they suppress.
Action plans are an input: the caller reads them (surveys/actions/sharing.py); only what staff
may see of a plan enters here, and the owner's name only where its author chose to show it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.figures import Figure, count_figure, figure_row
from surveys.reporting.overview import DimensionFigure, Overview, overview
from surveys.reporting.reference import Reference, sorted_departments
from surveys.reporting.source import ReportSource, open_source

# How many strongest and weakest dimensions the organisation's part names.
HEADLINE_DIMENSIONS = 3
# Plan statuses in the words staff read, in the order a department's plans are listed.
PLAN_STATUS_WORDS = {
    "in_progress": "In progress",
    "planned": "Planned",
    "done": "Done",
    "dropped": "Dropped",
}


@dataclass(frozen=True)
class PlanInput:
    """An action plan as its owner wrote it: what the summary is given."""

    department_id: int | None  # None: the whole organisation
    title: str
    actions: str
    status: str
    owner: str = ""
    show_owner: bool = False
    addresses: str = ""  # the dimension or relationship, in words


@dataclass(frozen=True)
class PlanForStaff:
    """An action plan as staff see it: the owner only when its author chose to show it."""

    title: str
    actions: str
    status: str  # in words
    owner: str | None
    addresses: str = ""


@dataclass(frozen=True)
class DepartmentSummary:
    department_id: int
    department: str
    division: str
    responses: int | None  # None when suppressed
    index: Figure
    strongest: DimensionFigure | None
    weakest: DimensionFigure | None
    plans: tuple[PlanForStaff, ...]

    @property
    def shows_figures(self) -> bool:
        return self.responses is not None and not self.index.suppressed


@dataclass(frozen=True)
class SharedSummary:
    """What staff see through a cycle's shared link."""

    organisation: str
    cycle_id: int
    cycle: str
    previous_cycle: str | None
    overview: Overview  # the whole organisation
    departments: tuple[DepartmentSummary, ...]  # with figures or plans; division, then name
    organisation_plans: tuple[PlanForStaff, ...]  # plans for the whole organisation
    minimum: int

    @property
    def strongest(self) -> tuple[DimensionFigure, ...]:
        return self.overview.strongest

    @property
    def weakest(self) -> tuple[DimensionFigure, ...]:
        return self.overview.weakest

    def table(self) -> pd.DataFrame:
        """Every figure the summary shows, one row per scope and measure."""
        rows: list[dict[Any, Any]] = [
            {"scope": "organisation", **row}
            for row in self.overview.table().to_dict("records")
            if not str(row["measure"]).startswith("department:")
        ]
        for department in self.departments:
            scope = f"department:{department.department_id}"
            rows.append(
                {
                    "scope": scope,
                    **figure_row(
                        "responses", "Responses", count_figure(department.responses, self.minimum)
                    ),
                }
            )
            rows.append({"scope": scope, **figure_row("index", "Index", department.index)})
            for kind, dimension in (
                ("strongest", department.strongest),
                ("weakest", department.weakest),
            ):
                if dimension is not None:
                    rows.append(
                        {
                            "scope": scope,
                            **figure_row(
                                f"{kind}:{dimension.key}", dimension.label, dimension.figure
                            ),
                        }
                    )
        frame = pd.DataFrame(rows)
        frame["cycle"] = self.cycle
        return frame


def staff_view(plans: Sequence[PlanInput]) -> tuple[PlanForStaff, ...]:
    """Plans as staff may see them, in progress first and dropped last; a plan's owner only
    when its author ticked "show owner"."""
    order = list(PLAN_STATUS_WORDS)
    ranked = sorted(
        plans,
        key=lambda plan: (
            order.index(plan.status) if plan.status in order else len(order),
            plan.title.lower(),
        ),
    )
    return tuple(
        PlanForStaff(
            title=plan.title,
            actions=plan.actions,
            status=PLAN_STATUS_WORDS.get(plan.status, plan.status),
            owner=(plan.owner.strip() or None) if plan.show_owner else None,
            addresses=plan.addresses,
        )
        for plan in ranked
    )


def shared_summary(
    data: Engine | ReportSource, *, cycle_id: int, plans: Sequence[PlanInput] = ()
) -> SharedSummary:
    """The staff summary of one cycle: the organisation's figures, then every department that
    has a released figure or a plan, each with its plans."""
    return with_plans(shared_figures(data, cycle_id=cycle_id), plans)


def shared_figures(data: Engine | ReportSource, *, cycle_id: int) -> SharedSummary:
    """The summary's figures, every department listed and no plan yet (`with_plans` adds
    them). The costly part: one overview per department, so callers may keep it longer than
    the plans, which change without a response arriving."""
    settings = get_settings()
    with open_source(data) as opened:
        # Each department's overview reads the same rollups: read them once.
        source = _Remembered(opened)
        reference = source.reference()
        whole = overview(source, cycle_id=cycle_id, departments=None, movers=HEADLINE_DIMENSIONS)
        departments = []
        for department in _in_order(reference):
            own = overview(
                source,
                cycle_id=cycle_id,
                departments=None,
                selected_departments=frozenset({department.id}),
                movers=1,
            )
            departments.append(
                DepartmentSummary(
                    department_id=department.id,
                    department=department.name,
                    division=reference.divisions[department.division_id].name,
                    responses=own.responses,
                    index=own.index,
                    strongest=own.strongest[0] if own.strongest else None,
                    weakest=own.weakest[0] if own.weakest else None,
                    plans=(),
                )
            )
    return SharedSummary(
        organisation=settings.organisation_name.strip(),
        cycle_id=whole.cycle_id,
        cycle=whole.cycle,
        previous_cycle=whole.previous_cycle,
        overview=whole,
        departments=tuple(departments),
        organisation_plans=(),
        minimum=settings.min_group_size,
    )


def with_plans(figures: SharedSummary, plans: Sequence[PlanInput]) -> SharedSummary:
    """The summary with each department's plans, as staff may see them; a department stays
    only if it has a released figure or a plan."""
    by_department: dict[int | None, list[PlanInput]] = {}
    for plan in plans:
        by_department.setdefault(plan.department_id, []).append(plan)
    departments = []
    for department in figures.departments:
        listed = replace(
            department, plans=staff_view(by_department.get(department.department_id, ()))
        )
        if listed.shows_figures or listed.plans:
            departments.append(listed)
    return replace(
        figures,
        departments=tuple(departments),
        organisation_plans=staff_view(by_department.get(None, ())),
    )


def _in_order(reference: Reference) -> list[Any]:
    # Division by division, as the organisation is laid out.
    chosen = sorted_departments(reference, frozenset(reference.departments))
    return sorted(chosen, key=lambda d: reference.divisions[d.division_id].name)


class _Remembered:
    """A report source that reads each set of rollup rows once and hands out copies."""

    def __init__(self, source: ReportSource) -> None:
        self._source = source
        self._kept: dict[tuple, Any] = {}

    def _once(self, key: tuple, read: Any) -> Any:
        if key not in self._kept:
            self._kept[key] = read()
        kept = self._kept[key]
        return kept.copy() if isinstance(kept, pd.DataFrame) else kept

    def reference(self) -> Reference:
        return self._once(("reference",), self._source.reference)

    def cells(self, cycle_ids: Collection[int]) -> pd.DataFrame:
        ids = tuple(sorted(cycle_ids))
        return self._once(("cells", ids), lambda: self._source.cells(ids))

    def scores(self, cycle_ids: Collection[int], measures: Sequence[str]) -> pd.DataFrame:
        ids, keys = tuple(sorted(cycle_ids)), tuple(measures)
        return self._once(("scores", ids, keys), lambda: self._source.scores(ids, list(keys)))

    def answer_counts(
        self, cycle_ids: Collection[int], item_ids: Collection[int], values: Sequence[int]
    ) -> pd.DataFrame:
        key = ("answers", tuple(sorted(cycle_ids)), tuple(sorted(item_ids)), tuple(values))
        return self._once(key, lambda: self._source.answer_counts(cycle_ids, item_ids, values))

    def relationship_counts(
        self, cycle_ids: Collection[int], targets: Mapping[str, Sequence[Any]]
    ) -> pd.DataFrame:
        return self._source.relationship_counts(cycle_ids, targets)

    def invitations(self, cycle_id: int) -> pd.DataFrame:
        return self._once(("invitations", cycle_id), lambda: self._source.invitations(cycle_id))

    def comments(self, cycle_id: int, cells: Collection[Any]) -> list[str]:
        return self._source.comments(cycle_id, cells)
