"""Trends: the index or a dimension per department across cycles, with 95% bands."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, filters, resources
from surveys.config import get_settings

MOVERS = 3


def trend_story_lines(frame: pd.DataFrame) -> list[str]:
    """The overall line plus the departments whose value changed most over the range."""
    shown = frame[frame["value"].notna()].sort_values("opens")
    first = shown.groupby("department")["value"].first()
    last = shown.groupby("department")["value"].last()
    moved = (last - first).abs().sort_values(ascending=False)
    overall = frame.loc[frame["department_id"].isna(), "department"].unique().tolist()
    return overall + [name for name in moved.index if name not in overall][:MOVERS]


st.title("Trends")
selection = filters.filter_bar(cycle_range=True)
measures = {"index": "Relationship Health Index"} | {
    dimension.key: dimension.label for dimension in selection.options.dimensions
}
measure = st.selectbox(
    "Measure",
    options=list(measures),
    format_func=measures.get,
    key="filter_measure",
    persist_state="session",
    width=320,
)
frame = resources.report(
    "trends",
    departments=selection.scope,
    measure=measure,
    cycle_range=selection.cycle_range,
    selected_departments=selection.selected_departments,
    staff_groups=selection.staff_groups,
)
if frame.empty:
    st.info("Nothing to show for this selection.", icon=":material/info:")
    st.stop()
if selection.selected_departments is None:
    # Fifteen lines are unreadable: show the whole and the departments that moved most.
    frame = frame[frame["department"].isin(trend_story_lines(frame))]
    st.caption(
        "Showing all departments together and the three that moved most. "
        "Choose departments above to compare others."
    )
st.plotly_chart(
    charts.trend_chart(
        frame,
        title=measures[measure] if measure == "index" else f"{measures[measure]}, % favourable",
        percent=measure != "index",
        minimum=get_settings().min_group_size,
    ),
    config={"displayModeBar": False},
)
st.caption(
    "Shaded bands are 95% confidence intervals. A point is missing where fewer than "
    f"{get_settings().min_group_size} responses stand behind it."
)
filters.download("Download the trend (CSV)", frame, "attune-trends.csv")
