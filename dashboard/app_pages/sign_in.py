"""Sign-in page: a username and password, or the organisation's single sign-on."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, resources
from surveys.access.accounts import has_accounts
from surveys.access.passwords import PASSWORD_MAX_LENGTH
from surveys.access.sign_in import LOCK_DURATION, MAX_FAILURES, SignInOutcome
from surveys.access.tickets import SessionEnd

ENDED_MESSAGES = {
    SessionEnd.expired.value: "Your session has ended. Please sign in again.",
    SessionEnd.idle.value: "You were signed out after a period without activity.",
    SessionEnd.revoked.value: "Your account is no longer active.",
    SessionEnd.invalid.value: "Please sign in again.",
}

outer = st.container(horizontal_alignment="center")
with outer, st.container(width=480):
    st.title("Sign in to Attune")
    st.caption(
        "For administrators and managers. Staff answering the survey do not sign in: "
        "they use the link they were sent."
    )

    problem = resources.database_problem()
    if problem:
        st.error(problem, icon=":material/error:")
        st.stop()

    if not has_accounts(engine=resources.engine()) and not auth.sso_configured():
        st.info(
            "Nobody can sign in yet. Create the first administrator on the server with "
            "`attune user add NAME --role admin`.",
            icon=":material/person_add:",
        )

    ended = st.session_state.pop(auth.ENDED_KEY, None)
    if ended in ENDED_MESSAGES:
        st.info(ENDED_MESSAGES[ended], icon=":material/schedule:")

    claims = auth.sso_claims()
    if claims is not None:
        # Signed in with the identity provider, but the role map gives them no access.
        st.warning(
            "Your organisation account has no access to Attune. "
            "Ask an Attune administrator to grant it.",
            icon=":material/lock_person:",
        )
        st.text(f"Signed in to single sign-on as {claims.get('email') or 'an unknown address'}")
        if st.button("Sign out of single sign-on", key="sso_sign_out"):
            st.logout()
        st.stop()

    sso_problem = auth.sso_problem()
    if sso_problem is not None:
        # Our own words: the message names no secret, only its length.
        st.error(sso_problem, icon=":material/gpp_bad:")
    elif auth.sso_configured():
        if auth.sso_installed():
            if st.button(
                "Sign in with your organisation account",
                key="sso_sign_in",
                type="primary",
                icon=":material/badge:",
                width="stretch",
            ):
                st.login()
        else:
            st.warning(
                "Single sign-on is configured but Authlib is missing: "
                'install it with `pip install "streamlit[auth]"`.',
                icon=":material/warning:",
            )
        st.caption("Or with an Attune account:")

    with st.form("sign_in_form", clear_on_submit=True, enter_to_submit=True):
        username = st.text_input("Username", key="sign_in_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="sign_in_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(
            "Sign in", key="sign_in_submit", type="primary", icon=":material/login:"
        )

    # Said plainly, since a reload looks like it should keep one signed in: the sign-in lives
    # in this tab's session on the server, never in a cookie another tab or person could use.
    st.caption(
        "You stay signed in while this tab is open. Reloading the page or opening Attune in "
        "a new tab asks you to sign in again, and then opens the page you were on."
    )

    if submitted:
        result = auth.sign_in(username, password)
        if result.outcome is SignInOutcome.ok:
            st.rerun()
        elif result.outcome is SignInOutcome.too_long:
            st.error(
                f"A password has at most {PASSWORD_MAX_LENGTH} characters, so this one cannot "
                "be right. Check what was pasted into the password field.",
                icon=":material/error:",
            )
        elif result.outcome is SignInOutcome.locked:
            minutes = int(LOCK_DURATION.total_seconds() // 60)
            st.error(
                f"Too many failed attempts ({MAX_FAILURES}) for this username. Wait {minutes} "
                "minutes, or ask an administrator to unlock it.",
                icon=":material/lock_clock:",
            )
        else:
            st.error("The username or password is not right.", icon=":material/error:")
