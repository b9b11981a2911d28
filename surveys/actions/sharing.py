"""Results shared back with staff ("you said, we did"): a cycle's summary behind a link.

An administrator publishes a closed cycle's staff summary (`publish_summary`) and may revoke
it (`revoke_summary`); each is one audited write transaction. The link's token carries 256
random bits and is never stored, only its SHA-256 hash. With ATTUNE_LINK_SECRET set, the token
is an HMAC of a random nonce kept in the row (as emailed invitations are made), so the link can
be rebuilt to show administrators again and to put in the next cycle's thank-you page and
invitation emails; a copy of the database alone still cannot open it. Without the secret the
token is `secrets.token_urlsafe(32)` and is shown once, when it is made.

A revoked link stays dead: publishing again makes a new link. Opening a link
(`summary_for_link`) reads nothing but the summary of that one cycle; a wrong or revoked
token gets None, and the page says one neutral sentence.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from surveys import audit
from surveys.actions.plans import plans_for_departments
from surveys.clock import utc_now
from surveys.config import get_settings
from surveys.models import ShareLink, SurveyCycle
from surveys.records import CycleState
from surveys.reporting.shared_summary import (
    PlanInput,
    SharedSummary,
    shared_summary,
    with_plans,
)
from surveys.storage import read_session, write_session
from surveys.text import did_you_mean

# The page's address below ATTUNE_BASE_URL, and the query parameter that holds the token.
SHARE_PATH = "shared"
SHARE_PARAMETER = "k"
# 32 random bytes: 256 bits, far beyond guessing.
TOKEN_BYTES = 32
# A token is 43 characters; anything much longer is not one of ours and is not even hashed.
TOKEN_MAX_LENGTH = 100
# What the shared page says for a wrong, revoked or missing link: names nothing.
NOT_SHARED = "This link does not open a shared summary. Ask whoever sent it for a current link."


class ShareError(ValueError):
    """A summary that cannot be published or revoked, with the reason in words."""


@dataclass(frozen=True)
class SharedLink:
    """A cycle's live link: when and by whom it was published, and its address when it can
    be rebuilt (None: it was shown once, when it was made)."""

    cycle_id: int
    cycle: str
    published_at: datetime
    published_by: str
    url: str | None


def hash_token(token: str) -> str:
    # A plain SHA-256 suffices: the token carries 256 random bits, nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def share_url(token: str) -> str:
    return f"{get_settings().base_url}/{SHARE_PATH}?{SHARE_PARAMETER}={token}"


def _rebuilt_token(nonce: str) -> str | None:
    secret = get_settings().link_secret
    if secret is None:
        return None
    digest = hmac.new(
        secret.get_secret_value().encode("utf-8"),
        f"attune-share:{nonce}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _live(session: Session, cycle_id: int) -> ShareLink | None:
    return session.scalars(
        select(ShareLink).where(
            col(ShareLink.cycle_id) == cycle_id, col(ShareLink.revoked_at).is_(None)
        )
    ).first()


def _cycle(session: Session, cycle_id: int) -> SurveyCycle:
    cycle = session.get(SurveyCycle, cycle_id)
    if cycle is None or cycle.id is None:
        raise ShareError(f"there is no survey cycle with id {cycle_id}")
    return cycle


def find_cycle(*, engine: Engine, name: str) -> int:
    """The id of the cycle called `name` (case-insensitive), for the command line."""
    with read_session(engine) as session:
        cycles = list(session.scalars(select(SurveyCycle)))
    for cycle in cycles:
        if cycle.name.lower() == name.strip().lower() and cycle.id is not None:
            return cycle.id
    raise ShareError(
        f"there is no survey cycle called {name!r}"
        + did_you_mean(name, [cycle.name for cycle in cycles])
    )


def add_share_link(*, session: Session, cycle_id: int, actor: str) -> str:
    """Publish a closed cycle's summary inside the caller's transaction, audited; returns the
    full share link. The demo calls this in its own transaction; everyone else
    `publish_summary`."""
    cycle = _cycle(session, cycle_id)
    if cycle.state != CycleState.closed:
        raise ShareError(f"{cycle.name} is {cycle.state}: publish its summary once it has closed")
    live = _live(session, cycle_id)
    if live is not None:
        raise ShareError(
            f"{cycle.name}'s summary is already published (since "
            f"{audit.as_utc(live.published_at):%-d %b %Y}); revoke it first to make a new link"
        )
    nonce: str | None = secrets.token_urlsafe(TOKEN_BYTES)
    rebuilt = _rebuilt_token(nonce) if nonce else None
    if rebuilt is None:
        # No link secret: a random token, shown once; nothing in the row could rebuild it.
        nonce, token = None, secrets.token_urlsafe(TOKEN_BYTES)
    else:
        token = rebuilt
    session.add(
        ShareLink(
            cycle_id=cycle_id,
            token_hash=hash_token(token),
            nonce=nonce,
            published_at=utc_now(),
            published_by=actor.strip()[:120],
        )
    )
    session.flush()
    audit.record(session=session, actor=actor, action="share.publish", detail=cycle.name)
    return share_url(token)


def publish_summary(*, engine: Engine, cycle_id: int, actor: str) -> str:
    """Publish a closed cycle's staff summary; returns the full share link (shown to whoever
    published it). Refused while the cycle has a live link: revoke it first."""
    try:
        with write_session(engine) as session:
            return add_share_link(session=session, cycle_id=cycle_id, actor=actor)
    except IntegrityError:
        # Another administrator published the same cycle a moment ago.
        raise ShareError("the summary was published meanwhile; revoke it first") from None


def revoke_summary(*, engine: Engine, cycle_id: int, actor: str) -> None:
    """Revoke a cycle's live link: from now on it opens nothing, for good."""
    with write_session(engine) as session:
        cycle = _cycle(session, cycle_id)
        live = _live(session, cycle_id)
        if live is None:
            raise ShareError(f"{cycle.name}'s summary is not published")
        live.revoked_at = utc_now()
        session.add(live)
        audit.record(session=session, actor=actor, action="share.revoke", detail=cycle.name)


