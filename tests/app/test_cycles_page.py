"""The landing page (survey cycles) through Streamlit's AppTest, on real databases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from dashboard.auth import SESSION_KEY
from surveys.access.accounts import create_account
from surveys.access.tickets import issue_ticket
from surveys.config import get_settings
from surveys.instruments import builtin_instrument
from surveys.organisation.catalogue import instrument_items, register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import (
    add_department,
    add_division,
    staff_groups,
)
from surveys.storage import make_engine, migrate, schema_is_current, write_session
from surveys.survey.submit import store_response
from tests.support.demo import use_copy

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# The first run imports pandas, plotly and SQLAlchemy; AppTest's 3 s default is too tight.
RUN_TIMEOUT_SECONDS = 30


def run_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_SECONDS)
    sign_in_if_possible(at)
    at.run()
    assert not at.exception
    return at


def sign_in_if_possible(at: AppTest) -> None:
    """Sign the session in as an administrator when the database has accounts at all; the
    tests of a missing or broken database see the sign-in page, which reports the problem."""
    try:
        engine = make_engine(get_settings().database_url)
        if not schema_is_current(engine):
            return
    except Exception:  # noqa: BLE001 - an unreachable or misconfigured database
        return
    account = create_account(
        engine=engine, username="viewer", role="admin", password=None, actor="test"
    )
    engine.dispose()
    at.session_state[SESSION_KEY] = issue_ticket(account)


@pytest.fixture
def settings_engine() -> Iterator[Engine]:
    """An engine on the database DATABASE_URL names (a fresh SQLite file per test)."""
    created = make_engine(get_settings().database_url)
    yield created
    created.dispose()


def store_answers(engine: Engine, *, count: int) -> None:
    """One open cycle in one department with `count` responses from one staff group."""
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        department_id = add_department(session=session, name="Emergency", division_id=division_id)
        cycle_id = add_cycle(
            session=session,
            name="2026 Q4",
            opens=date(2026, 10, 12),
            closes=date(2026, 12, 3),
            instrument_id=instrument_id,
        )
        group_id = staff_groups(session=session)[0].id
        items = instrument_items(session=session, instrument_id=instrument_id)
    rng = random.Random(11)
    for _ in range(count):
        with write_session(engine) as session:
            store_response(
                session=session,
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=group_id,
                instrument_id=instrument_id,
                answers={
                    item: rng.randint(0, 10) if item.scale == "nps" else rng.randint(1, 5)
                    for item in items.values()
                },
                comment=None,
            )


def test_demo_shows_title_metrics_and_every_cycle(
    demo_hospital_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_copy(demo_hospital_file, tmp_path, monkeypatch)
    at = run_app()
    assert [title.value for title in at.title] == ["Survey cycles"]
    assert "no figure rests on fewer than 5 responses" in at.caption[0].value
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Latest cycle · open"] == "2026 Q4"
    assert int(metrics["Responses"].replace(",", "")) > 0
    assert metrics["Response rate"].endswith("%")
    assert len(at.dataframe) == 1
    cycles = at.dataframe[0].value
    assert len(cycles) == 8
    assert cycles["name"].iloc[0] == "2026 Q4"
    assert cycles["name"].iloc[-1] == "2025 Q1"
    assert not at.error


def test_empty_database_says_there_are_no_cycles(settings_engine: Engine) -> None:
    migrate(settings_engine)
    at = run_app()
    assert at.title[0].value == "Survey cycles"
    assert len(at.info) == 1
    assert "No survey cycles yet" in at.info[0].value
    assert "attune demo" in at.info[0].value
    assert not at.metric
    assert not at.dataframe
    assert not at.error


def test_unmigrated_database_asks_for_an_upgrade() -> None:
    at = run_app()
    assert len(at.error) == 1
    assert "attune db upgrade" in at.error[0].value
    assert not at.metric
    assert not at.dataframe


def test_unreachable_postgresql_explains_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/attune")
    get_settings.cache_clear()
    at = run_app()
    assert len(at.error) == 1
    message = at.error[0].value
    assert "Cannot open the database" in message
    assert "127.0.0.1:1" in message
    assert "Check DATABASE_URL" in message
    assert "secret" not in message
    assert not at.dataframe


def test_invalid_setting_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "1")
    get_settings.cache_clear()
    at = run_app()
    assert len(at.error) == 1
    assert "ATTUNE_MIN_GROUP_SIZE" in at.error[0].value
    assert "greater than or equal to 3" in at.error[0].value


@pytest.mark.parametrize("minimum", [4, 10])
def test_small_cycle_count_is_suppressed(
    settings_engine: Engine, monkeypatch: pytest.MonkeyPatch, minimum: int
) -> None:
    migrate(settings_engine)
    store_answers(settings_engine, count=3)
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", str(minimum))
    get_settings.cache_clear()
    at = run_app()
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Latest cycle · draft"] == "2026 Q4"
    assert metrics["Responses"] == f"< {minimum}"
    assert metrics["Response rate"] == "—"
    cycles = at.dataframe[0].value
    assert cycles["responses"].tolist() == [f"fewer than {minimum}"]
    assert not any("3" in metric.value for metric in at.metric)


def test_cycle_at_the_minimum_shows_its_count(
    settings_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(settings_engine)
    store_answers(settings_engine, count=3)
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "3")
    get_settings.cache_clear()
    at = run_app()
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Responses"] == "3"
    assert metrics["Response rate"] == "—"  # no invitations were sent: no rate to show
    assert at.dataframe[0].value["responses"].tolist() == ["3"]
