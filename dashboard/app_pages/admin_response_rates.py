"""Administration: how many invited staff have answered, per department and staff group."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from dashboard.filters import download, on_a_phone
from surveys.organisation.cycles import list_cycles
from surveys.records import CycleState
from surveys.reporting import open_cycle_notice, response_rates

auth.require_admin()

st.title("Response rates")
auth.show_flash()

cycles = list(reversed(list_cycles(engine=resources.engine())))
if not cycles:
    st.info("No survey cycles yet.", icon=":material/info:")
    st.stop()

# Open cycles first: that is when rates are watched.
cycles.sort(key=lambda cycle: cycle.state != CycleState.open)
by_id = {cycle.id: cycle for cycle in cycles}
cycle_id = st.selectbox(
    "Survey cycle",
    options=list(by_id),
    format_func=lambda chosen: f"{by_id[chosen].name} ({by_id[chosen].state})",
    key="rates_cycle",
)

rates = response_rates(resources.engine(), cycle_id=cycle_id)

st.caption(
    f"To keep answers anonymous, a number below {rates.minimum} shows as “fewer than "
    f"{rates.minimum}”. A small team is counted together with others, so its own row may say "
    "“not shown”, and a department's total may say “at least”. People who answered through "
    "an open link (a poster or a shared link) count toward their department, so a rate never "
    "shows more than 100%."
)
if rates.state == CycleState.open:
    st.caption(open_cycle_notice())

if not rates.cells:
    st.info("No invitations or responses for this cycle yet.", icon=":material/info:")
    st.stop()


def percent(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate)


# A phone has room for the figure, not for a bar beside it: the bar pushed "59%" off the
# screen, cut to "59".
rate_column = (
    st.column_config.NumberColumn("Rate", format="%d%%", width="small")
    if on_a_phone()
    else st.column_config.ProgressColumn("Response rate", format="%d%%", min_value=0, max_value=100)
)
by_department, by_group = st.tabs(["By department", "By department and staff group"])
with by_department:
    # A line above each table keeps the table's toolbar (which shows over its top edge) off
    # the tab names.
    st.caption("Each department: responses, invited staff and the rate.")
    st.dataframe(
        pd.DataFrame(
            {
                "Department": [row.department for row in rates.departments],
                "Responses": [row.responses_label for row in rates.departments],
                "Response rate": [percent(row.rate) for row in rates.departments],
                "Invited": [row.invited for row in rates.departments],
                "Division": [row.division for row in rates.departments],
            }
        ),
        hide_index=True,
        width="stretch",
        height="content" if len(rates.departments) <= 25 else "auto",
        placeholder="—",
        column_config={
            "Department": st.column_config.TextColumn(pinned=True),
            "Invited": st.column_config.NumberColumn(format="localized"),
            "Responses": st.column_config.TextColumn(alignment="right"),
            "Response rate": rate_column,
        },
    )
with by_group:
    st.caption("Each department and staff group: the cells the rates are counted in.")
    st.dataframe(
        pd.DataFrame(
            {
                "Department": [row.department for row in rates.cells],
                "Staff group": [row.staff_group for row in rates.cells],
                "Responses": [row.responses_label for row in rates.cells],
                "Response rate": [percent(row.rate) for row in rates.cells],
                "Invited": [row.invited for row in rates.cells],
            }
        ),
        hide_index=True,
        width="stretch",
        height=600,
        placeholder="—",
        column_config={
            "Department": st.column_config.TextColumn(pinned=True),
            "Invited": st.column_config.NumberColumn(format="localized"),
            "Responses": st.column_config.TextColumn(alignment="right"),
            "Response rate": rate_column,
        },
    )
download(
    "Download the response rates (CSV)",
    rates,
    f"attune-response-rates-{by_id[cycle_id].name}.csv",
)
