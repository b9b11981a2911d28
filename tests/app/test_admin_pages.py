"""Administration pages through AppTest: each works for an administrator and for nobody else."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from dashboard import auth
from surveys.access.tickets import SessionTicket, issue_ticket
from surveys.config import get_settings
from surveys.invitations import links as invitations
from surveys.invitations.links import hash_token
from surveys.models import (
    Account,
    AuditEvent,
    CycleState,
    Department,
    Invitation,
    StaffGroup,
    SurveyCycle,
)
from surveys.organisation import catalogue, structure
from surveys.organisation import cycles as cycle_actions
from surveys.storage import read_session, write_session
from surveys.survey import steps
from surveys.survey.submit import store_response
from tests.support.accounts import use_fast_hashing
from tests.support.app import PAGES, account_id, build_hospital, new_app, signed_in

RESULTS_PAGES = {
    "overview.py",
    "focus.py",
    "trends.py",
    "heatmap.py",
    "relationships.py",
    "items.py",
    "comments.py",
    "action_plans.py",
}
ADMIN_PAGES = {
    "admin_cycles.py": "Manage cycles",
    "admin_invitations.py": "Invitations",
    "admin_response_rates.py": "Response rates",
    "admin_sharing.py": "Share results",
    "admin_organisation.py": "Departments",
    "admin_staff_groups.py": "Staff groups",
    "admin_comment_themes.py": "Comment themes",
    "admin_accounts.py": "Accounts",
    "admin_audit.py": "Audit log",
}


def find_invitation(*, session: Session, token: str) -> Invitation | None:
    """The stored invitation a link's token belongs to."""
    return session.scalars(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture
def hospital() -> Iterator[Engine]:
    engine = build_hospital()
    yield engine
    engine.dispose()


@pytest.fixture
def cycles(hospital: Engine) -> dict[str, int]:
    """An open cycle with links and a few answers in Emergency, and a draft cycle."""
    with write_session(hospital) as session:
        open_cycle = cycle_actions.add_cycle(
            session=session,
            name="2026 Q4",
            opens=date(2026, 10, 12),
            closes=date(2026, 12, 3),
            state=CycleState.open,
        )
        draft = cycle_actions.add_cycle(
            session=session, name="2027 Q1", opens=date(2027, 1, 11), closes=date(2027, 3, 1)
        )
        emergency = structure.department_ids_by_name(session=session, names=["Emergency"])
        emergency_id = next(iter(emergency))
        groups = structure.staff_groups(session=session)
        for group, count in ((groups[0], 10), (groups[1], 4)):
            invitations.create_invitations(
                session=session,
                cycle_id=open_cycle,
                department_id=emergency_id,
                staff_group_id=group.id,
                count=count,
            )
        instrument = session.get(SurveyCycle, open_cycle).instrument_id
        items = catalogue.instrument_items(session=session, instrument_id=instrument)
    rng = random.Random(4)
    for group, count in ((groups[0], 7), (groups[1], 2)):
        for _ in range(count):
            with write_session(hospital) as session:
                store_response(
                    session=session,
                    cycle_id=open_cycle,
                    department_id=emergency_id,
                    staff_group_id=group.id,
                    instrument_id=instrument,
                    answers={
                        item: rng.randint(0, 10) if item.scale == "nps" else rng.randint(1, 5)
                        for item in items.values()
                    },
                    comment=None,
                )
                # As a submission does: the open cycle's released snapshot moves in steps.
                steps.advance(session=session, cycle_id=open_cycle, cell=(emergency_id, group.id))
    return {"open": open_cycle, "draft": draft, "emergency": emergency_id}


def admin_on(hospital: Engine, page: str) -> AppTest:
    at = signed_in(hospital, "boss")
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception
    return at


def audit_actions(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- Who may see what --------------------------------------------------------------------------


@pytest.mark.parametrize(("page_file", "title"), ADMIN_PAGES.items())
def test_every_admin_page_opens_for_an_administrator(
    hospital: Engine, cycles, page_file: str, title: str
) -> None:
    at = admin_on(hospital, page_file)
    assert [element.value for element in at.title] == [title]
    assert not at.error


def navigation_pages(at: AppTest) -> set[str]:
    """The page files the last run's st.navigation offered (AppTest keeps no public list).
    Pages that are functions of app.py (a manager's "for administrators" answer at an
    administration page's address) run no page file and are not counted."""
    paths = [Path(str(info["script_path"])) for info in at._registered_pages.values()]
    return {path.name for path in paths if path.parent.name == "app_pages"}


def test_navigation_is_built_by_role(hospital: Engine) -> None:
    admin = signed_in(hospital, "boss")
    manager = signed_in(hospital, "ed")
    assert navigation_pages(admin) == {"cycles.py", *RESULTS_PAGES, *ADMIN_PAGES}
    assert navigation_pages(manager) == RESULTS_PAGES
    assert manager.sidebar.caption[0].value == "Manager"
    for page in ADMIN_PAGES:
        with pytest.raises(ValueError):
            manager.switch_page(f"app_pages/{page}")


@pytest.mark.parametrize("page_file", ADMIN_PAGES)
@pytest.mark.parametrize("who", ["ed", None, "forged"])
def test_admin_pages_refuse_anyone_but_an_administrator_on_every_run(
    hospital: Engine, page_file: str, who: str | None
) -> None:
    """Run straight from the file, as a crafted request for the page would, the page checks
    the role itself; it does not rely on the navigation leaving it out."""
    at = new_app(PAGES / page_file)
    if who == "ed":
        at.session_state[auth.SESSION_KEY] = issue_ticket(account_id(hospital, "ed"))
    elif who == "forged":
        genuine = issue_ticket(account_id(hospital, "ed"))
        at.session_state[auth.SESSION_KEY] = SessionTicket(
            account_id(hospital, "boss"),
            genuine.issued_at,
            genuine.last_seen_at,
            False,
            genuine.signature,
        )
    at.run()
    assert not at.exception
    assert [error.value for error in at.error] == ["This page is for administrators."]
    assert not at.title and not at.dataframe and not at.button and not at.text_input


@pytest.mark.parametrize(
    "tamper",
    [
        {"query_params": {"role": "admin", "department": "2", "page": "manage-cycles"}},
        {"session_state": {"role": "admin", "department_ids": None, "is_admin": True}},
        {"ticket": "admin"},
    ],
    ids=["query parameters", "session state keys", "ticket replaced"],
)
def test_a_manager_cannot_promote_themselves(hospital: Engine, tamper: dict) -> None:
    at = new_app()
    at.session_state[auth.SESSION_KEY] = issue_ticket(account_id(hospital, "ed"))
    for key, value in tamper.get("query_params", {}).items():
        at.query_params[key] = value
    for key, value in tamper.get("session_state", {}).items():
        at.session_state[key] = value
    if "ticket" in tamper:
        at.session_state[auth.SESSION_KEY] = {"account_id": account_id(hospital, "boss")}
    at.run()
    assert not at.exception
    assert navigation_pages(at) in (RESULTS_PAGES, {"sign_in.py"})
    assert not at.sidebar.caption or at.sidebar.caption[0].value == "Manager"


def test_an_administrator_demoted_mid_session_loses_the_pages_at_once(
    hospital: Engine, cycles
) -> None:
    at = admin_on(hospital, "admin_cycles.py")
    assert at.title[0].value == "Manage cycles"
    with write_session(hospital) as session:
        session.execute(update(Account).where(Account.username == "boss").values(role="manager"))
    at.run()
    assert not at.exception
    assert "Manage cycles" not in [element.value for element in at.title]
    assert navigation_pages(at) == RESULTS_PAGES
    assert not [button for button in at.button if button.key in ("cycle_open", "cycle_close")]


# --- Survey cycles -----------------------------------------------------------------------------


def test_admin_creates_opens_and_closes_a_cycle(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_cycles.py")
    at.text_input(key="new_cycle_name").set_value("2027 Q2")
    at.date_input(key="new_cycle_opens").set_value(date(2027, 4, 12))
    at.date_input(key="new_cycle_closes").set_value(date(2027, 6, 1))
    at.button(key="new_cycle_submit").click().run()
    assert not at.exception
    assert "Cycle created as a draft" in at.success[0].value
    table = at.dataframe[0].value
    assert table["Cycle"].tolist()[0] == "2027 Q2"
    assert table["Status"].tolist()[0] == "Draft"

    created = next(c.id for c in list_cycles(hospital) if c.name == "2027 Q2")
    at.selectbox(key="cycle_state_choice").set_value(created).run()
    assert at.button(key="cycle_close").disabled
    at.button(key="cycle_open").click().run()
    assert "Cycle opened" in at.success[0].value
    at.selectbox(key="cycle_state_choice").set_value(created).run()
    at.button(key="cycle_close").click().run()
    assert "Cycle closed" in at.success[0].value
    assert {c.name: c.state for c in list_cycles(hospital)}["2027 Q2"] == "closed"
    assert audit_actions(hospital)[-3:] == ["cycle.create", "cycle.open", "cycle.close"]


def list_cycles(engine: Engine):  # type: ignore[no-untyped-def]
    return cycle_actions.list_cycles(engine=engine)


def test_a_cycle_that_closes_before_it_opens_is_refused(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_cycles.py")
    at.text_input(key="new_cycle_name").set_value("Backwards")
    at.date_input(key="new_cycle_opens").set_value(date(2027, 4, 12))
    at.date_input(key="new_cycle_closes").set_value(date(2027, 4, 1))
    at.button(key="new_cycle_submit").click().run()
    assert not at.exception
    assert "cannot close before it opens" in at.error[0].value
    assert "Backwards" not in [c.name for c in list_cycles(hospital)]


# --- Invitations -------------------------------------------------------------------------------


def upload(at: AppTest, text: str) -> AppTest:
    at.file_uploader(key="invitation_roster").upload("roster.csv", text.encode(), "text/csv")
    return at.run()


def test_admin_uploads_addresses_for_attune_to_email_and_a_bad_file_stores_none(
    hospital: Engine, cycles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_LINK_SECRET", "x" * 40)
    get_settings.cache_clear()
    at = admin_on(hospital, "admin_invitations.py")
    at.selectbox(key="invitation_cycle").set_value(cycles["draft"]).run()
    before = count_invitations(hospital)
    at.file_uploader(key="email_roster").upload(
        "emails.csv",
        b"department,staff_group,email\nEmergency,nursing,a@example.org\n"
        b"Emergency,nursing,Someone <b@example.org>\n",
        "text/csv",
    )
    at.run()
    at.button(key="email_roster_import").click().run()
    assert not at.exception
    assert "cannot be used: 1 problem" in at.error[0].value
    (problems,) = [frame.value for frame in at.dataframe if "Line" in frame.value.columns]
    assert problems["Line"].tolist() == [3]
    assert count_invitations(hospital) == before
    at.file_uploader(key="email_roster").upload(
        "emails.csv",
        b"department,staff_group,email\nEmergency,nursing,a@example.org\n"
        b"Oncology,physicians,b@example.org\n",
        "text/csv",
    )
    at.run()
    at.button(key="email_roster_import").click().run()
    assert not at.exception
    assert "2 addresses stored" in at.success[0].value
    assert count_invitations(hospital) == before + 2
    assert "mail.roster" in audit_actions(hospital)


def test_admin_turns_a_roster_into_downloadable_links(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_invitations.py")
    at.selectbox(key="invitation_cycle").set_value(cycles["draft"]).run()
    at = upload(
        at,
        "department;staff_group;email\nEmergency;nursing;a@example.org\n"
        "Oncology;physicians;b@example.org\n",
    )
    assert not at.exception
    assert {metric.label: metric.value for metric in at.metric}["Links to make"] == "2"
    assert at.dataframe[0].value["Department"].tolist() == ["Emergency", "Oncology"]
    before = count_invitations(hospital)
    at.button(key="roster_create").click().run()
    assert not at.exception
    assert count_invitations(hospital) == before + 2
    assert "2 links created" in at.success[0].value
    download = at.get("download_button")
    assert "Download links (CSV)" in [button.label for button in download]
    rows = list(csv.reader(io.StringIO(at.session_state["invitation_links"][1].csv_text)))
    assert [row[0] for row in rows] == ["email", "a@example.org", "b@example.org"]
    assert all("/survey?token=" in row[1] for row in rows[1:])
    # The same file is not turned into links twice.
    assert not [button for button in at.button if button.key == "roster_create"]
    at.button(key="links_forget").click().run()
    assert "invitation_links" not in at.session_state
    assert audit_actions(hospital)[-1] == "invitations.roster"


def count_invitations(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Invitation)) or 0


def test_a_bad_roster_lists_its_problems_and_makes_nothing(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_invitations.py")
    before = count_invitations(hospital)
    at = upload(at, "department,staff_group,headcount\nEmergncy,nursing,4\nOncology,nursing,0\n")
    assert not at.exception
    assert "The roster cannot be used: 2 problems" in at.error[0].value
    problems = at.dataframe[0].value
    assert problems["Line"].tolist() == [2, 3]
    assert problems["Column"].tolist() == ["department", "headcount"]
    assert "did you mean 'Emergency'?" in problems["Problem"].tolist()[0]
    assert not [button for button in at.button if button.key == "roster_create"]
    assert count_invitations(hospital) == before


def test_admin_makes_an_open_link(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_invitations.py")
    at.button(key="open_link_create").click().run()
    assert not at.exception
    link = at.code[0].value
    assert link.startswith("http://localhost:8501/survey?token=")
    with read_session(hospital) as session:
        found = find_invitation(session=session, token=link.split("token=")[1])
    assert found is not None and found.is_open


def test_closed_cycles_are_not_offered_for_invitations(hospital: Engine, cycles) -> None:
    for cycle in ("open", "draft"):
        if cycle == "draft":
            cycle_actions.change_cycle_state(
                engine=hospital, cycle_id=cycles[cycle], action="open", actor="t"
            )
        cycle_actions.change_cycle_state(
            engine=hospital, cycle_id=cycles[cycle], action="close", actor="t"
        )
    at = admin_on(hospital, "admin_invitations.py")
    assert "no draft or open cycle" in at.info[0].value
    assert not at.file_uploader


def test_admin_makes_links_for_one_group_without_a_file(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_invitations.py")
    before = count_invitations(hospital)
    at.selectbox(key="group_dept").set_value("Oncology")
    at.selectbox(key="group_group").set_value("physicians")
    at.number_input(key="group_count").set_value(3)
    at.button(key="group_links_create").click().run()
    assert not at.exception
    assert count_invitations(hospital) == before + 3
    assert "3 links created" in at.success[0].value
    rows = list(csv.reader(io.StringIO(at.session_state["invitation_group_links"][1])))
    assert rows[0] == ["cycle", "department", "staff_group", "link"]
    assert {row[1] for row in rows[1:]} == {"Oncology"} and len(rows) == 4
    assert audit_actions(hospital)[-1] == "invitations.create"


def test_an_open_link_comes_with_a_qr_code_to_print(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_invitations.py")
    at.button(key="open_link_create").click().run()
    assert not at.exception
    assert "open_link_qr" in [button.key for button in at.get("download_button")]
    poster = invitations.qr_code_png(at.code[0].value)
    assert poster.startswith(b"\x89PNG") and len(poster) > 500


def test_admin_sets_a_schedule_and_message_and_sends_a_test_email(
    hospital: Engine, cycles, mail_settings
) -> None:
    from surveys.organisation.schedule import get_schedule

    at = admin_on(hospital, "admin_cycles.py")
    at.selectbox(key="schedule_cycle").set_value(cycles["draft"]).run()
    assert "opened and closed by hand" in " ".join(caption.value for caption in at.caption)
    at.text_input(key="schedule_reminders").set_value("2, 9")
    at.text_input(key="schedule_subject").set_value("**Our** survey <b>now</b>")
    at.text_area(key="schedule_intro").set_value("Hello [team](javascript:alert(1))")
    at.button(key="schedule_save").click().run()
    assert not at.exception
    assert "Schedule and message saved" in at.success[0].value
    plan = get_schedule(engine=hospital, cycle_id=cycles["draft"])
    assert plan.automatic and plan.reminder_days == (2, 9)
    # The preview shows the administrator's text as text.
    at.selectbox(key="schedule_cycle").set_value(cycles["draft"]).run()
    shown = [element.value for element in at.text]
    assert "Subject: **Our** survey <b>now</b>" in shown
    assert any("Hello [team](javascript:alert(1))" in value for value in shown)
    assert not at.markdown or all("javascript" not in m.value for m in at.markdown)
    assert [metric.value for metric in at.metric][:3] == ["0", "0", "0"]

    at.text_input(key="schedule_test_to").set_value("boss@hospital.example")
    at.button(key="schedule_test_send").click().run()
    assert not at.exception
    assert "Test email sent" in at.success[0].value
    (received,) = mail_settings.mailbox.messages
    assert received["Subject"] == "**Our** survey <b>now</b>"
    assert audit_actions(hospital)[-2:] == ["cycle.schedule", "mail.test"]


def test_a_bad_schedule_is_refused_in_words(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_cycles.py")
    at.selectbox(key="schedule_cycle").set_value(cycles["draft"]).run()
    at.text_input(key="schedule_reminders").set_value("3, soon")
    at.button(key="schedule_save").click().run()
    assert not at.exception
    assert "whole numbers of days" in at.error[0].value
    at.text_input(key="schedule_reminders").set_value("400")
    at.button(key="schedule_save").click().run()
    assert "after the cycle closes" in at.error[0].value


# --- Response rates ----------------------------------------------------------------------------


def test_response_rates_band_small_groups(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_response_rates.py")
    assert at.selectbox(key="rates_cycle").value == cycles["open"]
    departments, cells = (frame.value for frame in at.dataframe)
    # The cycle is open: of 7 nurses, the first 5 are released (a step of 5); the 2
    # physicians wait for 3 more or for the close.
    assert departments["Responses"].tolist() == ["5"]
    assert departments["Response rate"].tolist() == [36]
    assert cells["Responses"].tolist() == ["5", "fewer than 5"]
    assert cells["Response rate"].isna().tolist()[1]

    # Closed, 7 nurses and 2 physicians form one atom, as in the results: only their sum shows.
    cycle_actions.change_cycle_state(
        engine=hospital, cycle_id=cycles["open"], action="close", actor="boss"
    )
    at = admin_on(hospital, "admin_response_rates.py")
    at.selectbox(key="rates_cycle").set_value(cycles["open"]).run()
    assert not at.exception
    departments, cells = (frame.value for frame in at.dataframe)
    assert departments["Responses"].tolist() == ["9"]
    assert departments["Response rate"].tolist() == [64]
    assert cells["Responses"].tolist() == ["not shown", "fewer than 5"]
    assert cells["Response rate"].isna().all()


# --- Departments and divisions -----------------------------------------------------------------


def test_admin_adds_renames_moves_and_archives_departments(hospital: Engine) -> None:
    at = admin_on(hospital, "admin_organisation.py")
    at.text_input(key="new_division_name").set_value("Support services")
    at.button(key="new_division_submit").click().run()
    assert "Division added." in at.success[0].value
    support = next(d.id for d in list_divisions(hospital) if d.name == "Support services")
    at.text_input(key="new_department_name").set_value("Pharmacy")
    at.selectbox(key="new_department_division").set_value(support)
    at.button(key="new_department_submit").click().run()
    assert "Department added." in at.success[0].value

    pharmacy = department_id(hospital, "Pharmacy")
    at.selectbox(key="edit_department").set_value(pharmacy).run()
    at.text_input(key=f"rename_department_name_{pharmacy}").set_value("Pharmacy & stores")
    at.button(key="rename_department_submit").click().run()
    assert "Department renamed." in at.success[0].value
    emergency = department_id(hospital, "Emergency")
    at.selectbox(key="edit_department").set_value(emergency).run()
    at.selectbox(key="move_department_division").set_value(support)
    at.button(key="move_department_submit").click().run()
    assert "Department moved." in at.success[0].value
    at.selectbox(key="edit_department").set_value(emergency).run()
    at.button(key="archive_department").click().run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("Department")
    assert table.loc["Emergency", "Division"] == "Support services"
    assert table.loc["Emergency", "Status"] == "Archived"
    assert "Pharmacy & stores" in table.index
    assert audit_actions(hospital)[-5:] == [
        "division.create",
        "department.create",
        "department.rename",
        "department.move",
        "department.archive",
    ]


def test_markup_in_a_name_is_refused_and_shown_as_text(hospital: Engine) -> None:
    at = admin_on(hospital, "admin_organisation.py")
    at.text_input(key="new_division_name").set_value("**Bold** [x](javascript:1)")
    at.button(key="new_division_submit").click().run()
    assert not at.exception
    message = at.error[0].value
    assert "names are plain text" in message
    assert "\\*" in message  # escaped: Markdown shows the character, not bold


def list_divisions(engine: Engine):  # type: ignore[no-untyped-def]
    return structure.list_divisions(engine=engine)


def department_id(engine: Engine, name: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(Department.id).where(Department.name == name)).one()


# --- Staff groups ------------------------------------------------------------------------------


def test_admin_adds_reorders_renames_and_archives_staff_groups(hospital: Engine) -> None:
    at = admin_on(hospital, "admin_staff_groups.py")
    at.text_input(key="new_group_name").set_value("Midwives")
    at.text_input(key="new_group_plural").set_value("midwives")
    at.button(key="new_group_submit").click().run()
    assert "Staff group added" in at.success[0].value
    midwives = group_id(hospital, "midwives")
    at.selectbox(key="edit_group").set_value(midwives).run()
    at.button(key="group_up").click().run()
    at.selectbox(key="edit_group").set_value(midwives).run()
    at.text_input(key=f"rename_group_plural_{midwives}").set_value("midwives and doulas")
    at.button(key="rename_group_submit").click().run()
    at.selectbox(key="edit_group").set_value(midwives).run()
    at.button(key="group_archive").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["Staff group"].tolist()[3] == "Midwives"
    assert table["Asked about as"].tolist()[3] == "midwives and doulas"
    assert table["Status"].tolist()[3] == "Archived"


def test_admin_adds_and_removes_a_codebook_phrase_as_plain_text(hospital: Engine) -> None:
    at = admin_on(hospital, "admin_comment_themes.py")
    at.selectbox(key="new_phrase_code").set_value("timeliness")
    at.text_input(key="new_phrase_text").set_value("<b>bed managers</b> never ring back")
    at.button(key="new_phrase_submit").click().run()
    assert not at.exception
    assert "Phrase added" in at.success[0].value
    table = at.dataframe[0].value
    assert table["Phrase"].tolist()[-1] == "<b>bed managers</b> never ring back"
    assert table["From"].tolist()[-1] == "Added"
    at.button(key="remove_phrase_submit").click().run()
    assert not at.exception
    assert "Added" not in at.dataframe[0].value["From"].tolist()


def group_id(engine: Engine, key: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(StaffGroup.id).where(StaffGroup.key == key)).one()


# --- Accounts ----------------------------------------------------------------------------------


def test_admin_adds_a_manager_who_then_sees_only_their_pages(hospital: Engine) -> None:
    at = admin_on(hospital, "admin_accounts.py")
    at.text_input(key="new_account_username").set_value("onc.lead")
    at.multiselect(key="new_account_departments").set_value(["Oncology"])
    at.text_input(key="new_account_password").set_value("a long enough phrase")
    at.text_input(key="new_account_confirm").set_value("a long enough phrase")
    at.button(key="new_account_submit").click().run()
    assert not at.exception
    assert "Account added." in at.success[0].value
    table = at.dataframe[0].value.set_index("Username")
    assert table.loc["onc.lead", "Departments"] == "Oncology"
    assert table.loc["onc.lead", "Role"] == "Manager"
    manager = signed_in(hospital, "onc.lead")
    assert navigation_pages(manager) == RESULTS_PAGES
    assert manager.sidebar.caption[0].value == "Manager"

    at.selectbox(key="edit_account").set_value("onc.lead").run()
    at.button(key="account_active").click().run()
    assert "Account disabled." in at.success[0].value
    manager.run()
    assert manager.title[0].value == "Sign in to Attune"


def test_an_administrator_cannot_disable_themselves(hospital: Engine) -> None:
    at = admin_on(hospital, "admin_accounts.py")
    at.selectbox(key="edit_account").set_value("boss").run()
    assert at.button(key="account_active").disabled


# --- Audit log ---------------------------------------------------------------------------------


def test_audit_log_shows_who_did_what(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_cycles.py")
    at.selectbox(key="cycle_state_choice").set_value(cycles["open"]).run()
    at.button(key="cycle_close").click().run()
    at.switch_page("app_pages/admin_audit.py").run()
    assert not at.exception
    log = at.dataframe[0].value
    assert log["Who"].tolist()[0] == "boss"
    assert log["Action"].tolist()[0] == "Closed a cycle"
    assert log["Detail"].tolist()[0] == "2026 Q4"
    at.selectbox(key="audit_action").set_value("account.create").run()
    assert set(at.dataframe[0].value["Action"]) == {"Added an account"}
    at.text_input(key="audit_actor").set_value("nobody").run()
    assert "Nothing recorded yet." in at.info[0].value


def test_audit_times_are_in_the_organisations_time_zone(
    hospital: Engine, cycles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_TIME_ZONE", "Pacific/Auckland")  # never UTC's clock time
    get_settings.cache_clear()
    at = admin_on(hospital, "admin_audit.py")
    assert not at.exception
    assert any(caption.value.startswith("Times in Pacific/Auckland") for caption in at.caption)
    with read_session(hospital) as session:
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    shown = at.dataframe[0].value["When"].tolist()[0]
    expected = newest.at.astimezone(ZoneInfo("Pacific/Auckland")).replace(tzinfo=None)
    assert shown == pd.Timestamp(expected)


def test_signing_out_forgets_links_made_in_the_session(hospital: Engine, cycles) -> None:
    at = admin_on(hospital, "admin_invitations.py")
    at = upload(at, "department,staff_group,headcount\nEmergency,nursing,2\n")
    at.button(key="roster_create").click().run()
    assert "invitation_links" in at.session_state
    at.sidebar.button(key="sign_out").click().run()
    assert not at.exception
    assert at.title[0].value == "Sign in to Attune"
    assert "invitation_links" not in at.session_state


def test_a_renamed_department_shows_at_once_in_results_cached_before(
    hospital: Engine, cycles: dict[str, int]
) -> None:
    # A rename adds no response, so the data version stays; the change itself empties the
    # cached reports and charts, the ones every session shares included.
    at = admin_on(hospital, "heatmap.py")
    assert "Emergency" in at.get("plotly_chart")[0].proto.spec
    at.switch_page("app_pages/admin_organisation.py").run()
    at.selectbox(key="edit_department").set_value(cycles["emergency"]).run()
    at.text_input(key=f"rename_department_name_{cycles['emergency']}").set_value(
        "Emergency & Trauma"
    )
    at.button(key="rename_department_submit").click().run()
    assert "Department renamed." in at.success[0].value
    at.switch_page("app_pages/heatmap.py").run()
    assert not at.exception
    assert "Emergency & Trauma" in at.get("plotly_chart")[0].proto.spec
    assert "Emergency & Trauma" in at.multiselect(key="filter_departments").options


def test_two_open_cycles_with_overlapping_dates_are_warned_about(hospital: Engine) -> None:
    made = {
        name: cycle_actions.create_cycle(
            engine=hospital, name=name, opens=opens, closes=closes, actor="t"
        )
        for name, opens, closes in (
            ("Spring", date(2027, 3, 1), date(2027, 4, 30)),
            ("Pulse", date(2027, 4, 15), date(2027, 5, 15)),
            ("Summer", date(2027, 6, 1), date(2027, 6, 30)),  # open too, but no overlap
            ("Draft", date(2027, 3, 10), date(2027, 3, 20)),  # overlaps, but only a draft
        )
    }
    at = admin_on(hospital, "admin_cycles.py")
    assert not [w for w in at.warning if "overlap" in w.value]
    for name in ("Spring", "Pulse", "Summer"):
        cycle_actions.change_cycle_state(
            engine=hospital, cycle_id=made[name], action="open", actor="t"
        )
    at.run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "overlap" in w.value]
    assert warning.startswith("Spring and Pulse are both open and their dates overlap")
    assert "(15 Apr 2027 to 30 Apr 2027)" in warning
