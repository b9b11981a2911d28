"""`attune run-due`: everything that is due, once: cycles opened and closed on their dates,
invitations and reminders sent.

Safe with any number of copies at once, on SQLite and PostgreSQL, with no broker and no lock
held while mail is sent: each piece of work is claimed by a conditional UPDATE (the
Healthchecks pattern) and skipped by whoever's UPDATE changed no row.

- A cycle is opened or closed by the runner once: `cycle_schedule.opened_at` / `closed_at`
  is set by `UPDATE ... WHERE opened_at IS NULL`, and only the runner whose UPDATE changed the
  row moves the cycle (through the same path as a manual open or close).
- Deliveries are claimed in batches: `UPDATE invitation_delivery SET claimed_by = me,
  claimed_until = now + lease WHERE id IN (...) AND step_done < due AND (claim free or
  lapsed) AND (not backing off)`. Each message's outcome is written right after it is sent,
  so a runner killed mid-batch can send again at most the one message whose acceptance it had
  not yet recorded (SMTP itself gives no way to close that window); its other claims lapse
  after the lease and another run picks them up.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from surveys import audit
from surveys.actions.sharing import previous_summary
from surveys.clock import utc_now
from surveys.invitations.delivery import (
    MailError,
    SmtpMailer,
    build_message,
    link_token,
    mail_problem,
    open_mailer,
    render,
)
from surveys.invitations.links import survey_url
from surveys.invitations.used import used_clause
from surveys.models import (
    CycleSchedule,
    Invitation,
    InvitationDelivery,
    SurveyCycle,
    WorkerHeartbeat,
)
from surveys.organisation.cycles import apply_cycle_state
from surveys.organisation.schedule import ScheduleInfo, all_schedules, day_start, due_step
from surveys.records import CycleState
from surveys.storage import read_session, write_session

logger = logging.getLogger(__name__)

BATCH_SIZE = 20
# A claim lapses after this long, so a killed runner's rows go out with a later run. A batch
# gives up its remaining claims once half of it has passed, so that a slow server never lets
# a claim lapse while its holder is still sending.
LEASE = timedelta(minutes=15)
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)


@dataclass
class RunReport:
    """What one run did, in counts."""

    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    invitations_sent: int = 0
    reminders_sent: int = 0
    reminders_not_needed: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)
    mail: str | None = None  # why no mail could be sent, when none could
    analysed: int = 0  # comments given a theme and tone

    def lines(self) -> list[str]:
        said = [f"Opened {name}." for name in self.opened]
        said += [f"Closed {name}." for name in self.closed]
        if self.invitations_sent or self.reminders_sent or self.failed:
            said.append(
                f"Sent {self.invitations_sent} invitation(s) and {self.reminders_sent} "
                f"reminder(s); {self.failed} failed and will be retried."
            )
        if self.analysed:
            said.append(f"Analysed {self.analysed} comment(s).")
        said += [f"Failed: {reason}" for reason in dict.fromkeys(self.reasons)]
        if self.mail:
            said.append(f"No mail sent: {self.mail}.")
        return said or ["Nothing was due."]


@dataclass(frozen=True)
class Heartbeat:
    """A runner's last finished run, as `attune run-due --status` reports it."""

    worker: str
    last_run_at: datetime
    succeeded: bool


def worker_name() -> str:
    """The name a runner's heartbeat is kept under: its host (a restart reuses the row)."""
    return socket.gethostname()[:120] or "worker"


def record_heartbeat(
    engine: Engine, *, succeeded: bool, worker: str | None = None, now: datetime | None = None
) -> None:
    """Note that `worker` (default: this host) finished a run at `now` (default: the clock).

    The runner's own bookkeeping, like its claims: not audited, nothing about respondents."""
    name = (worker or worker_name())[:120]
    moment = now or utc_now()
    for _ in range(2):
        with write_session(engine) as session:
            changed = session.execute(
                update(WorkerHeartbeat)
                .where(col(WorkerHeartbeat.worker) == name)
                .values(last_run_at=moment, succeeded=succeeded)
            )
            if changed.rowcount:  # type: ignore[attr-defined]  # CursorResult has rowcount
                return
        try:
            with write_session(engine) as session:
                session.add(WorkerHeartbeat(worker=name, last_run_at=moment, succeeded=succeeded))
            return
        except IntegrityError:
            continue  # another runner of the same name inserted it first: update it


