"""Heatmap: departments (or divisions) × dimensions for one cycle, in percent favourable."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources
from surveys.reporting.heatmap import HeatmapRows

# Above this many departments a heatmap row per department is too tall to read, so it starts
# with a row per division; choosing a division (or departments) shows its departments.
DEPARTMENT_ROWS = 30
ROWS: dict[HeatmapRows, str] = {"division": "Divisions", "department": "Departments"}

st.title("Heatmap")
selection = filters.filter_bar()
in_view = [
    department
    for department in selection.options.departments
    if (selection.divisions is None or department.division_id in selection.divisions)
    and (selection.selected_departments is None or department.id in selection.selected_departments)
]
by: HeatmapRows = "department"
if len({department.division_id for department in in_view}) > 1:
    by = (
        st.segmented_control(
            "Rows",
            options=list(ROWS),
            format_func=ROWS.__getitem__,
            default="division" if len(in_view) > DEPARTMENT_ROWS else "department",
            required=True,
            key="heatmap_rows",
        )
        or "department"
    )
heatmap = resources.heatmap(selection, by=by)
if heatmap.shows_nothing:
    filters.nothing_to_show(selection)
resources.chart(
    charts.heatmap_chart,
    resources.heatmap_asked(selection, by=by),
    alt=f"Heatmap of percent favourable, {by}s by dimension, {heatmap.cycle}.",
    compact=selection.phone,
)
st.caption(
    f"Percent favourable (4 or 5 after reverse-scoring), one row per {by}. Hover a cell for "
    f"its n and its change from {heatmap.previous_cycle or 'the previous cycle'}. Cells marked "
    f"“{charts.suppressed_label(heatmap.minimum)}” are hidden to protect anonymity."
    + (" Choose a division above to see its departments." if by == "division" else "")
)
filters.download(
    "Download the heatmap (CSV)",
    heatmap,
    f"attune-heatmap-{selection.cycle_name}.csv",
)
