"""Entry point: page config, who is signed in, and routing by role.

Staff arrive with a survey link (`/survey?token=...`) and only ever see the survey, with no
navigation and no sign-in; a share link (`/shared?k=...`) opens one cycle's published summary
for staff and nothing else. Everyone else signs in first; administrators get the
administration pages, managers the results for their own departments.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import PAGE_ICON, auth
from surveys.actions.sharing import SHARE_PARAMETER, SHARE_PATH

PAGES = Path(__file__).resolve().parent / "app_pages"
# (file, title, icon, url path) of the results pages, in sidebar order.
RESULT_PAGES = (
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("focus.py", "Focus areas", ":material/flag:", "focus-areas"),
    ("trends.py", "Trends", ":material/trending_up:", "trends"),
    ("heatmap.py", "Heatmap", ":material/grid_on:", "heatmap"),
    ("relationships.py", "Relationships", ":material/hub:", "relationships"),
    ("items.py", "Item detail", ":material/bar_chart:", "items"),
    ("comments.py", "Comments", ":material/forum:", "comments"),
)
CYCLES_PAGE = ("cycles.py", "Survey cycles", ":material/event_note:", "cycles")
# For managers (their own departments' plans) and administrators (every plan).
PLANS_PAGE = ("action_plans.py", "Action plans", ":material/checklist:", "action-plans")
# (file, title, icon, url path) of the administration pages, in sidebar order.
ADMIN_PAGES = (
    ("admin_cycles.py", "Manage cycles", ":material/edit_calendar:", "manage-cycles"),
    ("admin_invitations.py", "Invitations", ":material/forward_to_inbox:", "invitations"),
    ("admin_response_rates.py", "Response rates", ":material/monitoring:", "response-rates"),
    ("admin_sharing.py", "Share results", ":material/campaign:", "share-results"),
    ("admin_organisation.py", "Departments", ":material/account_tree:", "departments"),
    ("admin_staff_groups.py", "Staff groups", ":material/groups:", "staff-groups"),
    ("admin_comment_themes.py", "Comment themes", ":material/label:", "comment-themes"),
    ("admin_accounts.py", "Accounts", ":material/manage_accounts:", "accounts"),
    ("admin_audit.py", "Audit log", ":material/history:", "audit-log"),
)
SIGNED_IN_PAGES = (*RESULT_PAGES, PLANS_PAGE, CYCLES_PAGE, *ADMIN_PAGES)


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
elif SHARE_PARAMETER in st.query_params:
    # Checked before anyone's sign-in: the link alone decides, and it opens only the summary.
    shared = st.Page(PAGES / "shared.py", title="You said, we did", url_path=SHARE_PATH)

    def to_shared() -> None:
        st.switch_page(shared, query_params=st.query_params.to_dict())

    start = st.Page(to_shared, title="You said, we did", default=True, visibility="hidden")
    navigation = st.navigation([start, shared], position="hidden")
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
                    # A share link that lost its token is just another address to sign in at.
                    for url in (*(page[-1] for page in SIGNED_IN_PAGES), SHARE_PATH)
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
        action = [_page(*PLANS_PAGE)]
        if account.is_admin:
            navigation = st.navigation(
                {
                    "Results": [cycles, *results],
                    "Action": action,
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
            navigation = st.navigation({"Results": [*results, *refused], "Action": action})
        with st.sidebar:
            st.text(f"Signed in as {account.label}")
            st.caption("Administrator" if account.is_admin else "Manager")
            if st.button("Sign out", key="sign_out", icon=":material/logout:"):
                auth.sign_out(account)
                st.rerun()
navigation.run()
