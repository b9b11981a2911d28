"""Hostile roster files: every link made and the file safe to open in a spreadsheet (formulas
neutralised), or the file refused with line-by-line messages and nothing written."""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from surveys.csvsafe import FORMULA_PREFIXES
from surveys.invitations import roster
from surveys.invitations.roster import LinkFile, RosterError
from surveys.organisation import cycles, structure
from surveys.records import CycleState
from surveys.storage import write_session
from tests.support.backends import backends
from tests.support.hostile import (
    INJECTION,
    INVISIBLE,
    MARKUP,
    ONE_MEGABYTE,
    changed_tables,
    database_dump,
    hostile_text,
    new_rows,
)

HEADCOUNT = "department,staff_group,headcount\n"
EMAILS = "department,staff_group,email\n"
# Hypothesis runs every example of a test against the one database its fixture made; each
# example compares the database before and after itself, so sharing it is sound.
FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# What a roster's import may write: the links and the audit line that says they were made.
IMPORT_TABLES = {"invitation", "audit_event"}
_FILE_NAME = re.compile(r"^attune-links-[a-z0-9-]+\.csv$")


def csv_bytes(header: str, rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return (header + buffer.getvalue()).encode(encoding)


def import_file(engine: Engine, cycle: int, data: bytes) -> LinkFile:  # noqa: F811
    return roster.import_roster(engine=engine, data=data, cycle_id=cycle, actor="boss")


def assert_readable(error: RosterError) -> None:
    """Messages a person can act on: bounded (a cell is quoted only up to a name's length),
    and showing no invisible character as itself."""
    assert error.problems
    for problem in error.problems:
        text = str(problem)
        assert 0 < len(text) < 1500, text[:400]
        assert not [c for c in text if unicodedata.category(c) in ("Cc", "Cf")], text


def as_written(email: str) -> str:
    """An address as the link file holds it: one that looks like a formula is marked as text."""
    return "'" + email if email.startswith(FORMULA_PREFIXES) else email


def assert_safe_link_file(link_file: LinkFile) -> None:
    assert _FILE_NAME.match(link_file.filename), link_file.filename
    for row in csv.reader(io.StringIO(link_file.csv_text)):
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES), cell


def refused(engine: Engine, cycle: int, data: bytes) -> RosterError:
    before = database_dump(engine)
    with pytest.raises(RosterError) as error:
        import_file(engine, cycle, data)
    assert_readable(error.value)
    assert database_dump(engine) == before
    return error.value


# --- Explicit cases ----------------------------------------------------------------------------

HOSTILE_FILES = {
    "hyperlink email": (
        EMAILS + 'Emergency,nursing,"=HYPERLINK(""x"")@example.org"\n',
        "not an email",
    ),
    "at email": (EMAILS + "Emergency,nursing,@SUM(1)@example.org\n", "not an email"),
    "formula department": (HEADCOUNT + '"=HYPERLINK(""x"")",nursing,3\n', "no department"),
    "dde department": (HEADCOUNT + "\"=cmd|' /C calc'!A0\",nursing,3\n", "no department"),
    "formula headcount": (HEADCOUNT + "Emergency,nursing,=1+2\n", "number of staff"),
    "nul byte": (HEADCOUNT + "Emergency,nursing,3\x00\n", "NUL character"),
    "one megabyte cell": (HEADCOUNT + "x" * (ONE_MEGABYTE - 100) + ",nursing,3\n", "too long"),
    "long department": (HEADCOUNT + "E" * 5000 + ",nursing,3\n", "5,000 characters long"),
    "long staff group": (HEADCOUNT + "Emergency," + "n" * 5000 + ",3\n", "characters long"),
    "long email": (EMAILS + "Emergency,nursing," + "a" * 5000 + "@example.org\n", "not an email"),
    "too big": (HEADCOUNT + "Emergency,nursing,3\n" * 60_000, "at most 1 MB"),
    "rtl email": (EMAILS + "Emergency,nursing,\u202eevil@example.org\n", "U+202E"),
    "zero-width email": (
        EMAILS + "Emergency,nursing,a@example.org\nEmergency,nursing,a\u200b@example.org\n",
        "U+200B",
    ),
    "bom inside email": (EMAILS + "Emergency,nursing,a\ufeff@example.org\n", "U+FEFF"),
    "rtl department": (HEADCOUNT + "Emer\u202egency,nursing,3\n", "did you mean 'Emergency'"),
    "zero-width group": (HEADCOUNT + "Emergency,nur\u200bsing,3\n", "no staff group"),
    "sql department": (HEADCOUNT + "'; DROP TABLE invitation; --,nursing,3\n", "no department"),
    "sql union group": (
        HEADCOUNT + "Emergency,\"x'' UNION SELECT token_hash FROM invitation --\",3\n",
        "no staff group",
    ),
    "sql email": (EMAILS + "Emergency,nursing,'; DROP TABLE account; --@x.org\n", "not an email"),
    "sql headcount": (HEADCOUNT + "Emergency,nursing,3; DELETE FROM invitation\n", "number"),
    "path department": (HEADCOUNT + "../../etc/passwd,nursing,3\n", "no department"),
    "markup department": (HEADCOUNT + "<script>alert(1)</script>,nursing,3\n", "no department"),
    "markdown email": (
        EMAILS + "Emergency,nursing,[me](javascript:alert(1))@x.org\n",
        "not an email",
    ),
    "unclosed quote": (HEADCOUNT + '"Emergency,nursing,3\n', "not valid CSV"),
    "archived department": (HEADCOUNT + "Pharmacy,nursing,3\n", "archived"),
}


