"""Survey links: unguessable tokens kept only as hashes; `attune invite` as an operator uses it."""

from __future__ import annotations

import csv
import io
import math
import stat
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from surveys import audit
from surveys.cli import app
from surveys.cli.invite import write_new_file
from surveys.config import get_settings
from surveys.instruments import builtin_instrument
from surveys.invitations.links import (
    TOKEN_BYTES,
    CycleClosed,
    UnknownName,
    create_invitations,
    find_cycle,
    find_department,
    find_staff_group,
    hash_token,
    new_token,
    survey_url,
)
from surveys.models import CycleState, Department, Invitation
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import add_department, add_division
from surveys.storage import make_engine, migrate, read_session, write_session
from surveys.survey.form import load_survey

runner = CliRunner()


def organisation(engine: Engine) -> None:
    """Emergency, ICU and an archived ward; an open cycle and a closed one."""
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        for name in ("Emergency", "ICU", "=Formula ward", "Old ward"):
            add_department(session=session, name=name, division_id=division_id)
        session.scalars(
            select(Department).where(Department.name == "Old ward")
        ).one().archived = True
        for name, opens, state in (
            ("2026 Q4", date(2026, 10, 12), CycleState.open),
            ("2026 Q3", date(2026, 7, 12), CycleState.closed),
        ):
            add_cycle(
                session=session, name=name, opens=opens, closes=date(opens.year, opens.month, 28),
                instrument_id=instrument_id, state=state,
            )  # fmt: skip


@pytest.fixture
def settings_engine() -> Engine:
    """The database DATABASE_URL names (what the CLI uses), migrated, with an organisation."""
    engine = make_engine(get_settings().database_url)
    migrate(engine)
    organisation(engine)
    yield engine
    engine.dispose()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return runner.invoke(app, list(args))