def heartbeats(engine: Engine) -> list[Heartbeat]:
    """Every runner's last run, newest first."""
    with read_session(engine) as session:
        rows = session.scalars(
            select(WorkerHeartbeat).order_by(col(WorkerHeartbeat.last_run_at).desc())
        ).all()
        return [Heartbeat(row.worker, audit.as_utc(row.last_run_at), row.succeeded) for row in rows]


def backoff(attempts: int) -> timedelta:
    """How long to wait after the n-th failure in a row: 5 min, 10, 20, ... up to 6 h."""
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), LONGEST_RETRY)


def run_due(
    engine: Engine,
    now: datetime | None = None,
    *,
    actor: str = "job:run-due",
    mailer_factory: Callable[[], SmtpMailer] | None = None,
) -> RunReport:
    """Do everything due at `now` (default: the clock) once, and say what was done."""
    now = now or utc_now()
    report = RunReport()
    with read_session(engine) as session:
        schedules = [info for info, _ in all_schedules(session=session)]
    for info in schedules:
        _open_if_due(engine, info, now, actor, report)
    for info in schedules:
        _close_if_due(engine, info, now, actor, report)
    # After closing, which releases every comment of the cycle; before mail, which may wait.
    _analyse_comments(engine, report)

    with read_session(engine) as session:
        open_now = [
            info
            for info, _ in all_schedules(session=session)
            if info.state == CycleState.open.value and due_step(info, now) >= 0
        ]
    if not open_now:
        return report
    problem = mail_problem()
    if problem is not None:
        if _has_unsent(engine, open_now, now):
            report.mail = problem
            logger.warning("invitations are due but %s", problem)
        return report
    for info in open_now:
        _deliver(engine, info, due_step(info, now), now, actor, report, mailer_factory)
    return report


def _analyse_comments(engine: Engine, report: RunReport) -> None:
    """Themes and tones of comments released since the last run, so no page computes them."""
    from surveys.analysis import analyse_comments, count_to_analyse

    try:
        if count_to_analyse(engine):
            report.analysed = analyse_comments(engine)
    except Exception as error:  # noqa: BLE001 - analysis must never stop invitations going out
        logger.exception("comment analysis failed")
        report.reasons.append(f"comment analysis: {type(error).__name__}: {error}")


