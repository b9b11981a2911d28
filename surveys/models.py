"""Every table Attune stores, and nothing else.

Anonymity shapes this schema: responses, answers and comments carry no time, no network
details and no reference to the invitation that admitted them, and their ids are random
63-bit integers so that neither id order nor SQLite rowid order follows submission order.

Long because one module holds every table (the house style): migrations read one metadata.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from surveys.records import CycleState
from surveys.text import scrub_personal_details

# Alembic needs stable constraint names to alter tables, above all on SQLite's batch mode.
SQLModel.metadata.naming_convention = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
).naming_convention

# 63-bit random ids. On SQLite the column must be declared INTEGER (not BIGINT) to become the
# rowid itself; otherwise SQLite keeps a hidden rowid that counts up in arrival order.
RandomId = BigInteger().with_variant(Integer(), "sqlite")


class ScrubbedText(TypeDecorator[str]):
    """Text whose email addresses, phone numbers and titled names are replaced on the way in.

    In the column type, not in one writer, because a comment is written by the survey, the
    demo and tests alike (ORM or Core inserts): every one of them goes through here.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else scrub_personal_details(value)


# "Does not apply" is stored as NULL so that AVG and COUNT(value) leave it out by themselves.
VALUE_COLUMNS = tuple(f"v{value}" for value in range(11))
# The score rollup's key-driver sums: one set per outcome (surveys.scoring.OUTCOMES).
DRIVER_PARTS = ("n", "x", "y", "xx", "yy", "xy")
DRIVER_COLUMNS = {
    outcome: tuple(f"{outcome}_{part}" for part in DRIVER_PARTS) for outcome in ("enps", "overall")
}


