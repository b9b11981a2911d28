"""Administration: staff groups, added, renamed, reordered and archived."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys.organisation import structure

account = auth.require_admin()
actor = account.username

st.title("Staff groups")
st.caption(
    "Respondents say which group they belong to and rate their work with each group, in this "
    "order. A new group gets its questions at once; archiving a group keeps its past answers."
)
auth.show_flash()

engine = resources.engine()
groups = structure.list_staff_groups(engine=engine, include_archived=True)
group_by_id = {group.id: group for group in groups}

st.dataframe(
    pd.DataFrame(
        {
            "Order": range(1, len(groups) + 1),
            "Staff group": [group.name for group in groups],
            "Asked about as": [group.plural for group in groups],
            "Key": [group.key for group in groups],
            "Status": ["Archived" if group.archived else "Active" for group in groups],
        }
    ),
    hide_index=True,
    width="stretch",
)

add, edit = st.columns(2, gap="large")
add.subheader("Add a staff group")
with add, st.form("new_group_form", clear_on_submit=True):
    name = st.text_input("Name", key="new_group_name", placeholder="e.g. Midwives")
    plural = st.text_input(
        "Asked about as",
        key="new_group_plural",
        placeholder="e.g. midwives",
        help="Completes “In your work with …” in the survey questions.",
    )
    if st.form_submit_button("Add staff group", key="new_group_submit", type="primary"):
        auth.apply(
            lambda: structure.create_staff_group(
                engine=engine, name=name, plural=plural, actor=actor
            ),
            success="Staff group added, with its questions.",
        )

with edit:
    st.subheader("Rename, reorder or archive")
    chosen = st.selectbox(
        "Staff group",
        options=list(group_by_id),
        format_func=lambda group_id: (
            group_by_id[group_id].name + (" (archived)" if group_by_id[group_id].archived else "")
        ),
        key="edit_group",
    )
    group = group_by_id[chosen]
    with st.form("rename_group_form"):
        new_name = st.text_input("Name", value=group.name, key=f"rename_group_name_{chosen}")
        new_plural = st.text_input(
            "Asked about as", value=group.plural, key=f"rename_group_plural_{chosen}"
        )
        if st.form_submit_button("Rename", key="rename_group_submit"):
            auth.apply(
                lambda: structure.rename_staff_group(
                    engine=engine,
                    staff_group_id=chosen,
                    name=new_name,
                    plural=new_plural,
                    actor=actor,
                ),
                success="Staff group renamed.",
            )
    position = list(group_by_id).index(chosen)
    with st.container(horizontal=True):
        if st.button(
            "Move up", key="group_up", icon=":material/arrow_upward:", disabled=position == 0
        ):
            auth.apply(
                lambda: structure.move_staff_group(
                    engine=engine, staff_group_id=chosen, offset=-1, actor=actor
                ),
                success="Staff group moved up.",
            )
        if st.button(
            "Move down",
            key="group_down",
            icon=":material/arrow_downward:",
            disabled=position == len(groups) - 1,
        ):
            auth.apply(
                lambda: structure.move_staff_group(
                    engine=engine, staff_group_id=chosen, offset=1, actor=actor
                ),
                success="Staff group moved down.",
            )
        archived = not group.archived
        if st.button(
            "Archive" if archived else "Restore",
            key="group_archive",
            icon=":material/archive:" if archived else ":material/unarchive:",
        ):
            auth.apply(
                lambda: structure.set_staff_group_archived(
                    engine=engine, staff_group_id=chosen, archived=archived, actor=actor
                ),
                success="Staff group archived." if archived else "Staff group restored.",
            )
