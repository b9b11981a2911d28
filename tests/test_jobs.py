"""`attune run-due`: cycles open, invite, remind and close on their dates, through a real SMTP
server, exactly once however many runners there are, and nothing is lost when mail fails."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import col
from typer.testing import CliRunner

from surveys import audit, jobs
from surveys.cli import app
from surveys.config import get_settings
from surveys.invitations.delivery import SmtpMailer, import_email_roster
from surveys.invitations.used import mark_used
from surveys.jobs import LEASE, run_due
from surveys.models import Invitation, InvitationDelivery, SurveyCycle
from surveys.organisation.cycles import add_cycle, change_cycle_state
from surveys.organisation.schedule import delivery_counts, put_schedule
from surveys.organisation.structure import add_department, add_division
from surveys.storage import driver_cursor, read_session, write_session
from surveys.survey.form import SurveyUnavailable, load_survey
from surveys.survey.submit import submit_survey
from tests.support.backends import backends
from tests.support.mail import LINK_SECRET, MailServer, addresses, roster, token_of
from tests.support.submission import full_answers

ROOT = Path(__file__).resolve().parent.parent
OPENS = date(2027, 1, 11)  # a Monday
CLOSES = date(2027, 1, 29)


def at(day: date, hour: int = 9) -> datetime:
    """A moment in the organisation's zone (UTC in these tests)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def scheduled(engine: Engine, mail_settings: MailServer) -> dict:
    """A draft cycle with reminders on days 3 and 7, and 12 addresses to invite."""
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology"):
            add_department(session=session, name=name, division_id=division)
        cycle_id = add_cycle(session=session, name="2027 Q1", opens=OPENS, closes=CLOSES)
        put_schedule(
            session=session,
            cycle_id=cycle_id,
            actor="boss",
            reminder_days=(3, 7),
            subject="Tell us how we work together",
            intro="Dear colleagues,\n\nThis year we ask <b>everyone</b> & thank you.",
        )
    emails = addresses(12)
    import_email_roster(engine=engine, data=roster(emails), cycle_id=cycle_id, actor="boss")
    return {"cycle": cycle_id, "emails": emails}


def cycle_state(engine: Engine, cycle_id: int) -> str:
    with read_session(engine) as session:
        cycle = session.get(SurveyCycle, cycle_id)
        assert cycle is not None
        return cycle.state


def answer(engine: Engine, token: str) -> None:
    form = load_survey(engine=engine, token=token)
    submit_survey(
        engine=engine, token=token, submission_key=os.urandom(8).hex(), answers=full_answers(form)
    )


