"""Invitations by email: addresses checked, links rebuilt, messages written and sent by SMTP.

An email roster (`import_email_roster`) stores, per address, one one-time invitation and a
delivery row (surveys.models.InvitationDelivery). The link itself is never stored: it is
rebuilt at each send from the row's random nonce and ATTUNE_LINK_SECRET, so a copy of the
database alone cannot answer anyone's survey. The job runner (surveys/jobs.py) decides what is
due and calls `SmtpMailer.send` with messages from `build_message`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, insert, select
from sqlmodel import Session, col

from surveys import audit
from surveys.actions.sharing import SharedLink, previous_summary
from surveys.config import get_settings
from surveys.invitations import links
from surveys.invitations.roster import RosterError, RosterKind, RosterProblem, _check_cycle, _parse
from surveys.models import CycleSchedule, Invitation, InvitationDelivery
from surveys.storage import write_session
from surveys.text import shown

SURVEY_MINUTES = 5
SUBJECT_MAX_LENGTH = 200
INTRO_MAX_LENGTH = 2_000
SMTP_TIMEOUT_SECONDS = 30
REASON_MAX_LENGTH = 300
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


class MailNotConfigured(RuntimeError):
    """Sending needs ATTUNE_SMTP_URL, ATTUNE_MAIL_FROM and ATTUNE_LINK_SECRET."""


class MailError(RuntimeError):
    """A message was not sent; `reason` says why in words, and `connection_lost` whether the
    rest of the batch can still go through the same connection."""

    def __init__(self, reason: str, *, connection_lost: bool) -> None:
        # A server's refusal often quotes the address: the reason is shown in counts, not per
        # person, so the address is taken out and like failures group together.
        reason = _ADDRESS.sub("<address>", reason)[:REASON_MAX_LENGTH]
        super().__init__(reason)
        self.reason = reason
        self.connection_lost = connection_lost


def check_address(raw: str) -> str:
    """The address as it will be sent to, or ValueError saying in words what is wrong.

    Only a bare address is accepted: no display name, no quoted local part, no line breaks
    (which would let a roster write mail headers), ASCII before the @ (many servers refuse
    anything else). International domain names are accepted and sent in their ASCII form.
    """
    if any(character in raw for character in "\r\n"):
        raise ValueError(f"{shown(raw)} holds a line break; give one address per cell")
    if "<" in raw or ">" in raw:
        raise ValueError(f"{shown(raw)} has a display name; give the bare address only")
    if len(raw) > 254:
        raise ValueError(f"{shown(raw)} is {len(raw):,} characters; an address has at most 254")
    try:
        checked = validate_email(
            raw,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_display_name=False,
        )
    except EmailNotValidError as error:
        raise ValueError(f"{shown(raw)} is not an address mail can be sent to: {error}") from None
    return checked.ascii_email or checked.normalized


def mail_problem() -> str | None:
    """Why this process cannot send mail, in words, or None when it can."""
    settings = get_settings()
    missing = [
        name
        for name, value in (
            ("ATTUNE_SMTP_URL", settings.smtp_url),
            ("ATTUNE_MAIL_FROM", settings.mail_from),
            ("ATTUNE_LINK_SECRET", settings.link_secret),
        )
        if not value
    ]
    if missing:
        return f"email is not configured: set {' and '.join(missing)}"
    return None


def link_token(nonce: str) -> str:
    """The one-time token of a delivery row, rebuilt from its nonce and the link secret."""
    secret = get_settings().link_secret
    if secret is None:
        raise MailNotConfigured("ATTUNE_LINK_SECRET is not set: emailed links cannot be made")
    digest = hmac.new(
        secret.get_secret_value().encode("utf-8"),
        f"attune-link:{nonce}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def default_subject(cycle: str, *, reminder: bool) -> str:
    return f"{'Reminder: ' if reminder else ''}{cycle} staff survey, about {SURVEY_MINUTES} minutes"


def clean_subject(subject: str) -> str:
    """An administrator's subject as plain one-line text (a header cannot hold a line break)."""
    one_line = " ".join(subject.split())
    if len(one_line) > SUBJECT_MAX_LENGTH:
        raise ValueError(f"the subject is {len(one_line)} characters; at most {SUBJECT_MAX_LENGTH}")
    return one_line


def clean_intro(intro: str) -> str:
    text = intro.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > INTRO_MAX_LENGTH:
        raise ValueError(
            f"the introduction is {len(text):,} characters; at most {INTRO_MAX_LENGTH}"
        )
    return text


