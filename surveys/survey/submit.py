"""Storing a completed form: checked, its token used, kept exactly once, in one transaction.

`submit_survey` checks the answers and, in one write transaction, uses the token, records the
form's receipt and stores the response, its answers, its comment and the rollups.
`store_response` is the storage step on its own. Each statement is the driver's own SQL on the
DBAPI cursor and a cycle's form rules are cached (README, "Submissions under load").
Long because checking a form and storing it fast are one concern.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from surveys.config import get_settings
from surveys.invitations.links import hash_token
from surveys.invitations.used import mark_used, used_sql
from surveys.models import Answer, Invitation
from surveys.organisation.catalogue import instrument_items
from surveys.records import CycleState, ItemInfo
from surveys.scoring import LIKERT_POINTS, NPS_SCALE
from surveys.storage import (
    CommitUnconfirmed,
    driver_cursor,
    driver_sql,
    insert_rows,
    new_random_id,
    url_key,
    write_together,
)
from surveys.survey import drafts, rollups, steps
from surveys.survey.form import (
    _USED_MESSAGE,
    MAX_TOKEN_LENGTH,
    NOT_APPLICABLE,
    AnswerValue,
    Question,
    SurveyForm,
    SurveyUnavailable,
    Unavailable,
    _invitation_for,
    _read_context,
)
from surveys.text import scrub_personal_details, shown, without_control_characters

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
    comment = (comment or "").strip()
    # Rows the caller added through the ORM (a test's cycle, say) go first: the writes below
    # bypass the unit of work.
    session.flush()
    dialect, cursor = driver_cursor(session)
    _write_response(
        cursor,
        _row_sql(dialect),
        _response_rows(cycle_id, (department_id, staff_group_id), instrument_id, answers, comment),
    )


@dataclass(frozen=True)
class _ResponseRows:
    """One response's rows, worked out before they are written."""

    response: dict[str, object]
    answers: list[dict[str, object]]
    comment: dict[str, object] | None
    rollups: list[rollups.Increments]


def _response_rows(
    cycle_id: int,
    cell: tuple[int, int],
    instrument_id: int,
    answers: Mapping[ItemInfo, int | None],
    comment: str,
) -> _ResponseRows:
    response_id = new_random_id()
    where = {"cycle_id": cycle_id, "department_id": cell[0], "staff_group_id": cell[1]}
    return _ResponseRows(
        response={"id": response_id, **where, "instrument_id": instrument_id},
        answers=[
            {"response_id": response_id, "item_id": item.id, "value": value}
            for item, value in answers.items()
        ],
        # The driver's own SQL skips the ORM column type that scrubs names, emails and phone
        # numbers from every comment stored, so the submit path scrubs here itself.
        comment={
            "id": new_random_id(),
            **where,
            "text": scrub_personal_details(comment),
            "released": False,
        }
        if comment
        else None,
        rollups=rollups.response_increments(
            cycle_id=cycle_id,
            department_id=cell[0],
            staff_group_id=cell[1],
            answers=answers,
            has_comment=bool(comment),
        ),
    )


_ANSWER = Answer.__table__  # type: ignore[attr-defined]  # SQLModel does not declare the mapped __table__


def _write_response(cursor: Any, sql: _RowSql, rows: _ResponseRows) -> None:
    cursor.execute(sql.response, rows.response)
    insert_rows(cursor, sql.dialect, _ANSWER, rows.answers)
    if rows.comment is not None:
        cursor.execute(sql.comment, rows.comment)
    rollups.write_increments(cursor, sql.dialect, rows.rollups)


@dataclass(frozen=True)
class _RowSql:
    """The submit path's statements as the driver's own SQL (see storage.driver_sql)."""

    dialect: str
    response: str
    comment: str
    receipt: str
    receipt_seen: str
    invitation: str
    department: str
    blur_comments: str


