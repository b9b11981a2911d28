"""Checks shared by the load and fault tests: every form a load sent is stored exactly once."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import Engine, func, select, text

from bench.load import LINK_USED, Form, LoadResult, Send
from surveys.invitations.used import used_clause
from surveys.models import Answer, Comment, Invitation, Item, Response, SubmissionReceipt
from surveys.storage import read_session, write_session
from surveys.survey import rollups
from surveys.survey.form import NOT_APPLICABLE
from surveys.survey.submit import SubmitOutcome
from tests.support.snapshots import rollup_snapshot

RECEIVED = (SubmitOutcome.stored, SubmitOutcome.already_received)


def _person(form: Form) -> str:
    """Who sent the form: a personal link is one person however many forms it sends."""
    return form.key if form.is_open else form.token


def expected_forms(result: LoadResult) -> list[Form]:
    """One form per person: what the database must hold (a second browser's form of the same
    link carries the same answers, so whichever of the two is stored, the data is the same)."""
    forms: dict[str, Form] = {}
    for send in result.sends:
        forms.setdefault(_person(send.form), send.form)
    return list(forms.values())


def check_what_browsers_were_told(result: LoadResult) -> None:
    """Each person was told once that their form was stored (or, when a reply was lost, that
    it had arrived already), never twice; other copies were told it had arrived already, or
    (a second browser) that the link was used."""
    unexpected = [
        (send.kind, send.outcome)
        for send in result.sends
        if send.outcome not in RECEIVED
        and not (send.outcome == LINK_USED and not send.form.is_open)
    ]
    assert unexpected == [], unexpected[:5]
    by_person: dict[str, list[Send]] = defaultdict(list)
    for send in result.sends:
        by_person[_person(send.form)].append(send)
    for person, sends in by_person.items():
        outcomes = [send.outcome for send in sends]
        stored = outcomes.count(SubmitOutcome.stored)
        failed_before = any(send.failures for send in sends)
        assert stored <= 1, (person, outcomes)
        # After a failed attempt the first copy may have been stored unseen (the reply was
        # lost); the retry is then told it arrived already.
        assert stored == 1 or (failed_before and SubmitOutcome.already_received in outcomes), (
            person,
            outcomes,
        )
        keys = Counter(send.form.key for send in sends)
        for send in sends:
            if send.outcome is SubmitOutcome.already_received:
                assert keys[send.form.key] > 1 or send.failures, (person, outcomes)


def check_database_holds_each_form_once(engine: Engine, result: LoadResult) -> None:
    """Counts per cell, every answer value, no partial response, and rollups that equal a
    rebuild from the raw answers."""
    forms = expected_forms(result)
    cells = Counter(form.cell for form in forms)
    personal = Counter(form.cell for form in forms if not form.is_open)
    comments = Counter(form.cell for form in forms if form.comment)
    values = Counter(
        (code, None if value == NOT_APPLICABLE else value)
        for form in forms
        for code, value in form.answers.items()
    )
    with read_session(engine) as session:

        def per_cell(model, *where) -> Counter:  # type: ignore[no-untyped-def]
            rows = session.execute(
                select(model.department_id, model.staff_group_id, func.count())
                .where(*where)
                .group_by(model.department_id, model.staff_group_id)
            )
            return Counter({(department, group): n for department, group, n in rows})

        assert per_cell(Response) == cells
        assert per_cell(Comment) == comments
        assert per_cell(Invitation, used_clause(), ~Invitation.is_open) == personal
        unused = session.scalar(select(func.count()).select_from(Invitation).where(~used_clause()))
        assert unused == 1  # the open link only: no personal link was left unused
        assert session.scalar(select(func.count()).select_from(SubmissionReceipt)) == len(forms)
        assert session.scalar(select(func.count()).select_from(Answer)) == (
            len(forms) * result.questions
        )
        partial = session.execute(
            select(Response.id)
            .outerjoin(Answer, Answer.response_id == Response.id)
            .group_by(Response.id)
            .having(func.count(Answer.item_id) != result.questions)
        ).all()
        assert partial == []
        stored_values = Counter(
            {
                (code, value): n
                for code, value, n in session.execute(
                    select(Item.code, Answer.value, func.count())
                    .join(Item, Item.id == Answer.item_id)
                    .group_by(Item.code, Answer.value)
                )
            }
        )
        assert stored_values == values
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    kept = rollup_snapshot(engine)
    with write_session(engine) as session:
        rollups.rebuild(session=session, cycle_id=result.cycle_id)
    assert rollup_snapshot(engine) == kept


def check_stored_exactly_once(engine: Engine, result: LoadResult) -> None:
    check_what_browsers_were_told(result)
    check_database_holds_each_form_once(engine, result)
