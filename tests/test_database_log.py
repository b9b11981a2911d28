"""SQLite's write-ahead log, copied while the app runs and replayed commit by commit, links no
used link to its response once a submission has returned; deleted text leaves no remnant."""

from __future__ import annotations

import shutil
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from surveys import storage
from surveys.invitations.links import hash_token
from surveys.invitations.used import used_sql
from surveys.models import Response
from surveys.storage import read_session, write_session
from surveys.survey.form import load_survey
from surveys.survey.submit import SubmitOutcome, submit_survey
from tests.support.submission import full_answers, tokens

SUBMISSIONS = 6
WAL_HEADER = 32
FRAME_HEADER = 24


@dataclass(frozen=True)
class State:
    """What one replayed commit shows: used links, responses and comments."""

    used: frozenset[str]
    responses: frozenset[int]
    comments: frozenset[str]


def database_path(engine: Engine) -> Path:
    assert engine.url.database
    return Path(engine.url.database)


def copy_files(engine: Engine, folder: Path) -> Path:
    """Copy the database and its -wal as a file-level backup would, the engine still open."""
    source = database_path(engine)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / "copy.db")
    wal = source.with_name(f"{source.name}-wal")
    if wal.exists():
        shutil.copyfile(wal, folder / "copy.db-wal")
    return folder / "copy.db"


def wal_generations(wal: bytes) -> list[list[tuple[list[tuple[int, bytes]], int]]]:
    """The log's commits, grouped by generation (salt): each commit is its frames (page
    number, page image) and the database's size in pages. Frames of older generations that a
    restarted log has not overwritten yet are kept: an attacker reads them too."""
    if len(wal) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", wal[8:12])[0]
    generations: dict[tuple[int, int], list[tuple[list[tuple[int, bytes]], int]]] = {}
    pending: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page_number, database_pages, salt1, salt2 = struct.unpack(">4I", wal[offset : offset + 16])
        image = wal[offset + FRAME_HEADER : offset + FRAME_HEADER + page_size]
        offset += FRAME_HEADER + page_size
        salt = (salt1, salt2)
        pending.setdefault(salt, []).append((page_number, image))
        if database_pages:  # a commit frame
            generations.setdefault(salt, []).append((pending.pop(salt), database_pages))
    return list(generations.values())


def read_state(database: bytes, folder: Path) -> State | None:
    path = folder / "state.db"
    image = bytearray(database)
    image[18:20] = b"\x01\x01"  # a rollback-journal file: open it without any -wal
    path.write_bytes(bytes(image))
    try:
        with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as connection:
            used = connection.execute(
                f"SELECT token_hash FROM invitation WHERE {used_sql('invitation')}"
            ).fetchall()
            responses = connection.execute("SELECT id FROM response").fetchall()
            comments = connection.execute("SELECT text FROM comment").fetchall()
    except sqlite3.DatabaseError:  # a half-replayed state that does not parse
        return None
    finally:
        path.unlink(missing_ok=True)
    return State(
        frozenset(row[0] for row in used),
        frozenset(row[0] for row in responses),
        frozenset(row[0] for row in comments),
    )


def replayed_states(copy: Path) -> list[State]:
    """The copied database as it was after each commit in its copied log."""
    wal = copy.with_name(f"{copy.name}-wal")
    base = copy.read_bytes()
    states = [state] if (state := read_state(base, copy.parent)) else []
    if not wal.exists():
        return states
    log = wal.read_bytes()
    page_size = struct.unpack(">I", log[8:12])[0] if len(log) >= WAL_HEADER else 0
    for generation in wal_generations(log):
        database = bytearray(base)
        for frames, database_pages in generation:
            for page_number, image in frames:
                start = (page_number - 1) * page_size
                if len(database) < start + page_size:
                    database.extend(bytes(start + page_size - len(database)))
                database[start : start + page_size] = image
            del database[database_pages * page_size :]
            if state := read_state(bytes(database), copy.parent):
                states.append(state)
    return states


def links_found(states: list[State]) -> set[tuple[str, int, str | None]]:
    """Used link, response and comment paired wherever one commit adds exactly one of each
    (the comment when exactly one is added too)."""
    found = set()
    for before, after in zip(states, states[1:], strict=False):
        used = after.used - before.used
        responses = after.responses - before.responses
        comments = after.comments - before.comments
        if len(used) == 1 and len(responses) == 1:
            comment = next(iter(comments)) if len(comments) == 1 else None
            found.add((next(iter(used)), next(iter(responses)), comment))
    return found


def response_ids(engine: Engine) -> set[int]:
    with read_session(engine) as session:
        return set(session.scalars(select(Response.id)))


