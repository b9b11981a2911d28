"""The filter bar every results page shares; its choices follow the viewer across pages."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import streamlit as st

from dashboard import auth, resources
from surveys import reporting
from surveys.accounts import AccountInfo, department_scope
from surveys.reporting import FilterOptions


@dataclass(frozen=True)
class Selection:
    scope: frozenset[int] | None  # what the viewer may see, enforced again in surveys/
    cycle_id: int
    cycle_name: str
    cycle_range: tuple[int, int]
    selected_departments: frozenset[int] | None
    staff_groups: frozenset[int] | None
    options: FilterOptions


def signed_in_account() -> AccountInfo:
    account = auth.current_account()
    if account is None:  # the router shows only the sign-in page then; this is a second lock
        st.stop()
    return account


def filter_bar(*, groups: bool = True, cycle_range: bool = False) -> Selection:
    """Draw the filters and return what was chosen, limited to the viewer's scope."""
    account = signed_in_account()
    scope = department_scope(account)
    options: FilterOptions = resources.report("filter_options", departments=scope)
    if not options.cycles:
        st.info("No survey cycles yet.", icon=":material/info:")
        st.stop()
    cycles = {cycle.id: cycle.name for cycle in options.cycles}  # newest first
    departments = {department.id: department.name for department in options.departments}
    group_names = {group.id: group.name for group in options.staff_groups}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if cycle_range:
            ordered = list(reversed(cycles))
            first, last = st.select_slider(
                "Cycles",
                options=ordered,
                value=(ordered[0], ordered[-1]),
                format_func=cycles.get,
                key="filter_cycle_range",
                persist_state="session",
                width=320,
            )
            cycle_id = last
        else:
            cycle_id = st.selectbox(
                "Cycle",
                options=list(cycles),
                format_func=cycles.get,
                key="filter_cycle",
                persist_state="session",
                width=160,
            )
            first = last = cycle_id
        chosen_departments = st.multiselect(
            "Departments",
            options=list(departments),
            format_func=departments.get,
            placeholder="All departments you can see",
            key="filter_departments",
            persist_state="session",
            width=360,
        )
        chosen_groups: list[int] = []
        if groups:
            chosen_groups = st.multiselect(
                "Staff groups",
                options=list(group_names),
                format_func=group_names.get,
                placeholder="All staff groups",
                key="filter_groups",
                persist_state="session",
                width=300,
            )
    return Selection(
        scope=scope,
        cycle_id=cycle_id,
        cycle_name=cycles[cycle_id],
        cycle_range=(first, last),
        selected_departments=frozenset(chosen_departments) or None,
        staff_groups=frozenset(chosen_groups) or None,
        options=options,
    )


def download(label: str, result: object, file_name: str) -> None:
    """Offer the aggregates behind a chart (never raw responses) as formula-safe CSV, made
    when the button is pressed rather than on every rerun of the page."""
    st.download_button(
        label,
        data=functools.partial(reporting.to_csv, result),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        type="tertiary",
        on_click="ignore",
    )