@backends()
def test_hostile_rosters_are_refused_line_by_line_and_write_nothing(
    engine: Engine,
    cycle: int,
) -> None:
    for name, (text, words) in HOSTILE_FILES.items():
        error = refused(engine, cycle, text.encode())
        assert words in str(error), f"{name}: {error}"
        if name not in ("too big", "nul byte", "one megabyte cell", "unclosed quote"):
            assert error.problems[-1].line is not None, name


ENCODED = {
    "latin-1": ("Pédiatrie", "latin-1"),
    "windows-1252 quotes": ("“Emergency”", "cp1252"),
    "utf-16": ("Emergency", "utf-16"),
    "utf-16 without a mark": ("Emergency", "utf-16-le"),
    "shift-jis": ("救急", "shift_jis"),
    "utf-32": ("Emergency", "utf-32"),
}


def test_other_encodings_and_binary_files_are_refused_with_how_to_save_them(
    engine: Engine,
    cycle: int,
) -> None:
    for name, (department, encoding) in ENCODED.items():
        error = refused(
            engine, cycle, csv_bytes(HEADCOUNT, [[department, "nursing", "3"]], encoding)
        )
        assert "not UTF-8 text" in str(error) or "NUL character" in str(error), name
    for seed in range(5):
        refused(engine, cycle, random.Random(seed).randbytes(4096))


@backends()
def test_odd_looking_emails_are_kept_and_formula_like_ones_neutralised(
    engine: Engine,
    cycle: int,
) -> None:
    emails = ["o'brien@example.org", "d.o.e+survey@example.org", "renée@exemple.fr"]
    emails += ["=1+2@example.org", "+1+2@example.org", "-2+3@example.org"]
    before = database_dump(engine)
    link_file = import_file(
        engine, cycle, csv_bytes(EMAILS, [["Emergency", "nursing", email] for email in emails])
    )
    assert_safe_link_file(link_file)
    rows = list(csv.reader(io.StringIO(link_file.csv_text)))
    assert [row[0] for row in rows[1:]] == [as_written(email) for email in emails]
    after = database_dump(engine)
    assert changed_tables(before, after) == IMPORT_TABLES
    assert len(new_rows(before, after, "invitation")) == len(emails)


CYCLE_NAMES = [
    INJECTION["path traversal"],
    INJECTION["windows path traversal"].replace("\\", "/"),  # a backslash is refused
    "/etc/cron.d/attune",
    "2026 Q4 ..",
    "...",
    "=2026+Q4",
]


def test_the_link_file_name_is_safe_whatever_the_cycle_is_called(engine: Engine) -> None:
    with write_session(engine) as session:
        division = structure.add_division(session=session, name="Acute care")
        structure.add_department(session=session, name="Emergency", division_id=division)
    for number, cycle_name in enumerate(CYCLE_NAMES):
        with write_session(engine) as session:
            cycle_id = cycles.add_cycle(
                session=session,
                name=cycle_name,
                opens=date(2027, 1, 11 + number),
                closes=date(2027, 3, 1),
                state=CycleState.open,
            )
        link_file = import_file(engine, cycle_id, (HEADCOUNT + "Emergency,nursing,2\n").encode())
        assert_safe_link_file(link_file)
        assert "/" not in link_file.filename and ".." not in link_file.filename, cycle_name


# --- Fuzzing -----------------------------------------------------------------------------------


