"""Hostile survey submissions: stored exactly as the rules say, or refused with a message and
nothing written."""

from __future__ import annotations

import math
import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from surveys.invitations.links import create_open_link
from surveys.models import CycleState, Item, Response
from surveys.organisation.cycles import add_cycle
from surveys.storage import read_session, write_session
from surveys.survey.form import (
    NOT_APPLICABLE,
    SurveyForm,
    SurveyUnavailable,
    Unavailable,
    load_survey,
)
from surveys.survey.submit import (
    InvalidAnswer,
    InvalidSubmission,
    SubmitOutcome,
    clean_comment,
    submit_survey,
)
from surveys.text import scrub_personal_details
from tests.support.backends import backends
from tests.support.hostile import (
    BAD_LIKERT,
    HOSTILE_TEXTS,
    INJECTION,
    MARKUP,
    ONE_MEGABYTE,
    changed_tables,
    database_dump,
    hostile_answer,
    hostile_text,
    new_rows,
)
from tests.support.submission import full_answers, tokens

# What one response stored through an open link writes.
RESPONSE_TABLES = {
    "response",
    "answer",
    "comment",
    "cell_rollup",
    "item_rollup",
    "score_rollup",
    "relationship_rollup",
    "submission_receipt",
    # An open cycle's released snapshot, moved in steps (surveys/survey/steps.py).
    "released_cell_rollup",
    "released_item_rollup",
    "released_score_rollup",
    "released_relationship_rollup",
}
# Hypothesis runs every example of a test against the one database its fixture made (making a
# database per example would cost seconds on PostgreSQL). That is sound here because each
# example compares the database before and after itself, so the health check is not needed.
FUZZ = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Tokens that look like nothing, or like a real one bent out of shape.
HOSTILE_TOKENS = {
    **HOSTILE_TEXTS,
    "empty": "",
    "random but well formed": "A" * 32,
    "unpaired surrogate": "\ud800" * 32,
    "too long": "x" * 201,
}


@pytest.fixture
def open_link(engine: Engine, survey: dict) -> str:
    with write_session(engine) as session:
        return create_open_link(session=session, cycle_id=survey["cycles"]["2026 Q4"])


@pytest.fixture
def workplace(survey: dict) -> dict:
    return {
        "department_id": survey["departments"]["Emergency"],
        "staff_group_id": survey["groups"]["nursing"],
    }


def submit(engine: Engine, token: str, key: str, **given: object) -> SubmitOutcome:
    return submit_survey(engine=engine, token=token, submission_key=key, **given)  # type: ignore[arg-type]


def assert_refused_cleanly(error: Exception) -> None:
    """A refusal a person can read: one of the module's own errors, in words."""
    assert isinstance(error, SurveyUnavailable | InvalidSubmission | InvalidAnswer), repr(error)
    message = str(error)
    assert message and "Traceback" not in message and "SQL" not in message
    assert len(message) < 500, "a refusal quotes the bad value, not all of a 1 MB one"


def assert_stored_as_given(before: dict, after: dict, *, comment: str | None) -> None:
    """One response stored through an open link, its comment cleaned (and emails, phone
    numbers and titled names replaced), and nothing else."""
    assert changed_tables(before, after) <= RESPONSE_TABLES
    assert len(new_rows(before, after, "response")) == 1
    cleaned = scrub_personal_details(clean_comment(comment))
    # By id: releasing a batch of comments marks rows that were there before.
    known = {row["id"] for row in before["comment"]}
    comments = [row["text"] for row in after["comment"] if row["id"] not in known]
    assert comments == ([cleaned] if cleaned else [])


def new_answer(engine: Engine, before: dict, after: dict, code: str) -> tuple[bool, object]:
    """Whether the response just stored has an answer to `code`, and its value."""
    (response,) = new_rows(before, after, "response")
    with read_session(engine) as session:
        item_id = session.scalars(
            select(Item.id).where(
                Item.code == code, Item.instrument_id == response["instrument_id"]
            )
        ).one()
    values = [
        row["value"]
        for row in after["answer"]
        if row["response_id"] == response["id"] and row["item_id"] == item_id
    ]
    return bool(values), values[0] if values else None


# --- Comments ----------------------------------------------------------------------------------


