"""Submitting a survey: token checks, validation, one transaction, exactly-once under load."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from surveys import storage
from surveys.invitations.links import create_open_link, hash_token
from surveys.invitations.used import used_clause
from surveys.models import (
    Answer,
    CellRollup,
    Comment,
    Invitation,
    Item,
    Response,
    SubmissionReceipt,
)
from surveys.organisation import structure
from surveys.storage import read_session, write_session
from surveys.survey import rollups, submit
from surveys.survey.form import (
    NOT_APPLICABLE,
    SurveyUnavailable,
    Unavailable,
    load_survey,
)
from surveys.survey.submit import (
    InvalidAnswer,
    InvalidSubmission,
    SubmissionFailed,
    SubmitOutcome,
    submit_survey,
)
from tests.support.backends import backends
from tests.support.submission import full_answers, tokens

SAME_TOKEN_THREADS = 20
WRITERS = 32


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def stored_answers(engine: Engine) -> dict[str, int | None]:
    with read_session(engine) as session:
        rows = session.execute(
            select(Item.code, Answer.value).join(Item, Item.id == Answer.item_id)
        )
        return dict(rows.all())


def is_used(engine: Engine, token: str) -> bool:
    with read_session(engine) as session:
        return session.scalars(
            select(used_clause()).where(Invitation.token_hash == hash_token(token))
        ).one()


@backends()
def test_a_personal_link_stores_its_answers_once_and_is_then_used(
    engine: Engine, survey: dict
) -> None:
    (token,) = tokens(engine, survey)
    form = load_survey(engine=engine, token=token)
    assert (form.cycle_name, form.department, form.staff_group) == (
        "2026 Q4",
        "Emergency",
        "Nursing",
    )
    assert not form.is_open_link
    answers = full_answers(form)
    answers["accuracy.physicians"] = NOT_APPLICABLE
    outcome = submit_survey(
        engine=engine, token=token, submission_key="form-1", answers=answers,
        comment="  Handover works.  ",
    )  # fmt: skip
    assert outcome is SubmitOutcome.stored
    assert is_used(engine, token)
    stored = stored_answers(engine)
    assert len(stored) == len(form.questions()) == 38
    assert stored["accuracy.physicians"] is None  # "does not apply" is NULL
    assert stored["frequency.nursing"] == 4
    assert stored["enps"] == 9
    with read_session(engine) as session:
        response = session.scalars(select(Response)).one()
        assert (response.department_id, response.staff_group_id) == (
            survey["departments"]["Emergency"],
            survey["groups"]["nursing"],
        )
        assert session.scalars(select(Comment.text)).one() == "Handover works."
        cell = session.scalars(select(CellRollup)).one()
        assert (cell.responses, cell.comments) == (1, 1)
    with pytest.raises(SurveyUnavailable) as refused:
        load_survey(engine=engine, token=token)
    assert refused.value.reason is Unavailable.used
    assert "already been used" in str(refused.value)


@backends()
def test_the_same_form_sent_again_stores_nothing_more(engine: Engine, survey: dict) -> None:
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    first = submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
    again = submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
    assert (first, again) == (SubmitOutcome.stored, SubmitOutcome.already_received)
    assert count(engine, Response) == 1
    with pytest.raises(SurveyUnavailable) as refused:  # another browser with the same link
        submit_survey(engine=engine, token=token, submission_key="other", answers=answers)
    assert refused.value.reason is Unavailable.used
    assert count(engine, Response) == 1
    assert count(engine, SubmissionReceipt) == 1


@backends()
def test_a_form_key_already_stored_through_another_link_uses_up_nothing(
    engine: Engine, survey: dict
) -> None:
    first, second = tokens(engine, survey, 2)
    answers = full_answers(load_survey(engine=engine, token=first))
    stored = submit_survey(engine=engine, token=first, submission_key="k", answers=answers)
    again = submit_survey(engine=engine, token=second, submission_key="k", answers=answers)
    assert (stored, again) == (SubmitOutcome.stored, SubmitOutcome.already_received)
    # The second link was marked used before its receipt was found; the mark was undone.
    assert (is_used(engine, first), is_used(engine, second)) == (True, False)
    assert count(engine, Response) == 1


@backends()
def test_a_staff_group_renamed_or_moved_reaches_the_rules_forms_are_checked_with(
    engine: Engine, survey: dict
) -> None:
    links = iter(tokens(engine, survey, 5))
    answers = full_answers(load_survey(engine=engine, token=next(links)))
    groups = {group.key: group.id for group in structure.list_staff_groups(engine=engine)}

    def rules_after_a_form() -> list[str]:
        """The question texts of the rules the next form is checked with, built anew."""
        cached = set(submit._form_rules)
        token = next(links)
        submit_survey(engine=engine, token=token, submission_key=token, answers=answers)
        (new_key,) = set(submit._form_rules) - cached
        return [question.text for _, question in submit._form_rules[new_key].form.questions()]

    rules_after_a_form()
    structure.rename_staff_group(
        engine=engine,
        staff_group_id=groups["nursing"],
        name="Nurses & midwives",
        plural="nurses and midwives",
        actor="test",
    )
    renamed = rules_after_a_form()
    assert any("nurses and midwives" in text for text in renamed)
    structure.move_staff_group(
        engine=engine, staff_group_id=groups["allied_health"], offset=-3, actor="test"
    )
    moved = rules_after_a_form()
    expected = load_survey(engine=engine, token=next(links))
    assert moved == [question.text for _, question in expected.questions()] != renamed


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_double_click_whose_first_copy_lands_while_the_form_rules_are_built_is_received(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second copy reads the link unused, then the first copy commits, then the second
    builds the form's rules (a cache emptied by a restart, say), whose full context finds
    the link used: its receipt says the form is stored, not that the link is used."""
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    build_rules = submit._rules_for
    first: list[SubmitOutcome] = []

    def first_copy_lands_meanwhile(*args: object) -> object:
        monkeypatch.setattr(submit, "_rules_for", build_rules)
        first.append(submit_survey(engine=engine, token=token, submission_key="k", answers=answers))
        submit._form_rules.clear()  # this process's cache, as if it had just started
        return build_rules(*args)  # type: ignore[arg-type]

    submit._form_rules.clear()
    monkeypatch.setattr(submit, "_rules_for", first_copy_lands_meanwhile)
    second = submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
    assert (first, second) == ([SubmitOutcome.stored], SubmitOutcome.already_received)
    assert count(engine, Response) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_refused_form_leaves_the_connections_prepared_statements(
    engine: Engine, survey: dict
) -> None:
    """psycopg drops every statement a connection has prepared when a transaction rolls
    back, so a refusal found before anything is written commits instead: under a burst the
    forms after it are not parsed and planned anew."""

    def prepared() -> int:
        # One writer at a time reuses the pool's one connection; committed, not rolled back.
        with engine.connect() as connection:
            found = connection.exec_driver_sql(
                "SELECT COUNT(*) FROM pg_prepared_statements"
            ).scalar_one()
            connection.commit()
            return found

    *links, unused = tokens(engine, survey, 9)
    answers = full_answers(load_survey(engine=engine, token=links[0]))
    for number, token in enumerate(links):  # psycopg prepares a statement on its 5th run
        submit_survey(engine=engine, token=token, submission_key=f"k{number}", answers=answers)
    before = prepared()
    assert before > 0
    with pytest.raises(SurveyUnavailable):  # a used link, seen before anything is written
        submit_survey(engine=engine, token=links[0], submission_key="new", answers=answers)
    with pytest.raises(InvalidSubmission):
        submit_survey(engine=engine, token=unused, submission_key="new", answers={})
    assert prepared() == before