@backends()
@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        # A good roster with anything after it.
        st.binary(max_size=100).map(
            lambda tail: b"department,group,count\nEmergency,nursing,2\n" + tail
        ),
    )
)
def test_any_bytes_make_links_or_are_refused(
    engine: Engine,
    cycle: int,
    data: bytes,
) -> None:
    before = database_dump(engine)
    try:
        link_file = import_file(engine, cycle, data)
    except RosterError as error:
        event("refused")
        assert_readable(error)
        assert database_dump(engine) == before
        return
    event("links made")
    assert_safe_link_file(link_file)
    after = database_dump(engine)
    assert changed_tables(before, after) == IMPORT_TABLES
    assert len(new_rows(before, after, "invitation")) == link_file.links


def mostly(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Three valid cells in four, so that whole files get through often enough to check."""
    return st.integers(0, 3).flatmap(lambda case: valid if case else hostile_text())


DEPARTMENTS = mostly(st.sampled_from(["Emergency", "oncology", " Emergency "]))
GROUPS = mostly(st.sampled_from(["nursing", "Physicians", "allied_health"]))
EMAIL_CELLS = st.one_of(
    st.emails().filter(lambda email: len(email) <= 254),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        hostile_text(max_size=20),
        st.sampled_from(["example.org", "exa\u200bmple.org", "x.org'--"]),
    ),
    hostile_text(),
)
HEADCOUNT_CELLS = mostly(st.integers(-5, 6000).map(str))
ROSTER_FILES = st.one_of(
    st.lists(st.tuples(DEPARTMENTS, GROUPS, EMAIL_CELLS), min_size=1, max_size=4).map(
        lambda rows: (EMAILS, rows)
    ),
    st.lists(st.tuples(DEPARTMENTS, GROUPS, HEADCOUNT_CELLS), min_size=1, max_size=3).map(
        lambda rows: (HEADCOUNT, rows)
    ),
)


@backends()
@FUZZ
@given(roster_file=ROSTER_FILES)
def test_any_cells_make_safe_links_or_are_refused(
    engine: Engine,
    cycle: int,
    roster_file: tuple[str, list[tuple[str, str, str]]],
) -> None:
    kind, rows = roster_file
    data = csv_bytes(kind, [list(row) for row in rows])
    before = database_dump(engine)
    try:
        link_file = import_file(engine, cycle, data)
    except RosterError as error:
        event("refused")
        assert_readable(error)
        assert database_dump(engine) == before
        return
    event("links made")
    assert_safe_link_file(link_file)
    after = database_dump(engine)
    assert changed_tables(before, after) == IMPORT_TABLES
    assert len(new_rows(before, after, "invitation")) == link_file.links
    if kind == EMAILS:
        # Each address comes back as written (and as plain text a spreadsheet will not run).
        written = [row[0] for row in csv.reader(io.StringIO(link_file.csv_text))][1:]
        kept = [row[2].strip() for row in rows if any(cell.strip() for cell in row)]
        assert written == [as_written(email) for email in kept]
        for email in written:
            assert not [c for c in email if unicodedata.category(c).startswith("C")]


def test_every_hostile_department_is_reported_on_its_own_line(
    engine: Engine,
    cycle: int,
) -> None:
    cases = [text for text in {**MARKUP, **INVISIBLE, **INJECTION}.values() if "\x00" not in text]
    rows = [[text, "nursing", f"person{line}@example.org"] for line, text in enumerate(cases)]
    error = refused(engine, cycle, csv_bytes(EMAILS, rows))
    assert [problem.line for problem in error.problems] == list(range(2, len(cases) + 2))
    assert {problem.column for problem in error.problems} == {"department"}


@backends()
@FUZZ
@given(
    emails=st.lists(
        st.emails().filter(lambda email: len(email) <= 254),
        min_size=1,
        max_size=5,
        unique_by=str.lower,
    )
)
def test_any_list_of_addresses_comes_back_as_written_or_is_refused(
    engine: Engine,
    cycle: int,
    emails: list[str],
) -> None:
    data = csv_bytes(EMAILS, [["Emergency", "nursing", email] for email in emails])
    before = database_dump(engine)
    try:
        link_file = import_file(engine, cycle, data)
    except RosterError as error:
        event("refused")
        assert_readable(error)
        # Only an address hiding an invisible character is refused.
        assert all("invisible" in problem.problem for problem in error.problems), error
        assert database_dump(engine) == before
        return
    event("links made")
    assert_safe_link_file(link_file)
    written = [row[0] for row in csv.reader(io.StringIO(link_file.csv_text))][1:]
    assert written == [as_written(email) for email in emails]
    after = database_dump(engine)
    assert len(new_rows(before, after, "invitation")) == len(emails)
