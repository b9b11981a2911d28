"""Invitation emails: addresses checked before anything is stored, messages as plain text, and
SMTP settings that fail with a reason in words."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.invitations.delivery import (
    MailError,
    MailNotConfigured,
    SmtpMailer,
    build_message,
    check_address,
    import_email_roster,
    mail_problem,
    open_mailer,
    render,
)
from surveys.invitations.roster import RosterError
from tests.support.hostile import database_dump
from tests.support.mail import LINK_SECRET, MailServer, free_port

HEADER = "department,staff_group,email\n"


@pytest.fixture
def link_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_LINK_SECRET", LINK_SECRET)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("Ann Nurse <ann@example.org>", "display name"),
        ('"ann nurse"@example.org', "not an address mail can be sent to"),
        ("ann@example.org\r\nBcc: everyone@example.org", "line break"),
        ("ann@example.org\nBcc: x@y.org", "line break"),
        ("a" * 990 + "@example.org", "at most 254"),
        ("renée@example.org", "not an address mail can be sent to"),
        ("ann@", "not an address mail can be sent to"),
        ("ann@localhost", "not an address mail can be sent to"),
    ],
)
def test_addresses_mail_cannot_take_are_refused_in_words(address: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_address(address)


def test_international_domains_are_accepted_and_sent_in_ascii() -> None:
    assert check_address("ann@bücher.example") == "ann@xn--bcher-kva.example"
    assert check_address("Ann.Nurse+survey@Example.org") == "Ann.Nurse+survey@example.org"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("Emergency,nursing,Ann <ann@example.org>\n", "line 2, column email"),
        ('Emergency,nursing,"ann@example.org\nBcc: x@y.org"\n', "not an email address"),
        ("Emergency,nursing," + "a" * 990 + "@example.org\n", "not an email address"),
        ("Emergency,nursing,ann@example.org\nOncology,nursing,ANN@example.org\n", "already on"),
        ("Emergency,nursing,ok@example.org\nEmergency,nursing,renée@example.org\n", "line 3"),
    ],
)
def test_a_roster_with_one_bad_address_stores_nothing(
    engine: Engine, cycle: int, link_secret: None, rows: str, expected: str
) -> None:
    before = database_dump(engine)
    with pytest.raises(RosterError) as refused:
        import_email_roster(
            engine=engine, data=(HEADER + rows).encode(), cycle_id=cycle, actor="boss"
        )
    assert expected in str(refused.value) or any(
        expected in str(problem) for problem in refused.value.problems
    )
    assert database_dump(engine) == before


def test_a_headcount_roster_cannot_be_sent_by_email(
    engine: Engine, cycle: int, link_secret: None
) -> None:
    with pytest.raises(RosterError, match="needs an email column"):
        import_email_roster(
            engine=engine,
            data=b"department,staff_group,headcount\nEmergency,nursing,3\n",
            cycle_id=cycle,
            actor="boss",
        )


def test_without_a_link_secret_no_address_is_stored(engine: Engine, cycle: int) -> None:
    before = database_dump(engine)
    with pytest.raises(RosterError, match="ATTUNE_LINK_SECRET is not set"):
        import_email_roster(
            engine=engine,
            data=(HEADER + "Emergency,nursing,ann@example.org\n").encode(),
            cycle_id=cycle,
            actor="boss",
        )
    assert database_dump(engine) == before


def test_mail_settings_missing_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mail_problem() == (
        "email is not configured: set ATTUNE_SMTP_URL and ATTUNE_MAIL_FROM and ATTUNE_LINK_SECRET"
    )
    with pytest.raises(MailNotConfigured):
        open_mailer()
    monkeypatch.setenv("ATTUNE_SMTP_URL", "http://mail.example.org")
    monkeypatch.setenv("ATTUNE_MAIL_FROM", "survey@example.org")
    monkeypatch.setenv("ATTUNE_LINK_SECRET", LINK_SECRET)
    get_settings.cache_clear()
    with pytest.raises(MailNotConfigured, match="smtp://host:port"):
        open_mailer()


def test_the_smtp_url_gives_host_port_tls_and_login() -> None:
    plain = SmtpMailer("smtp://mail.example.org")
    assert (plain.host, plain.port, plain.implicit_tls, plain.user) == (
        "mail.example.org", 25, False, None,
    )  # fmt: skip
    secure = SmtpMailer("smtps://survey%40example.org:p%40ss@mail.example.org")
    assert (secure.port, secure.implicit_tls, secure.user, secure.password) == (
        465, True, "survey@example.org", "p@ss",
    )  # fmt: skip
    assert SmtpMailer("smtp://mail.example.org:587?starttls=required").require_starttls


def message(to: str = "ann@example.org"):  # type: ignore[no-untyped-def]
    rendered = render(
        cycle="2027 Q1",
        closes=date(2027, 1, 29),
        subject="Hello\r\nBcc: everyone@example.org",
        intro="<script>alert(1)</script>\n\n**bold** [link](javascript:x)",
        link="http://localhost:8501/survey?token=abc",
        reminder=False,
    )
    return rendered, build_message(to=to, rendered=rendered)


def test_the_subject_and_introduction_are_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTUNE_MAIL_FROM", "survey@example.org")
    get_settings.cache_clear()
    rendered, built = message()
    # A line break cannot reach the headers: the subject is one line.
    assert built["Subject"] == "Hello Bcc: everyone@example.org"
    assert built["Bcc"] is None
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text
    assert 'href="javascript' not in rendered.html


def test_a_server_that_cannot_be_reached_gives_a_reason() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}")
    with pytest.raises(MailError, match="could not be reached: connection refused") as failed:
        mailer.send(message()[1])
    assert failed.value.connection_lost


def test_starttls_required_but_not_offered_is_refused(mail_server: MailServer) -> None:
    mailer = SmtpMailer(f"{mail_server.url}?starttls=required")
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        mailer.send(message()[1])
    assert mail_server.mailbox.messages == []