def test_the_whole_schedule_opens_invites_reminds_the_non_respondents_and_closes(
    engine: Engine, scheduled: dict, mail_settings: MailServer
) -> None:
    mailbox = mail_settings.mailbox
    cycle_id = scheduled["cycle"]

    # The day before: nothing.
    assert run_due(engine, at(OPENS - timedelta(days=1))).lines() == ["Nothing was due."]
    assert cycle_state(engine, cycle_id) == "draft" and mailbox.messages == []

    # Opening day, before the mail hour: open, no mail yet.
    report = run_due(engine, at(OPENS, hour=1))
    assert report.opened == ["2027 Q1"] and cycle_state(engine, cycle_id) == "open"
    assert mailbox.messages == []

    # Opening day at 09:00: one invitation per address, with a link that opens the survey.
    report = run_due(engine, at(OPENS))
    assert report.invitations_sent == 12 and report.failed == 0
    assert sorted(mailbox.to()) == sorted(scheduled["emails"])
    message = mailbox.messages[0]
    assert message["Subject"] == "Tell us how we work together"
    assert message["From"] == "Staff Survey Team <survey@hospital.example>"
    assert message["Reply-To"] == "survey-help@hospital.example"
    assert message["Auto-Submitted"] == "auto-generated"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (plain, html):
        assert "Staff Survey Team" in body  # who sends it
        assert "about 5 minutes" in body  # how long
        assert "Friday 29 January 2027" in body  # when it closes
        assert "never stored" in body  # what is and is not stored
    # The introduction is plain text: shown as written, escaped in the HTML.
    assert "<b>everyone</b> & thank you" in plain
    assert "&lt;b&gt;everyone&lt;/b&gt; &amp; thank you" in html
    assert "<b>everyone</b>" not in html
    tokens = {str(m["To"]): token_of(m) for m in mailbox.messages}
    assert len(set(tokens.values())) == 12
    for token in tokens.values():
        assert load_survey(engine=engine, token=token).cycle_name == "2027 Q1"
    assert token_of(message) in html

    # Running again the same day sends nothing more.
    assert run_due(engine, at(OPENS, hour=15)).invitations_sent == 0
    assert len(mailbox.messages) == 12

    # Four people answer; the day-3 reminder goes to the other eight, with their own link.
    answered = scheduled["emails"][:4]
    for email in answered:
        answer(engine, tokens[email])
    mailbox.clear()
    report = run_due(engine, at(OPENS + timedelta(days=3)))
    assert report.reminders_sent == 8 and report.reminders_not_needed == 4
    assert sorted(mailbox.to()) == sorted(scheduled["emails"][4:])
    assert all(token_of(m) == tokens[str(m["To"])] for m in mailbox.messages)
    assert all(m["Subject"] == "Tell us how we work together" for m in mailbox.messages)
    assert "reminder" in mailbox.messages[0].get_body(("plain",)).get_content()
    # Every address is marked as past the reminder alike, answered or not.
    with read_session(engine) as session:
        assert set(session.scalars(select(col(InvitationDelivery.step_done)))) == {1}

    # Day 7: two more answered; six reminders.
    for email in scheduled["emails"][4:6]:
        answer(engine, tokens[email])
    mailbox.clear()
    assert run_due(engine, at(OPENS + timedelta(days=7))).reminders_sent == 6
    assert sorted(mailbox.to()) == sorted(scheduled["emails"][6:])

    # After the closing date: closed, and the links say so.
    mailbox.clear()
    report = run_due(engine, at(CLOSES + timedelta(days=1), hour=0))
    assert report.closed == ["2027 Q1"] and mailbox.messages == []
    assert cycle_state(engine, cycle_id) == "closed"
    with pytest.raises(SurveyUnavailable, match="closed on Friday 29 January 2027"):
        load_survey(engine=engine, token=tokens[scheduled["emails"][-1]])
    counts = delivery_counts(engine=engine, cycle_id=cycle_id)
    assert (counts.sent, counts.waiting, counts.failing, counts.reminders_sent) == (12, 0, 0, 14)
    actions = [entry.action for entry in audit.list_events(engine=engine)]
    assert {"cycle.open", "cycle.close", "mail.send", "mail.remind"} <= set(actions)


def test_a_cycle_closed_by_hand_after_its_date_is_not_reopened_nor_closed_again(
    engine: Engine, scheduled: dict
) -> None:
    cycle_id = scheduled["cycle"]
    run_due(engine, at(OPENS, hour=1))
    change_cycle_state(engine=engine, cycle_id=cycle_id, action="close", actor="boss")
    assert run_due(engine, at(OPENS + timedelta(days=1))).opened == []
    assert cycle_state(engine, cycle_id) == "closed"
    change_cycle_state(engine=engine, cycle_id=cycle_id, action="open", actor="boss")
    run_due(engine, at(CLOSES + timedelta(days=1)))
    change_cycle_state(engine=engine, cycle_id=cycle_id, action="open", actor="boss")
    assert run_due(engine, at(CLOSES + timedelta(days=2))).closed == []
    assert cycle_state(engine, cycle_id) == "open"


