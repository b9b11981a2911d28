"""Administration: survey links for a cycle, from a roster file, and open links."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, posters, resources
from surveys.invitations import delivery, links, roster
from surveys.organisation.cycles import list_cycles
from surveys.organisation.structure import list_departments, list_staff_groups
from surveys.records import CycleState

LINKS_KEY = "invitation_links"  # (file id, LinkFile) of the roster last turned into links
OPEN_LINK_KEY = "invitation_open_link"
GROUP_LINKS_KEY = "invitation_group_links"  # (count, CSV text) of the links last made for a group

account = auth.require_admin()

st.title("Invitations")
st.caption(
    "Links are made here and handed back once, as a file: Attune keeps only a hash of each "
    "link and stores no email address from a roster it turns into links. To have Attune email "
    "each person their own link instead, upload their addresses under “Emailed by Attune”."
)
auth.show_flash()

engine = resources.engine()
cycles = [
    cycle for cycle in reversed(list_cycles(engine=engine)) if cycle.state != CycleState.closed
]
if not cycles:
    st.info(
        "There is no draft or open cycle to invite staff to. Create one on Manage cycles.",
        icon=":material/info:",
    )
    st.stop()

by_id = {cycle.id: cycle for cycle in cycles}
cycle_id = st.selectbox(
    "Survey cycle",
    options=list(by_id),
    format_func=lambda chosen: f"{by_id[chosen].name} ({by_id[chosen].state})",
    key="invitation_cycle",
)
if by_id[cycle_id].state == CycleState.draft:
    st.caption("This cycle is a draft: its links will work once it is opened.")

personal, one_group, emailed, open_tab = st.tabs(
    ["One-time links from a roster", "Links for one group", "Emailed by Attune", "Open link"]
)


def show_problems(error: roster.RosterError, what: str, key: str) -> None:
    """A roster's problems, line by line, and that nothing was stored."""
    count = len(error.problems) + error.more
    st.error(
        f"The {what} cannot be used: {count} problem{'s' if count != 1 else ''}. Nothing has "
        "been stored. Fix the file and upload it again.",
        icon=":material/error:",
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Line": [problem.line for problem in error.problems],
                "Column": [problem.column or "" for problem in error.problems],
                "Problem": [problem.problem for problem in error.problems],
            }
        ),
        hide_index=True,
        width="stretch",
        key=key,
    )
    if error.more:
        st.caption(f"…and {error.more:,} more.")


with personal:
    st.markdown(
        "Upload a CSV file with a header row and the columns **department**, **staff_group**, "
        "and either **headcount** (how many links to make) or **email** (one link per person). "
        "Commas or semicolons both work. At most 1 MB and 20,000 rows."
    )
    with st.container(horizontal=True):
        for kind in roster.RosterKind:
            st.download_button(
                f"Example: {kind.value}",
                data=roster.roster_template(kind),
                file_name=f"roster-{kind.value}.csv",
                mime="text/csv",
                on_click="ignore",
                icon=":material/download:",
                key=f"template_{kind.value}",
            )
    uploaded = st.file_uploader(
        "Roster (CSV)", type=["csv", "txt"], max_upload_size=1, key="invitation_roster"
    )
    made = st.session_state.get(LINKS_KEY)
    if uploaded is not None and not (made and made[0] == uploaded.file_id):
        data = uploaded.getvalue()
        try:
            checked = roster.parse_roster(engine=engine, data=data, cycle_id=cycle_id)
        except roster.RosterError as error:
            show_problems(error, "roster", "roster_problems")
        else:
            with st.container(horizontal=True):
                st.metric("Rows", f"{checked.rows:,}", width="content")
                st.metric("Links to make", f"{checked.links:,}", width="content")
                st.metric(
                    "Departments",
                    len({cell.department_id for cell in checked.cells}),
                    width="content",
                )
            st.dataframe(
                pd.DataFrame(
                    {
                        "Department": [cell.department for cell in checked.cells],
                        "Staff group": [cell.staff_group for cell in checked.cells],
                        "Links": [cell.count for cell in checked.cells],
                    }
                ),
                hide_index=True,
                width="stretch",
                key="roster_preview",
            )
            if checked.ignored_columns:
                st.caption("Ignored columns: " + auth.plain(", ".join(checked.ignored_columns)))
            if st.button(
                f"Create {checked.links:,} links",
                key="roster_create",
                type="primary",
                icon=":material/link:",
            ):
                try:
                    link_file = roster.import_roster(
                        engine=engine, data=data, cycle_id=cycle_id, actor=account.username
                    )
                except roster.RosterError as error:
                    st.error(auth.plain(error), icon=":material/error:")
                else:
                    st.session_state[LINKS_KEY] = (uploaded.file_id, link_file)
                    st.rerun()

    made = st.session_state.get(LINKS_KEY)
    if made:
        link_file = made[1]
        st.success(
            f"{link_file.links:,} links created. Download them now: this file is the only "
            "copy, and Attune cannot show the links again.",
            icon=":material/check_circle:",
        )
        with st.container(horizontal=True):
            st.download_button(
                "Download links (CSV)",
                data=link_file.csv_text,
                file_name=link_file.filename,
                mime="text/csv",
                on_click="ignore",
                type="primary",
                icon=":material/download:",
                key="links_download",
            )
            if st.button("Done: forget the links", key="links_forget"):
                del st.session_state[LINKS_KEY]
                st.rerun()

