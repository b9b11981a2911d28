"""Downloads and `attune export`: the aggregates behind a chart as CSV (or JSON), computed by
the same reporting function with the same arguments as the page that shows them."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine

from surveys.csvsafe import frame_to_csv
from surveys.reporting.comments import comments
from surveys.reporting.drivers import key_drivers
from surveys.reporting.focus import focus_areas
from surveys.reporting.heatmap import HeatmapRows, heatmap
from surveys.reporting.items import item_distributions
from surveys.reporting.overview import overview
from surveys.reporting.rates import response_rates
from surveys.reporting.relationships import relationships
from surveys.reporting.trends import trends
from surveys.scoring import INDEX, RECOMMENDATION

# Every report `attune export` can give; action plans join once they exist.
REPORTS = (
    "overview",
    "heatmap",
    "trends",
    "relationships",
    "items",
    "comments",
    "rates",
    "drivers",
    "focus",
)
ExportFormat = Literal["csv", "json"]


def to_csv(result: pd.DataFrame | Any) -> str:
    """The aggregates behind a chart as CSV that spreadsheets will not execute.

    Accepts any report result (its `table()`) or a DataFrame a report returned.
    """
    return frame_to_csv(_frame(result))


def to_json(result: pd.DataFrame | Any) -> str:
    """The same table as `to_csv`, as a JSON list of objects (missing values as null)."""
    frame = _frame(result)
    records = [
        {str(column): _plain(value) for column, value in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return json.dumps(records, ensure_ascii=False, indent=2) + "\n"


def _frame(result: pd.DataFrame | Any) -> pd.DataFrame:
    return result if isinstance(result, pd.DataFrame) else result.table()


def _plain(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def export_result(
    engine: Engine,
    *,
    report: str,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    rows: HeatmapRows = "department",
    measure: str = INDEX,
    first_cycle_id: int | None = None,
    dimension: str | None = None,
    outcome: str = RECOMMENDATION,
) -> Any:
    """The result a page downloads for `report`, asked with the page's arguments.

    `cycle_id` is the cycle shown (for trends the last of the range, which starts at
    `first_cycle_id`). `rows` is the heatmap's, `measure` the trend's, `dimension` the item
    detail's choice (None: every dimension) and `outcome` the key drivers' ("enps" or
    "overall"). Relationships and response rates take no staff
    groups; response rates no department or division filter beyond the scope.
    """
    filters: dict[str, Any] = {
        "departments": departments,
        "divisions": divisions,
        "selected_departments": selected_departments,
    }
    if report in ("relationships", "rates") and staff_groups is not None:
        raise ValueError(f"the {report} report is about staff groups: it takes no staff groups")
    if report == "overview":
        return overview(engine, cycle_id=cycle_id, staff_groups=staff_groups, **filters)
    if report == "heatmap":
        return heatmap(engine, cycle_id=cycle_id, staff_groups=staff_groups, by=rows, **filters)
    if report == "trends":
        first = cycle_id if first_cycle_id is None else first_cycle_id
        return trends(
            engine,
            measure=measure,
            cycle_range=(first, cycle_id),
            staff_groups=staff_groups,
            **filters,
        )
    if report == "relationships":
        return relationships(engine, cycle_id=cycle_id, **filters)
    if report == "items":
        return item_distributions(
            engine, cycle_id=cycle_id, dimension=dimension, staff_groups=staff_groups, **filters
        )
    if report == "comments":
        return comments(engine, cycle_id=cycle_id, staff_groups=staff_groups, **filters)
    if report == "drivers":
        return key_drivers(
            engine, cycle_id=cycle_id, staff_groups=staff_groups, outcome=outcome, **filters
        )
    if report == "focus":
        return focus_areas(engine, cycle_id=cycle_id, staff_groups=staff_groups, **filters)
    if report == "rates":
        if selected_departments is not None or divisions is not None:
            raise ValueError("the rates report covers every department you may see")
        return response_rates(engine, cycle_id=cycle_id, departments=departments)
    raise ValueError(f"there is no report called {report!r}; choose one of {', '.join(REPORTS)}")
