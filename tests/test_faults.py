"""Faults under load: a writer killed mid-submission, or the database server restarted
mid-load, leaves nothing half-written and nothing stored twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.load import WRITERS, Progress, run_load
from surveys.invitations.used import used_clause
from surveys.models import Invitation, Response
from surveys.storage import read_session, write_session
from surveys.survey import rollups
from surveys.survey.form import load_survey
from surveys.survey.submit import SubmissionFailed, SubmitOutcome, submit_survey
from tests.support.backends import backends
from tests.support.load import check_stored_exactly_once, expected_forms
from tests.support.snapshots import rollup_snapshot
from tests.support.submission import full_answers, tokens

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TOKENS = 400
KILL_AFTER_SUBMISSIONS = 25
RESTART_SUBMISSIONS = 320
RESTART_AFTER_STORED = 64
DOWN_SECONDS = 1.5
# How long a writer keeps pressing Submit again while the server is away.
RETRY_FOR_SECONDS = 120.0

WRITER = textwrap.dedent(
    """
    import sys, uuid
    from surveys.survey.form import load_survey
    from surveys.survey.submit import submit_survey
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
    survey: dict,
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
        used = session.scalar(select(func.count()).select_from(Invitation).where(used_clause()))
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


def local_cluster(url: str) -> tuple[str, str]:
    """The version and name of the local cluster that serves `url`, for pg_ctlcluster."""
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        pytest.skip("restarting the database server needs pg_ctlcluster (postgresql-common)")
    port = make_url(url).port or 5432
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        version, name, cluster_port, *_ = line.split()
        if int(cluster_port) == port:
            return version, name
    pytest.fail(f"no local cluster listens on port {port} to be restarted:\n{listing}")


def pg_ctlcluster(cluster: tuple[str, str], action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action],
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_and_wait(cluster: tuple[str, str], url: str, timeout: float = 60.0) -> None:
    """Start the cluster unless it runs, and wait until it accepts connections."""
    if pg_ctlcluster(cluster, "status").returncode != 0:
        started = pg_ctlcluster(cluster, "start")
        assert started.returncode == 0, started.stderr
    probe = create_engine(url, poolclass=NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with probe.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        probe.dispose()


@pytest.mark.serial  # it restarts the one PostgreSQL server every other test uses
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_restart_mid_load_loses_nothing_and_each_retry_stores_once(
    engine: Engine, database_url: str
) -> None:
    cluster = local_cluster(database_url)
    stopped_after: list[int] = []

    def restart(progress: Progress) -> None:
        try:
            assert progress.wait_for_stored(RESTART_AFTER_STORED, timeout=300)
            stopped_after.append(progress.stored)
            stopped = pg_ctlcluster(cluster, "stop")
            assert stopped.returncode == 0, stopped.stderr
            time.sleep(DOWN_SECONDS)  # writers keep sending into the outage
        finally:
            start_and_wait(cluster, database_url)

    result = run_load(
        engine,
        writers=WRITERS,
        submissions=RESTART_SUBMISSIONS,
        retry_for=RETRY_FOR_SECONDS,
        during=restart,
    )

    assert stopped_after and stopped_after[0] < len(expected_forms(result))  # mid-load
    messages = [message for send in result.sends for message in send.failures]
    assert messages, "no writer noticed the restart"
    # "Nothing was stored", or, when the server went at COMMIT, "could not confirm".
    assert all(
        ("Nothing was stored" in message or "could not confirm" in message)
        and "press Submit again" in message
        for message in messages
    ), set(messages)
    # Every form was stored once, by its first try or a retry with the same key, through the
    # same engine: its pool came back by itself.
    check_stored_exactly_once(engine, result)


@backends()
def test_a_reply_lost_after_the_commit_is_not_reported_as_nothing_stored(
    engine: Engine,
    survey: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (token,) = tokens(engine, survey)
    answers = full_answers(load_survey(engine=engine, token=token))
    dialect = engine.dialect
    commit = dialect.do_commit

    def commit_then_lose_the_reply(dbapi_connection) -> None:  # type: ignore[no-untyped-def]
        commit(dbapi_connection)
        raise dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(dialect, "do_commit", commit_then_lose_the_reply)
    with pytest.raises(SubmissionFailed) as failed:
        submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
    monkeypatch.setattr(dialect, "do_commit", commit)
    message = str(failed.value)
    assert "Nothing was stored" not in message  # it was
    assert "could not confirm" in message and "press Submit again" in message
    assert (
        submit_survey(engine=engine, token=token, submission_key="k", answers=answers)
        is SubmitOutcome.already_received
    )
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 1