with one_group:
    st.markdown(
        "One-time links for one department and staff group, without a roster file: for a "
        "ward that hands out links on paper, say."
    )
    departments = list_departments(engine=engine, include_archived=False)
    groups = list_staff_groups(engine=engine)
    if not departments or not groups:
        st.caption("Add a department first, on the Departments page.")
    else:
        with st.form("group_links_form"):
            department_name = st.selectbox(
                "Department", [department.name for department in departments], key="group_dept"
            )
            group_names = {group.key: group.name for group in groups}
            group_key = st.selectbox(
                "Staff group",
                list(group_names),
                format_func=lambda key: group_names[key],
                key="group_group",
            )
            count = st.number_input(
                "How many links", min_value=1, max_value=roster.MAX_HEADCOUNT, value=10,
                key="group_count",
            )  # fmt: skip
            if st.form_submit_button("Make links", key="group_links_create", type="primary"):
                try:
                    made = links.invite(
                        engine=engine,
                        cycle=by_id[cycle_id].name,
                        department=str(department_name),
                        staff_group=str(group_key),
                        count=int(count),
                        actor=account.username,
                    )
                except (links.UnknownName, links.CycleClosed, ValueError) as error:
                    st.error(auth.plain(error), icon=":material/error:")
                else:
                    st.session_state[GROUP_LINKS_KEY] = (len(made.urls), links.links_csv(made))
    group_made = st.session_state.get(GROUP_LINKS_KEY)
    if group_made:
        st.success(
            f"{group_made[0]:,} links created. Download them now: this file is the only copy.",
            icon=":material/check_circle:",
        )
        with st.container(horizontal=True):
            st.download_button(
                "Download links (CSV)",
                data=group_made[1],
                file_name="attune-links.csv",
                mime="text/csv",
                on_click="ignore",
                type="primary",
                icon=":material/download:",
                key="group_links_download",
            )
            if st.button("Done: forget the links", key="group_links_forget"):
                del st.session_state[GROUP_LINKS_KEY]
                st.rerun()

with emailed:
    st.markdown(
        "Upload a CSV file with a header row and the columns **department**, **staff_group** "
        "and **email**. Attune stores each address and emails that person their own one-time "
        "link on the cycle's invitation date, then reminders to those who have not answered "
        "(set the dates and the message on Manage cycles). You will see only counts: sent, "
        "waiting, failed. Nobody, administrators included, sees who has or has not answered."
    )
    st.download_button(
        "Example: emails",
        data=roster.roster_template(roster.RosterKind.emails),
        file_name="roster-emails.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="template_email_roster",
    )
    addresses = st.file_uploader(
        "Addresses (CSV)", type=["csv", "txt"], max_upload_size=1, key="email_roster"
    )
    if addresses is not None and st.button(
        "Store the addresses for emailing",
        key="email_roster_import",
        type="primary",
        icon=":material/forward_to_inbox:",
    ):
        try:
            added = delivery.import_email_roster(
                engine=engine, data=addresses.getvalue(), cycle_id=cycle_id, actor=account.username
            )
        except roster.RosterError as error:
            show_problems(error, "list of addresses", "email_roster_problems")
        else:
            st.success(
                f"{added:,} addresses stored for {by_id[cycle_id].name}. Each gets their own "
                "link by email on the invitation date (Manage cycles).",
                icon=":material/check_circle:",
            )

with open_tab:
    st.markdown(
        "An open link can be shared widely (a poster, a newsletter). Respondents choose their "
        "department and staff group, and nothing stops someone answering twice, so prefer "
        "one-time links where you have a roster."
    )
    if st.button("Make an open link", key="open_link_create", icon=":material/add_link:"):
        try:
            link = roster.create_open_link(engine=engine, cycle_id=cycle_id, actor=account.username)
        except roster.RosterError as error:
            st.error(auth.plain(error), icon=":material/error:")
        else:
            st.session_state[OPEN_LINK_KEY] = link
    if st.session_state.get(OPEN_LINK_KEY):
        st.caption("Copy it now: Attune keeps only its hash.")
        st.code(st.session_state[OPEN_LINK_KEY], language=None, wrap_lines=True)
        posters.qr_poster(
            st.session_state[OPEN_LINK_KEY],
            what="the open link",
            file_name="attune-open-link-qr.png",
            key="open_link_qr",
            width=240,
        )
