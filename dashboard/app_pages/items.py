"""Item detail: how answers to each question in a dimension were spread."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources
from surveys.config import get_settings

st.title("Item detail")
selection = filters.filter_bar()
dimensions = {dimension.key: dimension.label for dimension in selection.options.dimensions}
dimension = st.selectbox(
    "Dimension",
    options=list(dimensions),
    format_func=dimensions.__getitem__,
    key="filter_dimension",
    persist_state="session",
    width=320,
)
frame = resources.item_distributions(selection, dimension=dimension)
if frame["suppressed"].all():
    filters.nothing_to_show(selection)
resources.chart(
    charts.item_distribution_chart,
    resources.item_distributions_asked(selection, dimension=dimension),
    alt=f"How answers to each question on {dimensions[dimension]} were spread, "
    f"{selection.cycle_name}.",
    minimum=get_settings().min_group_size,
)
filters.download(
    "Download the distributions (CSV)",
    frame,
    f"attune-items-{dimension}-{selection.cycle_name}.csv",
)