@backends()
@pytest.mark.parametrize(
    ("link", "reason", "words"),
    [
        ("unknown", Unavailable.invalid, "not valid"),
        ("empty", Unavailable.invalid, "not valid"),
        ("closed", Unavailable.closed, "has closed"),
        ("draft", Unavailable.not_open_yet, "has not opened yet"),
    ],
)
def test_a_bad_link_opens_no_form_and_stores_nothing(
    engine: Engine, survey: dict, link: str, reason: Unavailable, words: str
) -> None:
    token = {
        "unknown": lambda: "x" * 32,
        "empty": lambda: "",
        "closed": lambda: tokens(engine, survey, cycle="2026 Q3")[0],
        "draft": lambda: tokens(engine, survey, cycle="2027 Q1")[0],
    }[link]()
    with pytest.raises(SurveyUnavailable) as refused:
        load_survey(engine=engine, token=token)
    assert refused.value.reason is reason
    assert words in str(refused.value)
    with pytest.raises(SurveyUnavailable):
        submit_survey(engine=engine, token=token, submission_key="k", answers={})
    assert count(engine, Response) == 0
    assert count(engine, SubmissionReceipt) == 0


@backends()
def test_unanswered_questions_are_listed_by_step_and_question_and_nothing_is_stored(
    engine: Engine, survey: dict
) -> None:
    (token,) = tokens(engine, survey)
    form = load_survey(engine=engine, token=token)
    answers = full_answers(form)
    del answers["respect.physicians"]
    answers["enps"] = None
    with pytest.raises(InvalidSubmission) as refused:
        submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
    missing = [(m.step_number, m.step_title, m.question_number) for m in refused.value.missing]
    assert missing == [(2, "In your work with physicians", 14), (7, "Overall", 38)]
    assert refused.value.missing[0].question_text == "I feel respected by physicians."
    assert not refused.value.comment_too_long
    assert not is_used(engine, token)
    assert count(engine, Response) == 0