# One staff group as text that no other group's can equal (lengths before key and plural).
_GROUP_SIGNATURE = (
    "g.id || ':' || g.position || ':' || LENGTH(g.key) || ':' || g.key"
    " || ':' || LENGTH(g.plural) || ':' || g.plural"
)


def _staff_groups_listed(dialect: str, each: str) -> str:
    """A subquery listing `each` for every active staff group in form order, comma-separated."""
    if dialect == "postgresql":
        listed = f"string_agg(CAST({each} AS TEXT), ',' ORDER BY g.position, g.id)"
        return f"(SELECT {listed} FROM staff_group g WHERE g.archived = :no)"
    # SQLite before 3.44 has no ORDER BY in an aggregate; it concatenates a subquery's rows
    # in their order.
    return (
        f"(SELECT group_concat(each, ',') FROM (SELECT {each} AS each FROM staff_group g"
        " WHERE g.archived = :no ORDER BY g.position, g.id))"
    )


@functools.cache
def _row_sql(dialect: str) -> _RowSql:
    cell = "cycle_id = :cycle_id AND department_id = :department_id"
    cell += " AND staff_group_id = :staff_group_id"
    statements = _RowSql(
        dialect=dialect,
        response="INSERT INTO response (id, cycle_id, department_id, staff_group_id,"
        " instrument_id) VALUES (:id, :cycle_id, :department_id, :staff_group_id,"
        " :instrument_id)",
        comment="INSERT INTO comment (id, cycle_id, department_id, staff_group_id, text,"
        " released) VALUES (:id, :cycle_id, :department_id, :staff_group_id, :text, :released)",
        receipt="INSERT INTO submission_receipt (key_hash, cycle_id) VALUES (:key_hash,"
        " :cycle_id) ON CONFLICT DO NOTHING RETURNING key_hash",
        receipt_seen="SELECT 1 FROM submission_receipt WHERE key_hash = :key_hash",
        # The link, its cycle and what the cached form rules depend on, in one read: the
        # instrument, how many questions it has stored (questions are only ever added), and
        # the active staff groups (their ids, and each one's place, key and plural).
        invitation="SELECT v.id, v.cycle_id, v.department_id, v.staff_group_id, v.is_open,"
        f" {used_sql('v')}, c.state, c.instrument_id, i.checksum,"
        " (SELECT COUNT(*) FROM item t WHERE t.instrument_id = c.instrument_id),"
        " (SELECT MAX(t.id) FROM item t WHERE t.instrument_id = c.instrument_id),"
        f" {_staff_groups_listed(dialect, 'g.id')},"
        f" {_staff_groups_listed(dialect, _GROUP_SIGNATURE)}"
        " FROM invitation v JOIN survey_cycle c ON c.id = v.cycle_id"
        " JOIN instrument i ON i.id = c.instrument_id WHERE v.token_hash = :token_hash",
        department="SELECT id FROM department WHERE id = :id AND archived = :no",
        blur_comments=f"UPDATE comment SET cycle_id = :cycle_id WHERE {cell}",
    )
    return _RowSql(
        **{
            name: sql if name == "dialect" else driver_sql(dialect, sql)
            for name, sql in vars(statements).items()
        }
    )


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


def _workplace_problem(
    department_id: object,
    staff_group_id: object,
    departments: Collection[int],
    staff_groups: Collection[int],
) -> str | None:
    """For an open link: what is wrong with the respondent's choice of workplace, if anything."""
    # Exact ints: True would pass as the department with id 1, and a list cannot be hashed.
    if type(department_id) is not int or department_id not in departments:
        return "Choose the department you work in."
    if type(staff_group_id) is not int or staff_group_id not in staff_groups:
        return "Choose your staff group."
    return None


