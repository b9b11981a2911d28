"""Roster files: bad files refused with line, column and problem; good ones, all or none."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from surveys.invitations import roster
from surveys.invitations.links import hash_token
from surveys.invitations.roster import RosterError, RosterKind, RosterProblem
from surveys.models import Invitation
from surveys.organisation import cycles, structure
from surveys.storage import read_session, write_session
from tests.support.backends import backends


def find_invitation(*, session: Session, token: str) -> Invitation | None:
    """The stored invitation a link's token belongs to."""
    return session.scalars(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()


def parse(engine: Engine, cycle: int, text: str | bytes) -> roster.Roster:
    data = text.encode() if isinstance(text, str) else text
    return roster.parse_roster(engine=engine, data=data, cycle_id=cycle)


def problems(engine: Engine, cycle: int, text: str | bytes) -> list[RosterProblem]:
    with pytest.raises(RosterError) as error:
        parse(engine, cycle, text)
    return error.value.problems


def invitation_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Invitation)) or 0


HEADCOUNT = "department,staff_group,headcount\n"
EMAILS = "department,staff_group,email\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (b"", None, None, "the file is empty"),
        (b"\n\n  \n", None, None, "the file is empty"),
        (HEADCOUNT, None, None, "no rows below the header"),
        ("department,group\nEmergency,nursing\n", 1, None, "needs a headcount or an email column"),
        ("dept,headcount\nEmergency,3\n", 1, None, "no staff_group column"),
        ("department,group,headcount,email\n", 1, None, "both headcount and email"),
        ("department,group,count,headcount\n", 1, "headcount", "second headcount column"),
        (HEADCOUNT + "Emergency,nursing,0\n", 2, "headcount", "must be at least 1, not 0"),
        (HEADCOUNT + "Emergency,nursing,-4\n", 2, "headcount", "must be at least 1, not -4"),
        (HEADCOUNT + "Emergency,nursing,12.5\n", 2, "headcount", "whole number of staff"),
        (HEADCOUNT + "Emergency,nursing,1e3\n", 2, "headcount", "whole number of staff"),
        (HEADCOUNT + "Emergency,nursing,twelve\n", 2, "headcount", "number of staff, not 'twelve'"),
        (HEADCOUNT + "Emergency,nursing,\n", 2, "headcount", "is empty"),
        (HEADCOUNT + "Emergency,nursing,5001\n", 2, "headcount", "5,001 is more than the 5,000"),
        (
            HEADCOUNT + "Emergency,nursing,99999999999999999999999\n",
            2,
            "headcount",
            "far more than the 5,000",
        ),
        (HEADCOUNT + "Emergncy,nursing,4\n", 2, "department", "did you mean 'Emergency'?"),
        (HEADCOUNT + "Pharmacy,nursing,4\n", 2, "department", "'Pharmacy' is archived"),
        (HEADCOUNT + ",nursing,4\n", 2, "department", "is empty"),
        (HEADCOUNT + "Emergency,nurses,4\n", 2, "staff_group", "no staff group 'nurses'"),
        (HEADCOUNT + "Emergency,,4\n", 2, "staff_group", "is empty"),
        (
            HEADCOUNT + "Emergency,nursing,4\n\nEmergency,Nursing,6\n",
            4,
            None,
            "already have a headcount on line 2",
        ),
        (HEADCOUNT + "Emergency,nursing,4,extra\n", 2, None, "has 4 fields but the header has 3"),
        (EMAILS + "Emergency,nursing,not-an-address\n", 2, "email", "is not an email address"),
        (EMAILS + "Emergency,nursing,a b@example.org\n", 2, "email", "is not an email address"),
        (EMAILS + "Emergency,nursing,\n", 2, "email", "is empty"),
        (
            EMAILS + "Emergency,nursing,a@example.org\nOncology,nursing,A@Example.org\n",
            3,
            "email",
            "'A@Example.org' is already on line 2",
        ),
        (HEADCOUNT + 'Emergency,"nursing,4\n', 2, None, "is not valid CSV"),
        (b"department,staff_group,headcount\nUrgences \xe9,nursing,4\n", 2, None, "not UTF-8"),
        (b"department,staff_group,headcount\nEmer\x00gency,nursing,4\n", 2, None, "NUL"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_bad_roster_is_refused_with_line_column_and_problem(
    engine: Engine, cycle: int, text, line, column, message
) -> None:
    first = problems(engine, cycle, text)[0]
    assert (first.line, first.column) == (line, column)
    assert message in first.problem
    assert invitation_count(engine) == 0


def test_every_problem_is_reported_at_once(engine: Engine, cycle: int) -> None:
    found = problems(
        engine,
        cycle,
        HEADCOUNT + "Emergency,nursing,0\nOncology,nurses,3\nEmergncy,physicians,x\n",
    )
    # Department and staff group messages are those `attune invite` gives (surveys.invitations).
    assert [(problem.line, problem.column) for problem in found] == [
        (2, "headcount"),
        (3, "staff_group"),
        (4, "department"),
        (4, "headcount"),
    ]
    assert str(found[0]) == "line 2, column headcount: must be at least 1, not 0"
    assert str(found[1]).startswith("line 3, column staff_group: there is no staff group 'nurses'")
    assert "did you mean 'Emergency'?" in str(found[2])
    assert str(found[3]) == "line 4, column headcount: must be a number of staff, not 'x'"


def test_a_long_list_of_problems_is_cut_short(engine: Engine, cycle: int) -> None:
    with pytest.raises(RosterError) as error:
        parse(engine, cycle, HEADCOUNT + "Emergency,nursing,0\n" * 80)
    assert len(error.value.problems) == roster.MAX_PROBLEMS_SHOWN
    assert error.value.more == 80 - roster.MAX_PROBLEMS_SHOWN
    assert str(error.value).endswith(f"and {80 - 3} more")


def test_an_oversized_file_is_refused_unread(engine: Engine, cycle: int) -> None:
    data = (HEADCOUNT + "Emergency,nursing,1\n" * 60_000).encode()
    assert len(data) > roster.MAX_ROSTER_BYTES
    (problem,) = problems(engine, cycle, data)
    assert "a roster may be at most 1 MB" in problem.problem


def test_too_many_rows_are_refused(engine: Engine, cycle: int) -> None:
    rows = "".join(f"Emergency,nursing,u{n}@x.org\n" for n in range(roster.MAX_ROSTER_ROWS + 1))
    (problem,) = problems(engine, cycle, EMAILS + rows)
    assert problem.line == roster.MAX_ROSTER_ROWS + 2
    assert "more than 20,000 rows" in problem.problem


def test_too_many_links_in_all_are_refused(engine: Engine, cycle: int) -> None:
    division = structure.list_divisions(engine=engine)[0].id
    with write_session(engine) as session:
        for n in range(2):
            structure.add_department(session=session, name=f"Ward {n}", division_id=division)
    rows = "".join(
        f"{department},{group},5000\n"
        for department in ("Emergency", "Oncology", "Ward 0", "Ward 1")
        for group in ("nursing", "physicians", "allied_health")
    )
    (problem,) = problems(engine, cycle, HEADCOUNT + rows)
    assert "asks for 60,000 links; at most 50,000 can be made at once" in problem.problem


def test_a_closed_cycle_takes_no_roster(engine: Engine, cycle: int) -> None:
    cycles.change_cycle_state(engine=engine, cycle_id=cycle, action="close", actor="x")
    (problem,) = problems(engine, cycle, HEADCOUNT + "Emergency,nursing,4\n")
    assert "is closed; links for it could not be used" in problem.problem


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffdepartment,staff_group,headcount\r\nEmergency,nursing,4\r\nOncology,Physicians,2\r\n",
        "Department;Staff group;Headcount\n\nEmergency;nursing;4\n\n;;\nOncology;physicians;+2\n",
        "DEPT,Group,Count,Notes\nemergency, Nursing ,4,night shift\nOncology,physicians,2,\n",
        "department,staff_group,headcount,,\nEmergency,nursing,4,,\nOncology,physicians,2,,\n",
        '"department","staff_group","headcount"\n"Emergency","nursing","4"\n"Oncology","physicians","2"',
    ],
    ids=["bom and crlf", "semicolons and blanks", "aliases and extra column", "trailing", "quoted"],
)
def test_spreadsheet_variations_are_read_alike(engine: Engine, cycle: int, text: str) -> None:
    parsed = parse(engine, cycle, text.encode())
    assert parsed.kind is RosterKind.headcount
    assert [(c.department, c.staff_group, c.count) for c in parsed.cells] == [
        ("Emergency", "Nursing", 4),
        ("Oncology", "Physicians", 2),
    ]
    assert parsed.links == 6 and parsed.rows == 2