def shared_link(*, engine: Engine, cycle_id: int) -> SharedLink | None:
    """The cycle's live link, or None when its summary is not published."""
    with read_session(engine) as session:
        cycle = _cycle(session, cycle_id)
        live = _live(session, cycle_id)
        if live is None:
            return None
        token = _rebuilt_token(live.nonce) if live.nonce else None
        return SharedLink(
            cycle_id=cycle_id,
            cycle=cycle.name,
            published_at=audit.as_utc(live.published_at),
            published_by=live.published_by,
            url=share_url(token) if token else None,
        )


def cycle_for_token(*, engine: Engine, token: str) -> int | None:
    """The cycle a live share token opens, or None for a wrong or revoked one."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    with read_session(engine) as session:
        return session.scalars(
            select(col(ShareLink.cycle_id)).where(
                col(ShareLink.token_hash) == hash_token(token),
                col(ShareLink.revoked_at).is_(None),
            )
        ).first()


def previous_summary(*, engine: Engine, cycle_id: int) -> SharedLink | None:
    """The published summary of the cycle before `cycle_id` (the one that opened before it):
    what the thank-you page and the invitation emails of `cycle_id` point to. Its `url` is
    None when the link cannot be rebuilt (no ATTUNE_LINK_SECRET): the thank-you page then
    shows the summary itself, and emails say nothing of it."""
    with read_session(engine) as session:
        cycles = list(
            session.scalars(
                select(SurveyCycle).order_by(col(SurveyCycle.opens), col(SurveyCycle.id))
            )
        )
    ids = [cycle.id for cycle in cycles]
    if cycle_id not in ids or ids.index(cycle_id) == 0:
        return None
    previous = cycles[ids.index(cycle_id) - 1]
    assert previous.id is not None
    return shared_link(engine=engine, cycle_id=previous.id)


def plans_for_staff(engine: Engine) -> list[PlanInput]:
    """Every action plan, each department's and the whole organisation's, whatever its
    status (staff see what was dropped too), as the summary is given them: the owner's name
    only where the plan's author ticked "show owner"."""
    return [
        PlanInput(
            department_id=plan.department_id,
            title=plan.title,
            actions=plan.actions,
            status=plan.status.value,
            owner=plan.owner_for_staff or "",
            show_owner=plan.owner_for_staff is not None,
            addresses=plan.addresses,
        )
        for plan in plans_for_departments(engine, department_ids=None, organisation_wide=True)
    ]


def summary_for_cycle(*, engine: Engine, cycle_id: int) -> SharedSummary:
    """A cycle's staff summary with every department's plans, as its shared link shows it."""
    return shared_summary(engine, cycle_id=cycle_id, plans=plans_for_staff(engine))


def summary_with_plans(*, engine: Engine, figures: SharedSummary) -> SharedSummary:
    """`figures` (reporting.shared_summary.shared_figures, kept by a cache) with the plans as
    they are now."""
    return with_plans(figures, plans_for_staff(engine))


def summary_for_link(*, engine: Engine, token: str) -> SharedSummary | None:
    """What a share link opens: its cycle's staff summary, or None for a wrong or revoked
    link (the page then names nothing)."""
    cycle_id = cycle_for_token(engine=engine, token=token)
    if cycle_id is None:
        return None
    return summary_for_cycle(engine=engine, cycle_id=cycle_id)
