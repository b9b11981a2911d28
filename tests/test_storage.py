"""Storage on real SQLite and PostgreSQL: migrations, transactions, responses and rollups."""

from __future__ import annotations

import random
import sqlite3
from datetime import date

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from surveys import storage
from surveys.instruments import builtin_instrument
from surveys.invitations.links import create_invitations
from surveys.invitations.used import mark_used
from surveys.models import (
    Answer,
    CellRollup,
    Comment,
    Department,
    Division,
    Invitation,
    Response,
)
from surveys.organisation.catalogue import instrument_items, register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import (
    add_department,
    add_division,
    list_staff_groups,
    staff_groups,
)
from surveys.storage import (
    alembic_config,
    make_engine,
    migrate,
    read_session,
    schema_is_current,
    write_session,
)
from surveys.survey import rollups
from surveys.survey.submit import InvalidAnswer, store_response
from tests.support.backends import backends
from tests.support.snapshots import rollup_snapshot


@pytest.fixture
def survey(engine: Engine) -> dict:
    """One division, two departments, an open cycle and the built-in instrument."""
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        departments = [
            add_department(session=session, name=name, division_id=division_id)
            for name in ("Emergency", "ICU")
        ]
        cycle_id = add_cycle(
            session=session,
            name="2026 Q4",
            opens=date(2026, 10, 12),
            closes=date(2026, 12, 3),
            instrument_id=instrument_id,
        )
        groups = [group.id for group in staff_groups(session=session)]
        items = instrument_items(session=session, instrument_id=instrument_id)
    return {
        "instrument_id": instrument_id,
        "departments": departments,
        "cycle_id": cycle_id,
        "groups": groups,
        "items": items,
    }


def random_answers(items: dict, rng: random.Random) -> dict:
    answers = {}
    for item in items.values():
        if item.scale == "nps":
            answers[item] = rng.randint(0, 10)
        else:
            answers[item] = None if rng.random() < 0.1 else rng.randint(1, 5)
    return answers


