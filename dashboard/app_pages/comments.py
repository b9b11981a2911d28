"""Comments: free text from groups large enough to keep it anonymous, as plain text."""

from __future__ import annotations

import streamlit as st

from dashboard import filters, resources
from surveys import reporting

st.title("Comments")
selection = filters.filter_bar()
# Not cached: the order is shuffled afresh every time, so that it says nothing about arrival.
result = reporting.comments(
    resources.engine(),
    cycle_id=selection.cycle_id,
    departments=selection.scope,
    selected_departments=selection.selected_departments,
    staff_groups=selection.staff_groups,
)
if result.suppressed:
    st.info(
        result.note
        or f"Comments are shown only for groups of at least {result.minimum} responses.",
        icon=":material/lock:",
    )
    st.stop()
if not result.texts:
    st.info("No comments for this selection.", icon=":material/info:")
    st.stop()
st.caption(f"{len(result.texts):,} comments, in random order, without dates.")
with st.container(height=560):
    for text in result.texts:
        with st.container(border=True):
            st.text(text)
filters.download(
    "Download the comments (CSV)",
    reporting.to_csv(result),
    f"attune-comments-{selection.cycle_name}.csv",
)
