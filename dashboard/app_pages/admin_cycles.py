"""Administration: survey cycles, created, opened and closed."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys.organisation import cycles as cycle_actions
from surveys.records import CycleState

account = auth.require_admin()

st.title("Manage cycles")
st.caption(
    "A cycle is one round of the survey. Make links for it on the Invitations page while it "
    "is a draft or open; links work only while it is open."
)
auth.show_flash()

engine = resources.engine()
cycles = cycle_actions.list_cycles(engine=engine)

if cycles:
    st.dataframe(
        pd.DataFrame(
            {
                "Cycle": [cycle.name for cycle in cycles],
                "Status": [cycle.state.title() for cycle in cycles],
                "Opens": [cycle.opens for cycle in cycles],
                "Closes": [cycle.closes for cycle in cycles],
            }
        ).iloc[::-1],
        hide_index=True,
        width="stretch",
        column_config={
            "Opens": st.column_config.DateColumn(format="D MMM YYYY"),
            "Closes": st.column_config.DateColumn(format="D MMM YYYY"),
        },
    )
else:
    st.info("No survey cycles yet: create the first one below.", icon=":material/info:")

new, change = st.columns(2, gap="large")

with new:
    st.subheader("New cycle")
    with st.form("new_cycle_form", clear_on_submit=True):
        name = st.text_input("Name", key="new_cycle_name", placeholder="e.g. 2027 Q1")
        today = date.today()
        opens = st.date_input("Opens", value=today, key="new_cycle_opens", format="YYYY-MM-DD")
        closes = st.date_input(
            "Closes", value=today + timedelta(weeks=6), key="new_cycle_closes", format="YYYY-MM-DD"
        )
        if st.form_submit_button("Create cycle", key="new_cycle_submit", type="primary"):
            auth.apply(
                lambda: cycle_actions.create_cycle(
                    engine=engine, name=name, opens=opens, closes=closes, actor=account.username
                ),
                success="Cycle created as a draft. Open it when staff should start answering.",
            )

with change:
    st.subheader("Open or close")
    if cycles:
        by_id = {cycle.id: cycle for cycle in cycles}
        chosen = st.selectbox(
            "Cycle",
            options=[cycle.id for cycle in reversed(cycles)],
            format_func=lambda cycle_id: by_id[cycle_id].name,
            key="cycle_state_choice",
        )
        state = CycleState(by_id[chosen].state)
        st.caption(f"Status: {state.value}")
        with st.container(horizontal=True):
            if st.button(
                "Reopen cycle" if state is CycleState.closed else "Open cycle",
                key="cycle_open",
                type="primary",
                icon=":material/play_arrow:",
                disabled=state is CycleState.open,
            ):
                auth.apply(
                    lambda: cycle_actions.change_cycle_state(
                        engine=engine, cycle_id=chosen, action="open", actor=account.username
                    ),
                    success="Cycle opened: its links now work.",
                )
            if st.button(
                "Close cycle",
                key="cycle_close",
                icon=":material/stop:",
                disabled=state is not CycleState.open,
            ):
                auth.apply(
                    lambda: cycle_actions.change_cycle_state(
                        engine=engine, cycle_id=chosen, action="close", actor=account.username
                    ),
                    success="Cycle closed: its links no longer accept answers.",
                )
    else:
        st.caption("Create a cycle first.")
