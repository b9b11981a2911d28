"""Faults under load: a writer killed with SIGKILL mid-submission leaves nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from surveys import rollups
from surveys.models import Invitation, Response
from surveys.storage import read_session, write_session
from tests.conftest import backends
from tests.test_storage import rollup_snapshot
from tests.test_submission import survey, tokens  # noqa: F401 - fixtures and helpers

ROOT = Path(__file__).resolve().parent.parent
TOKENS = 400
KILL_AFTER_SUBMISSIONS = 25

WRITER = textwrap.dedent(
    """
    import sys, uuid
    from surveys.responses import load_survey, submit_survey
    from surveys.storage import make_engine

    engine = make_engine(sys.argv[1])
    for number, token in enumerate(open(sys.argv[2]).read().split()):
        form = load_survey(engine=engine, token=token)
        answers = {
            question.code: (number % 11 if question.horizontal else 1 + number % 5)
            for _, question in form.questions()
        }
        submit_survey(
            engine=engine, token=token, submission_key=uuid.uuid4().hex, answers=answers,
            comment="Kill me mid-way." if number % 3 == 0 else None,
        )
        print(number, flush=True)
    """
)


@backends()
def test_a_writer_killed_mid_load_leaves_only_whole_responses(
    engine: Engine,
    database_url: str,
    survey: dict,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    links = tmp_path / "tokens.txt"
    links.write_text("\n".join(tokens(engine, survey, TOKENS)))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url, str(links)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = 0
    assert writer.stdout is not None
    deadline = time.monotonic() + 120
    while done < KILL_AFTER_SUBMISSIONS and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            pytest.fail(
                f"the writer stopped early: {writer.stderr.read() if writer.stderr else ''}"
            )
        done += 1
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL

    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    with read_session(engine) as session:
        responses = session.scalar(select(func.count()).select_from(Response))
        used = session.scalar(select(func.count()).select_from(Invitation).where(Invitation.used))
        partial = session.execute(
            text(
                "SELECT r.id FROM response r LEFT JOIN answer a ON a.response_id = r.id"
                " GROUP BY r.id HAVING COUNT(a.item_id) <>"
                " (SELECT COUNT(*) FROM item WHERE item.instrument_id = MIN(r.instrument_id))"
            )
        ).all()
    assert KILL_AFTER_SUBMISSIONS <= responses < TOKENS  # killed mid-way, nothing lost
    assert used == responses  # no used token without its response, and none the other way
    assert partial == []
    stored = rollup_snapshot(engine)
    with write_session(engine) as session:
        rollups.rebuild(session=session, cycle_id=survey["cycles"]["2026 Q4"])
    assert rollup_snapshot(engine) == stored