@backends()
def test_hostile_comments_are_kept_as_plain_text_or_refused_for_length(
    engine: Engine,
    survey: dict,
    open_link: str,
    workplace: dict,
) -> None:
    answers = full_answers(load_survey(engine=engine, token=open_link))
    before = database_dump(engine)
    for name, comment in HOSTILE_TEXTS.items():
        try:
            submit(engine, open_link, name, answers=answers, comment=comment, **workplace)
        except InvalidSubmission as refused:
            assert name == "one megabyte"
            assert refused.comment_too_long
            assert str(refused) == "the comment is 1048576 characters (limit 1000)"
            assert database_dump(engine) == before
            continue
        after = database_dump(engine)
        assert_stored_as_given(before, after, comment=comment)
        before = after
    with read_session(engine) as session:
        stored = set(session.scalars(select(Response.id)).all())
    assert len(stored) == len(HOSTILE_TEXTS) - 1
    # Markup and injections are kept character for character: they are only ever shown as text.
    texts = {row["text"] for row in database_dump(engine)["comment"]}
    assert set(MARKUP.values()) | set(INJECTION.values()) <= texts
    # Control and invisible characters go; what they surrounded stays.
    assert {"abcdef", "abcd", "ab[31mred"} <= texts


@backends()
@FUZZ
@given(
    comment=st.one_of(
        hostile_text(max_size=200),
        # Around the 1,000-character limit, which control characters do not count towards.
        st.builds(lambda text, length: text + "x" * length, hostile_text(), st.integers(980, 1010)),
    )
)
def test_any_comment_is_kept_without_control_characters_or_refused(
    engine: Engine, open_link: str, workplace: dict, comment: str
) -> None:
    answers = full_answers(load_survey(engine=engine, token=open_link))
    before = database_dump(engine)
    try:
        outcome = submit(
            engine, open_link, uuid.uuid4().hex, answers=answers, comment=comment, **workplace
        )
    except Exception as error:
        event(f"refused: {type(error).__name__}")
        assert_refused_cleanly(error)
        assert isinstance(error, InvalidSubmission) and error.comment_too_long
        assert len(clean_comment(comment)) > 1000
        assert database_dump(engine) == before
        return
    event("stored")
    assert outcome is SubmitOutcome.stored
    assert_stored_as_given(before, database_dump(engine), comment=comment)


# --- Answers -----------------------------------------------------------------------------------


@backends()
def test_likert_answers_a_form_never_offers_are_refused_and_nothing_is_written(
    engine: Engine,
    survey: dict,
) -> None:
    cases = {**BAD_LIKERT, "none (unanswered)": None}
    links = tokens(engine, survey, count=len(cases) + 3)
    form = load_survey(engine=engine, token=links[0])
    before = database_dump(engine)
    for (name, value), token in zip(cases.items(), links, strict=False):
        answers = full_answers(form)
        answers["respect.nursing"] = value
        with pytest.raises((InvalidAnswer, InvalidSubmission)) as refused:
            submit(engine, token, name, answers=answers)
        assert_refused_cleanly(refused.value)
        if value is None:  # a required question left unanswered
            assert [missing.question_text for missing in refused.value.missing] == [
                "I feel respected by nursing staff."
            ]
        else:
            assert str(refused.value).startswith("respect.nursing: "), name
        assert database_dump(engine) == before, name
    # The 0-10 question refuses its own outsiders, and "does not apply", which it does not offer.
    for value in (-1, 11, 3.5, math.nan, NOT_APPLICABLE, "10 "):
        answers = full_answers(form)
        answers["enps"] = value
        with pytest.raises(InvalidAnswer, match="^enps: "):
            submit(engine, links[-1], f"enps {value!r}", answers=answers)
        assert database_dump(engine) == before
    answers = full_answers(form) | {
        "<script>": 3,
        "../../etc/passwd": 3,
        "'; --": 3,
        "x" * ONE_MEGABYTE: 3,
        ("a", "tuple"): 3,
    }
    with pytest.raises(InvalidAnswer, match="not a question of this survey"):
        submit(engine, links[-2], "extra questions", answers=answers)
    assert database_dump(engine) == before


