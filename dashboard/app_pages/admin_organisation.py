"""Administration: divisions and departments, created, renamed, moved and archived."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys.organisation import structure

account = auth.require_admin()
actor = account.username

st.title("Departments")
st.caption(
    "Archiving keeps a department's survey history; it just stops getting invitations. "
    "Divisions group departments in the results."
)
auth.show_flash()

engine = resources.engine()
divisions = structure.list_divisions(engine=engine)
departments = structure.list_departments(engine=engine)
division_by_id = {division.id: division for division in divisions}
department_by_id = {department.id: department for department in departments}
active_divisions = [division.id for division in divisions if not division.archived]


def division_label(division_id: int) -> str:
    division = division_by_id[division_id]
    return division.name + (" (archived)" if division.archived else "")


def department_label(department_id: int) -> str:
    department = department_by_id[department_id]
    return f"{department.name} · {department.division}" + (
        " (archived)" if department.archived else ""
    )


if departments:
    st.dataframe(
        pd.DataFrame(
            {
                "Department": [department.name for department in departments],
                "Division": [department.division for department in departments],
                "Status": ["Archived" if d.archived else "Active" for d in departments],
            }
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No departments yet: add a division, then its departments.", icon=":material/info:")

department_tab, division_tab = st.tabs(["Change a department", "Divisions"])

with department_tab:
    add, edit = st.columns(2, gap="large")
    add.subheader("Add a department")
    with add, st.form("new_department_form", clear_on_submit=True):
        name = st.text_input("Name", key="new_department_name")
        division_id = st.selectbox(
            "Division",
            options=active_divisions,
            format_func=division_label,
            key="new_department_division",
            index=None,
            placeholder="Choose a division",
        )
        if st.form_submit_button("Add department", key="new_department_submit", type="primary"):
            if division_id is None:
                st.error("Choose the division the department belongs to.")
            else:
                # A partial, not a lambda: it takes division_id as checked here (not None).
                auth.apply(
                    functools.partial(
                        structure.create_department,
                        engine=engine,
                        name=name,
                        division_id=division_id,
                        actor=actor,
                    ),
                    success="Department added.",
                )
    with edit:
        st.subheader("Rename, move or archive")
        if not departments:
            st.caption("Add a department first.")
        else:
            chosen = st.selectbox(
                "Department",
                options=list(department_by_id),
                format_func=department_label,
                key="edit_department",
            )
            department = department_by_id[chosen]
            with st.form("rename_department_form"):
                new_name = st.text_input(
                    "New name", value=department.name, key=f"rename_department_name_{chosen}"
                )
                if st.form_submit_button("Rename", key="rename_department_submit"):
                    auth.apply(
                        lambda: structure.rename_department(
                            engine=engine, department_id=chosen, name=new_name, actor=actor
                        ),
                        success="Department renamed.",
                    )
            with st.form("move_department_form"):
                target = st.selectbox(
                    "Move to division",
                    options=[i for i in active_divisions if i != department.division_id],
                    format_func=division_label,
                    key="move_department_division",
                    index=None,
                    placeholder="Choose a division",
                )
                if st.form_submit_button("Move", key="move_department_submit"):
                    if target is None:
                        st.error("Choose the division to move the department to.")
                    else:
                        auth.apply(
                            functools.partial(
                                structure.move_department,
                                engine=engine,
                                department_id=chosen,
                                division_id=target,
                                actor=actor,
                            ),
                            success="Department moved.",
                        )
            if department.archived:
                if st.button(
                    "Restore department", key="restore_department", icon=":material/unarchive:"
                ):
                    auth.apply(
                        lambda: structure.set_department_archived(
                            engine=engine, department_id=chosen, archived=False, actor=actor
                        ),
                        success="Department restored.",
                    )
            elif st.button(
                "Archive department", key="archive_department", icon=":material/archive:"
            ):
                auth.apply(
                    lambda: structure.set_department_archived(
                        engine=engine, department_id=chosen, archived=True, actor=actor
                    ),
                    success="Department archived; its history is kept.",
                )

with division_tab:
    if divisions:
        st.dataframe(
            pd.DataFrame(
                {
                    "Division": [division.name for division in divisions],
                    "Departments": [
                        sum(
                            1
                            for d in departments
                            if d.division_id == division.id and not d.archived
                        )
                        for division in divisions
                    ],
                    "Status": ["Archived" if d.archived else "Active" for d in divisions],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    add, edit = st.columns(2, gap="large")
    add.subheader("Add a division")
    with add, st.form("new_division_form", clear_on_submit=True):
        division_name = st.text_input("Name", key="new_division_name")
        if st.form_submit_button("Add division", key="new_division_submit", type="primary"):
            auth.apply(
                lambda: structure.create_division(engine=engine, name=division_name, actor=actor),
                success="Division added.",
            )
    with edit:
        st.subheader("Rename or archive")
        if divisions:
            chosen_division = st.selectbox(
                "Division",
                options=list(division_by_id),
                format_func=division_label,
                key="edit_division",
            )
            division = division_by_id[chosen_division]
            with st.form("rename_division_form"):
                new_division_name = st.text_input(
                    "New name", value=division.name, key=f"rename_division_name_{chosen_division}"
                )
                if st.form_submit_button("Rename", key="rename_division_submit"):
                    auth.apply(
                        lambda: structure.rename_division(
                            engine=engine,
                            division_id=chosen_division,
                            name=new_division_name,
                            actor=actor,
                        ),
                        success="Division renamed.",
                    )
            archived = not division.archived
            if st.button(
                "Archive division" if archived else "Restore division",
                key="archive_division",
                icon=":material/archive:" if archived else ":material/unarchive:",
            ):
                auth.apply(
                    lambda: structure.set_division_archived(
                        engine=engine, division_id=chosen_division, archived=archived, actor=actor
                    ),
                    success="Division archived." if archived else "Division restored.",
                )