@backends()
def test_a_comment_over_the_limit_is_refused_and_one_at_the_limit_is_kept(
    engine: Engine, survey: dict
) -> None:
    first, second = tokens(engine, survey, count=2)
    form = load_survey(engine=engine, token=first)
    limit = form.comment_max_length
    assert limit == 1000
    with pytest.raises(InvalidSubmission) as refused:
        submit_survey(
            engine=engine, token=first, submission_key="k", answers=full_answers(form),
            comment="x" * (limit + 1),
        )  # fmt: skip
    assert refused.value.comment_too_long
    assert (refused.value.comment_length, refused.value.comment_limit) == (limit + 1, limit)
    assert refused.value.missing == ()
    assert count(engine, Response) == 0
    submit_survey(
        engine=engine, token=second, submission_key="k2", answers=full_answers(form),
        comment="y" * limit,
    )  # fmt: skip
    with read_session(engine) as session:
        assert session.scalars(select(Comment.text)).one() == "y" * limit


@backends()
def test_a_comment_is_stored_as_typed_but_without_control_characters(
    engine: Engine, survey: dict
) -> None:
    (token,) = tokens(engine, survey)
    form = load_survey(engine=engine, token=token)
    typed = "**Not bold** <script>alert(1)</script>\r\nSecond line\x00\x07 # not a heading"
    submit_survey(
        engine=engine, token=token, submission_key="k", answers=full_answers(form), comment=typed
    )
    with read_session(engine) as session:
        assert session.scalars(select(Comment.text)).one() == (
            "**Not bold** <script>alert(1)</script>\nSecond line # not a heading"
        )


@backends()
def test_a_submitted_comment_is_stored_without_names_emails_or_phone_numbers(
    engine: Engine, survey: dict
) -> None:
    # The submit path writes in the driver's own SQL, past the ORM column type that scrubs.
    (token,) = tokens(engine, survey)
    form = load_survey(engine=engine, token=token)
    typed = "Ask Dr Patel (p.patel@example.org, 07700 900123) about nights."
    submit_survey(
        engine=engine, token=token, submission_key="k", answers=full_answers(form), comment=typed
    )
    with read_session(engine) as session:
        stored = session.scalars(select(Comment.text)).one()
    assert stored == "Ask Dr [name] ([email], [phone]) about nights."


