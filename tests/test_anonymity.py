"""Nothing stored with an answer can say who gave it, when, or through which link."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    Interval,
    MetaData,
    String,
    Table,
    Text,
    Time,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from surveys.instruments import builtin_instrument
from surveys.invitations.links import create_invitations, hash_token
from surveys.invitations.used import is_used
from surveys.models import CycleState, Invitation
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import (
    add_department,
    add_division,
    staff_groups,
)
from surveys.storage import read_session, write_session
from surveys.survey.form import load_survey
from surveys.survey.submit import submit_survey
from tests.support.backends import backends

# Tables written when a survey is submitted (receipts too: they are written in the same
# transaction as the response), and the rollups' released snapshots, which a submission
# moves in steps.
ROLLUP_TABLES = ("cell_rollup", "item_rollup", "score_rollup", "relationship_rollup")
ANSWER_TABLES = (
    # A respondent's answers so far, encrypted under their link (surveys/survey/drafts.py).
    "survey_draft",
    "response",
    "answer",
    "comment",
    # A comment's theme and sentiment, by the comment's random id only.
    "comment_analysis",
    "submission_receipt",
    *(f"released_{table}" for table in ROLLUP_TABLES),
)
# What an answer may point at: where and under which questionnaire, never who or how.
ALLOWED_REFERENCES = {
    "survey_cycle", "department", "staff_group", "instrument", "item", "response", "comment",
}  # fmt: skip
# Words in a column name that suggest a time, a network or device detail, a person, or a link.
IDENTIFYING_WORDS = {
    "at", "on", "time", "timestamp", "date", "day", "hour", "minute", "second", "when",
    "created", "updated", "modified", "submitted", "started", "finished", "received",
    "seq", "sequence", "order", "ip", "addr", "address", "host", "agent", "ua", "browser",
    "device", "user", "session", "email", "name", "login", "account", "token", "invitation",
    "invite", "link", "respondent", "person", "employee", "staff",
}  # fmt: skip
IDENTIFYING_FRAGMENTS = ("time", "date", "token", "invit", "agent", "useragent", "ipaddr", "email")
# Key columns that are fine although a word above appears in them.
KNOWN_SAFE = {"staff_group_id"}
TIME_TYPES = (Date, DateTime, Time, Interval)


def problems_with(table: str, name: str, type_: TypeEngine, default: object = None) -> list[str]:
    """Why a column of an answer table could identify a respondent (empty when it cannot)."""
    found = []
    if isinstance(type_, TIME_TYPES):
        found.append(f"{table}.{name} holds a {type(type_).__name__}")
    if name not in KNOWN_SAFE:
        words = set(re.split(r"[_\W]+", name.lower()))
        if words & IDENTIFYING_WORDS or any(part in name.lower() for part in IDENTIFYING_FRAGMENTS):
            found.append(f"{table}.{name} is named like a time, device, person or link")
    if default is not None and re.search(r"now|current_|nextval|random|uuid", str(default), re.I):
        found.append(f"{table}.{name} defaults to {default}, which records arrival")
    return found


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("submitted_at", DateTime()),
        ("created", Integer()),
        ("day", Date()),
        ("answered", DateTime(timezone=True)),
        ("duration", Interval()),
        ("hour", Integer()),
        ("client_ip", String()),
        ("ip_address", String()),
        ("user_agent", Text()),
        ("browser", String()),
        ("token_hash", String()),
        ("invitation_id", Integer()),
        ("session_key", String()),
        ("respondent_email", String()),
        ("sequence", BigInteger()),
    ],
)
def test_the_check_catches_identifying_columns(name: str, type_: TypeEngine) -> None:
    assert problems_with("response", name, type_)


@pytest.mark.parametrize(
    ("name", "type_"),
    [("department_id", Integer()), ("staff_group_id", Integer()), ("value", Integer()),
     ("text", Text()), ("key_hash", String()), ("instrument_id", Integer())],
)  # fmt: skip
def test_the_check_allows_where_and_what_columns(name: str, type_: TypeEngine) -> None:
    assert problems_with("response", name, type_) == []


def test_the_check_catches_an_arrival_default() -> None:
    column = Column("n", Integer, server_default=text("CURRENT_TIMESTAMP"))
    Table("probe", MetaData(), column)
    assert problems_with("probe", "n", Integer(), column.server_default.arg)


@pytest.mark.parametrize("table_name", ANSWER_TABLES)
def test_model_answer_tables_hold_nothing_identifying(table_name: str) -> None:
    table = SQLModel.metadata.tables[table_name]
    found = []
    for column in table.columns:
        default = column.server_default.arg if column.server_default is not None else None
        found += problems_with(table_name, column.name, column.type, default)
        if column.default is not None:
            found.append(f"{table_name}.{column.name} has a Python default")
    references = {key.column.table.name for key in table.foreign_keys}
    assert found == []
    assert references <= ALLOWED_REFERENCES, references - ALLOWED_REFERENCES
    # Random ids, not counted up in arrival order (a key of several columns never counts up).
    for column in table.primary_key.columns:
        single = len(table.primary_key.columns) == 1
        if isinstance(column.type, Integer | BigInteger) and single:
            assert column.autoincrement is False, f"{table_name}.{column.name} counts up"


@backends()
def test_migrated_answer_tables_hold_nothing_identifying(engine: Engine) -> None:
    found = []
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table_name in ANSWER_TABLES:
            for column in inspector.get_columns(table_name):
                found += problems_with(
                    table_name, column["name"], column["type"], column.get("default")
                )
            references = {key["referred_table"] for key in inspector.get_foreign_keys(table_name)}
            assert references <= ALLOWED_REFERENCES, (table_name, references)
        if engine.dialect.name == "sqlite":
            # AUTOINCREMENT would keep a counter in sqlite_sequence in arrival order.
            for table_name in ANSWER_TABLES:
                sql = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = ?", (table_name,)
                ).scalar()
                assert "AUTOINCREMENT" not in sql.upper(), table_name
    assert found == []


@pytest.fixture
def cell(engine: Engine) -> dict:
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        department_id = add_department(session=session, name="Emergency", division_id=division_id)
        cycle_id = add_cycle(
            session=session, name="2026 Q4", opens=date(2026, 10, 12), closes=date(2026, 12, 3),
            instrument_id=instrument_id, state=CycleState.open,
        )  # fmt: skip
        group_id = staff_groups(session=session)[0].id
        links = create_invitations(
            session=session, cycle_id=cycle_id, department_id=department_id,
            staff_group_id=group_id, count=4,
        )  # fmt: skip
    return {"tokens": links}


def submit(engine: Engine, token: str, comment: str | None = None) -> None:
    form = load_survey(engine=engine, token=token)
    answers = {q.code: 9 if q.horizontal else 3 for _, q in form.questions()}
    submit_survey(
        engine=engine, token=token, submission_key=token, answers=answers, comment=comment
    )


@backends()
def test_using_a_token_leaves_its_invitation_row_untouched(engine: Engine, cell: dict) -> None:
    token = cell["tokens"][0]

    def invitation_row() -> dict:
        with read_session(engine) as session:
            row = session.execute(
                select(Invitation.__table__).where(Invitation.token_hash == hash_token(token))
            ).one()
        return dict(row._mapping)

    before = invitation_row()
    submit(engine, token)
    after = invitation_row()
    assert after == before  # used is recorded in the cell's row of used links
    with read_session(engine) as session:
        invitation = session.scalars(
            select(Invitation).where(Invitation.token_hash == hash_token(token))
        ).one()
        assert is_used(session, invitation)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_transaction_ids_do_not_join_a_token_or_comment_to_its_response(
    engine: Engine, cell: dict
) -> None:
    """Every PostgreSQL row carries the id of the transaction that wrote it (xmin). Were a
    link marked on its own row, or the comment left as the submission wrote it, xmin would
    join a person's token, answers and comment. A submission writes no row of its link: it
    rewrites its cell's one row of used links, and its cell's comments, so that they carry
    the newest transaction's id and pair it with no one link or comment."""
    for index, token in enumerate(cell["tokens"][:3]):
        submit(engine, token, comment=f"Comment {index}")
    with engine.connect() as connection:
        # Every link's row is as its roster wrote it: one transaction id for all of them.
        link_ids = set(connection.execute(text("SELECT xmin::text FROM invitation")).scalars())
        listed = connection.execute(text("SELECT invitation_ids FROM used_link")).scalars().all()
        invitation_ids = set(connection.execute(text("SELECT xmin::text FROM used_link")).scalars())
        comment_ids = set(connection.execute(text("SELECT xmin::text FROM comment")).scalars())
        response_ids = list(connection.execute(text("SELECT xmin::text FROM response")).scalars())
    assert len(link_ids) == 1 and not link_ids & set(response_ids)
    assert len(listed) == 1 and len(listed[0].split(",")) == 3  # the cell's three, in one row
    assert len(comment_ids) == 1
    assert len(set(response_ids)) == 3
    # Only the newest response shares the id, and it says no more than its cell does.
    assert sum(response in invitation_ids for response in response_ids) == 1
    assert invitation_ids == comment_ids


