"""The form a survey link opens: its questions in steps, or why the link opens none."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from surveys.clock import utc_now
from surveys.config import get_settings
from surveys.instruments import Instrument as InstrumentDefinition
from surveys.instruments import InstrumentError, builtin_instrument, discover_instruments
from surveys.invitations.links import hash_token
from surveys.invitations.used import is_used
from surveys.models import (
    CycleSchedule,
    Department,
    Instrument,
    Invitation,
    StaffGroup,
    SurveyCycle,
)
from surveys.organisation.catalogue import instrument_items
from surveys.organisation.structure import staff_groups
from surveys.records import CycleState
from surveys.scoring import NPS_SCALE
from surveys.storage import read_session

# Real tokens are 32 characters; anything much longer is not worth hashing.
MAX_TOKEN_LENGTH = 200
# The answer for "does not apply"; it is stored as NULL.
NOT_APPLICABLE = "not_applicable"
AnswerValue = int | str


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

    def unanswered(self, answers: Mapping[str, AnswerValue | None]) -> tuple[Question, ...]:
        """This step's questions without an answer ("does not apply" counts as one)."""
        return tuple(question for question in self.questions if answers.get(question.code) is None)


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
    # Answers so far are kept, encrypted with the link, until submitted (ATTUNE_SURVEY_DRAFTS).
    keeps_drafts: bool = False
    # The cycle's id: the thank-you page links the previous cycle's shared summary.
    cycle_id: int = 0

    def questions(self) -> list[tuple[Step, Question]]:
        return [(step, question) for step in self.steps for question in step.questions]


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


def _unavailable_for_cycle(
    cycle: SurveyCycle, schedule: CycleSchedule | None = None
) -> SurveyUnavailable | None:
    closed_by_date = schedule is not None and schedule.closed_at is not None
    if cycle.state == CycleState.open:
        return None
    if cycle.state == CycleState.closed:
        # The closing date is named only when the cycle closed by it (the job runner closed it,
        # or the date has passed): a cycle closed early by hand closed on a day nothing records.
        when = (
            f" (it closed on {cycle.closes:%A} {cycle.closes.day} {cycle.closes:%B %Y})"
            if isinstance(cycle.closes, date)
            and (closed_by_date or cycle.closes < utc_now().date())
            else ""
        )
        return SurveyUnavailable(
            Unavailable.closed,
            f"The survey {cycle.name!r} has closed{when}, so it can no longer be answered. "
            "Thank you for your interest.",
        )
    # A date is promised only where the job runner keeps it: a scheduled cycle it has not
    # opened yet. A cycle without a schedule opens when an administrator opens it.
    if (
        schedule is not None
        and schedule.opened_at is None
        and isinstance(cycle.opens, date)
        and cycle.opens >= utc_now().date()
    ):
        opens = f"{cycle.opens:%A} {cycle.opens.day} {cycle.opens:%B %Y}"
        return SurveyUnavailable(
            Unavailable.not_open_yet,
            f"The survey {cycle.name!r} has not opened yet. It opens on {opens}: please use "
            "this link again then.",
        )
    return SurveyUnavailable(
        Unavailable.not_open_yet,
        f"The survey {cycle.name!r} has not opened yet. Please use this link again once you "
        "hear that it is open.",
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
            select(Invitation).where(col(Invitation.token_hash) == hash_token(token))
        ).first()
    if invitation is None:
        raise SurveyUnavailable(Unavailable.invalid, _INVALID_MESSAGE)
    return invitation


def _read_context(session: Session, invitation: Invitation) -> _Context:
    """The cycle and form `invitation` opens, or SurveyUnavailable saying why there is none."""
    cycle = session.get(SurveyCycle, invitation.cycle_id)
    assert cycle is not None  # a foreign key guarantees it
    schedule = session.get(CycleSchedule, cycle.id)
    problem = _unavailable_for_cycle(cycle, schedule)
    if problem is not None:
        raise problem
    if is_used(session, invitation):
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
    groups = staff_groups(session=session)
    stored_codes = set(instrument_items(session=session, instrument_id=stored_instrument.id or 0))
    steps = _build_steps(definition, [(group.key, group.plural) for group in groups], stored_codes)

    departments = tuple(
        Choice(department.id, department.name)
        for department in session.scalars(
            select(Department)
            .where(col(Department.archived) == False)  # noqa: E712 - SQL expression
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
        keeps_drafts=settings.survey_drafts,
        cycle_id=cycle.id or 0,
    )
    return _Context(invitation, cycle, form, stored_instrument.id or 0)


def load_survey(*, engine: Engine, token: str) -> SurveyForm:
    """The form `token` opens; SurveyUnavailable (with a message for the respondent) if none."""
    try:
        with read_session(engine) as session:
            return _read_context(session, _invitation_for(session, token)).form
    except SQLAlchemyError as error:
        raise SurveyUnavailable(Unavailable.out_of_service, _OUT_OF_SERVICE_MESSAGE) from error