def _check_submission(
    form: SurveyForm,
    answers: Mapping[str, AnswerValue | None],
    comment: str,
    workplace_problem: str | None,
) -> None:
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
    questions: Mapping[str, Question],
    items: Mapping[str, ItemInfo],
    answers: Mapping[str, AnswerValue | None],
) -> dict[ItemInfo, int | None]:
    """Answers keyed by stored item, "does not apply" as None; unanswered optional questions
    are left out. Anything not offered on the form is refused."""
    unknown = [code for code in answers if code not in questions]
    if unknown:
        quoted = ", ".join(sorted(shown(code) for code in unknown[:5]))
        raise InvalidAnswer(f"not a question of this survey: {quoted}")
    values: dict[ItemInfo, int | None] = {}
    for code, answer in answers.items():
        if answer is None:
            continue
        # Exactly an offered value: not True for 1, nor 3.0 for 3.
        offered = type(answer) in (int, str) and answer in questions[code].options()
        if not offered:
            raise InvalidAnswer(f"{code}: {shown(answer)} is not one of the offered answers")
        values[items[code]] = None if answer == NOT_APPLICABLE else int(answer)
    return values


@dataclass(frozen=True)
class _FormRules:
    """What checking and storing one cycle's forms needs, built once per cycle and kept
    while the cycle's instrument, its stored questions and the active staff groups stay the
    same (the key of `_form_rules`); departments and the link itself are read every time."""

    form: SurveyForm
    questions: dict[str, Question]
    items: dict[str, ItemInfo]
    instrument_id: int


# (database URL, cycle id, what the rules depend on) -> rules; a handful of open cycles.
_form_rules: dict[tuple[object, ...], _FormRules] = {}
_FORM_RULES_KEPT = 64


def _rules_for(session: Session, invitation_id: int, key: tuple[object, ...]) -> _FormRules:
    """The cached rules for `key`, or, the first time, built from the link's full context
    (which also raises SurveyUnavailable exactly as opening the link would)."""
    rules = _form_rules.get(key)
    if rules is not None:
        return rules
    invitation = session.get(Invitation, invitation_id)
    assert invitation is not None
    context = _read_context(session, invitation)
    rules = _FormRules(
        form=context.form,
        questions={question.code: question for _, question in context.form.questions()},
        items=instrument_items(session=session, instrument_id=context.instrument_id),
        instrument_id=context.instrument_id,
    )
    if len(_form_rules) >= _FORM_RULES_KEPT:
        _form_rules.clear()
    _form_rules[key] = rules
    return rules


# --- Submission ---------------------------------------------------------------------------------


def _blur_transaction_ids(
    cursor: Any, sql: _RowSql, cycle_id: int, cell: tuple[int, int], wrote_comment: bool
) -> None:
    """On PostgreSQL, keep this transaction's comment from being joined to its response.

    Every PostgreSQL row version carries the id of the transaction that wrote it (xmin), so
    the response and the comment written together would share one, and a query on xmin
    would join a person's answers to their comment. Rewriting every comment of the cell in
    this same transaction gives all of them this transaction's id, which then says no more
    than the response's cell already does. (The link is not joined this way: the row that
    marks it used lists every used link of the cell, `surveys.invitations.used`.) SQLite
    updates rows in place and records no writer, so it needs none.

    A form without a comment writes no comment, so no comment carries this transaction's id
    as its own. (Comments released together in this transaction get its id too, but none of
    them is this respondent's.)
    """
    if sql.dialect == "postgresql" and wrote_comment:
        cursor.execute(
            sql.blur_comments,
            {"cycle_id": cycle_id, "department_id": cell[0], "staff_group_id": cell[1]},
        )


@dataclass(frozen=True)
class _Seen:
    """What the database says about a link, and all that checking its form depends on."""

    invitation_id: int
    cycle_id: int
    cell: tuple[int, int] | None  # a personal link's; None for an open link
    is_open: bool
    answerable: bool  # the cycle is open and, for a personal link, the link unused
    rules_key: tuple[object, ...]
    department_active: bool  # an open link's chosen department exists and is not archived
    staff_groups: frozenset[int]