@backends()
@FUZZ
@given(
    code=st.sampled_from(["respect.nursing", "accuracy.physicians", "enps", "overall_rating"]),
    # One time in four, something a form does offer (on some of its scales).
    value=st.integers(0, 3).flatmap(
        lambda case: (
            hostile_answer() if case else st.sampled_from([0, 1, 5, 10, 4.0, NOT_APPLICABLE])
        )
    ),
)
def test_any_answer_is_stored_as_offered_or_refused(
    engine: Engine, open_link: str, workplace: dict, code: str, value: object
) -> None:
    form = load_survey(engine=engine, token=open_link)
    (question,) = [question for _, question in form.questions() if question.code == code]
    answers = full_answers(form)
    answers[code] = value
    before = database_dump(engine)
    try:
        submit(engine, open_link, uuid.uuid4().hex, answers=answers, **workplace)
    except Exception as error:
        event(f"refused: {type(error).__name__}")
        assert_refused_cleanly(error)
        assert database_dump(engine) == before
        offered = type(value) in (int, str) and value in question.options()
        assert not offered or (value is None and question.required)
        return
    event("stored")
    after = database_dump(engine)
    assert_stored_as_given(before, after, comment=None)
    answered, stored = new_answer(engine, before, after, code)
    if value is None:  # an optional question left unanswered
        assert not question.required and not answered
    else:
        assert type(value) in (int, str) and value in question.options()  # 3.0 is not 3
        assert answered and stored == (None if value == NOT_APPLICABLE else value)


# --- Links -------------------------------------------------------------------------------------


@backends()
def test_hostile_tokens_open_nothing_and_write_nothing(
    engine: Engine,
    survey: dict,
) -> None:
    (real,) = tokens(engine, survey)
    bent = {
        "real token with a space": real + " ",
        "real token in capitals": real.upper(),
        "real token with a NUL": real + "\x00",
        "real token behind a path": "../../" + real,
        "real token with a quote": real + "'--",
        "real token with a zero-width space": real[:16] + "\u200b" + real[16:],
    }
    before = database_dump(engine)
    for name, token in {**HOSTILE_TOKENS, **bent}.items():
        with pytest.raises(SurveyUnavailable) as refused:
            load_survey(engine=engine, token=token)
        assert refused.value.reason is Unavailable.invalid, name
        assert "not valid" in str(refused.value)
        with pytest.raises(SurveyUnavailable) as refused:
            submit(engine, token, name, answers={})
        assert refused.value.reason is Unavailable.invalid, name
        assert database_dump(engine) == before, name
    assert load_survey(engine=engine, token=real).cycle_name == "2026 Q4"  # still unused


@backends()
@FUZZ
@given(token=hostile_text(max_size=250))
def test_any_token_opens_nothing_and_writes_nothing(
    engine: Engine,
    survey: dict,
    token: str,
) -> None:
    before = database_dump(engine)
    with pytest.raises(SurveyUnavailable) as refused:
        load_survey(engine=engine, token=token)
    assert refused.value.reason is Unavailable.invalid
    with pytest.raises(SurveyUnavailable):
        submit(engine, token, "k", answers={})
    assert database_dump(engine) == before


@backends()
def test_replayed_links_and_links_of_other_cycles_store_nothing(
    engine: Engine,
    survey: dict,
) -> None:
    with write_session(engine) as session:
        survey["cycles"]["2027 Q2"] = add_cycle(
            session=session,
            name="2027 Q2",
            opens=date(2027, 4, 12),
            closes=date(2027, 5, 28),
            state=CycleState.open,
        )
    first, second = tokens(engine, survey, count=2)
    (other_cycle,) = tokens(engine, survey, cycle="2027 Q2")
    (closed,) = tokens(engine, survey, cycle="2026 Q3")
    (draft,) = tokens(engine, survey, cycle="2027 Q1")
    answers = full_answers(load_survey(engine=engine, token=first))
    assert submit(engine, first, "form-1", answers=answers) is SubmitOutcome.stored
    before = database_dump(engine)

    # The used link again, with a new form (another browser) or the same one (a retry).
    with pytest.raises(SurveyUnavailable) as refused:
        submit(engine, first, "form-2", answers=answers)
    assert refused.value.reason is Unavailable.used
    assert "already been used" in str(refused.value)
    assert submit(engine, first, "form-1", answers=answers) is SubmitOutcome.already_received
    # Links of a closed and a draft cycle open nothing, whatever is sent with them.
    for token, reason in ((closed, Unavailable.closed), (draft, Unavailable.not_open_yet)):
        with pytest.raises(SurveyUnavailable) as refused:
            submit(engine, token, "form-3", answers=answers)
        assert refused.value.reason is reason
    # A form already received, replayed with the link of another open cycle, stores nothing
    # and leaves that link unused.
    outcome = submit(engine, other_cycle, "form-1", answers=answers)
    assert outcome is SubmitOutcome.already_received
    assert database_dump(engine) == before

    # Each cycle's link stores into its own cycle only.
    assert submit(engine, other_cycle, "form-4", answers=answers) is SubmitOutcome.stored
    assert submit(engine, second, "form-5", answers=answers) is SubmitOutcome.stored
    with read_session(engine) as session:
        cycles = sorted(session.scalars(select(Response.cycle_id)).all())
    assert cycles == sorted([survey["cycles"]["2026 Q4"]] * 2 + [survey["cycles"]["2027 Q2"]])