@cache
def _templates() -> Environment:
    # Autoescape for the HTML body: the subject and introduction are plain text, never markup.
    return Environment(
        loader=PackageLoader("surveys.invitations", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Rendered:
    """A message's subject and both bodies, for sending or for the preview on the cycle page."""

    subject: str
    text: str
    html: str


def sender_name() -> str:
    """Who the message says it is from: the display name of ATTUNE_MAIL_FROM, or its address."""
    name, address = parseaddr(get_settings().mail_from or "")
    return name or address or "your survey team"


def render(
    *,
    cycle: str,
    closes: date,
    subject: str,
    intro: str,
    link: str,
    reminder: bool,
    shared: SharedLink | None = None,
) -> Rendered:
    """The message; `shared` is the previous cycle's published summary for staff, linked
    when its link can be given out ("you said, we did")."""
    subject = clean_subject(subject) or default_subject(cycle, reminder=reminder)
    intro = clean_intro(intro)
    values = {
        "cycle": cycle,
        "closes": long_date(closes),
        "subject": subject,
        "intro": intro,
        "intro_paragraphs": [part.strip() for part in intro.split("\n\n") if part.strip()],
        "link": link,
        "reminder": reminder,
        "sender": sender_name(),
        "minutes": SURVEY_MINUTES,
        "min_group": get_settings().min_group_size,
        "shared_cycle": shared.cycle if shared is not None and shared.url else None,
        "shared_link": shared.url if shared is not None else None,
    }
    environment = _templates()
    return Rendered(
        subject=subject,
        text=environment.get_template("invitation.txt").render(values),
        html=environment.get_template("invitation.html").render(values),
    )


def build_message(*, to: str, rendered: Rendered) -> EmailMessage:
    settings = get_settings()
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = settings.mail_from or ""
    message["To"] = Address(addr_spec=to)
    if settings.mail_reply_to:
        message["Reply-To"] = settings.mail_reply_to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(settings.mail_from or "")[1].rpartition("@")[2] or "attune.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    # Mail robots should not answer an invitation with an out-of-office reply.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class SmtpMailer:
    """One SMTP connection for a batch of messages, from ATTUNE_SMTP_URL.

    smtp://host[:port] (25) upgrades to TLS with STARTTLS whenever the server offers it, and
    with ?starttls=required refuses to send without it; smtps://host[:port] (465) speaks TLS
    from the start. A user and password in the URL are used to log in.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailNotConfigured(
                "ATTUNE_SMTP_URL must look like smtp://host:port or smtps://host:port"
            )
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query)
        self.require_starttls = query.get("starttls", [""])[0].lower() in ("required", "require")
        self._connection: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            connection: smtplib.SMTP
            if self.implicit_tls:
                connection = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
                connection.ehlo()
                if connection.has_extn("starttls"):
                    connection.starttls(context=context)
                    connection.ehlo()
                elif self.require_starttls:
                    connection.quit()
                    raise MailError(
                        f"the mail server at {self.where} does not offer STARTTLS, which "
                        "ATTUNE_SMTP_URL requires",
                        connection_lost=True,
                    )
            if connection.sock is not None:
                # Commands and replies are small: without this, Nagle's algorithm and delayed
                # ACKs add tens of milliseconds to each message.
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.user:
                connection.login(self.user, self.password or "")
        except smtplib.SMTPAuthenticationError:
            raise MailError(
                f"the mail server at {self.where} refused the user name or password",
                connection_lost=True,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(
                f"the mail server at {self.where} could not be reached: {_words(error)}",
                connection_lost=True,
            ) from None
        return connection

    def send(self, message: EmailMessage) -> None:
        """Send one message, or raise MailError."""
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise MailError(
                f"the mail server refused the address: {code} {_decoded(text)}",
                connection_lost=False,
            ) from None
        except smtplib.SMTPSenderRefused as error:
            raise MailError(
                f"the mail server refused the sender (ATTUNE_MAIL_FROM): {error.smtp_code} "
                f"{_decoded(error.smtp_error)}",
                connection_lost=False,
            ) from None
        except smtplib.SMTPDataError as error:
            raise MailError(
                f"the mail server refused the message: {error.smtp_code} "
                f"{_decoded(error.smtp_error)}",
                connection_lost=False,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise MailError(
                f"the connection to the mail server at {self.where} was lost: {_words(error)}",
                connection_lost=True,
            ) from None

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._connection.quit()
            self._drop()

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _decoded(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _words(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    detail = str(error).strip()
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def open_mailer() -> SmtpMailer:
    """A mailer for ATTUNE_SMTP_URL, or MailNotConfigured saying what is missing."""
    problem = mail_problem()
    if problem is not None:
        raise MailNotConfigured(problem)
    url = get_settings().smtp_url
    assert url is not None
    return SmtpMailer(url.get_secret_value())


def send_test_email(*, engine: Engine, cycle_id: int, to: str, actor: str) -> None:
    """The cycle's invitation, with a link that opens nothing, sent to `to` (an administrator
    checking how it looks); raises MailNotConfigured, ValueError or MailError."""
    from surveys.organisation.schedule import get_schedule

    address = check_address(to)
    schedule = get_schedule(engine=engine, cycle_id=cycle_id)
    rendered = render(
        cycle=schedule.cycle,
        closes=schedule.closes,
        subject=schedule.subject,
        intro=schedule.intro,
        link=f"{get_settings().base_url}/survey?token=test-email-no-survey",
        reminder=False,
        shared=previous_summary(engine=engine, cycle_id=cycle_id),
    )
    with open_mailer() as mailer:
        mailer.send(build_message(to=address, rendered=rendered))
    with write_session(engine) as session:
        audit.record(
            session=session,
            actor=actor,
            action="mail.test",
            detail=f"{schedule.cycle}: a test invitation",
        )


def import_email_roster(*, engine: Engine, data: bytes, cycle_id: int, actor: str) -> int:
    """Store an email roster for the job runner to send: one one-time invitation and one
    delivery row per address, all or nothing. Returns how many addresses were added.

    The roster is checked as every roster is (line by line), then each address as mail will
    need it; an address already invited to the cycle is refused as a duplicate.
    """
    if get_settings().link_secret is None:
        raise RosterError(
            [
                RosterProblem(
                    None,
                    None,
                    "ATTUNE_LINK_SECRET is not set; emailed links are rebuilt from it, "
                    "so set it (32 characters or more) before importing addresses",
                )
            ]
        )
    with write_session(engine) as session:
        return _import_emails(session, data, cycle_id, actor)


def _import_emails(session: Session, data: bytes, cycle_id: int, actor: str) -> int:
    roster = _parse(session, data, cycle_id)
    cycle = _check_cycle(session, cycle_id)
    if roster.kind is not RosterKind.emails:
        raise RosterError(
            [RosterProblem(1, None, "sending by email needs an email column, not a headcount")]
        )
    problems: list[RosterProblem] = []
    addresses: list[str] = []
    seen: dict[str, int] = {}
    for (cell_index, position), line in zip(roster.order, roster.email_lines, strict=True):
        raw = roster.cells[cell_index].emails[position]
        try:
            address = check_address(raw)
        except ValueError as error:
            problems.append(RosterProblem(line, "email", str(error)))
            addresses.append("")
            continue
        key = address.lower()
        if key in seen:
            problems.append(
                RosterProblem(line, "email", f"{shown(raw)} is already on line {seen[key]}")
            )
        seen.setdefault(key, line)
        addresses.append(address)
    already = {
        address.lower()
        for address in session.scalars(
            select(col(InvitationDelivery.address)).where(
                col(InvitationDelivery.cycle_id) == cycle_id
            )
        )
    }
    for address, line in zip(addresses, roster.email_lines, strict=True):
        if address and address.lower() in already:
            problems.append(
                RosterProblem(
                    line, "email", f"{shown(address)} has already been invited to {cycle.name}"
                )
            )
    if problems:
        raise RosterError(problems[:50], more=max(0, len(problems) - 50))

    rows = []
    for (cell_index, _position), address in zip(roster.order, addresses, strict=True):
        cell = roster.cells[cell_index]
        nonce = secrets.token_urlsafe(24)
        invitation_id = session.scalar(
            insert(Invitation)
            .values(
                token_hash=links.hash_token(link_token(nonce)),
                cycle_id=cycle_id,
                department_id=cell.department_id,
                staff_group_id=cell.staff_group_id,
                is_open=False,
            )
            .returning(col(Invitation.id))
        )
        rows.append(
            {
                "cycle_id": cycle_id,
                "invitation_id": invitation_id,
                "address": address,
                "nonce": nonce,
                "step_done": -1,
                "attempts": 0,
            }
        )
    session.execute(insert(InvitationDelivery), rows)
    if session.get(CycleSchedule, cycle_id) is None:
        session.add(CycleSchedule(cycle_id=cycle_id))
    audit.record(
        session=session,
        actor=actor,
        action="mail.roster",
        detail=f"{cycle.name}: {len(rows):,} address{'es' if len(rows) != 1 else ''} to invite "
        f"by email in {len({cell.department_id for cell in roster.cells})} department(s)",
    )
    return len(rows)


def token_for_invitation(*, session: Session, invitation_id: int) -> str | None:
    """The emailed token of an invitation (for tests and a resend), or None if not emailed."""
    nonce = session.scalar(
        select(col(InvitationDelivery.nonce)).where(
            col(InvitationDelivery.invitation_id) == invitation_id
        )
    )
    return None if nonce is None else link_token(nonce)