def submit_with_known_links(
    engine: Engine, survey: dict, copies: Path | None = None
) -> tuple[set[tuple[str, int, str]], list[Path]]:
    """Submit SUBMISSIONS forms with comments; the true (link, response, comment) triples, and
    a copy of the files taken after each submission returned (when `copies` is given)."""
    links = tokens(engine, survey, SUBMISSIONS)
    truth, taken = set(), []
    for number, token in enumerate(links):
        before = response_ids(engine)
        form = load_survey(engine=engine, token=token)
        comment = f"Comment number {number} about the night shift."
        outcome = submit_survey(
            engine=engine,
            token=token,
            submission_key=f"form-{number}",
            answers=full_answers(form, likert=1 + number % 5),
            comment=comment,
        )
        assert outcome is SubmitOutcome.stored
        (response,) = response_ids(engine) - before
        truth.add((hash_token(token), response, comment))
        if copies is not None:
            taken.append(copy_files(engine, copies / f"after-{number}"))
    return truth, taken


def correct_links(found: set[tuple[str, int, str | None]], truth: set) -> int:
    pairs = {(link, response) for link, response, _ in truth}
    return sum((link, response) in pairs for link, response, _ in found)


def test_without_the_checkpoint_a_copy_of_the_log_links_each_used_link_to_its_response(
    engine: Engine, survey: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the attack works on the log as SQLite leaves it on its own."""
    monkeypatch.setattr(storage, "forget_log", lambda engine: False)
    truth, _ = submit_with_known_links(engine, survey)
    found = links_found(replayed_states(copy_files(engine, tmp_path / "copy")))
    assert correct_links(found, truth) >= SUBMISSIONS - 1
    assert sum(triple in truth for triple in found) >= SUBMISSIONS - 1  # comments too


def test_once_a_submission_returns_a_copy_of_the_log_links_nothing(
    engine: Engine, survey: dict, tmp_path: Path
) -> None:
    truth, copies = submit_with_known_links(engine, survey, tmp_path)
    for copy in copies:
        wal = copy.with_name(f"{copy.name}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        states = replayed_states(copy)
        assert len(states) == 1  # the database file alone: the latest state, no history
        assert correct_links(links_found(states), truth) == 0


def test_a_reader_delays_the_checkpoint_but_never_fails_the_submission(
    engine: Engine, survey: dict, tmp_path: Path
) -> None:
    (first, second) = tokens(engine, survey, 2)
    form = load_survey(engine=engine, token=first)
    reader = sqlite3.connect(database_path(engine), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM response").fetchone()  # holds a snapshot open
    try:
        outcome = submit_survey(
            engine=engine, token=first, submission_key="a", answers=full_answers(form)
        )
        assert outcome is SubmitOutcome.stored
        assert not storage.forget_log(engine)  # the reader still needs the log
    finally:
        reader.execute("COMMIT")
        reader.close()
    wal = database_path(engine).with_name(f"{database_path(engine).name}-wal")
    assert wal.stat().st_size > 0
    # The app's next read, once nobody else reads from the log, empties it.
    with read_session(engine) as session:
        session.execute(select(Response.id)).all()
    assert wal.stat().st_size == 0
    assert len(replayed_states(copy_files(engine, tmp_path / "copy"))) == 1
    # Or the next write, when the reader was in another process.
    reader = sqlite3.connect(database_path(engine), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM response").fetchone()
    submit_survey(engine=engine, token=second, submission_key="b", answers=full_answers(form))
    assert wal.stat().st_size > 0
    reader.execute("COMMIT")
    reader.close()
    with write_session(engine) as session:
        session.execute(select(Response.id)).all()
    assert wal.stat().st_size == 0


def test_the_app_zeroes_deleted_bytes(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1


@pytest.mark.parametrize("secure_delete", [True, False])
def test_deleted_comment_text_leaves_a_remnant_only_without_secure_delete(
    engine: Engine, survey: dict, secure_delete: bool
) -> None:
    truth, _ = submit_with_known_links(engine, survey)
    removed = sorted(comment for _, _, comment in truth)[0]
    # A delete through another connection with the setting under test (the app has none;
    # an operator's clean-up would be one).
    connection = sqlite3.connect(database_path(engine), isolation_level=None)
    connection.execute(f"PRAGMA secure_delete={'ON' if secure_delete else 'OFF'}")
    connection.execute("DELETE FROM comment WHERE text = ?", (removed,))
    connection.close()
    with write_session(engine):
        pass  # any write ends by emptying the log
    path = database_path(engine)
    files = path.read_bytes() + path.with_name(f"{path.name}-wal").read_bytes()
    assert (removed.encode() in files) is not secure_delete
    kept = sorted(comment for _, _, comment in truth)[1]
    assert kept.encode() in files
