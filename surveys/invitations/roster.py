"""Roster files: CSV rows of department, staff group and a headcount or an email, turned into
one-time survey links, all or nothing.

Emails only pass through: they pair each link with its recipient in the file handed back and
are never stored. Departments and staff groups are found by the same rules as `attune
invite` (surveys.invitations.links), so a roster and the command line accept the same names.

The Invitations page calls the functions that take `engine=`; each is one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session

from surveys import audit
from surveys.csvsafe import rows_to_csv
from surveys.invitations import links
from surveys.models import SurveyCycle
from surveys.organisation.structure import NAME_MAX_LENGTH
from surveys.records import CycleState
from surveys.storage import read_session, write_session
from surveys.text import CONTROL_CATEGORIES, EMAIL_MAX_LENGTH, hidden_characters, shown

MAX_ROSTER_BYTES = 1_048_576  # 1 MB; .streamlit/config.toml lets uploads reach 2 MB
MAX_ROSTER_ROWS = 20_000
MAX_HEADCOUNT = 5_000  # one row; a bigger department is more than one row, by staff group
MAX_LINKS = links.MAX_INVITATIONS_PER_CALL
MAX_PROBLEMS_SHOWN = 50

# Header spellings people use, after lower-casing and turning spaces and dashes into "_".
COLUMN_ALIASES = {
    "department": "department",
    "dept": "department",
    "department_name": "department",
    "staff_group": "staff_group",
    "group": "staff_group",
    "staffgroup": "staff_group",
    "profession": "staff_group",
    "headcount": "headcount",
    "head_count": "headcount",
    "count": "headcount",
    "staff": "headcount",
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
}
_EMAIL = re.compile(r"^[^@\s,;<>\"()\[\]]+@[^@\s,;<>\"()\[\]]+\.[^@\s,;<>\"()\[\]]+$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


class RosterKind(StrEnum):
    headcount = "headcount"
    emails = "emails"


@dataclass(frozen=True)
class RosterProblem:
    """One thing wrong with a roster: where (line and column, when known) and what."""

    line: int | None
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


class RosterError(ValueError):
    """A roster that cannot be used; `problems` lists every problem found (up to a limit)."""

    def __init__(self, problems: list[RosterProblem], *, more: int = 0) -> None:
        self.problems = problems
        self.more = more
        summary = "; ".join(str(problem) for problem in problems[:3])
        extra = len(problems) - 3 + more
        super().__init__(summary + (f"; and {extra} more" if extra > 0 else ""))


@dataclass(frozen=True)
class RosterCell:
    """The links one department and staff group get."""

    department_id: int
    department: str
    staff_group_id: int
    staff_group: str
    count: int
    # In file order; empty for a headcount roster.
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Roster:
    kind: RosterKind
    cells: tuple[RosterCell, ...]
    rows: int
    ignored_columns: tuple[str, ...] = ()
    # For an email roster: (cell index, position in the cell) per email, in file order.
    order: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    # For an email roster: the line of each email in `order`, for messages about them.
    email_lines: tuple[int, ...] = field(default=(), repr=False)

    @property
    def links(self) -> int:
        return sum(cell.count for cell in self.cells)


@dataclass(frozen=True)
class LinkFile:
    """The links made from a roster, as CSV text that exists nowhere else."""

    csv_text: str
    links: int
    filename: str


def _decode(data: bytes) -> str:
    if not data.strip():
        raise RosterError([RosterProblem(None, None, "the file is empty")])
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(
            [
                RosterProblem(
                    None,
                    None,
                    f"the file is {len(data) / 1_048_576:.1f} MB; a roster may be at most 1 MB "
                    f"and {MAX_ROSTER_ROWS:,} rows, so split it",
                )
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RosterError(
            [
                RosterProblem(
                    line,
                    None,
                    "the file is not UTF-8 text; save it from your spreadsheet as "
                    "“CSV UTF-8 (comma delimited)”",
                )
            ]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise RosterError(
            [RosterProblem(line, None, "the file holds a NUL character; is it a spreadsheet?")]
        )
    return text


def _delimiter(text: str) -> str:
    """Semicolons when the header uses them (spreadsheets in many European locales do)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if header.count(";") > header.count(",") else ","


