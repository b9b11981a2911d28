"""Relationships: how each staff group rates working with each other group."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources

st.title("Relationships")
selection = filters.filter_bar(groups=False)
matrix = resources.report(
    "relationships",
    cycle_id=selection.cycle_id,
    departments=selection.scope,
    selected_departments=selection.selected_departments,
)
st.plotly_chart(charts.relationship_chart(matrix), config={"displayModeBar": False})
st.caption(
    "Rows: the group being rated (and patients and families). Columns: the group giving the "
    "rating. Percent favourable of the questions about working with that group."
)
if matrix.asymmetries:
    st.subheader("Clearly one-sided", anchor=False)
    for asymmetry in matrix.asymmetries:
        st.text(
            f"{asymmetry.rater} rate working with {asymmetry.rated} {asymmetry.value:.0f}% "
            f"favourable; {asymmetry.rated} rate {asymmetry.rater} {asymmetry.reverse_value:.0f}%."
        )
filters.download(
    "Download the matrix (CSV)",
    matrix,
    f"attune-relationships-{selection.cycle_name}.csv",
)

st.subheader("Across cycles", anchor=False)
groups = {group.id: group.name for group in matrix.raters}
with st.container(horizontal=True):
    rater = st.selectbox(
        "Group rating", list(groups), format_func=groups.get, key="pair_rater", width=240
    )
    rated = st.selectbox(
        "Group rated",
        [group for group in groups if group != rater] or list(groups),
        format_func=groups.get,
        key="pair_rated",
        width=240,
    )
history = resources.report(
    "relationship_trends",
    departments=selection.scope,
    selected_departments=selection.selected_departments,
)
# The pair and its mirror image, so that a one-sided relationship shows as two diverging lines.
pairs = history[
    ((history["rater_id"] == rater) & (history["rated_id"] == rated))
    | ((history["rater_id"] == rated) & (history["rated_id"] == rater))
]
if pairs.empty:
    st.info("Nothing to show for this selection.", icon=":material/info:")
else:
    pairs = pairs.assign(pair=pairs["rater"] + " rating " + pairs["rated"])
    st.plotly_chart(
        charts.trend_chart(pairs, series="pair", percent=True, minimum=matrix.minimum),
        config={"displayModeBar": False},
    )
    filters.download(
        "Download the matrix across cycles (CSV)",
        history,
        "attune-relationships-trend.csv",
    )
