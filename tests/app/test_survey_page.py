"""The survey page through Streamlit's AppTest: every step, and every way a submission fails."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from surveys.config import get_settings
from surveys.instruments import builtin_instrument
from surveys.invitations.links import create_invitations, create_open_link, hash_token
from surveys.invitations.used import used_clause
from surveys.models import Answer, Comment, CycleState, Department, Invitation, Item, Response
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.schedule import set_schedule
from surveys.organisation.structure import (
    add_department,
    add_division,
    staff_groups,
)
from surveys.storage import make_engine, migrate, read_session, write_session
from surveys.survey.form import NOT_APPLICABLE

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
RUN_TIMEOUT_SECONDS = 30
STEP_TITLES = [
    "In your work with nursing staff",
    "In your work with physicians",
    "In your work with allied health professionals",
    "In your work with administrative and support staff",
    "Patients and families",
    "Your own team",
    "Overall",
]
REVIEW = len(STEP_TITLES) + 1


@pytest.fixture
def engine() -> Iterator[Engine]:
    """The database the app reads (DATABASE_URL: a fresh SQLite file), with Emergency, ICU,
    an archived ward and three cycles: open, closed and not yet open."""
    created = make_engine(get_settings().database_url)
    migrate(created)
    with write_session(created) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        for name in ("Emergency", "ICU", "Old ward"):
            add_department(session=session, name=name, division_id=division_id)
        session.scalars(
            select(Department).where(Department.name == "Old ward")
        ).one().archived = True
        for name, opens, state in (
            ("2026 Q4", date(2026, 10, 12), CycleState.open),
            ("2026 Q3", date(2026, 7, 12), CycleState.closed),
            ("2027 Q1", date(2027, 1, 12), CycleState.draft),
        ):
            add_cycle(
                session=session, name=name, opens=opens, closes=date(opens.year, opens.month, 28),
                instrument_id=instrument_id, state=state,
            )  # fmt: skip
    yield created
    created.dispose()


def ids(engine: Engine) -> dict[str, int]:
    from surveys.models import SurveyCycle

    with read_session(engine) as session:
        found = {c.name: c.id for c in session.scalars(select(SurveyCycle))}
        found |= {d.name: d.id for d in session.scalars(select(Department))}
        found |= {g.key: g.id for g in staff_groups(session=session)}
    return found


def personal_link(engine: Engine, cycle: str = "2026 Q4") -> str:
    known = ids(engine)
    with write_session(engine) as session:
        return create_invitations(
            session=session, cycle_id=known[cycle], department_id=known["Emergency"],
            staff_group_id=known["nursing"], count=1,
        )[0]  # fmt: skip


def open_link(engine: Engine) -> str:
    with write_session(engine) as session:
        return create_open_link(session=session, cycle_id=ids(engine)["2026 Q4"])


def visit(token: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_SECONDS)
    at.query_params["token"] = token
    at.run()
    assert not at.exception
    return at


def press(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception
    return at


def answer_step(at: AppTest, likert: int | str = 4, nps: int = 9) -> None:
    for radio in at.radio:
        radio.set_value(nps if len(radio.options) == 11 else likert)


def to_review(at: AppTest, *, skip: tuple[str, ...] = (), comment: str | None = None) -> AppTest:
    """From the first question step, answer everything (but `skip`) and go to the review."""
    for step in range(1, REVIEW):
        answer_step(at)
        for code in skip:
            if code in [radio.key.removeprefix("answer:") for radio in at.radio]:
                at.radio(key=f"answer:{code}").set_value(None)
        if comment is not None and step == REVIEW - 1:
            at.text_area(key="survey_comment").input(comment)
        press(at, f"next-{step}")
        if at.header[0].value == STEP_TITLES[step - 1]:  # Next named what is unanswered
            press(at, f"continue-{step}")
    return at


def texts(at: AppTest) -> str:
    return "\n".join(
        element.value
        for kind in (at.markdown, at.error, at.warning, at.success, at.info, at.text, at.header)
        for element in kind
    )


def counts(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        return {
            table.__name__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Response, Answer, Comment)
        }


def token_used(engine: Engine, token: str) -> bool:
    with read_session(engine) as session:
        return session.scalars(
            select(used_clause()).where(Invitation.token_hash == hash_token(token))
        ).one()


def test_the_first_page_shows_the_link_s_workplace_and_what_is_kept(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "7")
    get_settings.cache_clear()
    at = visit(personal_link(engine))
    assert at.title[0].value == "Relationship health"
    shown = texts(at)
    assert "**Survey:** 2026 Q4" in shown
    assert "**Department:** Emergency" in shown
    assert "**Staff group:** Nursing" in shown
    assert "cannot be changed" in shown
    assert "What we store" in shown and "What we never store" in shown
    assert "your IP address, device or browser" in shown
    assert "which link you used" in shown
    assert "at least 7 people" in shown
    assert "38 questions on 7 short pages" in shown
    assert not at.selectbox and not at.text_input and not at.radio  # nothing to edit here
    assert [button.label for button in at.button] == ["Start the survey"]


def test_each_step_asks_one_group_of_questions_with_nothing_chosen(engine: Engine) -> None:
    at = press(visit(personal_link(engine)), "start")
    for step, title in enumerate(STEP_TITLES, start=1):
        assert at.header[0].value == title
        assert at.get("progress")[0].proto.text == f"Step {step} of {REVIEW}"
        assert at.radio and all(radio.value is None for radio in at.radio)
        first = at.radio[0]
        if step <= 4:
            assert len(at.radio) == 7
            assert first.options == [
                "Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree",
                "Strongly agree", "Does not apply",
            ]  # fmt: skip
        if title == "Overall":
            rating, recommend = at.radio
            assert rating.options == ["Very poor", "Poor", "Fair", "Good", "Excellent"]
            assert recommend.options == [str(value) for value in range(11)]
            assert recommend.proto.horizontal
            assert "0 = Not at all likely, 10 = Extremely likely" in recommend.label
            comment = at.text_area(key="survey_comment")
            assert comment.proto.max_chars == 0  # the browser would drop a longer paste
            assert "Up to 1,000 characters." in texts(at)
            assert comment.value == ""
        else:
            assert not at.text_area
        press(at, f"next-{step}")
        # Nothing answered: Next stays, names every question by its number, and lets go on.
        assert at.header[0].value == title
        numbers = [radio.label.split(".")[0].strip("*") for radio in at.radio]
        listed = f"{', '.join(numbers[:-1])} and {numbers[-1]}"
        assert f"**Not answered yet: questions {listed}.**" in at.warning[0].value
        press(at, f"continue-{step}")
    assert at.header[0].value == "Check your answers"


def test_back_and_next_keep_every_answer(engine: Engine) -> None:
    at = press(visit(personal_link(engine)), "start")
    at.radio(key="answer:frequency.nursing").set_value(2)
    at.radio(key="answer:accuracy.nursing").set_value(NOT_APPLICABLE)
    press(press(at, "next-1"), "continue-1")
    at.radio(key="answer:respect.physicians").set_value(5)
    press(at, "back-2")
    assert at.header[0].value == STEP_TITLES[0]
    assert at.radio(key="answer:frequency.nursing").value == 2
    assert at.radio(key="answer:accuracy.nursing").value == NOT_APPLICABLE
    assert at.radio(key="answer:timeliness.nursing").value is None
    press(at, "back-1")
    assert at.title[0].value == "Relationship health"
    press(at, "start")
    press(press(at, "next-1"), "continue-1")
    assert at.radio(key="answer:respect.physicians").value == 5


def test_a_completed_survey_is_stored_and_thanked_for(engine: Engine) -> None:
    token = personal_link(engine)
    at = press(visit(token), "start")
    to_review(at, comment="Handover works well.")
    assert at.header[0].value == "Check your answers"
    summaries = [expander.label for expander in at.expander]
    assert summaries[0] == "Step 1 · In your work with nursing staff · 7 of 7 answered"
    assert summaries[-1] == "Step 7 · Overall · 2 of 2 answered"
    assert [text.value for text in at.text] == ["Handover works well."]
    press(at, "submit")
    assert at.title[0].value == "Thank you"
    assert "saved anonymously" in at.success[0].value
    assert not at.radio and not at.button
    # Nothing of the answers is left in the session once they are stored.
    for key in ("answer:frequency.nursing", "answer:enps", "survey_comment", "survey_form"):
        assert key not in at.session_state
    assert counts(engine) == {"Response": 1, "Answer": 38, "Comment": 1}
    assert token_used(engine, token)
    with read_session(engine) as session:
        stored = dict(session.execute(select(Item.code, Answer.value).join(Item)).all())
    assert stored["frequency.nursing"] == 4 and stored["enps"] == 9


def test_unanswered_questions_are_listed_and_every_answer_kept(engine: Engine) -> None:
    token = personal_link(engine)
    at = press(visit(token), "start")
    to_review(at, skip=("blame.physicians", "listening"))
    assert "Step 2 · In your work with physicians · 6 of 7 answered" in [
        expander.label for expander in at.expander
    ]
    press(at, "submit")
    (error,) = at.error
    assert "Please answer these questions before you submit" in error.value
    assert "**Step 2, In your work with physicians**" in error.value
    assert "question 11: When something goes wrong, physicians tend to blame others." in error.value
    assert "**Step 5, Patients and families**" in error.value
    assert "question 29: We listen carefully to what patients tell us." in error.value
    assert at.header[0].value == "Check your answers"
    assert counts(engine)["Response"] == 0
    assert not token_used(engine, token)
    press(at, "change-2")
    assert at.header[0].value == STEP_TITLES[1]
    assert at.radio(key="answer:respect.physicians").value == 4  # kept
    at.radio(key="answer:blame.physicians").set_value(1)
    for step in range(2, REVIEW):
        if step == 5:
            at.radio(key="answer:listening").set_value(5)
        press(at, f"next-{step}")
    press(at, "submit")
    assert at.title[0].value == "Thank you"
    assert counts(engine)["Response"] == 1


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("not-a-real-token", "This survey link is not valid"),
        ("", "This survey link is not valid"),
        ("closed", "The survey '2026 Q3' has closed"),
        # No schedule: nothing opens it on a date, so no date is promised.
        ("draft", "'2027 Q1' has not opened yet. Please use this link again once you hear"),
        # On a schedule the job runner opens it on its date, which the link can promise.
        ("scheduled", "'2027 Q1' has not opened yet. It opens on Tuesday 12 January 2027"),
        ("used", "This survey link has already been used"),
    ],
)
def test_a_link_that_cannot_be_used_explains_why_and_shows_no_form(
    engine: Engine, link: str, message: str
) -> None:
    token = {
        "closed": lambda: personal_link(engine, "2026 Q3"),
        "draft": lambda: personal_link(engine, "2027 Q1"),
        "scheduled": lambda: personal_link(engine, "2027 Q1"),
        "used": lambda: personal_link(engine),
    }.get(link, lambda: link)()
    if link == "scheduled":
        set_schedule(engine=engine, cycle_id=ids(engine)["2027 Q1"], actor="test")
    if link == "used":
        press(to_review(press(visit(token), "start")), "submit")
    at = visit(token)
    assert at.title[0].value == "Staff survey"
    (error,) = at.error
    assert message in error.value
    assert not at.radio and not at.button and not at.text_area


def test_a_link_used_elsewhere_meanwhile_is_refused_at_submit(engine: Engine) -> None:
    token = personal_link(engine)
    first = to_review(press(visit(token), "start"))
    # The same link in a second tab opens where the first left off: its kept draft.
    second = visit(token)
    assert second.header[0].value == "Check your answers"
    press(first, "submit")
    press(second, "submit")
    assert "already been used" in second.error[0].value
    assert not second.radio and not second.button
    assert counts(engine)["Response"] == 1


def test_a_comment_over_the_limit_is_refused_and_kept(engine: Engine) -> None:
    token = personal_link(engine)
    at = to_review(press(visit(token), "start"))
    # The box stops typing at the limit; a longer text can still arrive, e.g. from an old form.
    too_long = ("Rota problems. " * 70).strip()
    at.session_state["survey_comment"] = too_long
    at.run()
    press(at, "submit")
    (error,) = at.error
    over = len(too_long) - 1000
    assert f"Your comment is {len(too_long):,} characters: {over} over the limit of 1,000" in (
        error.value
    )
    assert "Please answer" not in error.value
    assert at.session_state["survey_comment"] == too_long
    assert at.text[0].value == too_long
    assert counts(engine)["Response"] == 0
    press(at, "back-review")
    assert at.text_area(key="survey_comment").value.startswith("Rota problems.")
    at.text_area(key="survey_comment").input("Rota problems.")
    press(at, f"next-{REVIEW - 1}")
    press(at, "submit")
    assert at.title[0].value == "Thank you"


def test_the_comment_is_shown_back_as_plain_text(engine: Engine) -> None:
    typed = "**bold?** <b>html?</b>\n# heading? [link](http://example.org)"
    at = to_review(press(visit(personal_link(engine)), "start"), comment=typed)
    assert [text.value for text in at.text] == [typed]
    assert not any("html?" in markdown.value for markdown in at.markdown)
    assert not at.get("html") or all("html?" not in html.proto.body for html in at.get("html"))


def test_a_database_failure_keeps_the_answers_and_submit_works_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_SQLITE_BUSY_TIMEOUT_MS", "0")  # fail at once, not after 15 s
    get_settings.cache_clear()
    token = personal_link(engine)
    at = to_review(press(visit(token), "start"), comment="Still here?")
    blocker = sqlite3.connect(engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        press(at, "submit")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    (error,) = at.error
    assert "could not be saved" in error.value and "press Submit again" in error.value
    assert at.header[0].value == "Check your answers"
    assert at.session_state["answer:frequency.nursing"] == 4
    assert at.text[0].value == "Still here?"
    assert counts(engine)["Response"] == 0 and not token_used(engine, token)
    press(at, "submit")
    assert at.title[0].value == "Thank you"
    assert counts(engine) == {"Response": 1, "Answer": 38, "Comment": 1}


def test_an_open_link_asks_where_you_work_first(engine: Engine) -> None:
    token = open_link(engine)
    at = visit(token)
    department, group = at.selectbox
    assert department.label == "Your department" and department.value is None
    assert department.options == ["Emergency", "ICU"]  # archived departments are not offered
    assert group.options[:3] == ["Nursing", "Physicians", "Allied health"]
    assert len(group.options) == 4
    press(at, "start")
    assert "Choose your department and your staff group" in at.error[0].value
    assert at.title[0].value == "Relationship health"
    known = ids(engine)
    at.selectbox(key="survey_department").set_value(known["ICU"])
    at.selectbox(key="survey_group").set_value(known["physicians"])
    press(at, "start")
    assert at.header[0].value == STEP_TITLES[0]
    assert "2026 Q4 · ICU · Physicians" in texts(at)
    press(to_review(at), "submit")
    assert at.title[0].value == "Thank you"
    with read_session(engine) as session:
        response = session.scalars(select(Response)).one()
    assert (response.department_id, response.staff_group_id) == (known["ICU"], known["physicians"])
    again = visit(token)  # an open link keeps working for the next person
    assert again.title[0].value == "Relationship health" and len(again.selectbox) == 2


def test_next_keeps_a_comment_over_the_limit_until_it_is_shortened(engine: Engine) -> None:
    at = press(visit(personal_link(engine)), "start")
    for step in range(1, REVIEW - 1):
        press(press(at, f"next-{step}"), f"continue-{step}")
    answer_step(at)
    too_long = "Short staffed at night. " * 50  # 1,200 characters, 1,199 once trimmed
    at.text_area(key="survey_comment").input(too_long)
    press(at, f"next-{REVIEW - 1}")
    assert at.header[0].value == STEP_TITLES[-1]
    (error,) = at.error
    assert "Your comment is 1,199 characters: 199 over the limit of 1,000." in error.value
    assert not at.warning  # every question of this step is answered
    assert at.text_area(key="survey_comment").value == too_long
    press(at, f"next-{REVIEW - 1}")  # pressing again does not let it through
    assert at.header[0].value == STEP_TITLES[-1]
    at.text_area(key="survey_comment").input(too_long[:1000])
    press(at, f"next-{REVIEW - 1}")
    assert at.header[0].value == "Check your answers"
    assert [text.value for text in at.text] == [too_long[:1000]]
    assert counts(engine)["Response"] == 0


def test_names_emails_and_phones_are_replaced_before_the_comment_is_stored(
    engine: Engine,
) -> None:
    typed = "Dr Smith (jo.smith@trust.nhs.uk, 07700 900123) was great"
    at = to_review(press(visit(personal_link(engine)), "start"), comment=typed)
    press(at, "back-review")
    # Said above the comment box, before anyone writes.
    assert "are replaced with \\[email\\], \\[phone\\] and \\[name\\]" in texts(at)
    press(at, f"next-{REVIEW - 1}")
    press(at, "submit")
    assert at.title[0].value == "Thank you"
    with read_session(engine) as session:
        assert session.scalars(select(Comment.text)).all() == [
            "Dr [name] ([email], [phone]) was great"
        ]


def draft_count(engine: Engine) -> int:
    from tests.support.drafts import draft_count as count

    return count(engine)


def test_a_personal_link_opened_again_finds_its_answers_and_step(engine: Engine) -> None:
    token = personal_link(engine)
    at = visit(token)
    press(at, "start")
    for step in (1, 2, 3):
        answer_step(at, likert=step + 1)
        press(at, f"next-{step}")
    assert draft_count(engine) == 1

    again = visit(token)  # a reload, a new tab, another replica: a new session
    assert again.header[0].value == STEP_TITLES[3]
    assert [info.value for info in again.info] == ["Your earlier answers are back."]
    for step in (3, 2, 1):
        press(again, f"back-{step + 1}")
        assert {radio.value for radio in again.radio} == {step + 1}
    press(again, "next-1")
    assert not again.info  # said once
    for step in range(2, REVIEW):
        answer_step(again)
        press(again, f"next-{step}")
    press(again, "submit")
    assert again.title[0].value == "Thank you"
    assert counts(engine)["Response"] == 1
    assert draft_count(engine) == 0
    assert "already been used" in texts(visit(token))


def test_an_open_link_puts_a_resume_key_in_the_address(engine: Engine) -> None:
    token = open_link(engine)
    known = ids(engine)
    at = visit(token)
    at.selectbox(key="survey_department").set_value(known["ICU"])
    at.selectbox(key="survey_group").set_value(known["physicians"])
    press(at, "start")
    resume = at.query_params["resume"]
    resume = resume[0] if isinstance(resume, list) else resume
    answer_step(at, likert=2)
    press(at, "next-1")

    fresh = visit(token)  # the open link itself is everyone's: a fresh form
    assert fresh.button(key="start") and not fresh.info

    again = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_SECONDS)
    again.query_params["token"] = token
    again.query_params["resume"] = resume
    again.run()
    assert not again.exception
    assert again.header[0].value == STEP_TITLES[1]
    assert "ICU" in texts(again) + "".join(c.value for c in again.markdown)
    press(again, "back-2")
    assert {radio.value for radio in again.radio} == {2}
    to_review(again)
    press(again, "submit")
    assert again.title[0].value == "Thank you"
    assert "resume" not in again.query_params
    assert draft_count(engine) == 0
    with read_session(engine) as session:
        stored = session.scalars(select(Response)).one()
    assert (stored.department_id, stored.staff_group_id) == (known["ICU"], known["physicians"])


def test_with_drafts_turned_off_nothing_is_kept_before_submit(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_SURVEY_DRAFTS", "false")
    get_settings.cache_clear()
    token = personal_link(engine)
    at = visit(token)
    assert "answers so far" not in texts(at)
    press(at, "start")
    answer_step(at)
    press(at, "next-1")
    assert draft_count(engine) == 0
    assert visit(token).button(key="start")
