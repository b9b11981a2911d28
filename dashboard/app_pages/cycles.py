"""Landing page: the survey cycles and how many staff have answered each."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import resources
from surveys.config import get_settings

st.title("Survey cycles")

problem = resources.database_problem()
if problem:
    st.error(problem, icon=":material/error:")
    st.stop()

minimum = get_settings().min_group_size
st.caption(
    "How well nursing, physicians, allied health and administrative staff work together. "
    f"Anonymous: no figure rests on fewer than {minimum} responses."
)

cycles = resources.cycle_table()
if cycles.empty:
    st.info(
        "No survey cycles yet. Load the demo hospital with `attune demo`, "
        "or create a cycle to begin.",
        icon=":material/info:",
    )
    st.stop()

latest = cycles.iloc[0]
with st.container(horizontal=True):
    st.metric(f"Latest cycle · {latest['state']}", latest["name"], width="content")
    st.metric(
        "Responses",
        f"{int(latest['responses']):,}" if pd.notna(latest["responses"]) else f"< {minimum}",
        width="content",
    )
    st.metric(
        "Response rate",
        f"{latest['response_rate']:.0%}" if pd.notna(latest["response_rate"]) else "—",
        width="content",
    )

table = cycles.assign(
    state=cycles["state"].str.title(),
    responses=cycles["responses"].map(
        lambda count: f"{int(count):,}" if pd.notna(count) else f"fewer than {minimum}"
    ),
    response_rate=cycles["response_rate"].map(
        lambda rate: round(100 * rate) if pd.notna(rate) else None
    ),
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_order=["name", "responses", "response_rate", "state", "opens", "closes", "invited"],
    column_config={
        "name": st.column_config.TextColumn("Cycle", pinned=True),
        "responses": st.column_config.TextColumn("Responses", alignment="right"),
        "response_rate": st.column_config.ProgressColumn(
            "Response rate", format="%d%%", min_value=0, max_value=100
        ),
        "state": st.column_config.TextColumn("Status"),
        "opens": st.column_config.DateColumn("Opens", format="D MMM YYYY"),
        "closes": st.column_config.DateColumn("Closes", format="D MMM YYYY"),
        "invited": st.column_config.NumberColumn("Invited", format="localized"),
    },
)