# --- Where an open link's respondent works ----------------------------------------------------


@backends()
def test_hostile_workplaces_on_an_open_link_are_refused(
    engine: Engine,
    survey: dict,
    open_link: str,
) -> None:
    emergency, nursing = survey["departments"]["Emergency"], survey["groups"]["nursing"]
    answers = full_answers(load_survey(engine=engine, token=open_link))
    hostile_ids = [
        None,
        True,
        False,
        float(emergency),
        str(emergency),
        f"{emergency} ",
        [emergency],
        0,
        -1,
        10**30,
        math.nan,
        survey["departments"]["Old ward"],  # archived: not offered
        "'; DROP TABLE response; --",
        "../../etc/passwd",
    ]
    before = database_dump(engine)
    for hostile in hostile_ids:
        for department_id, staff_group_id, words in (
            (hostile, nursing, "Choose the department you work in."),
            (emergency, hostile, "Choose your staff group."),
        ):
            if staff_group_id is hostile and hostile == survey["departments"]["Old ward"]:
                continue  # an id that happens to be a staff group's too
            with pytest.raises(InvalidSubmission) as refused:
                submit(
                    engine, open_link, repr(hostile), answers=answers,
                    department_id=department_id, staff_group_id=staff_group_id,
                )  # fmt: skip
            assert refused.value.workplace_problem == words, repr(hostile)
            assert database_dump(engine) == before, repr(hostile)


def mostly_near(ids: st.SearchStrategy[int]) -> st.SearchStrategy[object]:
    """Ids near the real ones (departments 1-3, staff groups 1-4) three times in four, so that
    both halves of the rule get tried; otherwise anything but an id."""
    anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
    # one_of would pick each branch equally often: this draws ids in three cases of four.
    return st.integers(0, 3).flatmap(lambda case: ids if case else anything)


@backends()
@FUZZ
@given(
    department_id=mostly_near(st.integers(0, 4)),
    staff_group_id=mostly_near(st.integers(0, 5)),
)
def test_any_workplace_is_one_offered_or_refused(
    engine: Engine,
    survey: dict,
    open_link: str,
    department_id: object,
    staff_group_id: object,
) -> None:
    form: SurveyForm = load_survey(engine=engine, token=open_link)
    offered = (
        type(department_id) is int
        and department_id in {choice.id for choice in form.departments}
        and type(staff_group_id) is int
        and staff_group_id in {choice.id for choice in form.staff_groups}
    )
    before = database_dump(engine)
    try:
        outcome = submit(
            engine, open_link, uuid.uuid4().hex,
            answers=full_answers(form), department_id=department_id,
            staff_group_id=staff_group_id,
        )  # fmt: skip
    except Exception as error:
        event(f"refused: {type(error).__name__}")
        assert_refused_cleanly(error)
        assert isinstance(error, InvalidSubmission) and error.workplace_problem
        assert not offered
        assert database_dump(engine) == before
        return
    event("stored")
    assert offered and outcome is SubmitOutcome.stored
    after = database_dump(engine)
    assert_stored_as_given(before, after, comment=None)
    (response,) = new_rows(before, after, "response")
    assert (response["department_id"], response["staff_group_id"]) == (
        department_id,
        staff_group_id,
    )
