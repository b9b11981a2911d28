"""Driving the app through AppTest: where it lives, a hospital to sign in to, a signed-in app."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard import auth
from surveys.access.accounts import create_account
from surveys.access.tickets import issue_ticket
from surveys.config import get_settings
from surveys.models import Account
from surveys.organisation.structure import add_department, add_division
from surveys.storage import make_engine, migrate, read_session, write_session
from tests.support import ROOT
from tests.support.accounts import PASSWORD

APP = ROOT / "dashboard" / "app.py"
PAGES = ROOT / "dashboard" / "app_pages"
# The first run imports pandas, plotly and SQLAlchemy; AppTest's 3 s default is too tight.
RUN_TIMEOUT_SECONDS = 30


def build_hospital() -> Engine:
    """The database DATABASE_URL names, with two departments, an admin and a manager."""
    engine = make_engine(get_settings().database_url)
    migrate(engine)
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology"):
            add_department(session=session, name=name, division_id=division)
    create_account(engine=engine, username="boss", role="admin", password=PASSWORD, actor="t")
    create_account(
        engine=engine,
        username="ed",
        role="manager",
        password=PASSWORD,
        departments=["Emergency"],
        actor="t",
    )
    return engine


def new_app(script: Path = APP) -> AppTest:
    return AppTest.from_file(str(script), default_timeout=RUN_TIMEOUT_SECONDS)


def account_id(engine: Engine, username: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(Account.id).where(Account.username == username)).one()


def signed_in(engine: Engine, username: str, script: Path = APP, **ticket) -> AppTest:
    """An app whose session already holds `username`'s sign-in ticket."""
    at = new_app(script)
    at.session_state[auth.SESSION_KEY] = issue_ticket(account_id(engine, username), **ticket)
    return at.run()
