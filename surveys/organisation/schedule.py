"""A cycle's schedule: when its invitations and reminders go out, what they say, and the counts
of what was sent. The job runner (surveys/jobs.py) acts on it; pages and the CLI edit it here.

Times follow ATTUNE_TIME_ZONE: a cycle opens at the start of its opening day, closes at the end
of its closing day, and a day's invitations or reminders go out from ATTUNE_MAIL_HOUR.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from surveys import audit
from surveys.config import get_settings
from surveys.models import CycleSchedule, InvitationDelivery, SurveyCycle
from surveys.organisation.structure import OrganisationError, _get
from surveys.storage import read_session, write_session

MAX_REMINDERS = 5


@dataclass(frozen=True)
class ScheduleInfo:
    cycle_id: int
    cycle: str
    state: str
    opens: date
    closes: date
    invite_on: date
    reminder_days: tuple[int, ...]
    subject: str
    intro: str
    automatic: bool  # whether the job runner opens and closes the cycle by its dates


@dataclass(frozen=True)
class DeliveryCounts:
    """What an administrator may know of a cycle's emails: counts and reasons, never who."""

    addresses: int
    sent: int
    waiting: int
    failing: int
    reminders_sent: int
    # Each reason for a failure still being retried, with how many addresses it holds.
    reasons: tuple[tuple[str, int], ...]


def parse_reminder_days(text: str) -> tuple[int, ...]:
    """ "3,7" -> (3, 7); ValueError in words for anything else."""
    days: list[int] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(f"reminder days are whole numbers of days, like 3,7; not {part!r}")
        days.append(int(part))
    if any(day < 1 for day in days):
        raise ValueError("a reminder comes at least 1 day after opening")
    if len(set(days)) > MAX_REMINDERS:
        raise ValueError(f"at most {MAX_REMINDERS} reminders")
    return tuple(sorted(set(days)))


def zone() -> ZoneInfo:
    return ZoneInfo(get_settings().time_zone)


def day_start(day: date) -> datetime:
    """The first moment of `day` in the organisation's time zone."""
    return datetime.combine(day, time(0), tzinfo=zone())


def mail_time(day: date) -> datetime:
    """When a day's invitations or reminders go out."""
    return datetime.combine(day, time(get_settings().mail_hour), tzinfo=zone())


def _info(cycle: SurveyCycle, schedule: CycleSchedule | None) -> ScheduleInfo:
    assert cycle.id is not None
    return ScheduleInfo(
        cycle_id=cycle.id,
        cycle=cycle.name,
        state=cycle.state,
        opens=cycle.opens,
        closes=cycle.closes,
        invite_on=(schedule.invite_on if schedule and schedule.invite_on else cycle.opens),
        reminder_days=parse_reminder_days(schedule.reminder_days) if schedule else (),
        subject=schedule.subject if schedule else "",
        intro=schedule.intro if schedule else "",
        automatic=schedule is not None,
    )


def get_schedule(*, engine: Engine, cycle_id: int) -> ScheduleInfo:
    with read_session(engine) as session:
        cycle = _get(session, SurveyCycle, cycle_id, "survey cycle")
        return _info(cycle, session.get(CycleSchedule, cycle_id))


def all_schedules(*, session: Session) -> list[tuple[ScheduleInfo, CycleSchedule]]:
    rows = session.execute(
        select(SurveyCycle, CycleSchedule).join(
            CycleSchedule, col(CycleSchedule.cycle_id) == col(SurveyCycle.id)
        )
    ).all()
    return [(_info(cycle, schedule), schedule) for cycle, schedule in rows]


def put_schedule(
    *,
    session: Session,
    cycle_id: int,
    actor: str,
    invite_on: date | None = None,
    reminder_days: tuple[int, ...] | None = None,
    subject: str | None = None,
    intro: str | None = None,
) -> ScheduleInfo:
    """Set what is given of a cycle's schedule, inside the caller's transaction, audited.
    A cycle with a schedule opens, sends and closes by itself."""
    from surveys.invitations.delivery import clean_intro, clean_subject

    cycle = _get(session, SurveyCycle, cycle_id, "survey cycle")
    schedule = session.get(CycleSchedule, cycle_id) or CycleSchedule(cycle_id=cycle_id)
    if invite_on is not None:
        if not cycle.opens <= invite_on <= cycle.closes:
            raise OrganisationError(
                f"invitations must go out between the opening ({cycle.opens.isoformat()}) "
                f"and the closing ({cycle.closes.isoformat()}) dates"
            )
        schedule.invite_on = invite_on
    if reminder_days is not None:
        last = (cycle.closes - cycle.opens).days
        late = [day for day in reminder_days if day > last]
        if late:
            raise OrganisationError(
                f"a reminder {late[0]} days after opening would come after the cycle closes "
                f"({last} days after opening)"
            )
        schedule.reminder_days = ",".join(str(day) for day in reminder_days)
    try:
        if subject is not None:
            schedule.subject = clean_subject(subject)
        if intro is not None:
            schedule.intro = clean_intro(intro)
    except ValueError as error:
        raise OrganisationError(str(error)) from None
    session.add(schedule)
    session.flush()
    info = _info(cycle, schedule)
    audit.record(
        session=session,
        actor=actor,
        action="cycle.schedule",
        detail=(
            f"{cycle.name}: invitations on {info.invite_on.isoformat()}, reminders "
            + (", ".join(f"day {day}" for day in info.reminder_days) or "none")
        ),
    )
    return info


def set_schedule(
    *,
    engine: Engine,
    cycle_id: int,
    actor: str,
    invite_on: date | None = None,
    reminder_days: tuple[int, ...] | None = None,
    subject: str | None = None,
    intro: str | None = None,
) -> ScheduleInfo:
    with write_session(engine) as session:
        return put_schedule(
            session=session,
            cycle_id=cycle_id,
            actor=actor,
            invite_on=invite_on,
            reminder_days=reminder_days,
            subject=subject,
            intro=intro,
        )


def delivery_counts(*, engine: Engine, cycle_id: int) -> DeliveryCounts:
    """Sent, waiting and failing invitations, with the reasons for failures; never addresses."""
    with read_session(engine) as session:
        rows = session.execute(
            select(
                col(InvitationDelivery.step_done),
                col(InvitationDelivery.attempts),
                col(InvitationDelivery.last_error),
            ).where(col(InvitationDelivery.cycle_id) == cycle_id)
        ).all()
        schedule = session.get(CycleSchedule, cycle_id)
    sent = sum(1 for step, _attempts, _error in rows if step >= 0)
    failing = [error or "unknown" for step, attempts, error in rows if step < 0 and attempts > 0]
    return DeliveryCounts(
        addresses=len(rows),
        sent=sent,
        waiting=len(rows) - sent - len(failing),
        failing=len(failing),
        reminders_sent=schedule.reminders_sent if schedule else 0,
        reasons=tuple(Counter(failing).most_common()),
    )


def due_step(info: ScheduleInfo, now: datetime) -> int:
    """Which step of its emails a cycle has reached at `now`: -1 none yet, 0 the invitation,
    n the n-th reminder. Nothing is due once the cycle has closed."""
    if now >= day_start(info.closes + timedelta(days=1)) or now < mail_time(info.invite_on):
        return -1
    step = 0
    for index, day in enumerate(info.reminder_days, start=1):
        if now >= mail_time(info.opens + timedelta(days=day)):
            step = index
    return step
