"""The board report's contents: every section's results, from the reporting functions only.

It computes no figure itself: each section holds exactly what the page of the same name shows
for the same scope and cycle (suppressed figures included, as "fewer than k"), so the printed
report and the screen can never disagree. `surveys.printing.board` lays it out on paper.

Sections that other issues will add (key drivers and focus areas, action plans, comment themes)
become further optional fields here and further pages there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from surveys.clock import utc_now
from surveys.config import get_settings
from surveys.records import CycleState
from surveys.reporting.comments import Comments, comments
from surveys.reporting.heatmap import Heatmap, HeatmapRows, heatmap
from surveys.reporting.named import NamedSelection
from surveys.reporting.overview import Overview, overview
from surveys.reporting.relationships import ASYMMETRY_POINTS, Relationships, relationships
from surveys.reporting.scope import nothing_to_show, open_cycle_notice
from surveys.reporting.trends import trends
from surveys.scoring import INDEX

# Above this many departments a heatmap row per department cannot be read (the Heatmap page
# uses the same number): the report then gives a row per division.
HEATMAP_DEPARTMENT_ROWS = 30
# Cycles the trend section shows, the report's own cycle last.
TREND_CYCLES = 8


@dataclass(frozen=True)
class BoardReport:
    organisation: str
    scope: str  # in words: "Whole organisation", "Emergency", "Division: Surgery"
    cycle: str
    cycle_state: str
    made_on: date
    overview: Overview
    heatmap: Heatmap
    relationships: Relationships
    trend: pd.DataFrame  # the index per cycle and department (trends())
    comments: Comments  # their themes are printed; their texts only when asked for
    minimum: int
    comment_minimum: int
    asymmetry_points: float
    open_cycle_notice: str | None
    # Why the report holds no figure (a draft cycle, too few people), as the pages say it.
    nothing_to_show: str | None = None
    with_comments: bool = False


def board_report(
    engine: Engine, *, selection: NamedSelection, with_comments: bool = False
) -> BoardReport:
    """Every section of the board report for one cycle and scope (staff groups: all)."""
    settings = get_settings()
    arguments: dict[str, Any] = {
        "departments": selection.scope,
        "selected_departments": selection.selected_departments,
        "divisions": selection.divisions,
    }
    cycle_id = selection.cycle.id
    in_view = _departments_in_view(selection)
    by: HeatmapRows = "division" if in_view > HEATMAP_DEPARTMENT_ROWS else "department"
    # Newest first: the report's cycle and up to TREND_CYCLES - 1 before it.
    ids = [cycle.id for cycle in selection.options.cycles]
    earlier = ids[ids.index(cycle_id) :][:TREND_CYCLES]
    headline = overview(engine, cycle_id=cycle_id, **arguments)
    empty = None
    if headline.shows_nothing:
        narrowed = selection.selected_departments is not None or selection.divisions is not None
        empty = nothing_to_show(selection.options, [cycle_id], narrowed=narrowed)
    return BoardReport(
        organisation=settings.organisation_name.strip(),
        scope=selection.described,
        cycle=selection.cycle.name,
        cycle_state=selection.cycle.state,
        made_on=utc_now().date(),
        overview=headline,
        heatmap=heatmap(engine, cycle_id=cycle_id, by=by, **arguments),
        relationships=relationships(engine, cycle_id=cycle_id, **arguments),
        trend=trends(engine, measure=INDEX, cycle_range=(earlier[-1], cycle_id), **arguments),
        comments=comments(engine, cycle_id=cycle_id, **arguments),
        minimum=settings.min_group_size,
        comment_minimum=settings.min_comment_group_size,
        asymmetry_points=ASYMMETRY_POINTS,
        open_cycle_notice=open_cycle_notice() if selection.cycle.state == CycleState.open else None,
        nothing_to_show=empty,
        with_comments=with_comments,
    )


def _departments_in_view(selection: NamedSelection) -> int:
    return sum(
        1
        for department in selection.options.departments
        if (selection.divisions is None or department.division_id in selection.divisions)
        and (
            selection.selected_departments is None
            or department.id in selection.selected_departments
        )
    )