def _header(row: list[str], line: int) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    ignored = []
    problems = []
    for index, raw in enumerate(row):
        key = re.sub(r"[\s\-]+", "_", raw.strip().lower())
        name = COLUMN_ALIASES.get(key)
        if name is None:
            if raw.strip():
                ignored.append(raw.strip())
            continue
        if name in columns:
            problems.append(RosterProblem(line, raw.strip(), f"is a second {name} column"))
        columns[name] = index
    for required in ("department", "staff_group"):
        if required not in columns:
            problems.append(
                RosterProblem(
                    line,
                    None,
                    f"the header has no {required} column (the first row must name the "
                    "columns: department, staff_group, and headcount or email)",
                )
            )
    if "headcount" in columns and "email" in columns:
        problems.append(
            RosterProblem(
                line, None, "the header has both headcount and email columns; use one or the other"
            )
        )
    elif "headcount" not in columns and "email" not in columns:
        problems.append(
            RosterProblem(line, None, "the header needs a headcount or an email column")
        )
    if problems:
        raise RosterError(problems)
    return columns, ignored


def _email_problem(email: str) -> str | None:
    """What is wrong with an email cell, or None."""
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.match(email):
        return f"{shown(email)} is not an email address"
    hidden = hidden_characters(email, categories=CONTROL_CATEGORIES)
    if hidden:
        # A zero-width space or a right-to-left override makes one address look like another.
        return (
            f"{shown(email)} contains invisible or control characters "
            f"({', '.join(hidden[:3])}); type the address again"
        )
    # An address that starts like a formula is kept: rows_to_csv neutralises it on the way out.
    return None


def _headcount(value: str) -> int | str:
    """The headcount, or the problem with it."""
    if not value:
        return "is empty"
    if not _INTEGER.match(value):
        if _NUMBER.match(value):
            return f"must be a whole number of staff, not {shown(value)}"
        return f"must be a number of staff, not {shown(value)}"
    if len(value.lstrip("+-")) > 9:
        return f"{shown(value)} is far more than the {MAX_HEADCOUNT:,} links one row may ask for"
    count = int(value)
    if count < 1:
        return f"must be at least 1, not {count}"
    if count > MAX_HEADCOUNT:
        return (
            f"{count:,} is more than the {MAX_HEADCOUNT:,} links one row may ask for; "
            "split the department by staff group or check the number"
        )
    return count


def _finder(lookup: Callable[..., links.Named], session: Session) -> Callable[[str], object]:
    """Look each distinct name up once: a roster repeats the same few names thousands of times."""
    found: dict[str, object] = {}

    def find(name: str) -> object:
        key = name.strip().lower()
        if key not in found:
            if len(key) > NAME_MAX_LENGTH:
                # Not looked up, nor quoted whole in the message: no name is this long.
                found[key] = (
                    f"{shown(name)} is {len(key):,} characters long; no name is longer "
                    f"than {NAME_MAX_LENGTH}"
                )
                return found[key]
            try:
                found[key] = lookup(session=session, name=name)
            except (links.UnknownName, ValueError) as error:
                found[key] = str(error)
        return found[key]

    return find


def _check_cycle(session: Session, cycle_id: int) -> SurveyCycle:
    cycle = session.get(SurveyCycle, cycle_id)
    if cycle is None:
        raise RosterError(
            [RosterProblem(None, None, f"there is no survey cycle with id {cycle_id}")]
        )
    if cycle.state == CycleState.closed:
        raise RosterError(
            [
                RosterProblem(
                    None,
                    None,
                    f"survey cycle {cycle.name!r} is closed; links for it could not be used",
                )
            ]
        )
    return cycle


