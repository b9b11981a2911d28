"""Landing page: the survey cycles and how many staff have answered each."""

from __future__ import annotations

import streamlit as st

from dashboard import resources
from surveys.config import get_settings

st.title("Survey cycles")
st.caption(
    "Attune measures how well nursing, physicians, allied health and administrative staff work "
    "together. Every figure is anonymous: groups smaller than "
    f"{get_settings().min_group_size} responses are never shown."
)

problem = resources.database_problem()
if problem:
    st.error(problem, icon=":material/error:")
    st.stop()

cycles = resources.cycle_table()
if cycles.empty:
    st.info(
        "No survey cycles yet. Load the demo hospital with `attune demo`, "
        "or create a cycle to begin.",
        icon=":material/info:",
    )
    st.stop()

minimum = get_settings().min_group_size
latest = cycles.iloc[0]
left, middle, right = st.columns(3)
left.metric("Latest cycle", latest["name"], help=f"{latest['state'].title()}")
middle.metric(
    "Responses",
    f"{int(latest['responses']):,}"
    if latest["responses"] == latest["responses"]
    else f"< {minimum}",
)
right.metric(
    "Response rate",
    f"{latest['response_rate']:.0%}" if latest["response_rate"] == latest["response_rate"] else "—",
)

table = cycles.assign(
    state=cycles["state"].str.title(),
    responses=cycles["responses"].map(
        lambda count: f"{int(count):,}" if count == count else f"fewer than {minimum}"
    ),
)
st.dataframe(
    table[["name", "state", "opens", "closes", "responses", "invited", "response_rate"]],
    hide_index=True,
    width="stretch",
    column_config={
        "name": st.column_config.TextColumn("Cycle"),
        "state": st.column_config.TextColumn("Status"),
        "opens": st.column_config.DateColumn("Opens", format="D MMM YYYY"),
        "closes": st.column_config.DateColumn("Closes", format="D MMM YYYY"),
        "responses": st.column_config.TextColumn("Responses"),
        "invited": st.column_config.NumberColumn("Invited", format="localized"),
        "response_rate": st.column_config.ProgressColumn(
            "Response rate", format="percent", min_value=0.0, max_value=1.0
        ),
    },
)