def _open_if_due(
    engine: Engine, info: ScheduleInfo, now: datetime, actor: str, report: RunReport
) -> None:
    if info.state != CycleState.draft.value:
        return
    if not day_start(info.opens) <= now < day_start(info.closes + timedelta(days=1)):
        return
    with write_session(engine) as session:
        claimed = session.execute(
            update(CycleSchedule)
            .where(
                col(CycleSchedule.cycle_id) == info.cycle_id,
                col(CycleSchedule.opened_at).is_(None),
            )
            .values(opened_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
            return
        cycle = session.get(SurveyCycle, info.cycle_id)
        if cycle is None or cycle.state != CycleState.draft.value:
            return  # opened or closed by hand meanwhile: the date changes nothing
        apply_cycle_state(
            session=session,
            cycle_id=info.cycle_id,
            action="open",
            actor=actor,
            why="on its opening date",
        )
    report.opened.append(info.cycle)


def _close_if_due(
    engine: Engine, info: ScheduleInfo, now: datetime, actor: str, report: RunReport
) -> None:
    if now < day_start(info.closes + timedelta(days=1)):
        return
    with write_session(engine) as session:
        cycle = session.get(SurveyCycle, info.cycle_id)
        if cycle is None or cycle.state != CycleState.open.value:
            return
        claimed = session.execute(
            update(CycleSchedule)
            .where(
                col(CycleSchedule.cycle_id) == info.cycle_id,
                col(CycleSchedule.closed_at).is_(None),
            )
            .values(closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
            return  # closed once already: reopened by hand after its date, it stays open
        apply_cycle_state(
            session=session,
            cycle_id=info.cycle_id,
            action="close",
            actor=actor,
            why="on its closing date",
        )
    report.closed.append(info.cycle)


def _claimable(cycle_id: int, step: int, now: datetime):  # noqa: ANN202 - SQL expression
    return and_(
        col(InvitationDelivery.cycle_id) == cycle_id,
        col(InvitationDelivery.step_done) < step,
        or_(
            col(InvitationDelivery.claimed_until).is_(None),
            col(InvitationDelivery.claimed_until) < now,
        ),
        or_(col(InvitationDelivery.next_try).is_(None), col(InvitationDelivery.next_try) <= now),
    )


def _has_unsent(engine: Engine, infos: list[ScheduleInfo], now: datetime) -> bool:
    with read_session(engine) as session:
        return any(
            session.scalar(
                select(col(InvitationDelivery.id))
                .where(_claimable(info.cycle_id, due_step(info, now), now))
                .limit(1)
            )
            is not None
            for info in infos
        )


@dataclass(frozen=True)
class _Claimed:
    id: int
    address: str
    nonce: str
    step_done: int
    used: bool


def _claim(engine: Engine, cycle_id: int, step: int, now: datetime, me: str) -> list[_Claimed]:
    with write_session(engine) as session:
        candidates = list(
            session.scalars(
                select(col(InvitationDelivery.id))
                .where(_claimable(cycle_id, step, now))
                .order_by(col(InvitationDelivery.id))
                .limit(BATCH_SIZE)
            )
        )
        if not candidates:
            return []
        # The WHERE is checked again by the UPDATE itself: on PostgreSQL a second runner's
        # UPDATE waits for the first's row locks and then finds the rows claimed.
        session.execute(
            update(InvitationDelivery)
            .where(col(InvitationDelivery.id).in_(candidates), _claimable(cycle_id, step, now))
            .values(claimed_by=me, claimed_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(
                col(InvitationDelivery.id),
                col(InvitationDelivery.address),
                col(InvitationDelivery.nonce),
                col(InvitationDelivery.step_done),
                used_clause(),
            )
            .join(Invitation, col(Invitation.id) == col(InvitationDelivery.invitation_id))
            .where(
                col(InvitationDelivery.id).in_(candidates),
                col(InvitationDelivery.claimed_by) == me,
            )
            .order_by(col(InvitationDelivery.id))
        ).all()
        return [_Claimed(*row) for row in rows]


def _finish(
    session: Session,
    delivery_id: int,
    me: str,
    *,
    step: int | None,
    error: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record one claimed row's outcome (only while the claim is still ours)."""
    values: dict[str, object] = {"claimed_by": None, "claimed_until": None}
    if error is None:
        values |= {"step_done": step, "attempts": 0, "next_try": None, "last_error": None}
    else:
        assert now is not None
        attempts = (
            session.scalar(
                select(col(InvitationDelivery.attempts)).where(
                    col(InvitationDelivery.id) == delivery_id
                )
            )
            or 0
        ) + 1
        values |= {"attempts": attempts, "next_try": now + backoff(attempts), "last_error": error}
    done = session.execute(
        update(InvitationDelivery)
        .where(col(InvitationDelivery.id) == delivery_id, col(InvitationDelivery.claimed_by) == me)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount


def _release(session: Session, delivery_id: int, me: str) -> None:
    session.execute(
        update(InvitationDelivery)
        .where(col(InvitationDelivery.id) == delivery_id, col(InvitationDelivery.claimed_by) == me)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def _count_sent(session: Session, cycle_id: int, *, reminder: bool) -> None:
    column = CycleSchedule.reminders_sent if reminder else CycleSchedule.invitations_sent
    session.execute(
        update(CycleSchedule)
        .where(col(CycleSchedule.cycle_id) == cycle_id)
        .values({column: col(column) + 1})
        .execution_options(synchronize_session=False)
    )


def _blur(session: Session, cycle_id: int) -> None:
    """On PostgreSQL, give every delivery row of the cycle this transaction's id (xmin), so
    that rows reminded and rows whose link was already used cannot be told apart by which
    transaction last wrote them. See surveys/survey/submit.py for the same on a submission."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        update(InvitationDelivery)
        .where(col(InvitationDelivery.cycle_id) == cycle_id)
        .values(step_done=col(InvitationDelivery.step_done))
        .execution_options(synchronize_session=False)
    )


def _deliver(
    engine: Engine,
    info: ScheduleInfo,
    step: int,
    now: datetime,
    actor: str,
    report: RunReport,
    mailer_factory: Callable[[], SmtpMailer] | None,
) -> None:
    me = secrets.token_hex(8)
    sent = {"invitation": 0, "reminder": 0}
    failed = 0
    not_needed = 0
    server_down = False
    reason = ""
    # "You said, we did": the previous cycle's published summary, linked in every message.
    shared = previous_summary(engine=engine, cycle_id=info.cycle_id)
    with (mailer_factory or open_mailer)() as mailer:
        while not server_down:
            claimed = _claim(engine, info.cycle_id, step, now, me)
            if not claimed:
                break
            started = time.monotonic()
            for position, row in enumerate(claimed):
                reminder = row.step_done >= 0
                if server_down:
                    # The server is gone: the rest of the batch fails for the same reason and
                    # backs off, rather than each trying it again at once.
                    with write_session(engine) as session:
                        for rest in claimed[position:]:
                            _finish(session, rest.id, me, step=None, error=reason, now=now)
                    failed += len(claimed) - position
                    break
                if time.monotonic() - started > LEASE.total_seconds() / 2:
                    # Hand the rest back at once, before the claims could lapse under us.
                    with write_session(engine) as session:
                        for rest in claimed[position:]:
                            _release(session, rest.id, me)
                    break
                if reminder and row.used:
                    # Answered already: this step is done for the address without a message,
                    # written exactly as for one reminded, so the table does not tell them apart.
                    with write_session(engine) as session:
                        _finish(session, row.id, me, step=step)
                    not_needed += 1
                    continue
                try:
                    rendered = render(
                        cycle=info.cycle,
                        closes=info.closes,
                        subject=info.subject,
                        intro=info.intro,
                        link=survey_url(link_token(row.nonce)),
                        reminder=reminder,
                        shared=shared,
                    )
                    mailer.send(build_message(to=row.address, rendered=rendered))
                except MailError as error:
                    with write_session(engine) as session:
                        _finish(session, row.id, me, step=None, error=error.reason, now=now)
                    failed += 1
                    reason = error.reason
                    report.reasons.append(reason)
                    server_down = error.connection_lost
                    continue
                with write_session(engine) as session:
                    if _finish(session, row.id, me, step=step):
                        _count_sent(session, info.cycle_id, reminder=reminder)
                sent["reminder" if reminder else "invitation"] += 1
    with write_session(engine) as session:
        _blur(session, info.cycle_id)
        if sent["invitation"] or sent["reminder"] or failed:
            audit.record(
                session=session,
                actor=actor,
                action="mail.send" if step == 0 else "mail.remind",
                detail=(
                    f"{info.cycle}: {sent['invitation']} invitation(s) and {sent['reminder']} "
                    f"reminder(s) sent, {failed} failed"
                    + (f" (reminder {step} of {len(info.reminder_days)})" if step else "")
                ),
            )
    report.invitations_sent += sent["invitation"]
    report.reminders_sent += sent["reminder"]
    report.reminders_not_needed += not_needed
    report.failed += failed
