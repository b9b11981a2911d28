"""Storing a completed form: checked, its token used, kept exactly once, in one transaction.

`submit_survey` checks the answers and, in one write transaction, uses the token, records the
form's receipt and stores the response, its answers, its comment and the rollups.
`store_response` is the storage step on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from surveys.invitations.links import hash_token
from surveys.models import Answer, Comment, Invitation, Response, SubmissionReceipt
from surveys.organisation.catalogue import instrument_items
from surveys.records import ItemInfo
from surveys.scoring import LIKERT_POINTS, NPS_SCALE
from surveys.storage import dialect_insert, new_random_id, write_session
from surveys.survey import rollups, steps
from surveys.survey.form import (
    _USED_MESSAGE,
    NOT_APPLICABLE,
    AnswerValue,
    SurveyForm,
    SurveyUnavailable,
    Unavailable,
    _invitation_for,
    _read_context,
)
from surveys.text import shown, without_control_characters

NPS_MAX = 10


class InvalidAnswer(ValueError):
    """An answer outside its item's scale."""


class SubmissionFailed(RuntimeError):
    """The database did not store the answers, or did not confirm that it had; sending the
    same form again is safe either way."""


class SubmitOutcome(StrEnum):
    stored = "stored"
    # The same form was submitted before (double click, retry): nothing more was stored.
    already_received = "already_received"


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


def check_value(item: ItemInfo, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswer(f"{item.code}: answer must be a whole number, not {shown(value)}")
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


# --- Validation --------------------------------------------------------------------------------


def clean_comment(text: str | None) -> str:
    """The comment as it will be stored: trimmed, with control characters (other than line
    breaks and tabs) removed; PostgreSQL cannot store NUL at all."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return without_control_characters(text, keep="\n\t").strip()


def missing_answers(
    form: SurveyForm, answers: Mapping[str, AnswerValue | None]
) -> list[MissingAnswer]:
    """Required questions without an answer ("does not apply" counts as an answer)."""
    return [
        MissingAnswer(step.number, step.title, question.number, question.text)
        for step in form.steps
        for question in step.unanswered(answers)
        if question.required
    ]


def over_limit(length: int, limit: int) -> str:
    """A comment's length against its limit: "1,234 characters: 234 over the limit of 1,000"."""
    return f"{length:,} characters: {length - limit:,} over the limit of {limit:,}"


def comment_over_limit(form: SurveyForm, comment: str | None) -> str | None:
    """`over_limit` for a comment counted as it would be stored, or None when it fits."""
    length = len(clean_comment(comment))
    return over_limit(length, form.comment_max_length) if length > form.comment_max_length else None


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
        quoted = ", ".join(sorted(shown(code) for code in unknown[:5]))
        raise InvalidAnswer(f"not a question of this survey: {quoted}")
    values: dict[ItemInfo, int | None] = {}
    for code, answer in answers.items():
        if answer is None:
            continue
        question = questions[code]
        # Exactly an offered value: not True for 1, nor 3.0 for 3.
        offered = type(answer) in (int, str) and answer in question.options()
        if not offered:
            raise InvalidAnswer(f"{code}: {shown(answer)} is not one of the offered answers")
        values[items[code]] = None if answer == NOT_APPLICABLE else int(answer)
    return values


# --- Submission ---------------------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, table, **values: object) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was new.

    RETURNING tells, where a row count would not: drivers report -1 for inserts.
    """
    statement = dialect_insert(session)(table)
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
            col(Invitation.cycle_id) == cycle_id,
            col(Invitation.department_id) == department_id,
            col(Invitation.staff_group_id) == group_id,
            col(Invitation.used) == True,  # noqa: E712 - SQL expression
        )
        .values(used=True)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Comment)
        .where(
            col(Comment.cycle_id) == cycle_id,
            col(Comment.department_id) == department_id,
            col(Comment.staff_group_id) == group_id,
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
                SubmissionReceipt.__table__,  # type: ignore[attr-defined]  # SQLModel does not declare the mapped __table__
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
                        col(Invitation.token_hash) == hash_token(token),
                        col(Invitation.used) == False,  # noqa: E712 - SQL expression
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
            # Only open cycles take answers: their released snapshot moves, in steps.
            steps.advance(session=session, cycle_id=context.cycle.id or 0, cell=cell)
            _blur_transaction_ids(session, context.cycle.id or 0, *cell)
            # Everything is written; only the COMMIT is left.
            committing = True
    except SQLAlchemyError as error:
        # A failure at COMMIT (the server went away before it replied) may come after the
        # transaction was made durable, so "nothing was stored" could be untrue. Either way
        # sending the same form again is safe: its receipt makes it count once.
        raise SubmissionFailed(_UNSURE_MESSAGE if committing else _FAILED_MESSAGE) from error
    return SubmitOutcome.stored