def _look(cursor: Any, sql: _RowSql, url: str, token: str, department_id: object) -> _Seen | None:
    """Read the link, its cycle and the active staff groups, and (for an open link) the chosen
    department: two small reads, none through SQLAlchemy. None when there is no such link."""
    if not (isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii()):
        return None
    cursor.execute(sql.invitation, {"token_hash": hash_token(token), "no": False})
    link = cursor.fetchone()
    if link is None:
        return None
    invitation_id, cycle_id, link_department, link_group, is_open, used = link[:6]
    state, instrument_id, checksum, item_count, last_item, group_ids, groups = link[6:]
    active = False
    # Only an exact int can be a department id, and only one that fits a 64-bit column.
    if is_open and type(department_id) is int and -(2**63) <= department_id < 2**63:
        cursor.execute(sql.department, {"id": department_id, "no": False})
        active = cursor.fetchone() is not None
    return _Seen(
        invitation_id=invitation_id,
        cycle_id=cycle_id,
        cell=None if is_open else (link_department, link_group),
        is_open=bool(is_open),
        answerable=state == CycleState.open and (bool(is_open) or not used),
        rules_key=(
            url,
            cycle_id,
            instrument_id,
            checksum,
            item_count,
            last_item,
            groups,
            get_settings().instrument_dir,
        ),
        department_active=active,
        staff_groups=frozenset(int(group) for group in (group_ids or "").split(",") if group),
    )


@dataclass(frozen=True)
class _Prepared:
    cell: tuple[int, int]
    rows: _ResponseRows


def _prepare(
    rules: _FormRules,
    seen: _Seen,
    answers: Mapping[str, AnswerValue | None],
    text: str,
    department_id: int | None,
    staff_group_id: int | None,
) -> _Prepared | InvalidSubmission | InvalidAnswer:
    """The form checked against its rules and turned into rows; or what refuses it, to be
    raised where the submission reaches that check."""
    try:
        problem = None
        if seen.is_open:
            problem = _workplace_problem(
                department_id,
                staff_group_id,
                {department_id} if seen.department_active and department_id is not None else (),
                seen.staff_groups,
            )
        _check_submission(rules.form, answers, text, problem)
        values = _stored_values(rules.questions, rules.items, answers)
    except (InvalidSubmission, InvalidAnswer) as refused:
        return refused
    if seen.cell is not None:
        cell = seen.cell
    else:
        assert department_id is not None and staff_group_id is not None
        cell = (department_id, staff_group_id)
    return _Prepared(cell, _response_rows(seen.cycle_id, cell, rules.instrument_id, values, text))


def _checked(
    session: Session,
    seen: _Seen,
    token: str,
    answers: Mapping[str, AnswerValue | None],
    text: str,
    department_id: int | None,
    staff_group_id: int | None,
) -> _Prepared | SurveyUnavailable | InvalidSubmission | InvalidAnswer:
    """The form checked and turned into rows, or what refuses it: a closed, draft or used
    link (in the full context's own words), or the answers."""
    try:
        if not seen.answerable:
            _read_context(session, _invitation_for(session, token))
            # Answerable after all (a cycle reopened since the first read): marking decides.
        # Building the rules (once per cycle) reads the full context too, which may find the
        # link used by now: by this form's other copy, say, whose receipt then says so.
        rules = _rules_for(session, seen.invitation_id, seen.rules_key)
    except SurveyUnavailable as unavailable:
        return unavailable
    return _prepare(rules, seen, answers, text, department_id, staff_group_id)


