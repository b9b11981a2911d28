"""Submitting a survey: the form a token opens, validation, token use, idempotency, storage.

`load_survey` turns a token into the questions to ask; `submit_survey` checks the answers and,
in one write transaction, uses the token, records the form's receipt and stores the response,
its answers, its comment and the rollups. `store_response` is the storage step on its own.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from surveys import rollups
from surveys.config import get_settings
from surveys.instruments import Instrument as InstrumentDefinition
from surveys.instruments import InstrumentError, builtin_instrument, discover_instruments
from surveys.invitations import hash_token
from surveys.models import (
    Answer,
    Comment,
    CycleState,
    Department,
    Instrument,
    Invitation,
    Response,
    StaffGroup,
    SubmissionReceipt,
    SurveyCycle,
)
from surveys.organisation import ItemInfo, instrument_items, list_staff_groups
from surveys.scoring import LIKERT_POINTS, NPS_SCALE
from surveys.storage import new_random_id, read_session, write_session

NPS_MAX = 10
# Real tokens are 32 characters; anything much longer is not worth hashing.
MAX_TOKEN_LENGTH = 200
# The answer for "does not apply"; it is stored as NULL.
NOT_APPLICABLE = "not_applicable"
AnswerValue = int | str


class InvalidAnswer(ValueError):
    """An answer outside its item's scale."""


class Unavailable(StrEnum):
    """Why a link opens no form."""

    invalid = "invalid"
    used = "used"
    closed = "closed"
    not_open_yet = "not_open_yet"
    out_of_service = "out_of_service"