def invitation_count(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Invitation)) or 0


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def read_links(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_tokens_carry_at_least_128_random_bits_and_never_repeat() -> None:
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert TOKEN_BYTES * 8 >= 128
    for token in list(tokens)[:50]:
        assert len(token) == math.ceil(TOKEN_BYTES * 4 / 3)
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_only_a_hash_of_each_token_is_stored(settings_engine: Engine) -> None:
    with write_session(settings_engine) as session:
        cycle = find_cycle(session=session, name="2026 Q4")
        tokens = create_invitations(
            session=session, cycle_id=cycle.id, count=5,
            department_id=find_department(session=session, name="ICU").id,
            staff_group_id=find_staff_group(session=session, name="nursing").id,
        )  # fmt: skip
    database = Path(settings_engine.url.database).read_bytes()
    with read_session(settings_engine) as session:
        hashes = set(session.scalars(select(Invitation.token_hash)))
    assert hashes == {hash_token(token) for token in tokens}
    for token in tokens:
        assert token.encode() not in database


def test_links_use_the_configured_base_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_BASE_URL", "https://survey.example.org/attune/")
    get_settings.cache_clear()
    assert survey_url("abc") == "https://survey.example.org/attune/survey?token=abc"


@pytest.mark.parametrize(
    ("finder", "given", "message"),
    [
        (find_cycle, "2026 Q5", "no survey cycle called '2026 Q5'; did you mean '2026 Q4'?"),
        (find_department, "Emergancy", "called 'Emergancy'; did you mean 'Emergency'?"),
        (find_department, "Old ward", "department 'Old ward' is archived"),
        (find_department, "Cardiology", "there is no department called 'Cardiology'"),
        (find_staff_group, "nurses", "did you mean 'nursing'?"),
        (find_staff_group, "doctors", "from nursing, physicians, allied_health, administrative)"),
    ],
)  # fmt: skip
def test_unknown_names_are_refused_with_the_nearest_real_one(
    settings_engine: Engine, finder, given: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    with read_session(settings_engine) as session, pytest.raises(UnknownName) as refused:
        finder(session=session, name=given)
    assert message in str(refused.value)


def test_names_match_whatever_their_case_and_groups_by_key_or_name(settings_engine: Engine) -> None:
    with read_session(settings_engine) as session:
        assert find_cycle(session=session, name=" 2026 q4 ").name == "2026 Q4"
        assert find_department(session=session, name="emergency").name == "Emergency"
        assert find_staff_group(session=session, name="NURSING").name == "Nursing"
        assert find_staff_group(session=session, name="Physicians").name == "Physicians"
        with pytest.raises(CycleClosed, match="'2026 Q3' is closed"):
            find_cycle(session=session, name="2026 Q3")


def test_invite_writes_one_time_links_that_open_the_survey(
    settings_engine: Engine, out_dir: Path
) -> None:
    out = out_dir / "links.csv"
    result = invoke(
        "invite", "--cycle", "2026 Q4", "--department", "Emergency", "--group", "nursing",
        "--count", "3", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created 3 one-time links for Emergency, Nursing in 2026 Q4" in result.output
    assert "only copy of the links" in result.output
    rows = read_links(out)
    assert [list(row) for row in rows[:1]] == [["cycle", "department", "staff_group", "link"]]
    assert {(row["cycle"], row["department"], row["staff_group"]) for row in rows} == {
        ("2026 Q4", "Emergency", "Nursing")
    }
    assert all(row["link"].startswith("http://localhost:8501/survey?token=") for row in rows)
    assert len({row["link"] for row in rows}) == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # live links: the owner's eyes only
    assert [path.name for path in out_dir.iterdir()] == ["links.csv"]  # no temporary left
    form = load_survey(engine=settings_engine, token=token_of(rows[0]["link"]))
    assert (form.department, form.staff_group, form.cycle_name) == (
        "Emergency",
        "Nursing",
        "2026 Q4",
    )
    assert invitation_count(settings_engine) == 3


def test_invite_neutralises_formula_like_cells(settings_engine: Engine, out_dir: Path) -> None:
    out = out_dir / "links.csv"
    result = invoke(
        "invite", "--cycle", "2026 Q4", "--department", "=Formula ward", "--group", "nursing",
        "--count", "1", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_links(out)[0]["department"] == "'=Formula ward"


def test_invite_refuses_to_overwrite_without_force(settings_engine: Engine, out_dir: Path) -> None:
    out = out_dir / "links.csv"
    out.write_text("precious\n")
    arguments = ["invite", "--cycle", "2026 Q4", "--department", "ICU", "--group",
                 "physicians", "--count", "2", "--out", str(out)]  # fmt: skip
    refused = invoke(*arguments)
    assert refused.exit_code == 1
    assert "already exists" in refused.output and "--force" in refused.output
    assert out.read_text() == "precious\n"
    assert invitation_count(settings_engine) == 0
    forced = invoke(*arguments, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(read_links(out)) == 2
    assert invitation_count(settings_engine) == 2


def test_write_new_file_never_replaces_a_file_that_appeared_meanwhile(out_dir: Path) -> None:
    out = out_dir / "links.csv"
    out.write_text("someone else's\n")
    with pytest.raises(FileExistsError):
        write_new_file(out, "new\n", force=False)
    assert out.read_text() == "someone else's\n"
    assert [path.name for path in out_dir.iterdir()] == ["links.csv"]
    write_new_file(out, "new\n", force=True)
    assert out.read_text() == "new\n"


def test_a_file_that_cannot_be_written_keeps_no_links(
    settings_engine: Engine, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(path: Path, text: str, *, force: bool) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("surveys.cli.invite.write_new_file", disk_full)
    result = invoke(
        "invite", "--cycle", "2026 Q4", "--department", "ICU", "--group", "nursing",
        "--count", "2", "--out", str(out_dir / "links.csv"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    assert invitation_count(settings_engine) == 0  # links nobody holds would count as invited


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cycle", "2026 Q3", "--department", "ICU", "--group", "nursing", "--count", "1"],
         "'2026 Q3' is closed"),
        (["--cycle", "2026 Q4", "--department", "Emergancy", "--group", "nursing", "--count", "1"],
         "did you mean 'Emergency'?"),
        (["--cycle", "2026 Q4", "--department", "ICU", "--group", "nurse", "--count", "1"],
         "did you mean 'nursing'?"),
        (["--cycle", "2026 Q4", "--department", "ICU", "--group", "nursing", "--count", "0"],
         "--count must be between 1 and 50,000"),
        (["--cycle", "2026 Q4", "--department", "ICU", "--count", "1"], "--group is required"),
        (["--open", "--cycle", "2026 Q4", "--count", "3"], "drop --count"),
    ],
)  # fmt: skip
def test_invite_explains_what_is_wrong_and_makes_nothing(
    settings_engine: Engine, out_dir: Path, arguments: list[str], message: str
) -> None:
    out = out_dir / "links.csv"
    result = invoke("invite", *arguments, "--out", str(out))
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()
    assert invitation_count(settings_engine) == 0


def test_invite_needs_somewhere_to_put_personal_links(settings_engine: Engine) -> None:
    result = invoke("invite", "--cycle", "2026 Q4", "--department", "ICU", "--group", "nursing",
                    "--count", "2")  # fmt: skip
    assert result.exit_code == 1
    assert "--out is required" in result.output


def test_invite_can_print_the_links_instead(settings_engine: Engine) -> None:
    result = invoke("invite", "--cycle", "2026 Q4", "--department", "ICU", "--group", "nursing",
                    "--count", "2", "--out", "-")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 and all("/survey?token=" in row["link"] for row in rows)


def test_an_open_link_is_printed_and_lets_people_choose(
    settings_engine: Engine, out_dir: Path
) -> None:
    result = invoke("invite", "--open", "--cycle", "2026 Q4")
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("http://localhost:8501/survey?token=")
    form = load_survey(engine=settings_engine, token=token_of(link))
    assert form.is_open_link
    assert "Old ward" not in [choice.name for choice in form.departments]
    out = out_dir / "open.csv"
    written = invoke("invite", "--open", "--cycle", "2026 Q4", "--out", str(out))
    assert written.exit_code == 0, written.output
    (row,) = read_links(out)
    assert (row["department"], row["staff_group"]) == ("", "")


def test_links_made_on_the_command_line_are_in_the_audit_log(
    settings_engine: Engine, out_dir: Path
) -> None:
    made = invoke(
        "invite", "--cycle", "2026 Q4", "--department", "Emergency", "--group", "nursing",
        "--count", "2", "--out", str(out_dir / "links.csv"),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert invoke("invite", "--open", "--cycle", "2026 Q4").exit_code == 0
    events = audit.list_events(engine=settings_engine)
    assert [event.action for event in reversed(events)] == [
        "invitations.create",
        "invitations.open_link",
    ]
    assert all(event.actor.startswith("cli") for event in events)
    assert events[-1].detail == "2026 Q4: 2 one-time links for Emergency, Nursing"
    # The log holds what was made, never a link.
    assert not any("token=" in event.detail for event in events)


def test_a_file_that_cannot_be_written_records_nothing_in_the_audit_log(
    settings_engine: Engine, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("surveys.cli.invite.write_new_file", refuse)
    result = invoke(
        "invite", "--cycle", "2026 Q4", "--department", "Emergency", "--group", "nursing",
        "--count", "2", "--out", str(out_dir / "links.csv"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert audit.list_events(engine=settings_engine) == []
    assert invitation_count(settings_engine) == 0