class _StoredBefore(Exception):
    """The form's receipt is already there: it was stored before, and this copy stores
    nothing (raised to roll back what this copy wrote before it found out)."""


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
    resume_key: str | None = None,
) -> SubmitOutcome:
    """Check and store one completed form, all in one transaction, exactly once.

    `answers` maps item codes to a value, NOT_APPLICABLE, or None (unanswered).
    `department_id` and `staff_group_id` are the respondent's choice on an open link; a
    personal link's own are always used.
    `submission_key` is a random value made once per form: sending the same form again
    (a double click, a retry after a lost reply) stores nothing more. A personal link is
    used up by the write whose row count decides (`surveys.invitations.used`), so one token
    gives at most one response however many browsers send it at once. The link's draft
    (`surveys.survey.drafts`: the token's own, or for an open link the one of `resume_key`)
    is deleted in the same transaction.

    Raises SurveyUnavailable (bad, used or closed link), InvalidSubmission (unanswered
    questions, comment too long, no workplace chosen), InvalidAnswer (a value the form did
    not offer) or SubmissionFailed (the database failed: nothing was kept, or, when it failed
    at COMMIT, the form may have been kept and the message says so).
    """
    if not submission_key or len(submission_key) > 200:
        raise ValueError("a submission key is required")
    text = clean_comment(comment)

    def store(session: Session) -> SubmitOutcome | Exception:
        dialect, cursor = driver_cursor(session)
        sql = _row_sql(dialect)
        seen = _look(cursor, sql, url_key(engine), token, department_id)
        if seen is None:
            try:
                _invitation_for(session, token)  # raises: not a link
            except SurveyUnavailable as unavailable:
                return unavailable  # nothing written: committed, as every early refusal
            raise AssertionError("unreachable")
        receipt = {"key_hash": submission_key_hash(submission_key), "cycle_id": seen.cycle_id}

        def refused(reason: Exception) -> SubmitOutcome | Exception:
            # Nothing is written yet. The form was stored before if its receipt is there (a
            # resend, or the other copy of a double click that this one waited for). Returned,
            # not raised: a transaction that wrote nothing is committed, since on PostgreSQL
            # a rollback also drops every statement the connection has prepared (psycopg
            # clears them on ROLLBACK), and the next forms on it would be parsed anew.
            cursor.execute(sql.receipt_seen, receipt)
            return SubmitOutcome.already_received if cursor.fetchone() else reason

        prepared = _checked(session, seen, token, answers, text, department_id, staff_group_id)
        if isinstance(prepared, Exception):
            return refused(prepared)
        # When browsers race with one token, exactly one marks it; the others wait for it to
        # commit (the cell's row is locked) and then find it used.
        if not seen.is_open and not mark_used(
            cursor, dialect, seen.invitation_id, seen.cycle_id, prepared.cell
        ):
            return refused(SurveyUnavailable(Unavailable.used, _USED_MESSAGE))
        # A second copy of an open link's form sent at the same moment waits here for the
        # first to finish (on PostgreSQL the insert blocks on the uncommitted key).
        if cursor.execute(sql.receipt, receipt).fetchone() is None:
            if seen.is_open:  # stored before, and nothing written yet
                return SubmitOutcome.already_received
            raise _StoredBefore  # the link's mark above must not stay
        _write_response(cursor, sql, prepared.rows)
        # The answers so far go with the answers stored: no draft outlives its response.
        secret = drafts.secret_for_link(token=token, is_open=seen.is_open, resume_key=resume_key)
        if secret is not None:
            drafts.delete_draft_in(cursor, sql.dialect, secret.id)
        # Only open cycles take answers: their released snapshot moves, in steps.
        steps.advance(session=session, cycle_id=seen.cycle_id, cell=prepared.cell)
        _blur_transaction_ids(
            cursor, sql, seen.cycle_id, prepared.cell, prepared.rows.comment is not None
        )
        return SubmitOutcome.stored

    try:
        # On SQLite, forms sent at the same moment are committed together (group commit).
        outcome = write_together(engine, store)
    except _StoredBefore:
        return SubmitOutcome.already_received
    except CommitUnconfirmed as unconfirmed:
        # A failure at COMMIT (the server went away before it replied) may come after the
        # transaction was made durable, so "nothing was stored" could be untrue. Either way
        # sending the same form again is safe: its receipt makes it count once.
        raise SubmissionFailed(_UNSURE_MESSAGE) from unconfirmed.__cause__
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        raise SubmissionFailed(_FAILED_MESSAGE) from error
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