class SurveyUnavailable(Exception):
    """The link cannot be used to answer; the message says why in plain words."""

    def __init__(self, reason: Unavailable, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SubmissionFailed(RuntimeError):
    """The database did not store the answers, or did not confirm that it had; sending the
    same form again is safe either way."""


class SubmitOutcome(StrEnum):
    stored = "stored"
    # The same form was submitted before (double click, retry): nothing more was stored.
    already_received = "already_received"


@dataclass(frozen=True)
class Question:
    code: str
    number: int
    text: str
    # Values in display order and their labels; "does not apply" is offered when it is set.
    values: tuple[int, ...]
    labels: tuple[str, ...]
    not_applicable: str | None
    required: bool
    # A 0-10 scale reads best as one row of numbers.
    horizontal: bool

    def label_for(self, value: AnswerValue) -> str:
        if value == NOT_APPLICABLE:
            return self.not_applicable or "Does not apply"
        return self.labels[self.values.index(int(value))]

    def options(self) -> tuple[AnswerValue, ...]:
        return self.values + ((NOT_APPLICABLE,) if self.not_applicable else ())


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    intro: str
    questions: tuple[Question, ...]
    has_comment: bool


@dataclass(frozen=True)
class Choice:
    id: int
    name: str


@dataclass(frozen=True)
class SurveyForm:
    """Everything the survey page shows for one link, as plain data."""

    cycle_name: str
    title: str
    intro: str
    is_open_link: bool
    # Fixed by a personal link; None for an open link, where the respondent chooses.
    department: str | None
    staff_group: str | None
    departments: tuple[Choice, ...]
    staff_groups: tuple[Choice, ...]
    steps: tuple[Step, ...]
    comment_prompt: str
    comment_help: str
    comment_max_length: int
    min_group_size: int
    min_comment_group_size: int

    def questions(self) -> list[tuple[Step, Question]]:
        return [(step, question) for step in self.steps for question in step.questions]


@dataclass(frozen=True)
class MissingAnswer:
    step_number: int
    step_title: str
    question_number: int
    question_text: str


class InvalidSubmission(ValueError):
    """What stops a form from being stored: unanswered questions, a comment over the limit,
    or (for an open link) no department or staff group chosen."""

    def __init__(
        self,
        *,
        missing: Sequence[MissingAnswer] = (),
        comment_length: int | None = None,
        comment_limit: int | None = None,
        workplace_problem: str | None = None,
    ) -> None:
        self.missing = tuple(missing)
        self.comment_length = comment_length
        self.comment_limit = comment_limit
        self.workplace_problem = workplace_problem
        problems = []
        if workplace_problem:
            problems.append(workplace_problem)
        if self.missing:
            problems.append(f"{len(self.missing)} required questions are unanswered")
        if comment_length is not None:
            problems.append(f"the comment is {comment_length} characters (limit {comment_limit})")
        super().__init__("; ".join(problems))

    @property
    def comment_too_long(self) -> bool:
        return self.comment_length is not None


def _shown(value: object, limit: int = 40) -> str:
    """A refused value as a message may quote it: short, and with control characters escaped."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_value(item: ItemInfo, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswer(f"{item.code}: answer must be a whole number, not {_shown(value)}")
    low, high = (0, NPS_MAX) if item.scale == NPS_SCALE else (1, LIKERT_POINTS)
    if not low <= value <= high:
        raise InvalidAnswer(f"{item.code}: answer {value} is outside {low}-{high}")


def store_response(
    *,
    session: Session,
    cycle_id: int,
    department_id: int,
    staff_group_id: int,
    instrument_id: int,
    answers: Mapping[ItemInfo, int | None],
    comment: str | None,
) -> None:
    """Write one response inside the caller's transaction; nothing is kept if anything fails."""
    for item, value in answers.items():
        check_value(item, value)
    response_id = new_random_id()
    session.add(
        Response(
            id=response_id,
            cycle_id=cycle_id,
            department_id=department_id,
            staff_group_id=staff_group_id,
            instrument_id=instrument_id,
        )
    )
    session.flush()
    if answers:
        session.execute(
            insert(Answer),
            [
                {"response_id": response_id, "item_id": item.id, "value": value}
                for item, value in answers.items()
            ],
        )
    comment = (comment or "").strip()
    if comment:
        session.add(
            Comment(
                id=new_random_id(),
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=staff_group_id,
                text=comment,
            )
        )
    rollups.add_response(
        session=session,
        cycle_id=cycle_id,
        department_id=department_id,
        staff_group_id=staff_group_id,
        answers=answers,
        has_comment=bool(comment),
    )
    session.flush()


# --- The form a link opens ----------------------------------------------------------------------

_INVALID_MESSAGE = (
    "This survey link is not valid. Please check that you opened the whole link, "
    "or ask whoever sent it to you for a new one."
)
_USED_MESSAGE = (
    "This survey link has already been used. Each link can be used once, so that every "
    "answer counts only once. If you did not use it, ask whoever sent it to you for a new one."
)
_OUT_OF_SERVICE_MESSAGE = (
    "The survey cannot be reached right now. Nothing has been saved. Please try again later."
)


@functools.lru_cache(maxsize=4)
def _definitions(extra_dir: Path | None) -> dict[tuple[str, int], InstrumentDefinition]:
    try:
        return discover_instruments(extra_dir)
    except InstrumentError:
        # One broken file of the organisation's must not stop every survey using the built-in.
        builtin = builtin_instrument()
        return {(builtin.key, builtin.version): builtin}


@dataclass(frozen=True)
class _Context:
    """The rows behind a link, read in one session."""

    invitation: Invitation
    cycle: SurveyCycle
    form: SurveyForm
    instrument_id: int


def _unavailable_for_cycle(cycle: SurveyCycle) -> SurveyUnavailable | None:
    if cycle.state == CycleState.open:
        return None
    if cycle.state == CycleState.closed:
        return SurveyUnavailable(
            Unavailable.closed,
            f"The survey {cycle.name!r} has closed, so it can no longer be answered. "
            "Thank you for your interest.",
        )
    opens = f"{cycle.opens.day} {cycle.opens:%B %Y}" if isinstance(cycle.opens, date) else ""
    return SurveyUnavailable(
        Unavailable.not_open_yet,
        f"The survey {cycle.name!r} has not opened yet. Please use this link again from {opens}.",
    )


def _build_steps(
    definition: InstrumentDefinition, groups: Sequence[tuple[str, str]], stored: set[str]
) -> tuple[Step, ...]:
    """One step per staff group for the per-group section, then one per other section; the
    comment goes with the last step. Only questions stored for the instrument are asked."""
    items = [item for item in definition.items(groups) if item.code in stored]
    plural = dict(groups)
    steps: list[Step] = []
    number = 0
    for section in definition.sections:
        targets: Sequence[str | None] = list(plural) if section.per_group else [None]
        for target in targets:
            chosen = [
                item for item in items if item.section == section.key and item.about_group == target
            ]
            if not chosen:
                continue
            questions = []
            for item in chosen:
                number += 1
                scale = definition.scales[item.scale]
                questions.append(
                    Question(
                        code=item.code,
                        number=number,
                        text=item.text,
                        values=scale.values,
                        labels=scale.labels,
                        not_applicable=scale.not_applicable,
                        required=item.required,
                        horizontal=item.scale == NPS_SCALE,
                    )
                )
            title = section.title_for(plural[target]) if target else section.title
            intro = section.intro_for(plural[target]) if target else section.intro
            steps.append(Step(len(steps) + 1, title, intro, tuple(questions), False))
    if steps:
        last = steps[-1]
        steps[-1] = Step(last.number, last.title, last.intro, last.questions, True)
    return tuple(steps)


def _invitation_for(session: Session, token: str) -> Invitation:
    invitation = None
    if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii():
        invitation = session.scalars(
            select(Invitation).where(Invitation.token_hash == hash_token(token))
        ).first()
    if invitation is None:
        raise SurveyUnavailable(Unavailable.invalid, _INVALID_MESSAGE)
    return invitation


def _read_context(session: Session, invitation: Invitation) -> _Context:
    """The cycle and form `invitation` opens, or SurveyUnavailable saying why there is none."""
    cycle = session.get(SurveyCycle, invitation.cycle_id)
    assert cycle is not None  # a foreign key guarantees it
    problem = _unavailable_for_cycle(cycle)
    if problem is not None:
        raise problem
    if invitation.used and not invitation.is_open:
        raise SurveyUnavailable(Unavailable.used, _USED_MESSAGE)

    stored_instrument = session.get(Instrument, cycle.instrument_id)
    assert stored_instrument is not None
    definition = _definitions(get_settings().instrument_dir).get(
        (stored_instrument.key, stored_instrument.version)
    )
    if definition is None or definition.checksum != stored_instrument.checksum:
        # The questions on file are not the ones answers are stored against.
        raise SurveyUnavailable(
            Unavailable.out_of_service,
            "This survey is not set up correctly, so it cannot be answered yet. "
            "Please tell whoever sent you the link.",
        )
    groups = list_staff_groups(session=session)
    stored_codes = set(instrument_items(session=session, instrument_id=stored_instrument.id or 0))
    steps = _build_steps(definition, [(group.key, group.plural) for group in groups], stored_codes)

    departments = tuple(
        Choice(department.id, department.name)
        for department in session.scalars(
            select(Department)
            .where(Department.archived == False)  # noqa: E712 - SQL expression
            .order_by(Department.name)
        )
        if department.id is not None
    )
    department_name = group_name = None
    if not invitation.is_open:
        department = session.get(Department, invitation.department_id)
        group = session.get(StaffGroup, invitation.staff_group_id)
        assert department is not None and group is not None
        department_name, group_name = department.name, group.name
    settings = get_settings()
    form = SurveyForm(
        cycle_name=cycle.name,
        title=definition.title,
        intro=definition.intro,
        is_open_link=invitation.is_open,
        department=department_name,
        staff_group=group_name,
        departments=departments if invitation.is_open else (),
        staff_groups=tuple(Choice(group.id, group.name) for group in groups)
        if invitation.is_open
        else (),
        steps=steps,
        comment_prompt=definition.comment_prompt,
        comment_help=definition.comment_help,
        comment_max_length=definition.comment_max_length,
        min_group_size=settings.min_group_size,
        min_comment_group_size=settings.min_comment_group_size,
    )
    return _Context(invitation, cycle, form, stored_instrument.id or 0)


def load_survey(*, engine: Engine, token: str) -> SurveyForm:
    """The form `token` opens; SurveyUnavailable (with a message for the respondent) if none."""
    try:
        with read_session(engine) as session:
            return _read_context(session, _invitation_for(session, token)).form
    except SQLAlchemyError as error:
        raise SurveyUnavailable(Unavailable.out_of_service, _OUT_OF_SERVICE_MESSAGE) from error


# --- Validation --------------------------------------------------------------------------------


def clean_comment(text: str | None) -> str:
    """The comment as it will be stored: trimmed, with control characters (other than line
    breaks and tabs) removed; PostgreSQL cannot store NUL at all."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        character
        for character in text
        if character in "\n\t" or not unicodedata.category(character).startswith("C")
    )
    return kept.strip()


def missing_answers(
    form: SurveyForm, answers: Mapping[str, AnswerValue | None]
) -> list[MissingAnswer]:
    """Required questions without an answer ("does not apply" counts as an answer)."""
    return [
        MissingAnswer(step.number, step.title, question.number, question.text)
        for step, question in form.questions()
        if question.required and answers.get(question.code) is None
    ]


def _check_submission(
    form: SurveyForm,
    answers: Mapping[str, AnswerValue | None],
    comment: str,
    department_id: int | None,
    staff_group_id: int | None,
) -> None:
    workplace_problem = None
    if form.is_open_link:
        # Exact ints: True would pass as the department with id 1, and a list cannot be hashed.
        if type(department_id) is not int or department_id not in {c.id for c in form.departments}:
            workplace_problem = "Choose the department you work in."
        elif type(staff_group_id) is not int or staff_group_id not in {
            c.id for c in form.staff_groups
        }:
            workplace_problem = "Choose your staff group."
    missing = missing_answers(form, answers)
    too_long = len(comment) > form.comment_max_length
    if workplace_problem or missing or too_long:
        raise InvalidSubmission(
            missing=missing,
            comment_length=len(comment) if too_long else None,
            comment_limit=form.comment_max_length,
            workplace_problem=workplace_problem,
        )


def _stored_values(
    form: SurveyForm, items: Mapping[str, ItemInfo], answers: Mapping[str, AnswerValue | None]
) -> dict[ItemInfo, int | None]:
    """Answers keyed by stored item, "does not apply" as None; unanswered optional questions
    are left out. Anything not offered on the form is refused."""
    questions = {question.code: question for _, question in form.questions()}
    unknown = [code for code in answers if code not in questions]
    if unknown:
        shown = ", ".join(sorted(_shown(code) for code in unknown[:5]))
        raise InvalidAnswer(f"not a question of this survey: {shown}")
    values: dict[ItemInfo, int | None] = {}
    for code, answer in answers.items():
        if answer is None:
            continue
        question = questions[code]
        # Exactly an offered value: not True for 1, nor 3.0 for 3.
        offered = type(answer) in (int, str) and answer in question.options()
        if not offered:
            raise InvalidAnswer(f"{code}: {_shown(answer)} is not one of the offered answers")
        values[items[code]] = None if answer == NOT_APPLICABLE else int(answer)
    return values


# --- Submission ---------------------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, table, **values: object) -> bool:  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new.

    RETURNING tells, where a row count would not: drivers report -1 for inserts.
    """
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    returned = session.execute(
        statement.values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    )
    return returned.first() is not None


def _blur_transaction_ids(
    session: Session, cycle_id: int, department_id: int, group_id: int
) -> None:
    """On PostgreSQL, keep the rows this transaction writes from being joined to each other.

    Every PostgreSQL row version carries the id of the transaction that wrote it (xmin), so
    the invitation marked used, the response and the comment written together would share
    one, and a query on xmin would join a person's token to their answers and comment.
    Rewriting every used invitation and every comment of the cell in this same transaction
    gives all of them this transaction's id, which then says no more than the response's
    cell already does. SQLite updates rows in place and records no writer, so it needs none.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        update(Invitation)
        .where(
            Invitation.cycle_id == cycle_id,
            Invitation.department_id == department_id,
            Invitation.staff_group_id == group_id,
            Invitation.used == True,  # noqa: E712 - SQL expression
        )
        .values(used=True)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Comment)
        .where(
            Comment.cycle_id == cycle_id,
            Comment.department_id == department_id,
            Comment.staff_group_id == group_id,
        )
        .values(cycle_id=cycle_id)
        .execution_options(synchronize_session=False)
    )


def submission_key_hash(submission_key: str) -> str:
    return hashlib.sha256(submission_key.encode("utf-8")).hexdigest()


_FAILED_MESSAGE = (
    "Your answers could not be saved because the database did not respond. "
    "Nothing was stored. Your answers are still here: please press Submit again."
)
_UNSURE_MESSAGE = (
    "We could not confirm that your answers were saved: the database stopped responding as "
    "they were being saved. Your answers are still here: please press Submit again; they "
    "will be counted only once."
)


def submit_survey(
    *,
    engine: Engine,
    token: str,
    submission_key: str,
    answers: Mapping[str, AnswerValue | None],
    comment: str | None = None,
    department_id: int | None = None,
    staff_group_id: int | None = None,
) -> SubmitOutcome:
    """Check and store one completed form, all in one transaction, exactly once.

    `answers` maps item codes to a value, NOT_APPLICABLE, or None (unanswered).
    `department_id` and `staff_group_id` are the respondent's choice on an open link; a
    personal link's own are always used.
    `submission_key` is a random value made once per form: sending the same form again
    (a double click, a retry after a lost reply) stores nothing more. A personal link is
    used up by the UPDATE whose row count decides, so one token gives at most one response
    however many browsers send it at once.

    Raises SurveyUnavailable (bad, used or closed link), InvalidSubmission (unanswered
    questions, comment too long, no workplace chosen), InvalidAnswer (a value the form did
    not offer) or SubmissionFailed (the database failed: nothing was kept, or, when it failed
    at COMMIT, the form may have been kept and the message says so).
    """
    if not submission_key or len(submission_key) > 200:
        raise ValueError("a submission key is required")
    text = clean_comment(comment)
    committing = False
    try:
        with write_session(engine) as session:
            invitation = _invitation_for(session, token)
            # First, so that a second copy of this form waits here for the first to finish
            # (on PostgreSQL the insert blocks on the uncommitted key) and then stores nothing.
            # Anything refused below rolls the receipt back with everything else.
            new_form = _insert_ignoring_duplicates(
                session,
                SubmissionReceipt.__table__,
                key_hash=submission_key_hash(submission_key),
                cycle_id=invitation.cycle_id,
            )
            if not new_form:
                return SubmitOutcome.already_received
            context = _read_context(session, invitation)
            form = context.form
            _check_submission(form, answers, text, department_id, staff_group_id)
            items = instrument_items(session=session, instrument_id=context.instrument_id)
            values = _stored_values(form, items, answers)
            if invitation.is_open:
                assert department_id is not None and staff_group_id is not None
                cell = (department_id, staff_group_id)
            else:
                assert invitation.department_id is not None
                assert invitation.staff_group_id is not None
                cell = (invitation.department_id, invitation.staff_group_id)
                marked = session.execute(
                    update(Invitation)
                    .where(
                        Invitation.token_hash == hash_token(token),
                        Invitation.used == False,  # noqa: E712 - SQL expression
                    )
                    .values(used=True)
                    .execution_options(synchronize_session=False)
                )
                # The row count decides: when browsers race with one token, exactly one
                # UPDATE finds it unused. The others roll back, receipt and all.
                if marked.rowcount != 1:  # type: ignore[attr-defined]
                    raise SurveyUnavailable(Unavailable.used, _USED_MESSAGE)
            store_response(
                session=session,
                cycle_id=context.cycle.id or 0,
                department_id=cell[0],
                staff_group_id=cell[1],
                instrument_id=context.instrument_id,
                answers=values,
                comment=text,
            )
            _blur_transaction_ids(session, context.cycle.id or 0, *cell)
            # Everything is written; only the COMMIT is left.
            committing = True
    except SQLAlchemyError as error:
        # A failure at COMMIT (the server went away before it replied) may come after the
        # transaction was made durable, so "nothing was stored" could be untrue. Either way
        # sending the same form again is safe: its receipt makes it count once.
        raise SubmissionFailed(_UNSURE_MESSAGE if committing else _FAILED_MESSAGE) from error
    return SubmitOutcome.stored
