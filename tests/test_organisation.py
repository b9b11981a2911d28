"""The organisation: divisions, departments, staff groups, cycles and response rates."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from surveys.instruments import builtin_instrument
from surveys.invitations import links as invitations
from surveys.models import AuditEvent, CycleState, Item, StaffGroup
from surveys.organisation import catalogue, cycles, structure
from surveys.organisation.structure import OrganisationError
from surveys.reporting import response_rates
from surveys.storage import read_session, write_session
from surveys.survey.submit import store_response
from tests.support.backends import backends

ACTOR = "boss"


@pytest.fixture
def org(engine: Engine) -> dict[str, int]:
    with write_session(engine) as session:
        acute = structure.add_division(session=session, name="Acute care")
        support = structure.add_division(session=session, name="Support")
        return {
            "acute": acute,
            "support": support,
            "emergency": structure.add_department(
                session=session, name="Emergency", division_id=acute
            ),
            "pharmacy": structure.add_department(
                session=session, name="Pharmacy", division_id=support
            ),
        }


def actions(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@backends()
def test_departments_are_renamed_moved_archived_and_restored(engine: Engine, org) -> None:
    structure.rename_department(
        engine=engine, department_id=org["emergency"], name="  Emergency  Dept ", actor=ACTOR
    )
    structure.move_department(
        engine=engine, department_id=org["emergency"], division_id=org["support"], actor=ACTOR
    )
    structure.set_department_archived(
        engine=engine, department_id=org["pharmacy"], archived=True, actor=ACTOR
    )
    departments = structure.list_departments(engine=engine)
    active = structure.list_departments(engine=engine, include_archived=False)
    scoped = structure.list_departments(engine=engine, department_ids=frozenset({org["pharmacy"]}))
    assert [(d.name, d.division, d.archived) for d in departments] == [
        ("Emergency Dept", "Support", False),
        ("Pharmacy", "Support", True),
    ]
    assert [d.name for d in active] == ["Emergency Dept"]
    assert [d.name for d in scoped] == ["Pharmacy"]
    assert actions(engine) == ["department.rename", "department.move", "department.archive"]
    structure.set_department_archived(
        engine=engine, department_id=org["pharmacy"], archived=False, actor=ACTOR
    )
    assert actions(engine)[-1] == "department.restore"


@backends()
def test_archived_department_keeps_its_history_but_gets_no_new_links(engine: Engine, org) -> None:
    with write_session(engine) as session:
        cycle = cycles.add_cycle(
            session=session, name="2027 Q1", opens=date(2027, 1, 1), closes=date(2027, 2, 1)
        )
        invitations.create_invitations(
            session=session,
            cycle_id=cycle,
            department_id=org["pharmacy"],
            staff_group_id=structure.staff_groups(session=session)[0].id,
            count=3,
        )
    structure.set_department_archived(
        engine=engine, department_id=org["pharmacy"], archived=True, actor=ACTOR
    )
    with read_session(engine) as session:
        rates = response_rates(engine, cycle_id=cycle)
        with pytest.raises(invitations.UnknownName, match="archived"):
            invitations.find_department(session=session, name="Pharmacy")
    assert [(row.department, row.invited) for row in rates.departments] == [("Pharmacy", 3)]


@backends()
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * 121, "longer than 120"),
        ("EMERGENCY", "already a department called 'Emergency'"),
        ("Emer\u200bgency", "invisible or control character U+200B"),
        ("ICU\u202e", "invisible or control character U+202E"),
        ("Tab\there", "U+0009"),
        ("**Bold**", "formatting"),
        ("[ICU](javascript:alert(1))", "formatting"),
        (":red[ICU]", "formatting"),
        ("<b>ICU</b>", "formatting"),
        ("- ICU", "formatting"),
    ],
)
def test_department_names_are_plain_unique_text(engine: Engine, org, name, message) -> None:
    with pytest.raises(OrganisationError, match=re.escape(message)):
        structure.create_department(engine=engine, name=name, division_id=org["acute"], actor=ACTOR)


@backends()
@pytest.mark.parametrize(
    "name", ["Intensive Care (ICU)", "A&E – Northgate", "Médecine: soins", "Women's health"]
)
def test_ordinary_punctuation_and_accents_are_accepted(engine: Engine, org, name: str) -> None:
    with write_session(engine) as session:
        structure.add_department(session=session, name=name, division_id=org["acute"], actor=ACTOR)
    assert name in [d.name for d in structure.list_departments(engine=engine)]


@backends()
def test_division_rules(engine: Engine, org) -> None:
    with (
        pytest.raises(OrganisationError, match="still has 1 active department"),
    ):
        structure.set_division_archived(
            engine=engine, division_id=org["support"], archived=True, actor=ACTOR
        )
    structure.set_department_archived(
        engine=engine, department_id=org["pharmacy"], archived=True, actor=ACTOR
    )
    structure.set_division_archived(
        engine=engine, division_id=org["support"], archived=True, actor=ACTOR
    )
    structure.rename_division(
        engine=engine, division_id=org["acute"], name="Acute & critical care", actor=ACTOR
    )
    for change in (
        lambda: structure.create_department(
            engine=engine, name="Stores", division_id=org["support"], actor=ACTOR
        ),
        lambda: structure.move_department(
            engine=engine, department_id=org["emergency"], division_id=org["support"], actor=ACTOR
        ),
        lambda: structure.set_department_archived(
            engine=engine, department_id=org["pharmacy"], archived=False, actor=ACTOR
        ),
    ):
        with pytest.raises(OrganisationError, match="archived"):
            change()
    divisions = structure.list_divisions(engine=engine)
    assert [(d.name, d.archived) for d in divisions] == [
        ("Acute & critical care", False),
        ("Support", True),
    ]


@backends()
def test_departments_are_found_by_name_with_suggestions(engine: Engine, org) -> None:
    with read_session(engine) as session:
        assert structure.department_ids_by_name(
            session=session, names=["emergency", " Pharmacy "]
        ) == frozenset({org["emergency"], org["pharmacy"]})
        with pytest.raises(OrganisationError, match="did you mean 'Pharmacy'"):
            structure.department_ids_by_name(session=session, names=["Pharmcy"])


@backends()
def test_a_new_staff_group_gets_questions_in_every_instrument(engine: Engine) -> None:
    with write_session(engine) as session:
        instrument = catalogue.register_instrument(session=session, definition=builtin_instrument())
    with read_session(engine) as session:
        before = session.scalar(select(func.count()).select_from(Item))
    group = structure.create_staff_group(
        engine=engine, name="Midwives", plural="midwives", actor=ACTOR
    )
    with read_session(engine) as session:
        after = session.scalar(select(func.count()).select_from(Item))
        about = session.scalar(
            select(func.count()).select_from(Item).where(Item.about_group_id == group)
        )
        groups = structure.staff_groups(session=session)
    per_group_items = sum(
        len(section.items) for section in builtin_instrument().sections if section.per_group
    )
    assert about == per_group_items and after - before == per_group_items
    assert groups[-1].key == "midwives" and groups[-1].name == "Midwives"
    assert instrument
    assert actions(engine) == ["staff_group.create"]


@backends()
def test_staff_groups_are_renamed_reordered_and_archived(engine: Engine) -> None:
    ids = {group.key: group.id for group in structure.list_staff_groups(engine=engine)}
    structure.move_staff_group(
        engine=engine, staff_group_id=ids["administrative"], offset=-1, actor=ACTOR
    )
    structure.move_staff_group(engine=engine, staff_group_id=ids["nursing"], offset=-5, actor=ACTOR)
    structure.rename_staff_group(
        engine=engine,
        staff_group_id=ids["nursing"],
        name="Nurses & midwives",
        plural="nurses and midwives",
        actor=ACTOR,
    )
    structure.set_staff_group_archived(
        engine=engine, staff_group_id=ids["physicians"], archived=True, actor=ACTOR
    )
    with read_session(engine) as session:
        active = structure.staff_groups(session=session)
        every = structure.staff_groups(session=session, include_archived=True)
        key = session.get(StaffGroup, ids["nursing"]).key
    assert [group.key for group in active] == ["nursing", "administrative", "allied_health"]
    assert [group.key for group in every] == [
        "nursing",
        "physicians",
        "administrative",
        "allied_health",
    ]
    assert active[0].name == "Nurses & midwives" and key == "nursing"


@backends()
def test_staff_group_rules(engine: Engine) -> None:
    groups = structure.list_staff_groups(engine=engine)
    with (
        pytest.raises(OrganisationError, match="already a staff group called 'Nursing'"),
    ):
        structure.create_staff_group(engine=engine, name="nursing", plural="nurses", actor=ACTOR)
    with pytest.raises(OrganisationError, match="formatting"):
        structure.create_staff_group(engine=engine, name="Porters", plural="*porters*", actor=ACTOR)
    for group in groups[1:]:
        structure.set_staff_group_archived(
            engine=engine, staff_group_id=group.id, archived=True, actor=ACTOR
        )
    with (
        pytest.raises(OrganisationError, match="last active staff group"),
    ):
        structure.set_staff_group_archived(
            engine=engine, staff_group_id=groups[0].id, archived=True, actor=ACTOR
        )


@backends()
def test_cycles_are_created_opened_closed_and_reopened(engine: Engine) -> None:
    with write_session(engine) as session:
        cycle = cycles.add_cycle(
            session=session,
            name="2027 Q1",
            opens=date(2027, 1, 11),
            closes=date(2027, 3, 1),
            actor=ACTOR,
        )
    states = [
        cycles.change_cycle_state(engine=engine, cycle_id=cycle, action=action, actor=ACTOR)
        for action in ("open", "close", "open")
    ]
    (created,) = cycles.list_cycles(engine=engine)
    assert states == [CycleState.open, CycleState.closed, CycleState.open]
    assert created.state == "open" and created.instrument_id
    assert actions(engine) == ["cycle.create", "cycle.open", "cycle.close", "cycle.open"]


@backends()
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"closes": date(2026, 12, 31)}, "close before it opens"),
        ({"name": "2026 q4"}, "already a survey cycle called '2026 Q4'"),
        ({"name": ""}, "needs a name"),
    ],
)
def test_bad_cycles_are_refused(engine: Engine, change, message) -> None:
    with write_session(engine) as session:
        cycles.add_cycle(
            session=session, name="2026 Q4", opens=date(2026, 10, 1), closes=date(2026, 12, 1)
        )
    given = {"name": "2027 Q1", "opens": date(2027, 1, 1), "closes": date(2027, 2, 1), **change}
    with pytest.raises(OrganisationError, match=message), write_session(engine) as session:
        cycles.add_cycle(session=session, actor=ACTOR, **given)


@backends()
def test_a_draft_cycle_cannot_be_closed_nor_an_open_one_opened(engine: Engine) -> None:
    with write_session(engine) as session:
        cycle = cycles.add_cycle(
            session=session, name="2027 Q1", opens=date(2027, 1, 1), closes=date(2027, 2, 1)
        )
    with (
        pytest.raises(OrganisationError, match="is draft; it cannot close"),
    ):
        cycles.change_cycle_state(engine=engine, cycle_id=cycle, action="close", actor=ACTOR)


def answer(engine: Engine, cycle: int, department: int, group: int, count: int) -> None:
    rng = random.Random(count)
    instrument = cycles.list_cycles(engine=engine)[0].instrument_id
    with read_session(engine) as session:
        items = catalogue.instrument_items(session=session, instrument_id=instrument)
    for _ in range(count):
        with write_session(engine) as session:
            store_response(
                session=session,
                cycle_id=cycle,
                department_id=department,
                staff_group_id=group,
                instrument_id=instrument,
                answers={
                    item: rng.randint(0, 10) if item.scale == "nps" else rng.randint(1, 5)
                    for item in items.values()
                },
                comment=None,
            )


@backends()
def test_response_rates_band_small_counts_and_pool_them_as_the_results_do(
    engine: Engine, org
) -> None:
    with write_session(engine) as session:
        cycle = cycles.add_cycle(
            session=session,
            name="2027 Q1",
            opens=date(2027, 1, 1),
            closes=date(2027, 2, 1),
            state=CycleState.open,
        )
        nursing, physicians = (g.id for g in structure.staff_groups(session=session)[:2])
        for department, group, count in [
            (org["emergency"], nursing, 10),
            (org["emergency"], physicians, 4),
            (org["pharmacy"], nursing, 8),
            (org["pharmacy"], physicians, 8),
        ]:
            invitations.create_invitations(
                session=session,
                cycle_id=cycle,
                department_id=department,
                staff_group_id=group,
                count=count,
            )
    answer(engine, cycle, org["emergency"], nursing, 6)
    answer(engine, cycle, org["emergency"], physicians, 3)
    answer(engine, cycle, org["pharmacy"], nursing, 5)
    answer(engine, cycle, org["pharmacy"], physicians, 8)
    # Closed, everything is released; pooling is the same in the steps of an open cycle.
    cycles.change_cycle_state(engine=engine, cycle_id=cycle, action="close", actor="boss")
    with read_session(engine) as session:
        rates = response_rates(engine, cycle_id=cycle)
        emergency_only = response_rates(
            engine, cycle_id=cycle, departments=frozenset({org["emergency"]})
        )
    cells = {(row.department, row.staff_group): row for row in rates.cells}
    # Emergency's 3 physicians are pooled with its 6 nurses (the same atoms the results use),
    # so the nurses' exact count would give the physicians away by subtraction.
    assert cells[("Emergency", "Nursing")].responses_label == "not shown"
    assert cells[("Emergency", "Nursing")].rate is None
    banded = cells[("Emergency", "Physicians")]
    assert (banded.responses, banded.rate, banded.responses_label) == (None, None, "fewer than 5")
    assert banded.invited == 4
    assert cells[("Pharmacy", "Nursing")].responses_label == "5"
    assert cells[("Pharmacy", "Physicians")].rate == 1.0
    departments = {row.department: row for row in rates.departments}
    assert departments["Emergency"].responses == 9
    assert departments["Emergency"].rate == pytest.approx(9 / 14)
    assert departments["Pharmacy"].responses == 13
    assert departments["Pharmacy"].rate == pytest.approx(13 / 16)
    assert {row.department for row in emergency_only.cells} == {"Emergency"}
    assert "3" not in [row.responses_label for row in rates.cells + rates.departments]


@backends()
def test_response_rates_show_only_whole_atoms_across_departments(engine: Engine, org) -> None:
    with write_session(engine) as session:
        cycle = cycles.add_cycle(
            session=session,
            name="2027 Q1",
            opens=date(2027, 1, 1),
            closes=date(2027, 2, 1),
            state=CycleState.open,
        )
        oncology = structure.add_department(
            session=session, name="Oncology", division_id=org["acute"]
        )
        nursing, physicians = (g.id for g in structure.staff_groups(session=session)[:2])
    answer(engine, cycle, org["emergency"], nursing, 6)
    answer(engine, cycle, org["emergency"], physicians, 10)
    answer(engine, cycle, oncology, physicians, 2)
    cycles.change_cycle_state(engine=engine, cycle_id=cycle, action="close", actor="boss")
    with read_session(engine) as session:
        rates = response_rates(engine, cycle_id=cycle)
    # Oncology's 2 are pooled with Emergency's 6 nurses, across the two departments.
    departments = {row.department: row.responses_label for row in rates.departments}
    assert departments == {"Emergency": "at least 10", "Oncology": "fewer than 5"}
    cells = {(row.department, row.staff_group): row.responses_label for row in rates.cells}
    assert cells == {
        ("Emergency", "Nursing"): "not shown",
        ("Emergency", "Physicians"): "10",
        ("Oncology", "Physicians"): "fewer than 5",
    }


@backends()
def test_a_department_under_the_minimum_is_banded_whole(engine: Engine, org) -> None:
    with write_session(engine) as session:
        cycle = cycles.add_cycle(
            session=session,
            name="2027 Q1",
            opens=date(2027, 1, 1),
            closes=date(2027, 2, 1),
            state=CycleState.open,
        )
        nursing = structure.staff_groups(session=session)[0].id
        invitations.create_invitations(
            session=session,
            cycle_id=cycle,
            department_id=org["pharmacy"],
            staff_group_id=nursing,
            count=4,
        )
    answer(engine, cycle, org["pharmacy"], nursing, 4)
    with read_session(engine) as session:
        rates = response_rates(engine, cycle_id=cycle)
    assert [row.responses_label for row in rates.departments] == ["fewer than 5"]
    assert [row.responses for row in rates.cells] == [None]
