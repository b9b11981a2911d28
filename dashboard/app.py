"""Entry point: page config, who is signed in, and routing by role.

Staff arrive with a survey link (`/survey?token=...`) and only ever see the survey, with no
navigation and no sign-in. Everyone else signs in first; administrators get the
administration pages, managers the results for their own departments.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import PAGE_ICON, auth

PAGES = Path(__file__).resolve().parent / "app_pages"
# (file, title, icon, url path) of the administration pages, in sidebar order.
ADMIN_PAGES = (
    ("admin_cycles.py", "Manage cycles", ":material/edit_calendar:", "manage-cycles"),
    ("admin_invitations.py", "Invitations", ":material/forward_to_inbox:", "invitations"),
    ("admin_response_rates.py", "Response rates", ":material/monitoring:", "response-rates"),
    ("admin_organisation.py", "Departments", ":material/account_tree:", "departments"),
    ("admin_staff_groups.py", "Staff groups", ":material/groups:", "staff-groups"),
    ("admin_accounts.py", "Accounts", ":material/manage_accounts:", "accounts"),
    ("admin_audit.py", "Audit log", ":material/history:", "audit-log"),
)

st.set_page_config(page_title="Attune", page_icon=PAGE_ICON, layout="wide")

if "token" in st.query_params:
    survey = st.Page(PAGES / "survey.py", title="Staff survey", url_path="survey")

    def to_survey() -> None:
        st.switch_page(survey, query_params=st.query_params.to_dict())

    # A lone page would be the default, served at "/", and Streamlit would answer /survey with
    # a "page not found" dialog over the survey; a hidden default page hands over instead.
    start = st.Page(to_survey, title="Staff survey", default=True, visibility="hidden")
    navigation = st.navigation([start, survey], position="hidden")
else:
    account = auth.current_account()
    if account is None:
        navigation = st.navigation(
            [st.Page(PAGES / "sign_in.py", title="Sign in", icon=":material/login:")],
            position="hidden",
        )
    else:
        results = [
            st.Page(
                PAGES / "overview.py",
                title="Overview",
                icon=":material/dashboard:",
                url_path="overview",
                default=not account.is_admin,
            ),
            st.Page(PAGES / "trends.py", title="Trends", icon=":material/trending_up:"),
            st.Page(PAGES / "heatmap.py", title="Heatmap", icon=":material/grid_on:"),
            st.Page(PAGES / "relationships.py", title="Relationships", icon=":material/hub:"),
            st.Page(PAGES / "items.py", title="Item detail", icon=":material/bar_chart:"),
            st.Page(PAGES / "comments.py", title="Comments", icon=":material/forum:"),
        ]
        # Organisation-wide counts: for administrators only (their landing page), since
        # managers see only their own departments.
        cycles = st.Page(
            PAGES / "cycles.py",
            title="Survey cycles",
            icon=":material/event_note:",
            url_path="cycles",
            default=account.is_admin,
        )
        if account.is_admin:
            navigation = st.navigation(
                {
                    "Results": [cycles, *results],
                    "Administration": [
                        st.Page(PAGES / file, title=title, icon=icon, url_path=url)
                        for file, title, icon, url in ADMIN_PAGES
                    ],
                },
                # Streamlit folds more than ten links behind "View N more", which hid half of
                # the administration pages; every page stays one click away.
                expanded=True,
            )
        else:
            navigation = st.navigation({"Results": results})
        with st.sidebar:
            st.text(f"Signed in as {account.label}")
            st.caption("Administrator" if account.is_admin else "Manager")
            if st.button("Sign out", key="sign_out", icon=":material/logout:"):
                auth.sign_out(account)
                st.rerun()
navigation.run()
