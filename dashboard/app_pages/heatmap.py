"""Heatmap: departments × dimensions for one cycle, in percent favourable."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources

st.title("Heatmap")
selection = filters.filter_bar()
heatmap = resources.report(
    "heatmap",
    cycle_id=selection.cycle_id,
    departments=selection.scope,
    selected_departments=selection.selected_departments,
    staff_groups=selection.staff_groups,
)
st.plotly_chart(charts.heatmap_chart(heatmap), config={"displayModeBar": False})
st.caption(
    "Percent favourable (4 or 5 after reverse-scoring). Hover a cell for its n and its change "
    f"from {heatmap.previous_cycle or 'the previous cycle'}. Cells marked "
    f"“{charts.suppressed_label(heatmap.minimum)}” are hidden to protect anonymity."
)
filters.download(
    "Download the heatmap (CSV)",
    heatmap,
    f"attune-heatmap-{selection.cycle_name}.csv",
)
