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
# (file, title, icon, url path) of the results pages, in sidebar order.
RESULT_PAGES = (
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("trends.py", "Trends", ":material/trending_up:", "trends"),
    ("heatmap.py", "Heatmap", ":material/grid_on:", "heatmap"),
    ("relationships.py", "Relationships", ":material/hub:", "relationships"),
    ("items.py", "Item detail", ":material/bar_chart:", "items"),
    ("comments.py", "Comments", ":material/forum:", "comments"),
)
CYCLES_PAGE = ("cycles.py", "Survey cycles", ":material/event_note:", "cycles")
# (file, title, icon, url path) of the administration pages, in sidebar order.
ADMIN_PAGES = (
    ("admin_cycles.py", "Manage cycles", ":material/edit_calendar:", "manage-cycles"),
    ("admin_invitations.py", "Invitations", ":material/forward_to_inbox:", "invitations"),
    ("admin_response_rates.py", "Response rates", ":material/monitoring:", "response-rates"),
    ("admin_organisation.py", "Departments", ":material/account_tree:", "departments"),
    ("admin_staff_groups.py", "Staff groups", ":material/groups:", "staff-groups"),
    ("admin_comment_themes.py", "Comment themes", ":material/label:", "comment-themes"),
    ("admin_accounts.py", "Accounts", ":material/manage_accounts:", "accounts"),
    ("admin_audit.py", "Audit log", ":material/history:", "audit-log"),
)
SIGNED_IN_PAGES = (*RESULT_PAGES, CYCLES_PAGE, *ADMIN_PAGES)


def _page(file: str, title: str, icon: str, url: str, *, default: bool = False) -> st.Page:
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url, default=default)


def _administrators_only() -> None:
    st.title("For administrators")
    st.info(
        "This page is for Attune administrators. Your results are under Overview.",
        icon=":material/lock:",
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
        # A bookmarked or reloaded page's address shows the sign-in page (not Streamlit's
        # "page not found" dialog) and keeps its address, so that the page itself opens
        # once the user has signed in. Nothing of the page runs before that.
        navigation = st.navigation(
            [
                st.Page(PAGES / "sign_in.py", title="Sign in", icon=":material/login:"),
                *(
                    st.Page(
                        PAGES / "sign_in.py", title="Sign in", url_path=url, visibility="hidden"
                    )
                    for *_, url in SIGNED_IN_PAGES
                ),
            ],
            position="hidden",
        )
    else:
        results = [
            _page(*page, default=page[-1] == "overview" and not account.is_admin)
            for page in RESULT_PAGES
        ]
        # Organisation-wide counts: for administrators only (their landing page), since
        # managers see only their own departments.
        cycles = _page(*CYCLES_PAGE, default=account.is_admin)
        if account.is_admin:
            navigation = st.navigation(
                {
                    "Results": [cycles, *results],
                    "Administration": [_page(*page) for page in ADMIN_PAGES],
                },
                # Streamlit folds more than ten links behind "View N more", which hid half of
                # the administration pages; every page stays one click away.
                expanded=True,
            )
        else:
            # An administrator's address bookmarked by a manager says whose page it is.
            refused = [
                st.Page(_administrators_only, title=title, url_path=url, visibility="hidden")
                for _, title, _, url in (CYCLES_PAGE, *ADMIN_PAGES)
            ]
            navigation = st.navigation({"Results": [*results, *refused]})
        with st.sidebar:
            st.text(f"Signed in as {account.label}")
            st.caption("Administrator" if account.is_admin else "Manager")
            if st.button("Sign out", key="sign_out", icon=":material/logout:"):
                auth.sign_out(account)
                st.rerun()
navigation.run()