@backends()
def test_headcount_roster_makes_links_per_department_and_group(engine: Engine, cycle: int) -> None:
    data = (HEADCOUNT + "Emergency,nursing,3\nOncology,physicians,2\n").encode()
    made = roster.import_roster(engine=engine, data=data, cycle_id=cycle, actor="boss")
    rows = list(csv.reader(io.StringIO(made.csv_text)))
    assert rows[0] == ["department", "staff_group", "link"]
    assert [row[:2] for row in rows[1:]] == [["Emergency", "Nursing"]] * 3 + [
        ["Oncology", "Physicians"]
    ] * 2
    assert made.links == 5 and made.filename == "attune-links-2027-q1.csv"
    assert invitation_count(engine) == 5
    with read_session(engine) as session:
        for row in rows[1:]:
            assert row[2].startswith("http://localhost:8501/survey?token=")
            found = find_invitation(session=session, token=row[2].split("token=")[1])
            assert found is not None and found.cycle_id == cycle and not found.is_open


@backends()
def test_email_roster_pairs_each_email_with_its_own_link_and_stores_no_email(
    engine: Engine, cycle: int
) -> None:
    emails = ["b@example.org", "a@example.org", "c@example.org"]
    data = (
        EMAILS
        + f"Oncology,nursing,{emails[0]}\nEmergency,nursing,{emails[1]}\n"
        + f"Oncology,nursing,{emails[2]}\n"
    ).encode()
    made = roster.import_roster(engine=engine, data=data, cycle_id=cycle, actor="boss")
    rows = list(csv.reader(io.StringIO(made.csv_text)))
    assert rows[0] == ["email", "link"]
    assert [row[0] for row in rows[1:]] == emails
    assert len({row[1] for row in rows[1:]}) == 3
    with read_session(engine) as session:
        where = {
            row[0]: find_invitation(session=session, token=row[1].split("token=")[1])
            for row in rows[1:]
        }
        stored = " ".join(
            " ".join(map(str, row)) for row in session.execute(select(Invitation.__table__))
        )
    assert where["a@example.org"].department_id != where["b@example.org"].department_id
    assert where["b@example.org"].department_id == where["c@example.org"].department_id
    assert "example.org" not in stored