@backends()
@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("respect.nursing", 6),
        ("respect.nursing", 0),
        ("respect.nursing", True),
        ("respect.nursing", "4"),
        ("enps", 11),
        ("enps", NOT_APPLICABLE),  # the 0-10 question offers no "does not apply"
        ("overall_rating", NOT_APPLICABLE),
        ("no_such_question", 3),
    ],
)
def test_an_answer_the_form_did_not_offer_is_refused(
    engine: Engine, survey: dict, code: str, value: object
) -> None:
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    answers[code] = value
    with pytest.raises(InvalidAnswer):
        submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
    assert not is_used(engine, token)
    assert count(engine, Response) == 0


@backends()
def test_an_open_link_asks_where_and_can_be_used_again(engine: Engine, survey: dict) -> None:
    with write_session(engine) as session:
        token = create_open_link(session=session, cycle_id=survey["cycles"]["2026 Q4"])
    form = load_survey(engine=engine, token=token)
    assert form.is_open_link
    assert (form.department, form.staff_group) == (None, None)
    assert [choice.name for choice in form.departments] == ["Emergency", "ICU"]  # not archived
    assert [choice.name for choice in form.staff_groups][:2] == ["Nursing", "Physicians"]
    answers = full_answers(form)
    with pytest.raises(InvalidSubmission) as refused:
        submit_survey(engine=engine, token=token, submission_key="a", answers=answers)
    assert refused.value.workplace_problem == "Choose the department you work in."
    icu, physicians = survey["departments"]["ICU"], survey["groups"]["physicians"]
    with pytest.raises(InvalidSubmission):  # an archived department is not offered
        submit_survey(
            engine=engine, token=token, submission_key="a", answers=answers,
            department_id=survey["departments"]["Old ward"], staff_group_id=physicians,
        )  # fmt: skip
    for key in ("a", "b", "b"):
        submit_survey(
            engine=engine, token=token, submission_key=key, answers=answers,
            department_id=icu, staff_group_id=physicians,
        )  # fmt: skip
    with read_session(engine) as session:
        cells = session.execute(
            select(Response.department_id, Response.staff_group_id, func.count()).group_by(
                Response.department_id, Response.staff_group_id
            )
        ).all()
        assert not session.scalars(select(used_clause()).select_from(Invitation)).one()
    assert cells == [(icu, physicians, 2)]  # "b" twice is one form sent twice


