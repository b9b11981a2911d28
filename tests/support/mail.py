"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the tests, and what it received."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from surveys.config import get_settings

LINK_SECRET = "a-test-link-secret-of-at-least-32-characters"


def addresses(count: int) -> list[str]:
    return [f"person{number}@hospital.example" for number in range(count)]


def roster(emails: list[str], departments: tuple[str, ...] = ("Oncology", "Emergency")) -> bytes:
    """An email roster, the addresses spread over `departments` (nurses all)."""
    rows = [
        f"{departments[number % len(departments)]},nursing,{email}"
        for number, email in enumerate(emails)
    ]
    return ("department,staff_group,email\n" + "\n".join(rows) + "\n").encode()


def token_of(message: EmailMessage) -> str:
    """The survey token in a received invitation's plain-text body."""
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    link = next(line for line in body.get_content().splitlines() if "/survey?token=" in line)
    return parse_qs(urlsplit(link.strip()).query)["token"][0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the server received, and how it should misbehave."""

    messages: list[EmailMessage] = field(default_factory=list)
    # Addresses refused at RCPT with a 550, as a mail server refuses an unknown user.
    refuse: set[str] = field(default_factory=set)
    # After this many messages, each further DATA waits here (a process can be killed then).
    hold_after: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self.lock:
            holding = self.hold_after is not None and len(self.messages) >= self.hold_after
        if holding:
            self.held.set()
            await asyncio.sleep(3600)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self) -> list[str]:
        with self.lock:
            return [str(message["To"]) for message in self.messages]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


class MailServer:
    """aiosmtpd's Controller on a free local port; `url` is what ATTUNE_SMTP_URL gets."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.running = False

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(monkeypatch: pytest.MonkeyPatch, mail_server: MailServer) -> MailServer:
    """Settings that send through `mail_server`: import both fixtures into a test module."""
    monkeypatch.setenv("ATTUNE_SMTP_URL", mail_server.url)
    monkeypatch.setenv("ATTUNE_MAIL_FROM", "Staff Survey Team <survey@hospital.example>")
    monkeypatch.setenv("ATTUNE_MAIL_REPLY_TO", "survey-help@hospital.example")
    monkeypatch.setenv("ATTUNE_LINK_SECRET", LINK_SECRET)
    get_settings.cache_clear()
    return mail_server
