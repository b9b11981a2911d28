"""Focus areas: up to three places to start in each department, each with its reason."""

from __future__ import annotations

import streamlit as st

from dashboard import filters, resources
from surveys.reporting import FocusArea

ACTION_PLANS_PAGE = "app_pages/action_plans.py"
KIND_WORDS = {"driver": "Key driver", "relationship": "Relationship", "decline": "Decline"}


def start_plan(area: FocusArea) -> None:
    """Hand the focus area to the action plan form, and open it."""
    st.session_state["plan_prefill"] = area.prefill()
    st.switch_page(ACTION_PLANS_PAGE)


st.title("Focus areas")
selection = filters.filter_bar()
result = resources.focus_areas(selection)
st.caption(
    "Suggestions from this cycle's released figures: a low score that goes closely with "
    "whether staff would recommend working here (a correlation, not proof of cause), a "
    "relationship one group rates much lower than the other does, or a real decline since "
    "the last survey. They are places to start a conversation, not verdicts."
)
if result.shows_nothing:
    filters.nothing_to_show(selection)
for department_id, name in result.departments:
    areas = result.of(department_id)
    with st.container(border=True):
        st.subheader(name, anchor=False)
        if not areas:
            st.text("Nothing stands out here in the released figures of this cycle.")
        for number, area in enumerate(areas):
            st.text(f"{KIND_WORDS[area.kind]}: {area.title}")
            st.text(area.reason)
            if st.button(
                "Start an action plan",
                key=f"plan_{department_id}_{number}",
                icon=":material/add_task:",
                type="tertiary",
            ):
                start_plan(area)
filters.download("Download focus areas (CSV)", result, f"attune-focus-{selection.cycle_name}.csv")