def test_links_file_is_safe_to_open_in_a_spreadsheet(engine: Engine, cycle: int) -> None:
    data = (EMAILS + "Emergency,nursing,=cmd|calc@example.org\n").encode()
    made = roster.import_roster(engine=engine, data=data, cycle_id=cycle, actor="boss")
    assert made.csv_text.splitlines()[1].startswith("'=cmd|calc@example.org,")


def test_nothing_is_stored_when_the_roster_fails(engine: Engine, cycle: int) -> None:
    data = (HEADCOUNT + "Emergency,nursing,3\nOncology,nurses,2\n").encode()
    with pytest.raises(RosterError):
        roster.import_roster(engine=engine, data=data, cycle_id=cycle, actor="boss")
    assert invitation_count(engine) == 0


def test_open_link_is_reusable_and_for_the_cycle(engine: Engine, cycle: int) -> None:
    link = roster.create_open_link(engine=engine, cycle_id=cycle, actor="boss")
    with read_session(engine) as session:
        found = find_invitation(session=session, token=link.split("token=")[1])
    assert found is not None and found.is_open and found.department_id is None


@pytest.mark.parametrize("kind", list(RosterKind))
def test_templates_are_valid_rosters(engine: Engine, cycle: int, kind: RosterKind) -> None:
    template = roster.roster_template(kind)
    assert parse(engine, cycle, template).kind is kind
