"""The Action plans page through AppTest: scope kept whatever the session says, forms, notes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from surveys import audit
from surveys.access.accounts import account_named
from surveys.actions import plans
from surveys.actions.plans import PlanDraft, PlanStatus
from surveys.clock import utc_now
from surveys.models import ActionPlan, Department, StaffGroup
from surveys.organisation.cycles import add_cycle
from surveys.records import CycleState
from surveys.storage import read_session, write_session
from tests.support.accounts import use_fast_hashing
from tests.support.app import build_hospital, signed_in
from tests.support.hostile import MARKUP, changed_tables, database_dump

PAGE = "app_pages/action_plans.py"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture
def hospital() -> Iterator[Engine]:
    """Emergency (managed by `ed`) and Oncology, a closed cycle, and a plan for each and for
    the whole organisation."""
    engine = build_hospital()
    with write_session(engine) as session:
        cycle = add_cycle(
            session=session,
            name="2026 Q3",
            opens=date(2026, 7, 12),
            closes=date(2026, 9, 2),
            state=CycleState.closed,
        )
    boss = account_named(engine=engine, username="boss")
    for name, title in (
        ("Emergency", "Emergency huddles"),
        ("Oncology", "Oncology secret plan"),
        (None, "Organisation feedback plan"),
    ):
        plans.create_plan(
            engine=engine,
            viewer=boss,
            draft=PlanDraft(
                title=title,
                actions=f"What {title} will do.",
                due_on=date(2026, 10, 1) if name == "Oncology" else date(2027, 6, 1),
                department_id=None if name is None else ids(engine)[name],
                dimension_key="feedback",
                started_cycle_id=cycle,
            ),
        )
    yield engine
    engine.dispose()


def ids(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        return {d.name: d.id for d in session.scalars(select(Department))}


def plan_id(engine: Engine, title: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(ActionPlan.id).where(ActionPlan.title == title)).one()


def page(
    engine: Engine, username: str, state: dict[str, object] | None = None, **query: str
) -> AppTest:
    """The page as `username` sees it, with `query` in its address and `state` (tampered
    session state) set before it first draws."""
    at = signed_in(engine, username)
    at.switch_page(PAGE)
    at.query_params.update(query)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    return at


def shown(at: AppTest) -> str:
    """Everything the page says in text, Markdown, captions, badges and alerts."""
    parts = [
        element.value
        for kind in ("text", "markdown", "caption", "header", "subheader", "warning", "error")
        for element in at.get(kind)
    ]
    parts += [str(element.proto) for element in at.get("badge")]
    return "\n".join(str(part) for part in parts)


def plan_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(ActionPlan)) or 0


def test_a_manager_lists_only_their_departments_plans(hospital: Engine) -> None:
    at = page(hospital, "ed")
    assert "Emergency huddles" in shown(at)
    assert "Oncology" not in shown(at)
    assert "Organisation feedback plan" not in shown(at)
    assert at.selectbox(key="plans_department").options == ["All departments", "Emergency"]


def test_a_manager_who_tampers_with_the_filter_still_sees_only_their_plans(
    hospital: Engine,
) -> None:
    at = signed_in(hospital, "ed")
    at.switch_page(PAGE)
    at.session_state["plans_department"] = ids(hospital)["Oncology"]  # tampered state
    at.run()
    assert not at.exception
    assert "Oncology secret plan" not in shown(at)


def test_a_manager_cannot_open_another_departments_plan_by_its_address(hospital: Engine) -> None:
    oncology = plan_id(hospital, "Oncology secret plan")
    at = page(hospital, "ed", plan=str(oncology))
    assert "There is no such plan among the plans you can see." in shown(at)
    assert "Oncology" not in shown(at)
    whole = plan_id(hospital, "Organisation feedback plan")
    assert "Organisation feedback" not in shown(page(hospital, "ed", plan=str(whole)))


def test_a_manager_cannot_make_or_move_a_plan_into_another_department(hospital: Engine) -> None:
    oncology = ids(hospital)["Oncology"]
    before = database_dump(hospital)
    at = signed_in(hospital, "ed")
    at.switch_page(PAGE)
    at.session_state["plans_view"] = "new"
    at.session_state["plan_new_department"] = oncology  # tampered state
    at.run()
    assert not at.exception
    assert at.selectbox(key="plan_new_department").value == ids(hospital)["Emergency"]
    assert at.selectbox(key="plan_new_department").options == ["Emergency"]

    own = plan_id(hospital, "Emergency huddles")
    at = page(hospital, "ed", {f"plan_edit_{own}_department": oncology}, plan=str(own))
    assert at.selectbox(key=f"plan_edit_{own}_department").options == ["Emergency"]
    at.button(key="plan_edit_save").click().run()
    assert not at.exception
    with read_session(hospital) as session:
        assert session.get(ActionPlan, own).department_id == ids(hospital)["Emergency"]
        oncology_plans = session.scalars(
            select(ActionPlan.title).where(ActionPlan.department_id == oncology)
        ).all()
    assert oncology_plans == ["Oncology secret plan"]
    assert changed_tables(before, database_dump(hospital)) <= {"login_throttle", "audit_event"}


def fill_new_plan(at: AppTest, *, title: str, actions: str) -> AppTest:
    at.segmented_control(key="plans_view").set_value("new").run()
    at.text_input(key="plan_new_title").input(title)
    at.text_area(key="plan_new_actions").input(actions)
    at.text_input(key="plan_new_owner").input("Ward sister")
    return at


def test_an_administrator_makes_a_plan_and_lands_on_it(hospital: Engine) -> None:
    at = page(hospital, "boss")
    fill_new_plan(at, title="Quieter handovers", actions="Handover in the side room.")
    at.checkbox(key="plan_new_show_owner").check()
    at.button(key="plan_new_save").click().run()
    assert not at.exception
    made = plan_id(hospital, "Quieter handovers")
    assert at.query_params["plan"] == str(made)
    assert "Plan saved." in [element.value for element in at.success]
    assert "Handover in the side room." in shown(at)
    boss = account_named(engine=hospital, username="boss")
    stored = plans.plan(engine=hospital, viewer=boss, plan_id=made)
    assert (stored.owner_for_staff, stored.status) == ("Ward sister", PlanStatus.planned)
    assert audit.list_events(engine=hospital, action="plan.create")[0].actor == "boss"


def test_a_refused_plan_keeps_what_was_typed_and_writes_nothing(hospital: Engine) -> None:
    at = page(hospital, "boss")
    fill_new_plan(at, title="   ", actions="Something worth keeping.")
    before = plan_count(hospital)
    at.button(key="plan_new_save").click().run()
    assert not at.exception
    assert "the plan needs a title" in [element.value for element in at.error][0]
    assert at.text_area(key="plan_new_actions").value == "Something worth keeping."
    assert plan_count(hospital) == before


def test_a_focus_area_starts_the_form_with_its_suggestion(hospital: Engine) -> None:
    with read_session(hospital) as session:
        nursing, physicians = (
            session.scalars(select(StaffGroup.id).where(StaffGroup.key == key)).one()
            for key in ("nursing", "physicians")
        )
    at = signed_in(hospital, "ed")
    at.switch_page(PAGE)
    at.session_state["plan_prefill"] = {
        "department_id": ids(hospital)["Emergency"],
        "dimension_key": None,
        "from_group": nursing,
        "to_group": physicians,
        "title": "Nurses and physicians",
        "reason": "Nurses rate physicians 20 points lower than physicians rate nurses.",
    }
    at.run()
    assert not at.exception
    assert at.text_input(key="plan_new_title").value == "Nurses and physicians"
    assert at.radio(key="plan_new_addresses").value == "relationship"
    assert (at.selectbox(key="plan_new_from").value, at.selectbox(key="plan_new_to").value) == (
        nursing,
        physicians,
    )
    assert "Nurses rate physicians 20 points lower" in shown(at)
    assert "plan_prefill" not in at.session_state


def test_a_focus_area_for_another_department_does_not_choose_it(hospital: Engine) -> None:
    at = signed_in(hospital, "ed")
    at.switch_page(PAGE)
    at.session_state["plan_prefill"] = {
        "department_id": ids(hospital)["Oncology"],
        "dimension_key": "feedback",
        "title": "Not yours",
        "reason": "",
    }
    at.run()
    assert not at.exception
    assert at.selectbox(key="plan_new_department").value == ids(hospital)["Emergency"]


def test_notes_and_status_are_changed_on_the_plans_page(hospital: Engine) -> None:
    own = plan_id(hospital, "Emergency huddles")
    at = page(hospital, "ed", plan=str(own))
    at.text_area(key="plan_note_text").input("First huddle held.")
    at.button(key="plan_note_save").click().run()
    assert not at.exception
    at.selectbox(key=f"plan_status_{own}").set_value(PlanStatus.in_progress)
    at.button(key="plan_status_save").click().run()
    assert not at.exception
    assert "First huddle held." in shown(at)
    ed = account_named(engine=hospital, username="ed")
    stored = plans.plan(engine=hospital, viewer=ed, plan_id=own)
    assert stored.status is PlanStatus.in_progress
    assert [note.text for note in stored.notes] == ["First huddle held."]


def test_an_overdue_plan_says_so_in_words_and_the_overview_counts_it(hospital: Engine) -> None:
    at = page(hospital, "boss")
    assert "Overdue: was due 1 Oct 2026" in shown(at)
    at.segmented_control(key="plans_view").set_value("overview").run()
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["Plans"], metrics["Overdue"]) == ("3", "1")
    # A manager has no organisation overview to choose.
    assert "overview" not in page(hospital, "ed").segmented_control(key="plans_view").options


@pytest.mark.parametrize("case", list(MARKUP))
def test_hostile_plan_text_is_never_read_as_markup(hospital: Engine, case: str) -> None:
    hostile = MARKUP[case]
    boss = account_named(engine=hospital, username="boss")
    made = plans.create_plan(
        engine=hospital,
        viewer=boss,
        draft=PlanDraft(
            title=hostile,
            actions=hostile,
            owner=hostile,
            due_on=utc_now().date() + timedelta(days=5),
            department_id=ids(hospital)["Emergency"],
        ),
    )
    plans.add_progress_note(engine=hospital, viewer=boss, plan_id=made, note=hostile)
    for at in (page(hospital, "boss"), page(hospital, "boss", plan=str(made))):
        # Shown through st.text, or as Markdown with every markup character escaped.
        assert not [m.value for m in at.markdown if hostile in m.value]
        assert not [h.value for h in at.header if hostile in h.value]
    detail = page(hospital, "boss", plan=str(made))
    assert [t.value for t in detail.text].count(hostile) >= 2  # what will be done, the note