@backends()
def test_a_failed_write_keeps_nothing_and_sending_again_works(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    real_write_increments = rollups.write_increments

    def failing_write_increments(*args: object) -> None:
        raise OperationalError("UPDATE cell_rollup", {}, Exception("disk I/O error"))

    # The rollups are written last of the response's rows: the response and answers are in.
    monkeypatch.setattr(rollups, "write_increments", failing_write_increments)
    with pytest.raises(SubmissionFailed, match="press Submit again"):
        submit_survey(
            engine=engine, token=token, submission_key="k", answers=answers, comment="Kept?"
        )
    assert not is_used(engine, token)
    for table in (Response, Answer, Comment, CellRollup, SubmissionReceipt):
        assert count(engine, table) == 0, table.__name__
    monkeypatch.setattr(rollups, "write_increments", real_write_increments)
    assert (
        submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
        is SubmitOutcome.stored
    )
    assert count(engine, Response) == 1


def run_at_once(jobs: list) -> list:  # type: ignore[type-arg]
    """Run every job in its own thread, all released together; returns results or errors."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except Exception as error:  # noqa: BLE001 - the test inspects what each got
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@backends()
def test_one_token_sent_from_many_browsers_at_once_gives_exactly_one_response(
    engine: Engine, survey: dict
) -> None:
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    results = run_at_once(
        [
            lambda key=f"browser-{n}": submit_survey(
                engine=engine, token=token, submission_key=key, answers=answers
            )
            for n in range(SAME_TOKEN_THREADS)
        ]
    )
    assert results.count(SubmitOutcome.stored) == 1
    refused = [result for result in results if result is not SubmitOutcome.stored]
    assert all(
        isinstance(result, SurveyUnavailable) and result.reason is Unavailable.used
        for result in refused
    ), refused
    assert count(engine, Response) == 1
    assert count(engine, SubmissionReceipt) == 1
    with read_session(engine) as session:
        assert session.scalars(select(CellRollup.responses)).one() == 1


@backends()
def test_one_form_sent_many_times_at_once_is_stored_once(engine: Engine, survey: dict) -> None:
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    results = run_at_once(
        [
            lambda: submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
            for _ in range(8)
        ]
    )
    assert results.count(SubmitOutcome.stored) == 1
    assert results.count(SubmitOutcome.already_received) == 7
    assert count(engine, Response) == 1


@backends()
def test_many_writers_with_their_own_tokens_lose_nothing(engine: Engine, survey: dict) -> None:
    links = tokens(engine, survey, count=WRITERS // 2) + tokens(
        engine, survey, count=WRITERS // 2, department="ICU", group="physicians"
    )
    answers = full_answers(load_survey(engine=engine, token=links[0]))
    results = run_at_once(
        [
            lambda token=token: submit_survey(
                engine=engine,
                token=token,
                submission_key=token,
                answers=answers,
                comment="Busy shift.",
            )  # fmt: skip
            for token in links
        ]
    )
    assert results == [SubmitOutcome.stored] * WRITERS
    assert count(engine, Response) == WRITERS
    assert count(engine, Answer) == WRITERS * 38
    with read_session(engine) as session:
        cells = session.execute(select(CellRollup.responses, CellRollup.comments)).all()
        assert sorted(cells) == [(WRITERS // 2, WRITERS // 2)] * 2
        assert all(session.scalars(select(used_clause()).select_from(Invitation)))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_forms_waiting_for_sqlite_are_committed_together_and_a_refused_one_alone_rolls_back(
    engine: Engine, survey: dict
) -> None:
    """Group commit: the writer whose turn it is stores the forms queued behind it in one
    transaction, each in a savepoint; a refused form takes nothing of the others with it."""
    first, refused, second = tokens(engine, survey, 3)
    answers = full_answers(load_survey(engine=engine, token=first))
    line = storage._writer_lines[storage.url_key(engine)]
    commits: list[object] = []
    event.listen(engine, "commit", lambda _connection: commits.append(None))
    outcomes: dict[str, object] = {}

    def send(token: str, sent: dict) -> None:
        try:
            outcomes[token] = submit_survey(
                engine=engine, token=token, submission_key=token, answers=sent
            )
        except Exception as error:  # the refused one's, checked below
            outcomes[token] = error

    wrong = {**answers, next(iter(answers)): 99}
    senders = [
        threading.Thread(target=send, args=(token, sent))
        for token, sent in ((first, answers), (refused, wrong), (second, answers))
    ]
    with write_session(engine):  # holds the turn until all three wait behind it
        for sender in senders:
            sender.start()
            deadline = time.monotonic() + 10
            while len(line._waiting) < senders.index(sender) + 1:
                assert time.monotonic() < deadline, "a sender never reached the line"
                time.sleep(0.01)
    for sender in senders:
        sender.join(timeout=30)
    assert outcomes[first] is SubmitOutcome.stored
    assert outcomes[second] is SubmitOutcome.stored
    assert isinstance(outcomes[refused], InvalidAnswer)
    assert len(commits) == 2  # the held turn's, then one for all three forms
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 2
        used = session.scalars(select(Invitation.token_hash).where(used_clause())).all()
    assert set(used) == {hash_token(first), hash_token(second)}