def parse_roster(*, engine: Engine, data: bytes, cycle_id: int) -> Roster:
    """Validate a roster file completely; RosterError lists what is wrong, line by line."""
    with read_session(engine) as session:
        return _parse(session, data, cycle_id)


def _parse(session: Session, data: bytes, cycle_id: int) -> Roster:
    _check_cycle(session, cycle_id)
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    find_department = _finder(links.find_department, session)
    find_group = _finder(links.find_staff_group, session)

    problems: list[RosterProblem] = []
    more = 0
    columns: dict[str, int] | None = None
    ignored: list[str] = []
    header_width = 0
    cells: dict[tuple[int, int], dict] = {}
    first_line: dict[tuple[int, int], int] = {}
    email_lines: dict[str, int] = {}
    order: list[tuple[tuple[int, int], int]] = []
    lines_of_emails: list[int] = []
    rows = 0

    def problem(line: int, column: str | None, message: str) -> None:
        nonlocal more
        if len(problems) < MAX_PROBLEMS_SHOWN:
            problems.append(RosterProblem(line, column, message))
        else:
            more += 1

    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines, and rows of empty cells that spreadsheets leave
            if columns is None:
                columns, ignored = _header(row, line)
                header_width = len(row)
                continue
            rows += 1
            if rows > MAX_ROSTER_ROWS:
                raise RosterError(
                    [
                        RosterProblem(
                            line,
                            None,
                            f"the roster has more than {MAX_ROSTER_ROWS:,} rows; split it",
                        )
                    ]
                )
            if len(row) > header_width and any(cell.strip() for cell in row[header_width:]):
                problem(
                    line,
                    None,
                    f"has {len(row)} fields but the header has {header_width}; "
                    "is there an unquoted comma or semicolon in a name?",
                )
                continue
            values = {
                name: row[index].strip() if index < len(row) else ""
                for name, index in columns.items()
            }
            department = None
            if not values["department"]:
                problem(line, "department", "is empty")
            else:
                department = find_department(values["department"])
                if isinstance(department, str):
                    problem(line, "department", department)
                    department = None
            group = None
            if not values["staff_group"]:
                problem(line, "staff_group", "is empty")
            else:
                group = find_group(values["staff_group"])
                if isinstance(group, str):
                    problem(line, "staff_group", group)
                    group = None
            count = 1
            email = None
            if "headcount" in values:
                checked = _headcount(values["headcount"])
                if isinstance(checked, str):
                    problem(line, "headcount", checked)
                    continue
                count = checked
            else:
                email = values["email"]
                if not email:
                    problem(line, "email", "is empty")
                    continue
                email_problem = _email_problem(email)
                if email_problem is not None:
                    problem(line, "email", email_problem)
                    continue
                seen = email_lines.get(email.lower())
                if seen is not None:
                    problem(line, "email", f"{shown(email)} is already on line {seen}")
                    continue
                email_lines[email.lower()] = line
            if department is None or group is None:
                continue
            assert isinstance(department, links.Named) and isinstance(group, links.Named)
            key = (department.id, group.id)
            if email is None and key in first_line:
                problem(
                    line,
                    None,
                    f"{department.name} and {group.name} already have a headcount on line "
                    f"{first_line[key]}; give each department and staff group one row",
                )
                continue
            first_line.setdefault(key, line)
            cell = cells.setdefault(
                key, {"department": department, "group": group, "count": 0, "emails": []}
            )
            cell["count"] += count
            if email is not None:
                order.append((key, len(cell["emails"])))
                lines_of_emails.append(line)
                cell["emails"].append(email)
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            message = "has a cell far too long for a roster; is this the right file?"
        else:
            message = f"is not valid CSV: {error}"
        raise RosterError([RosterProblem(reader.line_num, None, message)]) from None

    if columns is None:
        raise RosterError([RosterProblem(None, None, "the file is empty")])
    if problems:
        raise RosterError(problems, more=more)
    if not rows:
        raise RosterError([RosterProblem(None, None, "the file has no rows below the header")])
    total = sum(cell["count"] for cell in cells.values())
    if total > MAX_LINKS:
        raise RosterError(
            [
                RosterProblem(
                    None,
                    None,
                    f"the roster asks for {total:,} links; at most {MAX_LINKS:,} can be made at "
                    "once, so split it",
                )
            ]
        )
    keys = list(cells)
    index_of = {key: index for index, key in enumerate(keys)}
    return Roster(
        kind=RosterKind.headcount if "headcount" in columns else RosterKind.emails,
        cells=tuple(
            RosterCell(
                department_id=cells[key]["department"].id,
                department=cells[key]["department"].name,
                staff_group_id=cells[key]["group"].id,
                staff_group=cells[key]["group"].name,
                count=cells[key]["count"],
                emails=tuple(cells[key]["emails"]),
            )
            for key in keys
        ),
        rows=rows,
        ignored_columns=tuple(ignored),
        order=tuple((index_of[key], position) for key, position in order),
        email_lines=tuple(lines_of_emails),
    )


