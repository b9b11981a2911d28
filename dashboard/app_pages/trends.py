"""Trends: the index or a dimension per department across cycles, with 95% bands."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources
from surveys import reporting
from surveys.config import get_settings

st.title("Trends")
selection = filters.filter_bar(cycle_range=True)
measures = {"index": "Relationship Health Index"} | {
    dimension.key: dimension.label for dimension in selection.options.dimensions
}
measure = st.selectbox(
    "Measure",
    options=list(measures),
    format_func=measures.__getitem__,
    key="filter_measure",
    persist_state="session",
    width=320,
)
frame = resources.trends(selection, measure=measure)
if reporting.trend_shows_nothing(frame):
    filters.nothing_to_show(selection)
# The whole and the three that moved most, unless the viewer chose departments or has no
# more than three (then every line is shown, and the sentence would not be true).
story = selection.selected_departments is None and frame["department_id"].nunique() > 3
if story:
    st.caption(
        "Showing all departments together and the three that moved most. "
        "Choose departments above to compare others."
    )
minimum = get_settings().min_group_size
title = measures[measure] if measure == "index" else f"{measures[measure]}, % favourable"
resources.chart(
    charts.department_trend_chart,
    resources.trends_asked(selection, measure=measure),
    alt=f"{title} per department across cycles, with 95% confidence bands.",
    story=story,
    title=title,
    percent=measure != "index",
    minimum=minimum,
    compact=selection.phone,
)
st.caption(
    "Shaded bands are 95% confidence intervals. A point is missing where fewer than "
    f"{minimum} responses stand behind it."
)
filters.download(
    "Download the trend, every department (CSV)" if story else "Download the trend (CSV)",
    frame,
    "attune-trends.csv",
)
