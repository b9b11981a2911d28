"""Relationships: how each staff group rates working with each other group."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources

st.title("Relationships")
selection = filters.filter_bar(groups=False)
matrix = resources.relationships(selection)
if matrix.shows_nothing:
    # Other cycles may still have something to show below.
    filters.explain_nothing_to_show(selection)
else:
    resources.chart(
        charts.relationship_chart,
        resources.relationships_asked(selection),
        alt=f"How each staff group rates working with each other group, {matrix.cycle}.",
        compact=selection.phone,
    )
    st.caption(
        "Rows: the group being rated (and patients and families). Columns: the group giving "
        "the rating. Percent favourable of the questions about working with that group."
    )
    if matrix.asymmetries:
        st.subheader("Clearly one-sided", anchor=False)
        for asymmetry in matrix.asymmetries:
            st.text(
                f"{asymmetry.rater} rate working with {asymmetry.rated} "
                f"{asymmetry.value:.0f}% favourable; {asymmetry.rated} rate {asymmetry.rater} "
                f"{asymmetry.reverse_value:.0f}%."
            )
    filters.download(
        "Download the matrix (CSV)",
        matrix,
        f"attune-relationships-{selection.cycle_name}.csv",
    )

st.subheader("Across cycles", anchor=False)
groups = {group.id: group.name for group in matrix.raters}
plurals = {group.id: group.plural for group in matrix.raters}
with st.container(horizontal=True):
    rater = st.selectbox(
        "Group rating", list(groups), format_func=groups.__getitem__, key="pair_rater", width=240
    )
    rated = st.selectbox(
        "Group rated",
        [group for group in groups if group != rater] or list(groups),
        format_func=groups.__getitem__,
        key="pair_rated",
        width=240,
    )
history = resources.relationship_trends(selection)
if rater is None or rated is None:
    st.info("There are no staff groups to compare.", icon=":material/info:")
elif charts.relationship_pair(history, rater, rated)["suppressed"].all():
    st.info(
        f"Too few {plurals[rater]} answered about working with {plurals[rated]} in any cycle "
        f"to show without identifying anyone (at least {matrix.minimum} are needed): choose "
        "another pair of groups.",
        icon=":material/info:",
    )
else:
    resources.chart(
        charts.pair_trend_chart,
        resources.relationship_trends_asked(selection),
        alt=f"{groups[rater]} rating {groups[rated]}, and the reverse, across cycles.",
        rater=rater,
        rated=rated,
        minimum=matrix.minimum,
        compact=selection.phone,
    )
    filters.download(
        "Download the matrix across cycles (CSV)",
        history,
        "attune-relationships-trend.csv",
    )