# Tables of invitations by email: they may name a person (that is their job), so they must
# never be written by a submission nor point at anything a submission writes.
DELIVERY_TABLES = ("invitation_delivery", "cycle_schedule")
DELIVERY_REFERENCES = {"survey_cycle", "invitation"}


@backends()
def test_delivery_tables_point_at_no_answer(engine: Engine) -> None:
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table_name in DELIVERY_TABLES:
            references = {key["referred_table"] for key in inspector.get_foreign_keys(table_name)}
            assert references <= DELIVERY_REFERENCES, (table_name, references)
            # Times of sending only: nothing that could hold when a link was used.
            times = {
                column["name"]
                for column in inspector.get_columns(table_name)
                if isinstance(column["type"], TIME_TYPES)
            }
            assert times <= {"claimed_until", "next_try", "opened_at", "closed_at", "invite_on"}


@backends()
def test_a_submission_writes_nothing_to_the_delivery_tables(
    engine: Engine, mail_settings: object
) -> None:
    from surveys.invitations.delivery import import_email_roster, token_for_invitation
    from surveys.organisation.schedule import put_schedule

    with write_session(engine) as session:
        division_id = add_division(session=session, name="Acute care")
        add_department(session=session, name="Emergency", division_id=division_id)
        cycle_id = add_cycle(
            session=session, name="2026 Q4", opens=date(2026, 10, 12),
            closes=date(2026, 12, 3), state=CycleState.open,
        )  # fmt: skip
        put_schedule(session=session, cycle_id=cycle_id, actor="boss", reminder_days=(3,))
    data = b"department,staff_group,email\nEmergency,nursing,a@x.example\n"
    data += b"Emergency,nursing,b@x.example\n"
    import_email_roster(engine=engine, data=data, cycle_id=cycle_id, actor="boss")

    def delivery_rows() -> list:
        columns = "*, xmin::text" if engine.dialect.name == "postgresql" else "*, rowid"
        with engine.connect() as connection:
            return [
                connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY 1")).all()
                for table in DELIVERY_TABLES
            ]

    with read_session(engine) as session:
        invitation_id = session.scalars(select(Invitation.id)).first()
        token = token_for_invitation(session=session, invitation_id=invitation_id)
    before = delivery_rows()
    submit(engine, token, comment="A comment")
    assert delivery_rows() == before


PLAN_TABLES = ("action_plan", "action_plan_note")
PLAN_REFERENCES = {"department", "staff_group", "survey_cycle", "action_plan"}


@backends()
def test_action_plan_tables_point_at_no_answer(engine: Engine) -> None:
    # Plans are written by signed-in managers about released results: they name departments,
    # staff groups and cycles, never a response, a comment or an invitation.
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table_name in PLAN_TABLES:
            references = {key["referred_table"] for key in inspector.get_foreign_keys(table_name)}
            assert references <= PLAN_REFERENCES, (table_name, references)
            assert not set(ANSWER_TABLES) & references
