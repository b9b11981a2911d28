"""Who is signed in, and the few helpers every page shares. Decisions live in surveys/.

The session holds only a signed ticket (account id and times); the account's role and
departments are read again from the database on every run, so a change made by an
administrator, or a disabled account, takes effect at the next click.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import streamlit as st
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from dashboard import resources
from surveys.access import sign_in as password_sign_in
from surveys.access import sso
from surveys.access.accounts import AccountInfo
from surveys.access.sign_in import SignInOutcome, SignInResult
from surveys.access.tickets import SessionEnd, check_session, issue_ticket
from surveys.clock import utc_now
from surveys.config import cookie_secret_problem, get_settings
from surveys.text import escape_all_markdown

SESSION_KEY = "attune_session"
ENDED_KEY = "attune_session_ended"
FLASH_KEY = "attune_flash"
_LOGGER = logging.getLogger(__name__)
_REPORTED_PROBLEMS: set[str] = set()

# `text` escaped so that Streamlit's Markdown shows it literally (names, error messages).
plain = escape_all_markdown


def _auth_section() -> Mapping[str, object] | None:
    """The `[auth]` section of .streamlit/secrets.toml, or None when there is none."""
    try:
        if "auth" not in st.secrets:
            return None
        section = st.secrets["auth"]
    except FileNotFoundError:
        return None
    return section if isinstance(section, Mapping) else {}


def sso_problem() -> str | None:
    """Why the `[auth]` section must not be used (a short cookie secret), else None.

    Logged once per problem: every page run asks, and the operator needs one line, not many.
    """
    section = _auth_section()
    if section is None:
        return None
    problem = cookie_secret_problem(section.get("cookie_secret"))
    if problem is not None and problem not in _REPORTED_PROBLEMS:
        _REPORTED_PROBLEMS.add(problem)
        _LOGGER.error("%s", problem)
    return problem


def sso_configured() -> bool:
    """Whether single sign-on is set up, and safely: an `[auth]` section in
    .streamlit/secrets.toml whose cookie secret is long enough. With a short one, the identity
    cookie is not trusted either, since it could have been forged."""
    return _auth_section() is not None and sso_problem() is None


def sso_installed() -> bool:
    # st.login needs Authlib (`pip install "streamlit[auth]"`).
    return importlib.util.find_spec("authlib") is not None


def sso_claims() -> dict[str, object] | None:
    """The identity provider's claims when someone has signed in through SSO, else None."""
    if not sso_configured() or st.user.get("is_logged_in") is not True:
        return None
    return dict(st.user.to_dict())


def _forget_session() -> None:
    # Everything goes, not just the ticket: links made on the Invitations page, for one.
    for key in list(st.session_state):
        del st.session_state[key]


def _end(ended: SessionEnd, *, sso: bool) -> None:
    _forget_session()
    st.session_state[ENDED_KEY] = ended.value
    if sso and sso_claims() is not None:
        # The identity cookie would sign them straight back in; make them sign in again.
        st.logout()
        st.stop()


def _sso_account(claims: dict[str, object]) -> AccountInfo | None:
    now = utc_now()
    issued = claims.get("iat")
    issued_at = datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) else now
    if now - issued_at >= timedelta(hours=get_settings().session_hours):
        _end(SessionEnd.expired, sso=True)
        return None
    try:
        mapping = sso.role_map()
    except sso.RoleMapError as error:
        # For the operator's log; the person signing in just sees that they have no access.
        _LOGGER.error("Single sign-on role map unusable: %s", error)
        return None
    account = sso.sso_sign_in(engine=resources.engine(), claims=claims, mapping=mapping)
    if account is not None:
        st.session_state[SESSION_KEY] = issue_ticket(
            account.id, now=now, issued_at=min(issued_at, now), sso=True
        )
    return account


def current_account() -> AccountInfo | None:
    """The signed-in account as it is now, or None (not signed in, expired, or no database)."""
    if resources.database_problem() is not None:
        return None
    try:
        engine = resources.engine()
    except ValidationError:
        return None
    ticket = st.session_state.get(SESSION_KEY)
    if ticket is not None:
        check = check_session(engine=engine, ticket=ticket)
        if check.account is not None:
            st.session_state[SESSION_KEY] = check.ticket
            return check.account
        _end(check.ended or SessionEnd.invalid, sso=getattr(ticket, "sso", False))
        return None
    claims = sso_claims()
    if claims is not None:
        return _sso_account(claims)
    return None


def sign_in(username: str, password: str) -> SignInResult:
    result = password_sign_in.sign_in(
        engine=resources.engine(), username=username, password=password
    )
    if result.outcome is SignInOutcome.ok and result.account is not None:
        st.session_state[SESSION_KEY] = issue_ticket(result.account.id)
        st.session_state.pop(ENDED_KEY, None)
    return result


def sign_out(account: AccountInfo) -> None:
    ticket = st.session_state.get(SESSION_KEY)
    _forget_session()
    password_sign_in.record_sign_out(engine=resources.engine(), account=account)
    if getattr(ticket, "sso", False) and sso_claims() is not None:
        st.logout()
        st.stop()


def require_admin() -> AccountInfo:
    """The signed-in administrator; anyone else sees a refusal and the page stops here.

    Every administration page calls this first, on every run: hiding a page from the
    navigation is not what keeps a manager out.
    """
    account = current_account()
    if account is None or not account.is_admin:
        st.error("This page is for administrators.", icon=":material/block:")
        st.stop()
    return account


def flash(message: str) -> None:
    """A success message to show after the rerun that follows a change (our own words only:
    it is shown as Markdown)."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")


def apply(
    change: Callable[[], object],
    *,
    success: str,
    then: Callable[[object], None] | None = None,
) -> object | None:
    """Run `change` (a domain function that is one write transaction, its audit record
    included), then rerun the page with `success` shown; a refusal is shown where the page
    is, and nothing is written. `then` gets the result before the rerun (to clear a form,
    say), only when the change was made."""
    try:
        result = change()
    except (ValueError, LookupError, PermissionError) as error:
        st.error(plain(error), icon=":material/error:")
        return None
    except IntegrityError:
        st.error("That clashes with something saved meanwhile; check and try again.")
        return None
    # Cached results (the cycle list, for one) key on responses; these changes add none.
    resources.forget_results()
    flash(success)
    if then is not None:
        then(result)
    st.rerun()
    return result
