"""Entry point: page config, who is signed in, and routing by role.

Staff arrive with a survey link (`/survey?token=...`) and only ever see the survey, with no
navigation and no sign-in. Everyone else signs in first; administrators get the
administration pages, managers the results for their own departments.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import auth

PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="Attune", page_icon=":material/diversity_3:", layout="wide")

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
                        st.Page(
                            PAGES / "admin_cycles.py",
                            title="Manage cycles",
                            icon=":material/edit_calendar:",
                            url_path="manage-cycles",
                        ),
                        st.Page(
                            PAGES / "admin_invitations.py",
                            title="Invitations",
                            icon=":material/forward_to_inbox:",
                            url_path="invitations",
                        ),
                        st.Page(
                            PAGES / "admin_response_rates.py",
                            title="Response rates",
                            icon=":material/monitoring:",
                            url_path="response-rates",
                        ),
                        st.Page(
                            PAGES / "admin_organisation.py",
                            title="Departments",
                            icon=":material/account_tree:",
                            url_path="departments",
                        ),
                        st.Page(
                            PAGES / "admin_staff_groups.py",
                            title="Staff groups",
                            icon=":material/groups:",
                            url_path="staff-groups",
                        ),
                        st.Page(
                            PAGES / "admin_accounts.py",
                            title="Accounts",
                            icon=":material/manage_accounts:",
                            url_path="accounts",
                        ),
                        st.Page(
                            PAGES / "admin_audit.py",
                            title="Audit log",
                            icon=":material/history:",
                            url_path="audit-log",
                        ),
                    ],
                }
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