def test_without_smtp_the_runner_still_opens_and_says_mail_is_not_configured(
    engine: Engine, scheduled: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATTUNE_SMTP_URL")
    get_settings.cache_clear()
    report = run_due(engine, at(OPENS))
    assert report.opened == ["2027 Q1"]
    assert report.mail == "email is not configured: set ATTUNE_SMTP_URL"
    assert "No mail sent: email is not configured: set ATTUNE_SMTP_URL." in report.lines()
    assert delivery_counts(engine=engine, cycle_id=scheduled["cycle"]).waiting == 12


def test_a_refused_address_is_retried_with_backoff_and_the_rest_are_sent(
    engine: Engine, scheduled: dict, mail_settings: MailServer
) -> None:
    refused = scheduled["emails"][5]
    mail_settings.mailbox.refuse = {refused}
    report = run_due(engine, at(OPENS))
    assert report.invitations_sent == 11 and report.failed == 1
    counts = delivery_counts(engine=engine, cycle_id=scheduled["cycle"])
    assert (counts.sent, counts.failing, counts.waiting) == (11, 1, 0)
    # The reason is plain, and does not name the address.
    ((reason, number),) = counts.reasons
    assert number == 1 and reason.startswith("the mail server refused the address: 550")
    assert refused not in reason
    # Not before the backoff; after it, once the server takes the address, it goes.
    assert run_due(engine, at(OPENS) + timedelta(minutes=1)).failed == 0
    mail_settings.mailbox.refuse = set()
    assert run_due(engine, at(OPENS) + timedelta(minutes=6)).invitations_sent == 1
    assert Counter(mail_settings.mailbox.to()) == Counter(scheduled["emails"])


def test_the_server_stopped_mid_batch_loses_nothing_and_the_retry_finishes(
    engine: Engine, scheduled: dict, mail_settings: MailServer
) -> None:
    class StopsAfterFive(SmtpMailer):
        sent = 0

        def send(self, message) -> None:  # type: ignore[no-untyped-def]
            if StopsAfterFive.sent == 5:
                mail_settings.stop()
            super().send(message)
            StopsAfterFive.sent += 1

    report = run_due(engine, at(OPENS), mailer_factory=lambda: StopsAfterFive(mail_settings.url))
    assert report.invitations_sent == 5 and report.failed == 7
    assert any("mail server" in reason for reason in report.reasons)
    counts = delivery_counts(engine=engine, cycle_id=scheduled["cycle"])
    assert (counts.sent, counts.failing) == (5, 7)
    # The server comes back on another port; the retry after the backoff sends the rest.
    restarted = MailServer()
    restarted.start()
    try:
        report = run_due(
            engine,
            at(OPENS) + timedelta(minutes=10),
            mailer_factory=lambda: SmtpMailer(restarted.url),
        )
    finally:
        restarted.stop()
    assert report.invitations_sent == 7
    assert Counter(mail_settings.mailbox.to() + restarted.mailbox.to()) == Counter(
        scheduled["emails"]
    )


def runner_environment(database_url: str, server: MailServer) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ATTUNE_") and key != "DATABASE_URL"
    }
    environment |= {
        "DATABASE_URL": database_url,
        "ATTUNE_SMTP_URL": server.url,
        "ATTUNE_MAIL_FROM": "Staff Survey Team <survey@hospital.example>",
        "ATTUNE_LINK_SECRET": LINK_SECRET,
        "PYTHONPATH": str(ROOT),
    }
    return environment


def start_runner(environment: dict[str, str], now: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from surveys.cli import app; app()",
            "run-due",
            "--now",
            now.isoformat(),
        ],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_due_in_child(database_url: str, now: str) -> None:
    """A forked runner: its own process and database connections, as `attune run-due` has."""
    os.environ["DATABASE_URL"] = database_url
    get_settings.cache_clear()
    try:
        app(["run-due", "--now", now], standalone_mode=False)
    except BaseException:  # noqa: BLE001 - the exit code carries it to the parent
        os._exit(1)
    os._exit(0)