def store_random_responses(engine: Engine, survey: dict, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        with write_session(engine) as session:
            store_response(
                session=session,
                cycle_id=survey["cycle_id"],
                department_id=rng.choice(survey["departments"]),
                staff_group_id=rng.choice(survey["groups"]),
                instrument_id=survey["instrument_id"],
                answers=random_answers(survey["items"], rng),
                comment=rng.choice([None, "", "Handover works well."]),
            )


@backends()
def test_migrations_build_the_models_schema_from_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    assert not schema_is_current(engine)
    migrate(engine)
    assert schema_is_current(engine)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert differences == []
    migrate(engine)  # a second upgrade is a no-op, not an error
    engine.dispose()


@backends()
def test_migration_seeds_the_four_default_staff_groups(engine: Engine) -> None:
    groups = list_staff_groups(engine=engine)
    assert [group.key for group in groups] == [
        "nursing",
        "physicians",
        "allied_health",
        "administrative",
    ]
    assert groups[3].plural == "administrative and support staff"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_write_session_takes_the_write_lock_before_any_write(engine: Engine) -> None:
    database = engine.url.database
    with write_session(engine) as session:
        session.execute(select(1))  # a read only: a deferred BEGIN would take no lock yet
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # released once the session ends
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_enforces_foreign_keys(engine: Engine) -> None:
    with pytest.raises(IntegrityError), write_session(engine) as session:
        session.add(Department(name="Orphan", division_id=999))


@backends()
def test_postgres_and_sqlite_engines_are_configured_for_their_backend(engine: Engine) -> None:
    assert engine.dialect.name in ("postgresql", "sqlite")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_idle_a_while_is_checked_and_a_dead_one_replaced(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection used a moment ago is used as it is; one idle longer than
    PING_AFTER_IDLE_SECONDS is pinged, and replaced when its server process has gone."""
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(
        engine.dialect,
        "do_ping",
        lambda connection: pings.append(connection) or real_ping(connection),
    )
    with engine.connect() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with engine.connect() as connection:  # straight back: no ping
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == backend
    assert pings == []
    monkeypatch.setattr(storage, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:  # idle "long enough": pinged, still the same one
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == backend
    assert len(pings) == 1
    killer = create_engine(engine.url, poolclass=NullPool)
    with killer.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT pg_terminate_backend({backend})").scalar()
    killer.dispose()
    with engine.connect() as connection:  # the dead one is replaced, not handed out
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != backend


@backends()
def test_write_session_keeps_nothing_when_the_block_raises(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.add(Division(name="Half written"))
        session.flush()
        raise RuntimeError("the write failed part-way")
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Division)) == 0


@backends()
def test_a_read_session_keeps_nothing_it_changes(engine: Engine) -> None:
    with write_session(engine) as session:
        session.add(Division(name="Acute care"))
    with read_session(engine) as session:
        division = session.scalars(select(Division)).one()
        division.name = "Changed for display"
    with read_session(engine) as session:
        assert session.scalars(select(Division.name)).one() == "Acute care"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_postgresql_read_session_refuses_writes_and_keeps_prepared_statements(
    engine: Engine,
) -> None:
    """Its transaction is READ ONLY and ends with COMMIT: a ROLLBACK would make psycopg
    drop the connection's prepared statements."""
    query = select(func.count()).select_from(Division)
    for _ in range(6):  # psycopg prepares a statement on its 5th run on a connection
        with read_session(engine) as session:
            session.scalar(query)
    with read_session(engine) as session:
        prepared = session.scalar(text("SELECT COUNT(*) FROM pg_prepared_statements"))
    assert prepared and prepared > 0
    with read_session(engine) as session:
        assert session.scalar(text("SELECT COUNT(*) FROM pg_prepared_statements")) == prepared
    with pytest.raises(Exception, match="read-only transaction"), read_session(engine) as session:
        session.execute(text("INSERT INTO division (name) VALUES ('Written by a reader')"))
    with read_session(engine) as session:
        assert session.scalar(query) == 0


@backends()
def test_stored_responses_keep_rollups_equal_to_a_rebuild_from_raw_answers(
    engine: Engine, survey: dict
) -> None:
    store_random_responses(engine, survey, count=25)
    incremental = rollup_snapshot(engine)
    with write_session(engine) as session:
        rollups.rebuild(session=session, cycle_id=survey["cycle_id"])
    rebuilt = rollup_snapshot(engine)
    assert incremental == rebuilt
    assert sum(row[3] for row in incremental["cells"]) == 25
    with read_session(engine) as session:
        answers = session.scalar(select(func.count()).select_from(Answer))
        comments = session.scalar(select(func.count()).select_from(Comment))
    assert answers == 25 * len(survey["items"])
    assert sum(row[4] for row in incremental["cells"]) == comments


@backends()
def test_upgrading_a_database_with_responses_fills_the_relationship_rollup(
    engine: Engine, survey: dict
) -> None:
    store_random_responses(engine, survey, count=25)
    kept = rollup_snapshot(engine)
    assert kept["relationships"]  # 4 staff groups and patients, in the cells answered
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")  # as a database made before the relationship rollup
    migrate(engine)
    assert rollup_snapshot(engine) == kept


@backends()
def test_upgrading_a_database_with_responses_fills_the_key_driver_sums(
    engine: Engine, survey: dict
) -> None:
    store_random_responses(engine, survey, count=25)
    kept = rollup_snapshot(engine)
    assert any(row[6] for row in kept["scores"])  # respondents with a recommendation answer
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")  # as a database made before the key-driver sums
    migrate(engine)
    assert rollup_snapshot(engine) == kept


@backends()
def test_upgrading_a_database_with_used_links_lists_them_per_cell(
    engine: Engine, survey: dict
) -> None:
    cells = [(department, group) for department in survey["departments"]
             for group in survey["groups"][:2]]  # fmt: skip
    with write_session(engine) as session:
        for department, group in cells:
            create_invitations(
                session=session,
                cycle_id=survey["cycle_id"],
                department_id=department,
                staff_group_id=group,
                count=4,
            )
        cursor = storage.driver_cursor(session)[1]
        invitations = session.scalars(select(Invitation).order_by(Invitation.id)).all()
        for invitation in invitations[::3]:  # some used in every cell, not all
            assert invitation.id and invitation.department_id and invitation.staff_group_id
            cell = (invitation.department_id, invitation.staff_group_id)
            assert mark_used(cursor, engine.dialect.name, invitation.id, survey["cycle_id"], cell)
    listed = "SELECT department_id, staff_group_id, invitation_ids FROM used_link"
    with engine.connect() as connection:
        before = set(connection.execute(text(listed)).all())
    assert len(before) == len(cells)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")  # each link's own flag, as before this change
        flagged = connection.execute(text("SELECT id FROM invitation WHERE used")).scalars()
        assert set(flagged) == {invitation.id for invitation in invitations[::3]}
        if engine.dialect.name == "postgresql":
            # The flags just set left two transaction ids on the links: used and not.
            ids = "SELECT COUNT(DISTINCT xmin::text) FROM invitation"
            assert connection.execute(text(ids)).scalar_one() == 2
    migrate(engine)
    with engine.connect() as connection:
        assert set(connection.execute(text(listed)).all()) == before
        columns = {column["name"] for column in inspect(connection).get_columns("invitation")}
        if engine.dialect.name == "postgresql":
            # The upgrade rewrote every link's row: no transaction id tells used from unused.
            assert connection.execute(text(ids)).scalar_one() == 1
    assert "used" not in columns


@backends()
def test_response_ids_are_random_not_sequential(engine: Engine, survey: dict) -> None:
    store_random_responses(engine, survey, count=20)
    with read_session(engine) as session:
        ids = list(session.scalars(select(Response.id)))
    assert len(set(ids)) == 20
    assert min(ids) > 2**32  # drawn from 63 bits, not counted up from 1
    assert ids != sorted(ids) or ids != list(range(ids[0], ids[0] + 20))
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            rowids = [row[0] for row in connection.exec_driver_sql("SELECT rowid FROM response")]
        # The id is the rowid, so SQLite's rowid order reveals nothing about arrival order.
        assert sorted(rowids) == sorted(ids)


@backends()
@pytest.mark.parametrize("bad_value", [0, 6, -1, 11])
def test_an_answer_outside_its_scale_is_refused_and_nothing_is_written(
    engine: Engine, survey: dict, bad_value: int
) -> None:
    answers = random_answers(survey["items"], random.Random(1))
    likert = next(item for item in answers if item.scale == "agreement")
    nps = next(item for item in answers if item.scale == "nps")
    target = nps if bad_value in (-1, 11) else likert
    answers[target] = bad_value
    with pytest.raises(InvalidAnswer, match=target.code), write_session(engine) as session:
        store_response(
            session=session,
            cycle_id=survey["cycle_id"],
            department_id=survey["departments"][0],
            staff_group_id=survey["groups"][0],
            instrument_id=survey["instrument_id"],
            answers=answers,
            comment="kept nowhere",
        )
    with read_session(engine) as session:
        for table in (Response, Answer, Comment, CellRollup):
            assert session.scalar(select(func.count()).select_from(table)) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_array_literals_read_back_as_the_values_given(engine: Engine) -> None:
    """The submit path sends many rows as one array literal a column (storage.insert_rows):
    every value must come back as it was, whatever characters a text holds."""
    table = SQLModel.metadata.tables["score_rollup"]
    texts = ['a"b', "c\\d", "e,f", "{g}", None, "NULL", " spaced ", "ünïcode"]
    floats = [0.1, 2, None, 1e-12, -3.5]
    integers = [1, None, -(2**31), 2**31 - 1]
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT %(t)s::VARCHAR(80)[], %(f)s::FLOAT[], %(i)s::INTEGER[]",
            {
                "t": storage.array_literal(table, "measure", texts),
                "f": storage.array_literal(table, "total", floats),
                "i": storage.array_literal(table, "n", integers),
            },
        ).one()
    assert list(row) == [texts, floats, integers]