class Division(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    archived: bool = False


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    division_id: int = Field(foreign_key="division.id", index=True)
    archived: bool = False


class StaffGroup(SQLModel, table=True):
    __tablename__ = "staff_group"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    name: str = Field(max_length=80)
    # How questions address the group: "In your work with {plural}".
    plural: str = Field(max_length=80)
    position: int = 0
    archived: bool = False


class Instrument(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    version: int
    title: str = Field(max_length=200)
    # A changed file under an unchanged version would silently mix two questionnaires.
    checksum: str = Field(max_length=64)


class Item(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("instrument_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    instrument_id: int = Field(foreign_key="instrument.id")
    code: str = Field(max_length=120)
    key: str = Field(max_length=80)
    section: str = Field(max_length=40)
    about_group_id: int | None = Field(default=None, foreign_key="staff_group.id")
    dimension: str = Field(max_length=80)
    scale: str = Field(max_length=40)
    reverse: bool = False
    # Whether the item counts toward the Relationship Health Index (from its dimension).
    in_index: bool = True
    position: int = 0


class SurveyCycle(SQLModel, table=True):
    __tablename__ = "survey_cycle"
    __table_args__ = (
        CheckConstraint("state IN ('draft', 'open', 'closed')", name="state"),
        CheckConstraint("closes >= opens", name="dates"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    opens: date
    closes: date
    state: str = Field(default=CycleState.draft.value, max_length=10)
    instrument_id: int = Field(foreign_key="instrument.id")


class Invitation(SQLModel, table=True):
    """A one-time (or open) link. Nothing here points at the response it admitted."""

    __table_args__ = (
        CheckConstraint(
            "is_open OR (department_id IS NOT NULL AND staff_group_id IS NOT NULL)",
            name="personal_has_cell",
        ),
        Index("ix_invitation_cell", "cycle_id", "department_id", "staff_group_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of a 128-bit-plus random token: the token itself is never stored.
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    cycle_id: int = Field(foreign_key="survey_cycle.id")
    department_id: int | None = Field(default=None, foreign_key="department.id")
    staff_group_id: int | None = Field(default=None, foreign_key="staff_group.id")
    is_open: bool = False


class UsedLinks(SQLModel, table=True):
    """The used personal links of one cell (cycle, department, staff group), as one row:
    their ids in ascending order, comma-separated (`surveys.invitations.used`).

    A submission adds its link here, in the same transaction as its response, instead of
    marking the link's own row. On PostgreSQL every row version carries the id of the
    transaction that wrote it (xmin), so a link's row written with the response would pair
    the two; this row, rewritten by every submission of the cell, pairs the response only
    with the whole cell's used links, which its cell already says. One row a submission,
    however large the cell, and the ascending ids keep no order of use."""

    __tablename__ = "used_link"
    __table_args__ = ({"sqlite_with_rowid": False},)

    cycle_id: int = Field(foreign_key="survey_cycle.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    staff_group_id: int = Field(foreign_key="staff_group.id", primary_key=True)
    invitation_ids: str = Field(sa_column=Column(Text, nullable=False))


class Response(SQLModel, table=True):
    """One submitted survey: where the respondent worked, never who or when."""

    __table_args__ = (Index("ix_response_cell", "cycle_id", "department_id", "staff_group_id"),)

    id: int = Field(sa_column=Column(RandomId, primary_key=True, autoincrement=False))
    cycle_id: int = Field(foreign_key="survey_cycle.id")
    department_id: int = Field(foreign_key="department.id")
    staff_group_id: int = Field(foreign_key="staff_group.id")
    instrument_id: int = Field(foreign_key="instrument.id")


class Answer(SQLModel, table=True):
    # Without a rowid, SQLite keeps answers in (random) response-id order, not arrival order.
    __table_args__ = (
        CheckConstraint("value IS NULL OR (value >= 0 AND value <= 10)", name="value_range"),
        {"sqlite_with_rowid": False},
    )

    response_id: int = Field(
        sa_column=Column(RandomId, ForeignKey("response.id", ondelete="CASCADE"), primary_key=True)
    )
    item_id: int = Field(sa_column=Column(Integer, ForeignKey("item.id"), primary_key=True))
    # NULL means "does not apply".
    value: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))


class Comment(SQLModel, table=True):
    """Free text, deliberately not linked to its response so it cannot be joined to answers."""

    __table_args__ = (Index("ix_comment_cell", "cycle_id", "department_id", "staff_group_id"),)

    id: int = Field(sa_column=Column(RandomId, primary_key=True, autoincrement=False))
    cycle_id: int = Field(foreign_key="survey_cycle.id")
    department_id: int = Field(foreign_key="department.id")
    staff_group_id: int = Field(foreign_key="staff_group.id")
    text: str = Field(sa_column=Column(ScrubbedText, nullable=False))
    # While its cycle is open, a comment is shown only once released, in a batch of at least
    # the comment minimum (surveys/survey/steps.py); closing the cycle releases every comment.
    released: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )


class CommentAnalysis(SQLModel, table=True):
    """A comment's theme and sentiment, computed in a batch after it is stored
    (`attune comments analyse`, and the job runner), never while a page waits.

    Only the comment's random id: nothing here orders or dates comments.
    """

    __tablename__ = "comment_analysis"

    comment_id: int = Field(
        sa_column=Column(
            RandomId,
            ForeignKey("comment.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    theme: str = Field(sa_column=Column(String(40), nullable=False))
    # "tone", not "sentiment": that name holds "time", which the anonymity test refuses.
    tone: str = Field(sa_column=Column(String(10), nullable=False))


class CellRollup(SQLModel, table=True):
    """Responses and comments per cycle, department and staff group, kept in the write."""

    __tablename__ = "cell_rollup"
    __table_args__ = ({"sqlite_with_rowid": False},)

    cycle_id: int = Field(foreign_key="survey_cycle.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    staff_group_id: int = Field(foreign_key="staff_group.id", primary_key=True)
    responses: int = 0
    comments: int = 0


class ItemRollup(SQLModel, table=True):
    """How many answers each value got, per item and cell: enough for means, % favourable,
    distributions and eNPS without touching raw answers."""

    __tablename__ = "item_rollup"
    __table_args__ = ({"sqlite_with_rowid": False},)

    cycle_id: int = Field(foreign_key="survey_cycle.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    staff_group_id: int = Field(foreign_key="staff_group.id", primary_key=True)
    item_id: int = Field(foreign_key="item.id", primary_key=True)
    n_na: int = 0
    v0: int = 0
    v1: int = 0
    v2: int = 0
    v3: int = 0
    v4: int = 0
    v5: int = 0
    v6: int = 0
    v7: int = 0
    v8: int = 0
    v9: int = 0
    v10: int = 0


class ScoreRollup(SQLModel, table=True):
    """Sums of respondent-level scores (the index and each dimension), per cell, so that
    means and confidence intervals can be combined over any set of cells."""

    __tablename__ = "score_rollup"
    __table_args__ = ({"sqlite_with_rowid": False},)

    cycle_id: int = Field(foreign_key="survey_cycle.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    staff_group_id: int = Field(foreign_key="staff_group.id", primary_key=True)
    measure: str = Field(sa_column=Column(String(80), primary_key=True))
    n: int = 0
    total: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    total_sq: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    # Key drivers: for each outcome (scoring.OUTCOMES), over the respondents with both this
    # measure and the outcome: their count, and the sums of x (this measure), y (the outcome),
    # x², y² and xy, so that a correlation can be combined over any set of cells.
    enps_n: int = 0
    enps_x: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    enps_y: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    enps_xx: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    enps_yy: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    enps_xy: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    overall_n: int = 0
    overall_x: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    overall_y: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    overall_xx: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    overall_yy: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
    overall_xy: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))


class RelationshipRollup(SQLModel, table=True):
    """Favourable and applicable answers about each relationship (a staff group, or patients),
    per cell of the group rating: the relationship matrix and its trend in a few rows per
    cell instead of every item's counts. Kept in the write, like the other rollups."""

    __tablename__ = "relationship_rollup"
    __table_args__ = ({"sqlite_with_rowid": False},)

    cycle_id: int = Field(foreign_key="survey_cycle.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    staff_group_id: int = Field(foreign_key="staff_group.id", primary_key=True)
    # scoring.relationship_target: "group:<staff group id>" or "patients".
    target: str = Field(sa_column=Column(String(40), primary_key=True))
    favourable: int = 0
    applicable: int = 0


def _released_copy(rollup: type[SQLModel]) -> Table:
    """The released snapshot of a rollup: the same columns and key, read by every report
    while a cycle is open, and moved forward only in steps (surveys/survey/steps.py)."""
    live: Table = rollup.__table__  # type: ignore[attr-defined]  # SQLModel does not declare the mapped __table__
    return Table(
        f"released_{live.name}",
        SQLModel.metadata,
        *(
            Column(
                column.name,
                column.type,
                *(ForeignKey(key.target_fullname) for key in column.foreign_keys),
                primary_key=column.primary_key,
                nullable=column.nullable,
                autoincrement=False,
            )
            for column in live.columns
        ),
        sqlite_with_rowid=False,
    )


ReleasedCell = _released_copy(CellRollup)
ReleasedItem = _released_copy(ItemRollup)
ReleasedScore = _released_copy(ScoreRollup)
ReleasedRelationship = _released_copy(RelationshipRollup)
RELEASED = {
    "cell_rollup": ReleasedCell,
    "item_rollup": ReleasedItem,
    "score_rollup": ReleasedScore,
    "relationship_rollup": ReleasedRelationship,
}
"""Each rollup's released snapshot, by the live table's name."""


class SubmissionReceipt(SQLModel, table=True):
    """Makes a resubmitted form (double click, retry) store nothing the second time.

    The key is a hash of a random per-form value; it names no person and no response, and
    without a rowid SQLite keeps receipts in hash order rather than arrival order.
    """

    __tablename__ = "submission_receipt"
    __table_args__ = ({"sqlite_with_rowid": False},)

    key_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    cycle_id: int = Field(foreign_key="survey_cycle.id")


class SurveyDraft(SQLModel, table=True):
    """A respondent's answers so far, encrypted with a key only their link gives
    (surveys/survey/drafts.py), so that a reload, a lost connection or a restarted server
    loses nothing. Deleted by the submission's own transaction and when the cycle closes.

    The id is derived from the link, not counted or drawn: the server can find a draft only
    with the link, and nothing here points at the invitation. No time is stored; without a
    rowid SQLite keeps drafts in (random-looking) id order, not in the order they were saved.
    """

    __tablename__ = "survey_draft"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    cycle_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_cycle.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    nonce: bytes = Field(sa_column=Column(LargeBinary(12), nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AccountRole(StrEnum):
    admin = "admin"
    manager = "manager"


class Account(SQLModel, table=True):
    """Someone who reads results or runs the survey: administrators and managers only.

    Staff who answer never have accounts.
    """

    __table_args__ = (CheckConstraint("role IN ('admin', 'manager')", name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    display_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, sa_column=Column(String(320), unique=True))
    role: str = Field(max_length=10)
    # argon2id; None for accounts that only sign in through single sign-on.
    password_hash: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AccountDepartment(SQLModel, table=True):
    """The departments a manager may see."""

    __tablename__ = "account_department"

    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    )
    department_id: int = Field(foreign_key="department.id", primary_key=True)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per username, stored so that a lock survives a restart."""

    __tablename__ = "login_throttle"

    username: str = Field(sa_column=Column(String(120), primary_key=True))
    failures: int = 0
    window_started: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class CodebookPhrase(SQLModel, table=True):
    """An example phrase an administrator added to a code of the comment codebook
    (surveys/reporting/themes.py), beside the shipped ones. Administrative text only: nothing
    here touches a response or a comment."""

    __tablename__ = "codebook_phrase"
    __table_args__ = (UniqueConstraint("code", "phrase", name="uq_codebook_phrase_code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    phrase: str = Field(max_length=200)


class AuditEvent(SQLModel, table=True):
    """An administrator's action. Never survey answers, and never which token was used."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=120)
    action: str = Field(max_length=80)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class CycleSchedule(SQLModel, table=True):
    """When a cycle's invitations and reminders go out, what they say, and what the job runner
    (surveys/jobs.py) has done. Opening and closing follow the cycle's own dates."""

    __tablename__ = "cycle_schedule"

    cycle_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey_cycle.id", ondelete="CASCADE"), primary_key=True
        )
    )
    # None: the cycle's opening date.
    invite_on: date | None = None
    # Days after opening, comma-separated and ascending ("3,7"); empty for no reminders.
    reminder_days: str = Field(default="", max_length=60)
    # Plain text an administrator writes; never markup.
    subject: str = Field(default="", max_length=200)
    intro: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # What the runner did by itself, once each: it never reopens a cycle it opened and an
    # administrator then closed, nor closes again a cycle reopened after its closing date.
    opened_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    closed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # Totals for the cycle's page: counts, never who.
    invitations_sent: int = 0
    reminders_sent: int = 0


class InvitationDelivery(SQLModel, table=True):
    """One address's one-time link, by email: enough to send the invitation and its reminders.

    It records which step (0 the invitation, n the n-th reminder) has been dealt with, for every
    address alike: a reminder step is marked done for an address whose link was already used,
    without sending, so the table does not say who had answered by when. Nothing here is
    written when a survey is submitted. The token is not stored: it is rebuilt from `nonce`
    with ATTUNE_LINK_SECRET (surveys/invitations/delivery.py).
    """

    __tablename__ = "invitation_delivery"
    __table_args__ = (
        UniqueConstraint("cycle_id", "address"),
        Index("ix_invitation_delivery_due", "cycle_id", "step_done"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="survey_cycle.id")
    invitation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("invitation.id"), nullable=False, unique=True)
    )
    address: str = Field(sa_column=Column(String(320), nullable=False))
    nonce: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # -1: nothing sent yet; 0: the invitation; n: up to the n-th reminder.
    step_done: int = Field(default=-1, sa_column=Column(Integer, nullable=False, default=-1))
    # A runner's claim: who holds the row and until when (a killed runner's claim lapses).
    claimed_by: str | None = Field(default=None, max_length=40)
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # Failures of the current step: retried with backoff, the last reason kept in words.
    attempts: int = 0
    next_try: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_error: str | None = Field(default=None, max_length=300)


class ActionPlan(SQLModel, table=True):
    """What a department (or, made by an administrator, the whole organisation) will do about
    a result: surveys/actions/plans.py. Written by signed-in managers and administrators about
    results already released; nothing here points at a response, a comment or a respondent."""

    __tablename__ = "action_plan"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'in_progress', 'done', 'dropped')", name="status"),
        # A dimension, or a relationship (both groups), or nothing: never a mixture.
        CheckConstraint(
            "(from_group_id IS NULL AND to_group_id IS NULL) OR "
            "(from_group_id IS NOT NULL AND to_group_id IS NOT NULL AND dimension_key IS NULL)",
            name="addresses",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None: the whole organisation (administrators only).
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    title: str = Field(sa_column=Column(String(200), nullable=False))
    dimension_key: str | None = Field(default=None, max_length=80)
    # A relationship: how `from_group` (the group rating) sees working with `to_group`.
    from_group_id: int | None = Field(default=None, foreign_key="staff_group.id")
    to_group_id: int | None = Field(default=None, foreign_key="staff_group.id")
    # What will be done; plain text, shown as it is written.
    actions: str = Field(sa_column=Column(Text, nullable=False))
    # Free text: no staff directory is needed.
    owner: str = Field(default="", max_length=120)
    # Whether staff reading the shared summary see the owner's name (the author's choice).
    show_owner: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    due_on: date
    status: str = Field(default="planned", max_length=12)
    started_cycle_id: int = Field(foreign_key="survey_cycle.id")
    created_by: str = Field(max_length=120)
    created_on: date


class ActionPlanNote(SQLModel, table=True):
    """A dated progress note on an action plan, by a signed-in manager or administrator."""

    __tablename__ = "action_plan_note"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("action_plan.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Day precision is enough: notes are by staff who sign in, never by respondents.
    written_on: date
    author: str = Field(max_length=120)
    text: str = Field(sa_column=Column(Text, nullable=False))


class ShareLink(SQLModel, table=True):
    """A cycle's staff summary, published through a link anyone holding it may open.

    The link's token is never stored: only its SHA-256 hash. With ATTUNE_LINK_SECRET set the
    token is rebuilt from `nonce` and the secret (as emailed invitations are), so the link can
    be shown again and put in the next cycle's thank-you page and emails; without it `nonce` is
    empty and the token was shown once, when it was made. A revoked link stays revoked: a new
    publication makes a new row. At most one live link per cycle.
    """

    __tablename__ = "share_link"
    __table_args__ = (
        Index(
            "ix_share_link_live",
            "cycle_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(
        sa_column=Column(Integer, ForeignKey("survey_cycle.id", ondelete="CASCADE"), nullable=False)
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    nonce: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    published_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    published_by: str = Field(max_length=120)
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class WorkerHeartbeat(SQLModel, table=True):
    """When each job runner (`attune run-due`) last finished a run, for `run-due --status`.

    One row per worker name (its host, by default); nothing about respondents."""

    __tablename__ = "worker_heartbeat"

    worker: str = Field(sa_column=Column(String(120), primary_key=True))
    last_run_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Whether that run ended without an error.
    succeeded: bool = Field(sa_column=Column(Boolean, nullable=False))