@pytest.mark.slow
@backends()
@pytest.mark.parametrize("runners", [2, 8])
def test_many_runners_at_once_send_each_invitation_and_reminder_once(
    engine: Engine,
    database_url: str,
    scheduled: dict,
    mail_settings: MailServer,
    runners: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox = mail_settings.mailbox
    # Batches of two, so that the runners contend for six batches rather than one.
    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)
    run_due(engine, at(OPENS, hour=1))  # open first: the runners race for the mail
    # Forked, so that eight runners start at once without eight interpreters' start-up.
    fork = multiprocessing.get_context("fork")

    def race(now: datetime) -> None:
        processes = [
            fork.Process(target=_run_due_in_child, args=(database_url, now.isoformat()))
            for _ in range(runners)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
            assert process.exitcode == 0

    race(at(OPENS))
    assert Counter(mailbox.to()) == Counter(scheduled["emails"])
    tokens = {str(m["To"]): token_of(m) for m in mailbox.messages}
    for email in scheduled["emails"][:3]:
        answer(engine, tokens[email])
    mailbox.clear()
    race(at(OPENS + timedelta(days=3)))
    assert Counter(mailbox.to()) == Counter(scheduled["emails"][3:])


@pytest.mark.slow
@backends()
def test_a_runner_killed_mid_batch_loses_nothing_and_a_later_run_finishes(
    engine: Engine, database_url: str, scheduled: dict, mail_settings: MailServer
) -> None:
    mailbox = mail_settings.mailbox
    mailbox.hold_after = 4
    run_due(engine, at(OPENS, hour=1))
    process = start_runner(runner_environment(database_url, mail_settings), at(OPENS))
    assert mailbox.held.wait(60), process.communicate(timeout=5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert len(mailbox.messages) == 4
    # The killed runner's claims hold until the lease lapses, then a later run sends the rest.
    mailbox.hold_after = None
    assert run_due(engine, at(OPENS) + timedelta(minutes=1)).invitations_sent == 0
    report = run_due(engine, at(OPENS) + LEASE + timedelta(minutes=1))
    received = Counter(mailbox.to())
    assert set(received) == set(scheduled["emails"])
    # At most the message in flight at the kill is sent twice (SMTP's own window); here the
    # server had not accepted it, so none is.
    assert sum(received.values()) == 12 and report.invitations_sent == 8


def test_the_cli_creates_lists_opens_and_closes_cycles_and_imports_a_roster(
    engine: Engine, database_url: str, mail_settings: MailServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology"):
            add_department(session=session, name=name, division_id=division)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["cycle", "create", "2027 Q2", "--opens", "2027-04-05", "--closes", "2027-04-23",
         "--reminders", "2,9"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reminders day 2, day 9" in result.output
    listed = runner.invoke(app, ["cycle", "list"])
    assert "2027 Q2\tdraft\t2027-04-05 to 2027-04-23\tautomatic" in listed.output
    file = tmp_path / "staff.csv"
    file.write_bytes(roster(addresses(3)))
    result = runner.invoke(app, ["roster", "import", str(file), "--cycle", "2027 q2"])
    assert result.exit_code == 0, result.output
    assert "Stored 3 addresses for 2027 Q2" in result.output
    # The same roster again: every address is already invited, and nothing more is stored.
    again = runner.invoke(app, ["roster", "import", str(file), "--cycle", "2027 Q2"])
    assert again.exit_code == 1 and "line 2, column email" in again.output
    assert "has already been invited to 2027 Q2" in again.output
    assert runner.invoke(app, ["cycle", "open", "2027 Q2"]).exit_code == 0
    closed = runner.invoke(app, ["cycle", "close", "2027 q2"])
    assert closed.exit_code == 0 and "now closed" in closed.output
    with read_session(engine) as session:
        assert len(list(session.scalars(select(InvitationDelivery)))) == 3
    actors = {entry.actor for entry in audit.list_events(engine=engine)}
    assert all(actor.startswith("cli") for actor in actors)
    result = runner.invoke(app, ["run-due", "--now", "2027-04-24T09:00:00+00:00"])
    assert result.exit_code == 0 and "Nothing was due." in result.output


@pytest.mark.slow
def test_run_due_loop_stops_cleanly_on_sigterm(
    database_url: str, engine: Engine, mail_settings: MailServer
) -> None:
    environment = runner_environment(database_url, mail_settings)
    process = subprocess.Popen(
        [sys.executable, "-c", "from surveys.cli import app; app()", "run-due", "--loop"],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("Running what is due every minute")
    process.send_signal(signal.SIGTERM)
    out, error = process.communicate(timeout=20)
    assert process.returncode == 0, error
    assert "Stopped." in out


def test_only_unused_links_are_reminded_even_if_marked_used_directly(
    engine: Engine, scheduled: dict, mail_settings: MailServer
) -> None:
    run_due(engine, at(OPENS))
    with write_session(engine) as session:
        cursor = driver_cursor(session)[1]
        for invitation in session.scalars(select(Invitation).where(~Invitation.is_open)).all():
            assert invitation.id is not None
            cell = (invitation.department_id or 0, invitation.staff_group_id or 0)
            mark_used(cursor, engine.dialect.name, invitation.id, invitation.cycle_id, cell)
    mail_settings.mailbox.clear()
    report = run_due(engine, at(OPENS + timedelta(days=3)))
    assert report.reminders_sent == 0 and mail_settings.mailbox.messages == []
    with read_session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM invitation_delivery")).scalar() == 12
