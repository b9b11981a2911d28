"""Signing in and out through AppTest: passwords, lockout, expiry, single sign-on, survey links."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard import auth
from surveys.access import passwords
from surveys.access.accounts import set_active
from surveys.access.passwords import PASSWORD_MAX_LENGTH
from surveys.access.sign_in import MAX_FAILURES
from surveys.config import COOKIE_SECRET_MIN_BYTES, get_settings
from surveys.models import AuditEvent
from surveys.storage import make_engine, migrate, read_session
from tests.support.accounts import PASSWORD, use_fast_hashing
from tests.support.app import build_hospital, new_app, signed_in

SSO_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "<a test cookie secret of 32 bytes or more>",
        "client_id": "attune",
        "client_secret": "<test>",
        "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
    }
}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_fast_hashing(monkeypatch)
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture
def hospital() -> Iterator[Engine]:
    engine = build_hospital()
    yield engine
    engine.dispose()


def sign_in_through_the_form(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="sign_in_username").set_value(username)
    at.text_input(key="sign_in_password").set_value(password)
    return at.button(key="sign_in_submit").click().run()


def is_sign_in_page(at: AppTest) -> bool:
    return [title.value for title in at.title] == ["Sign in to Attune"]


def test_everything_but_a_survey_link_asks_for_sign_in(hospital: Engine) -> None:
    at = new_app().run()
    assert not at.exception
    assert is_sign_in_page(at)
    assert not at.dataframe and not at.metric
    assert at.text_input(key="sign_in_password").proto.type == 1  # a password field
    assert not at.sidebar.button


def test_right_password_signs_in_and_shows_who(hospital: Engine) -> None:
    at = sign_in_through_the_form(new_app().run(), "boss", PASSWORD)
    assert not at.exception
    assert [title.value for title in at.title] == ["Survey cycles"]
    assert [text.value for text in at.sidebar.text] == ["Signed in as boss"]
    assert at.sidebar.caption[0].value == "Administrator"
    assert at.sidebar.button(key="sign_out")


@pytest.mark.parametrize(
    ("username", "password"),
    [("boss", "not the password"), ("nobody", PASSWORD), ("ed", "")],
    ids=["wrong password", "unknown username", "empty password"],
)
def test_wrong_sign_in_gives_one_message_whatever_the_reason(
    hospital: Engine, username: str, password: str
) -> None:
    at = sign_in_through_the_form(new_app().run(), username, password)
    assert not at.exception
    assert is_sign_in_page(at)
    assert [error.value for error in at.error] == ["The username or password is not right."]


@pytest.mark.parametrize(
    "username",
    ["boss\x00", "\u202eboss", "x" * 1_048_576],
    ids=["nul", "right-to-left override", "one megabyte"],
)
def test_hostile_usernames_get_the_usual_message(hospital: Engine, username: str) -> None:
    at = sign_in_through_the_form(new_app().run(), username, PASSWORD)
    assert not at.exception
    assert is_sign_in_page(at)
    assert [error.value for error in at.error] == ["The username or password is not right."]


def test_an_overlong_password_is_refused_with_the_limit(hospital: Engine) -> None:
    at = sign_in_through_the_form(new_app().run(), "boss", PASSWORD + "x" * 1_048_576)
    assert not at.exception
    assert is_sign_in_page(at)
    assert [error.value for error in at.error] == [
        f"A password has at most {PASSWORD_MAX_LENGTH} characters, so this one "
        "cannot be right. Check what was pasted into the password field."
    ]


@pytest.mark.parametrize("username", ["boss", "nobody"])
def test_five_failures_lock_the_username(hospital: Engine, username: str) -> None:
    at = new_app().run()
    for attempt in range(MAX_FAILURES):
        at = sign_in_through_the_form(at, username, f"guess {attempt} of many")
    assert not at.exception
    assert "Too many failed attempts (5) for this username" in at.error[0].value
    at = sign_in_through_the_form(at, username, PASSWORD)
    assert is_sign_in_page(at)
    assert "Too many failed attempts" in at.error[0].value


def test_sign_out_returns_to_the_sign_in_page_and_is_audited(hospital: Engine) -> None:
    at = signed_in(hospital, "ed")
    at.sidebar.button(key="sign_out").click().run()
    assert not at.exception
    assert is_sign_in_page(at)
    assert auth.SESSION_KEY not in at.session_state
    with read_session(hospital) as session:
        assert "sign_out" in session.scalars(select(AuditEvent.action)).all()


@pytest.mark.parametrize(
    ("ticket", "message"),
    [
        (
            {
                "now": datetime.now(UTC) - timedelta(minutes=5),
                "issued_at": datetime.now(UTC) - timedelta(hours=9),
            },
            "Your session has ended",
        ),
        ({"now": datetime.now(UTC) - timedelta(minutes=31)}, "after a period without activity"),
    ],
    ids=["absolute", "idle"],
)
def test_expired_sessions_sign_out(hospital: Engine, ticket: dict, message: str) -> None:
    at = signed_in(hospital, "boss", **ticket)
    assert not at.exception
    assert is_sign_in_page(at)
    assert message in at.info[0].value
    assert auth.SESSION_KEY not in at.session_state


def test_session_hours_come_from_the_setting(
    hospital: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_SESSION_HOURS", "12")
    get_settings.cache_clear()
    ten_hours_ago = datetime.now(UTC) - timedelta(hours=10)
    at = signed_in(hospital, "boss", issued_at=ten_hours_ago)
    assert [title.value for title in at.title] == ["Survey cycles"]


def test_disabled_account_is_signed_out_at_the_next_click(hospital: Engine) -> None:
    at = signed_in(hospital, "ed")
    assert [title.value for title in at.title] == ["Overview"]  # a manager's landing page
    set_active(engine=hospital, username="ed", active=False, actor="boss")
    at.run()
    assert is_sign_in_page(at)
    assert "no longer active" in at.info[0].value


def test_a_survey_link_never_asks_for_sign_in(hospital: Engine) -> None:
    at = new_app()
    at.query_params["token"] = "not-a-real-token"
    at.run()
    assert not at.exception
    assert not is_sign_in_page(at)
    assert [title.value for title in at.title] == ["Staff survey"]
    assert not at.text_input
    assert not at.sidebar.button


def test_an_unavailable_database_is_explained_on_the_sign_in_page() -> None:
    at = new_app().run()
    assert not at.exception
    assert is_sign_in_page(at)
    assert "attune db upgrade" in at.error[0].value
    assert not at.text_input


def sso_app(claims: dict) -> AppTest:
    at = new_app()
    at.secrets = dict(SSO_SECRETS)
    at.user = {"is_logged_in": True, **claims}
    return at


@pytest.fixture
def role_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "roles.toml"
    path.write_text(
        '[[rule]]\nrole = "admin"\ngroups = ["attune-admins"]\n\n'
        '[[rule]]\nrole = "manager"\nemails = ["lead@example.org"]\n'
        'departments = ["Oncology"]\n'
    )
    monkeypatch.setenv("ATTUNE_SSO_ROLE_MAP", str(path))
    get_settings.cache_clear()
    return path


def test_sign_in_page_offers_single_sign_on_when_configured(hospital: Engine) -> None:
    at = new_app()
    at.secrets = dict(SSO_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert is_sign_in_page(at)
    if auth.sso_installed():
        assert at.button(key="sso_sign_in").label == "Sign in with your organisation account"
    else:
        assert "Authlib is missing" in at.warning[0].value
    assert at.text_input(key="sign_in_username")


def sso_secrets(cookie_secret: str) -> dict:
    return {"auth": {**SSO_SECRETS["auth"], "cookie_secret": cookie_secret}}


def test_a_short_cookie_secret_turns_single_sign_on_off_and_says_so(
    hospital: Engine, role_map: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth._REPORTED_PROBLEMS.clear()
    short = "s" * (COOKIE_SECRET_MIN_BYTES - 1)
    at = new_app()
    at.secrets = sso_secrets(short)
    # Even a signed-in identity is not trusted: its cookie could have been forged.
    at.user = {"is_logged_in": True, "email": "lead@example.org"}
    with caplog.at_level(logging.ERROR, logger="dashboard.auth"):
        at.run()
        at.run()
    assert not at.exception
    assert is_sign_in_page(at)
    assert [error.value for error in at.error] == [
        "Single sign-on is turned off: the [auth] section of .streamlit/secrets.toml has a "
        "cookie_secret of 31 bytes, and it needs a random one of at least 32 bytes (make one "
        "with: python -c 'import secrets; print(secrets.token_urlsafe(32))')."
    ]
    assert short not in at.error[0].value
    assert not [button for button in at.button if button.key == "sso_sign_in"]
    assert at.text_input(key="sign_in_username")  # passwords still work
    logged = [record for record in caplog.records if record.name == "dashboard.auth"]
    assert len(logged) == 1  # once, however many runs
    assert "cookie_secret of 31 bytes" in logged[0].getMessage()


def test_a_cookie_secret_of_32_bytes_is_long_enough(hospital: Engine) -> None:
    at = new_app()
    at.secrets = sso_secrets("é" * (COOKIE_SECRET_MIN_BYTES // 2))  # 16 characters, 32 bytes
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert not at.error
    if auth.sso_installed():
        assert at.button(key="sso_sign_in")


def test_single_sign_on_user_gets_the_mapped_role(hospital: Engine, role_map: Path) -> None:
    at = sso_app({"email": "lead@example.org", "name": "Lee Lead"}).run()
    assert not at.exception
    assert [title.value for title in at.title] == ["Overview"]  # a manager's landing page
    assert [text.value for text in at.sidebar.text] == ["Signed in as Lee Lead"]
    assert at.sidebar.caption[0].value == "Manager"
    admin = sso_app({"email": "chief@example.org", "groups": ["attune-admins"]}).run()
    assert admin.sidebar.caption[0].value == "Administrator"


def test_unknown_single_sign_on_user_gets_no_access(hospital: Engine, role_map: Path) -> None:
    at = sso_app({"email": "someone@example.org", "groups": ["staff"]}).run()
    assert not at.exception
    assert is_sign_in_page(at)
    assert "no access to Attune" in at.warning[0].value
    assert [text.value for text in at.text] == [
        "Signed in to single sign-on as someone@example.org"
    ]
    assert not at.dataframe
    at.button(key="sso_sign_out").click().run()
    assert at.user == {"is_logged_in": False}


def test_single_sign_on_without_a_role_map_lets_nobody_in(hospital: Engine) -> None:
    at = sso_app({"email": "chief@example.org", "groups": ["attune-admins"]}).run()
    assert is_sign_in_page(at)
    assert "no access" in at.warning[0].value


def test_single_sign_on_identity_older_than_the_session_limit_signs_out(
    hospital: Engine, role_map: Path
) -> None:
    nine_hours_ago = int((datetime.now(UTC) - timedelta(hours=9)).timestamp())
    at = sso_app({"email": "lead@example.org", "iat": nine_hours_ago}).run()
    assert not at.exception
    assert at.user == {"is_logged_in": False}
    assert not [title for title in at.title if title.value == "Survey cycles"]


def test_a_new_installation_says_how_to_make_the_first_administrator() -> None:
    engine = make_engine(get_settings().database_url)
    migrate(engine)
    engine.dispose()
    at = new_app().run()
    assert not at.exception
    assert is_sign_in_page(at)
    assert "attune user add NAME --role admin" in at.info[0].value