def import_roster(*, engine: Engine, data: bytes, cycle_id: int, actor: str) -> LinkFile:
    """Validate a roster and make its links in one transaction: every link or none.

    The CSV returned is the only place the links (and the emails) ever exist together.
    """
    with write_session(engine) as session:
        return _import(session, data, cycle_id, actor)


def _import(session: Session, data: bytes, cycle_id: int, actor: str) -> LinkFile:
    roster = _parse(session, data, cycle_id)
    cycle = _check_cycle(session, cycle_id)
    tokens = [
        links.create_invitations(
            session=session,
            cycle_id=cycle_id,
            department_id=cell.department_id,
            staff_group_id=cell.staff_group_id,
            count=cell.count,
        )
        for cell in roster.cells
    ]
    if roster.kind is RosterKind.emails:
        header: tuple[str, ...] = ("email", "link")
        rows: list[tuple[str, ...]] = [
            (roster.cells[cell].emails[position], links.survey_url(tokens[cell][position]))
            for cell, position in roster.order
        ]
    else:
        header = ("department", "staff_group", "link")
        rows = [
            (cell.department, cell.staff_group, links.survey_url(token))
            for cell, cell_tokens in zip(roster.cells, tokens, strict=True)
            for token in cell_tokens
        ]
    audit.record(
        session=session,
        actor=actor,
        action="invitations.roster",
        detail=(
            f"{cycle.name}: {roster.links:,} one-time link{'s' if roster.links != 1 else ''} for "
            f"{len({cell.department_id for cell in roster.cells})} department(s) from a "
            f"{'list of emails' if roster.kind is RosterKind.emails else 'headcount'} roster"
        ),
    )
    slug = re.sub(r"[^A-Za-z0-9]+", "-", cycle.name).strip("-").lower() or "cycle"
    return LinkFile(rows_to_csv(header, rows), roster.links, f"attune-links-{slug}.csv")


def create_open_link(*, engine: Engine, cycle_id: int, actor: str) -> str:
    """A reusable link for a cycle (respondents choose their department and group)."""
    with write_session(engine) as session:
        cycle = _check_cycle(session, cycle_id)
        assert cycle.id is not None
        return links.add_open_link(
            session=session, cycle=links.Named(cycle.id, cycle.name), actor=actor
        )


def roster_template(kind: RosterKind) -> str:
    """An example file to start from."""
    if kind is RosterKind.emails:
        return rows_to_csv(
            ("department", "staff_group", "email"),
            [
                ("Emergency", "Nursing", "a.nurse@example.org"),
                ("Emergency", "Physicians", "a.doctor@example.org"),
            ],
        )
    return rows_to_csv(
        ("department", "staff_group", "headcount"),
        [("Emergency", "Nursing", 168), ("Emergency", "Physicians", 42)],
    )
