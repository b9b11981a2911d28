"""Action plans: made, changed and read within the viewer's departments, checked, and audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select

from surveys import audit
from surveys.access.accounts import AccountInfo, account_named
from surveys.actions import plans
from surveys.actions.plans import PlanDraft, PlanError, PlanForbidden, PlanNotFound, PlanStatus
from surveys.clock import utc_now
from surveys.models import ActionPlan
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import set_department_archived, staff_groups
from surveys.records import CycleState
from surveys.storage import alembic_config, migrate, read_session, write_session
from tests.support.backends import backends
from tests.support.hostile import (
    HUGE,
    INJECTION,
    INVISIBLE,
    MARKUP,
    changed_tables,
    database_dump,
)

TODAY = utc_now().date()


@pytest.fixture
def org(engine: Engine, hospital: dict[str, int], fast_hashing: None) -> dict:
    """The hospital fixture plus two closed cycles (the built-in questionnaire) and its groups."""
    with write_session(engine) as session:
        cycles = {
            name: add_cycle(
                session=session, name=name, opens=opens, closes=opens + timedelta(days=40),
                state=CycleState.closed,
            )
            for name, opens in (
                ("2026 Q1", date(2026, 1, 12)),
                ("2026 Q2", date(2026, 4, 12)),
            )
        }  # fmt: skip
        groups = {group.key: group.id for group in staff_groups(session=session)}
    return {
        "departments": hospital,
        "cycles": cycles,
        "groups": groups,
        "boss": account_named(engine=engine, username="boss"),
        "ed": account_named(engine=engine, username="ed"),
    }


def draft(org: dict, department: str | None = "Emergency", **changes: object) -> PlanDraft:
    base = PlanDraft(
        title="Joint huddles",
        actions="A ten-minute huddle of nurses and physicians at every shift change.",
        due_on=date(2026, 12, 31),
        department_id=None if department is None else org["departments"][department],
        dimension_key="respect",
        owner="Charge nurse lead",
        started_cycle_id=org["cycles"]["2026 Q2"],
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def events(engine: Engine, action: str) -> list[audit.AuditEntry]:
    return audit.list_events(engine=engine, action=action)


@backends()
def test_a_plan_is_made_changed_moved_on_and_noted_and_every_change_is_audited(
    engine: Engine, org: dict
) -> None:
    ed = org["ed"]
    plan_id = plans.create_plan(engine=engine, viewer=ed, draft=draft(org))
    made = plans.plan(engine=engine, viewer=ed, plan_id=plan_id)
    assert (made.title, made.department, made.dimension, made.status) == (
        "Joint huddles", "Emergency", "Mutual respect", PlanStatus.planned,
    )  # fmt: skip
    assert (made.started_cycle, made.created_by, made.show_owner) == ("2026 Q2", "ed", False)
    assert made.owner_for_staff is None

    changed = draft(
        org,
        dimension_key=None,
        from_group_id=org["groups"]["nursing"],
        to_group_id=org["groups"]["physicians"],
        show_owner=True,
        due_on=date(2027, 2, 1),
    )
    assert plans.update_plan(engine=engine, viewer=ed, plan_id=plan_id, draft=changed)
    assert not plans.update_plan(engine=engine, viewer=ed, plan_id=plan_id, draft=changed)
    assert plans.set_status(engine=engine, viewer=ed, plan_id=plan_id, status="in_progress")
    plans.add_progress_note(
        engine=engine, viewer=ed, plan_id=plan_id, note="First huddles held.",
        written_on=date(2026, 5, 2),
    )  # fmt: skip
    plans.add_progress_note(engine=engine, viewer=ed, plan_id=plan_id, note="Going well.")

    now = plans.plan(engine=engine, viewer=ed, plan_id=plan_id)
    assert now.addresses == "How nursing staff see working with physicians"
    assert (now.dimension_key, now.status, now.due_on) == (
        None, PlanStatus.in_progress, date(2027, 2, 1),
    )  # fmt: skip
    assert now.owner_for_staff == "Charge nurse lead"
    assert [(note.written_on, note.text) for note in now.notes] == [
        (TODAY, "Going well."),
        (date(2026, 5, 2), "First huddles held."),
    ]
    assert [len(events(engine, code)) for code in plans_codes()] == [1, 1, 1, 2]
    assert "Joint huddles (Emergency): planned to in progress" in [
        event.detail for event in events(engine, "plan.status")
    ]
    assert "what it addresses" in events(engine, "plan.update")[0].detail
    assert all(event.actor == "ed" for code in plans_codes() for event in events(engine, code))


def plans_codes() -> list[str]:
    return ["plan.create", "plan.update", "plan.status", "plan.note"]


@backends()
def test_a_manager_cannot_read_or_change_another_departments_plan(
    engine: Engine, org: dict
) -> None:
    boss, ed = org["boss"], org["ed"]
    icu = plans.create_plan(engine=engine, viewer=boss, draft=draft(org, "Intensive Care (ICU)"))
    whole = plans.create_plan(engine=engine, viewer=boss, draft=draft(org, None))
    own = plans.create_plan(engine=engine, viewer=ed, draft=draft(org))
    before = database_dump(engine)

    for hidden in (icu, whole):
        with pytest.raises(PlanNotFound):
            plans.plan(engine=engine, viewer=ed, plan_id=hidden)
        with pytest.raises(PlanNotFound):
            plans.update_plan(engine=engine, viewer=ed, plan_id=hidden, draft=draft(org))
        with pytest.raises(PlanNotFound):
            plans.set_status(engine=engine, viewer=ed, plan_id=hidden, status="dropped")
        with pytest.raises(PlanNotFound):
            plans.add_progress_note(engine=engine, viewer=ed, plan_id=hidden, note="mine now")
    # A plan that does not exist is refused in the same words as one that is not yours.
    with pytest.raises(PlanNotFound, match="among the plans you can see"):
        plans.plan(engine=engine, viewer=ed, plan_id=icu + whole + own + 100)
    with pytest.raises(PlanForbidden):
        plans.create_plan(engine=engine, viewer=ed, draft=draft(org, "Oncology"))
    with pytest.raises(PlanForbidden, match="whole organisation"):
        plans.create_plan(engine=engine, viewer=ed, draft=draft(org, None))
    with pytest.raises(PlanForbidden):  # moving one's own plan out of one's departments
        plans.update_plan(engine=engine, viewer=ed, plan_id=own, draft=draft(org, "Oncology"))
    assert changed_tables(before, database_dump(engine)) == set()

    seen = plans.plans_visible_to(engine=engine, viewer=ed)
    assert [plan.id for plan in seen] == [own]
    # Asking for another department narrows; it never widens.
    assert plans.plans_visible_to(engine=engine, viewer=ed, department_ids=[org["departments"][
        "Intensive Care (ICU)"]]) == []  # fmt: skip
    assert {plan.id for plan in plans.plans_visible_to(engine=engine, viewer=boss)} == {
        icu, whole, own,
    }  # fmt: skip
    assert plans.plan(engine=engine, viewer=boss, plan_id=whole).department == "Whole organisation"


def test_a_manager_whose_departments_change_loses_the_old_plans(engine: Engine, org: dict) -> None:
    plan_id = plans.create_plan(engine=engine, viewer=org["ed"], draft=draft(org))
    moved = replace(org["ed"], department_ids=frozenset({org["departments"]["Oncology"]}))
    with pytest.raises(PlanNotFound):
        plans.plan(engine=engine, viewer=moved, plan_id=plan_id)
    nobody = AccountInfo(id=99, username="x", role="manager", department_ids=None)
    with pytest.raises(PlanNotFound):  # a manager without departments sees none
        plans.plan(engine=engine, viewer=nobody, plan_id=plan_id)


@pytest.mark.parametrize("case", [*MARKUP, *INJECTION])
def test_markup_and_injection_text_is_kept_exactly_as_written(
    engine: Engine, org: dict, case: str
) -> None:
    hostile = {**MARKUP, **INJECTION}[case]
    plan_id = plans.create_plan(
        engine=engine,
        viewer=org["ed"],
        draft=draft(org, title=hostile, actions=hostile, owner=hostile),
    )
    plans.add_progress_note(engine=engine, viewer=org["ed"], plan_id=plan_id, note=hostile)
    stored = plans.plan(engine=engine, viewer=org["ed"], plan_id=plan_id)
    assert (stored.title, stored.actions, stored.owner, stored.notes[0].text) == (hostile,) * 4


BAD_DRAFTS = {
    "no title": {"title": "   "},
    "title too long": {"title": "x" * 201},
    "title over two lines": {"title": "one\ntwo"},
    "no actions": {"actions": ""},
    "actions of a megabyte": {"actions": HUGE["one megabyte"]},
    "owner too long": {"owner": "x" * 121},
    "unknown dimension": {"dimension_key": "happiness"},
    "dimension not text": {"dimension_key": 3},
    "dimension and relationship": {"from_group_id": 1, "to_group_id": 2},
    "half a relationship": {"dimension_key": None, "from_group_id": 1},
    "unknown group": {"dimension_key": None, "from_group_id": 1, "to_group_id": 999},
    "unknown department": {"department_id": 999},
    "department as text": {"department_id": "1"},
    "unknown cycle": {"started_cycle_id": 999},
    "due before the cycle opened": {"due_on": date(2026, 4, 1)},
    "due date not a date": {"due_on": "2026-12-31"},
    "show owner not a flag": {"show_owner": "yes"},
    **{f"title with {name}": {"title": value} for name, value in INVISIBLE.items()},
    **{f"actions with {name}": {"actions": value} for name, value in INVISIBLE.items()},
}


@pytest.mark.parametrize("case", BAD_DRAFTS)
def test_a_bad_plan_is_refused_with_a_reason_and_nothing_is_written(
    engine: Engine, org: dict, case: str
) -> None:
    plan_id = plans.create_plan(engine=engine, viewer=org["boss"], draft=draft(org))
    before = database_dump(engine)
    bad = draft(org, **BAD_DRAFTS[case])
    with pytest.raises(PlanError) as refused:
        plans.create_plan(engine=engine, viewer=org["boss"], draft=bad)
    assert str(refused.value)
    with pytest.raises(PlanError):
        plans.update_plan(engine=engine, viewer=org["boss"], plan_id=plan_id, draft=bad)
    assert changed_tables(before, database_dump(engine)) == set()


@pytest.mark.parametrize(
    ("note", "written_on"),
    [("", None), ("x" * 2001, None), ("ab\x00cd", None), ("Fine", TODAY + timedelta(days=1))],
    ids=["empty", "too long", "nul byte", "dated tomorrow"],
)
def test_a_bad_progress_note_is_refused_and_nothing_is_written(
    engine: Engine, org: dict, note: str, written_on: date | None
) -> None:
    plan_id = plans.create_plan(engine=engine, viewer=org["ed"], draft=draft(org))
    before = database_dump(engine)
    with pytest.raises(PlanError):
        plans.add_progress_note(
            engine=engine, viewer=org["ed"], plan_id=plan_id, note=note, written_on=written_on
        )
    assert changed_tables(before, database_dump(engine)) == set()


def test_an_unknown_status_is_refused(engine: Engine, org: dict) -> None:
    plan_id = plans.create_plan(engine=engine, viewer=org["ed"], draft=draft(org))
    with pytest.raises(PlanError, match="planned, in progress, done, dropped"):
        plans.set_status(engine=engine, viewer=org["ed"], plan_id=plan_id, status="finished")


def test_an_archived_department_takes_no_new_plans_but_keeps_its_own(
    engine: Engine, org: dict
) -> None:
    plan_id = plans.create_plan(engine=engine, viewer=org["boss"], draft=draft(org, "Oncology"))
    set_department_archived(
        engine=engine, department_id=org["departments"]["Oncology"], archived=True, actor="boss"
    )
    with pytest.raises(PlanError, match="archived"):
        plans.create_plan(engine=engine, viewer=org["boss"], draft=draft(org, "Oncology"))
    edited = draft(org, "Oncology", title="Still going")
    assert plans.update_plan(engine=engine, viewer=org["boss"], plan_id=plan_id, draft=edited)


def test_without_a_cycle_the_plan_starts_from_the_newest_that_has_opened(
    engine: Engine, org: dict
) -> None:
    plan_id = plans.create_plan(
        engine=engine, viewer=org["ed"], draft=draft(org, started_cycle_id=None)
    )
    assert plans.plan(engine=engine, viewer=org["ed"], plan_id=plan_id).started_cycle == "2026 Q2"


def test_open_plans_past_their_due_date_are_overdue_and_listed_first(
    engine: Engine, org: dict
) -> None:
    boss = org["boss"]
    past = date(2026, 6, 30)
    late = plans.create_plan(engine=engine, viewer=boss, draft=draft(org, due_on=past))
    finished = plans.create_plan(
        engine=engine, viewer=boss, draft=draft(org, due_on=past), status="done"
    )
    on_time = plans.create_plan(
        engine=engine, viewer=boss, draft=draft(org, due_on=TODAY + timedelta(days=30))
    )
    listed = plans.plans_visible_to(engine=engine, viewer=boss)
    assert [(plan.id, plan.overdue) for plan in listed] == [
        (late, True), (on_time, False), (finished, False),
    ]  # fmt: skip
    overview = plans.plan_overview(engine=engine, viewer=boss)
    assert [plan.id for plan in overview.overdue] == [late]
    assert dict(overview.by_status) == {
        PlanStatus.planned: 2, PlanStatus.in_progress: 0, PlanStatus.done: 1,
        PlanStatus.dropped: 0,
    }  # fmt: skip
    assert [(row.department, row.total, row.overdue) for row in overview.by_department] == [
        ("Emergency", 3, 1)
    ]


def test_plans_for_departments_reads_what_a_summary_asks_for(engine: Engine, org: dict) -> None:
    boss = org["boss"]
    q1, q2 = org["cycles"]["2026 Q1"], org["cycles"]["2026 Q2"]
    emergency = plans.create_plan(
        engine=engine, viewer=boss, draft=draft(org, started_cycle_id=q1, show_owner=True)
    )
    icu = plans.create_plan(
        engine=engine, viewer=boss, draft=draft(org, "Intensive Care (ICU)", started_cycle_id=q2)
    )
    whole = plans.create_plan(engine=engine, viewer=boss, draft=draft(org, None))
    ids = org["departments"]

    def found(**arguments: object) -> set[int]:
        return {plan.id for plan in plans.plans_for_departments(engine, **arguments)}

    assert found(department_ids=[ids["Emergency"]]) == {emergency}
    assert found(department_ids=None) == {emergency, icu}
    assert found(department_ids=None, organisation_wide=True) == {emergency, icu, whole}
    assert found(department_ids=None, since_cycle_id=q2) == {icu}
    assert found(department_ids=None, until_cycle_id=q1) == {emergency}
    assert found(department_ids=None, statuses=["done"]) == set()
    records = {p.id: p for p in plans.plans_for_departments(engine, department_ids=None)}
    assert records[emergency].owner_for_staff == "Charge nurse lead"
    assert records[icu].owner_for_staff is None


@backends()
def test_the_action_plan_migration_goes_down_and_up_again(engine: Engine, org: dict) -> None:
    plans.create_plan(engine=engine, viewer=org["boss"], draft=draft(org))
    config = alembic_config(engine)
    below = ScriptDirectory.from_config(config).get_revision("0008").down_revision
    assert isinstance(below, str)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, below)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not {"action_plan", "action_plan_note"} & tables
    migrate(engine)
    with read_session(engine) as session:
        assert session.scalars(select(ActionPlan)).all() == []
