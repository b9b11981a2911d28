"""The audit log: written with the action or not at all, newest first, and free of secrets."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from surveys import audit
from surveys.invitations import roster
from surveys.models import AuditEvent
from surveys.organisation import cycles, structure
from surveys.organisation.structure import OrganisationError
from surveys.storage import read_session, write_session
from tests.support.backends import backends

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@backends()
def test_events_are_listed_newest_first_with_filters(engine: Engine) -> None:
    with write_session(engine) as session:
        for minutes, actor, action in [
            (0, "boss", "cycle.create"),
            (5, "ann", "sign_in"),
            (10, "boss", "sign_in"),
        ]:
            audit.record(
                session=session,
                actor=actor,
                action=action,
                detail=f"at {minutes}",
                at=NOW + timedelta(minutes=minutes),
            )
    everything = audit.list_events(engine=engine)
    boss = audit.list_events(engine=engine, actor="boss")
    sign_ins = audit.list_events(engine=engine, action="sign_in")
    newest = audit.list_events(engine=engine, limit=1)
    actions = audit.list_actions(engine=engine)
    assert [event.detail for event in everything] == ["at 10", "at 5", "at 0"]
    assert everything[0].at == NOW + timedelta(minutes=10)
    assert everything[0].at.tzinfo is not None
    assert [event.detail for event in boss] == ["at 10", "at 0"]
    assert [event.actor for event in sign_ins] == ["boss", "ann"]
    assert len(newest) == 1
    assert actions == ["cycle.create", "sign_in"]


@backends()
def test_an_event_is_rolled_back_with_its_action(engine: Engine) -> None:
    with pytest.raises(OrganisationError), write_session(engine) as session:
        structure.add_division(session=session, name="Acute care", actor="boss")
        structure.add_division(session=session, name="acute CARE", actor="boss")
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_an_event_needs_an_actor(engine: Engine) -> None:
    with pytest.raises(ValueError, match="actor"), write_session(engine) as session:
        audit.record(session=session, actor="  ", action="cycle.create")


@backends()
def test_links_and_emails_never_reach_the_log(engine: Engine) -> None:
    with write_session(engine) as session:
        division = structure.add_division(session=session, name="Acute care")
        structure.add_department(session=session, name="Emergency", division_id=division)
        cycle = cycles.add_cycle(
            session=session,
            name="2027 Q1",
            opens=date(2027, 1, 10),
            closes=date(2027, 2, 20),
            actor="boss",
        )
    data = b"department,staff_group,email\nEmergency,nursing,secret.person@example.org\n"
    links = roster.import_roster(engine=engine, data=data, cycle_id=cycle, actor="boss")
    open_link = roster.create_open_link(engine=engine, cycle_id=cycle, actor="boss")
    token = links.csv_text.splitlines()[1].rsplit("token=", 1)[1]
    events = audit.list_events(engine=engine)
    text = " ".join(f"{event.action} {event.detail}" for event in events)
    assert [event.action for event in events] == [
        "invitations.open_link",
        "invitations.roster",
        "cycle.create",
    ]
    assert "2027 Q1: 1 one-time link for 1 department(s)" in text
    assert "secret.person" not in text
    assert token not in text
    assert open_link.rsplit("token=", 1)[1] not in text


def test_long_details_are_cut_to_size(engine: Engine) -> None:
    with write_session(engine) as session:
        audit.record(session=session, actor="boss", action="x", detail="y" * 10_000)
    (event,) = audit.list_events(engine=engine)
    assert len(event.detail) == audit.DETAIL_MAX_LENGTH


def recorded_action_codes() -> dict[str, list[str]]:
    """Every action code an `audit.record(...)` call in the code base can write, by where.

    A literal code is read as it is; a variable is followed to its assignments in the same
    function (`action = "a" if x else "b"`). Anything else fails: write the code out.
    """
    found: dict[str, list[str]] = {}
    sources = [*(ROOT / "surveys").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py")]
    for path in sorted(sources):
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(function):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "record"
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == "audit"
                ):
                    continue
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                (value,) = [keyword.value for keyword in call.keywords if keyword.arg == "action"]
                for code in _strings(value, function, where):
                    found.setdefault(code, []).append(where)
    return found


def _strings(value: ast.expr, function: ast.AST, where: str) -> list[str]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.IfExp):
        return _strings(value.body, function, where) + _strings(value.orelse, function, where)
    if isinstance(value, ast.Name):
        assigned = []
        for node in ast.walk(function):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == value.id:
                    assigned.append(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    assigned += [
                        part
                        for name, part in zip(target.elts, node.value.elts, strict=True)
                        if isinstance(name, ast.Name) and name.id == value.id
                    ]
        assert assigned, f"{where}: cannot tell which codes {value.id!r} holds; write them out"
        return [code for part in assigned for code in _strings(part, function, where)]
    raise AssertionError(f"{where}: write the action code out so that this test can read it")


def test_the_search_finds_the_audit_calls() -> None:
    found = recorded_action_codes()
    # Literal, conditional and assigned-in-a-tuple codes alike.
    assert {"sign_in", "cycle.open", "cycle.close", "account.disable", "database.create"} <= set(
        found
    )
    assert len(found) >= 30


def test_every_recorded_action_has_words_and_every_wording_is_used() -> None:
    found = recorded_action_codes()
    missing = {code: where for code, where in found.items() if code not in audit.ACTION_WORDS}
    assert not missing, f"add these to surveys.audit.ACTION_WORDS: {missing}"
    assert set(audit.ACTION_WORDS) == set(found), "ACTION_WORDS holds codes nothing records"


@pytest.mark.parametrize(
    ("code", "words"),
    [("sign_in", "Signed in"), ("cycle.open", "Opened a cycle"), ("retired.code", "retired.code")],
)
def test_actions_are_described_in_words_or_else_by_their_code(code: str, words: str) -> None:
    assert audit.describe(code) == words
