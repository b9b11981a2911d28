"""Links and complete answers for the small hospital of the `survey` fixture (tests/conftest.py)."""

from __future__ import annotations

from sqlalchemy import Engine

from surveys.invitations.links import create_invitations
from surveys.storage import write_session
from surveys.survey.form import SurveyForm


def tokens(
    engine: Engine,
    survey: dict,
    count: int = 1,
    *,
    cycle: str = "2026 Q4",
    department: str = "Emergency",
    group: str = "nursing",
) -> list[str]:
    with write_session(engine) as session:
        return create_invitations(
            session=session,
            cycle_id=survey["cycles"][cycle],
            department_id=survey["departments"][department],
            staff_group_id=survey["groups"][group],
            count=count,
        )


def full_answers(form: SurveyForm, *, likert: int | str = 4, nps: int = 9) -> dict:
    return {
        question.code: nps if question.horizontal else likert for _, question in form.questions()
    }
