"""Submissions under load: 32 writers, double submits mixed in, every form stored exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import Engine

from bench.load import WRITERS, Kind, plan, run_load
from surveys.config import get_settings
from surveys.storage import make_engine, migrate, write_session
from surveys.survey.submit import SubmissionFailed, SubmitOutcome, submit_survey
from tests.support.backends import backends
from tests.support.load import check_stored_exactly_once, expected_forms

# `python -m bench.load` sends 10,000 and times them; this many keeps `make test` within its
# ten minutes on two cores while still mixing every kind of resend among 32 writers.
pytestmark = pytest.mark.slow

SUBMISSIONS = 2_000


@backends()
def test_many_writers_with_double_submits_store_every_form_exactly_once(engine: Engine) -> None:
    result = run_load(engine, writers=WRITERS, submissions=SUBMISSIONS)

    assert len(result.sends) == SUBMISSIONS
    assert result.failures == 0  # nobody was asked to press Submit again
    check_stored_exactly_once(engine, result)
    kinds = Counter(send.kind for send in result.sends)
    forms = expected_forms(result)
    assert result.stored == len(forms)
    assert result.already_received == kinds[Kind.double_click] + kinds[Kind.retry]
    assert result.link_used == kinds[Kind.second_browser]
    # Not vacuous: every kind of resend, and both kinds of link, were in the mix.
    assert all(kinds[kind] >= 10 for kind in Kind), kinds
    assert {form.is_open for form in forms} == {True, False}


def test_a_sqlite_writer_kept_waiting_past_the_busy_timeout_is_asked_to_submit_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_SQLITE_BUSY_TIMEOUT_MS", "200")
    get_settings.cache_clear()
    engine = make_engine(database_url)
    migrate(engine)
    _, _, sends = plan(engine, 1)
    form = sends[0].form
    holding, release = threading.Event(), threading.Event()

    def hold_the_database() -> None:
        with write_session(engine):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_database)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(SubmissionFailed, match="press Submit again"):
            submit_survey(
                engine=engine, token=form.token, submission_key=form.key, answers=form.answers
            )
    finally:
        release.set()
        holder.join()
    stored = submit_survey(
        engine=engine, token=form.token, submission_key=form.key, answers=form.answers
    )
    assert stored is SubmitOutcome.stored
    engine.dispose()
