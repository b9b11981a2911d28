"""The floor under `bench.load`: the same rows in the same transactions, through the driver alone.

A raw `sqlite3` or `psycopg` writer stores what a submission stores (the receipt, the link
marked used, the response, its answers, sometimes a comment, and the cell, item, score and
relationship rollup upserts) in one transaction per form (`BEGIN IMMEDIATE`, WAL and
`synchronous=FULL` on SQLite), with the same statements, from the same number of threads. Each
form's rows are worked out before the clock starts, so the floor is the database's own time:
no validation, no form, no SQLAlchemy. With `promises`, it also pays for what anonymity asks
of every write: the checkpoint that empties SQLite's log, and PostgreSQL's rewrite of the
cell's comments when the form has one (the transaction-id blur). Release in steps is not in the
floor: it is the application's reading, not rows the form brings.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from surveys.invitations.links import hash_token
from surveys.invitations.used import mark_used
from surveys.organisation.catalogue import instrument_items
from surveys.storage import read_session
from surveys.survey.form import NOT_APPLICABLE, SurveyUnavailable, Unavailable
from surveys.survey.rollups import Increments, response_increments
from surveys.survey.submit import (
    SubmitOutcome,
    _blur_transaction_ids,
    _ResponseRows,
    _row_sql,
    _write_response,
    clean_comment,
    submission_key_hash,
)


@dataclass(frozen=True)
class Rows:
    """One form's rows, ready for the driver."""

    receipt: dict[str, object]
    invitation_id: int | None  # None for the open link: nothing to mark used
    response: dict[str, object]
    answers: list[dict[str, object]]
    comment: dict[str, object] | None
    rollups: list[Increments]
    cycle_id: int
    cell: tuple[int, int]  # department id, staff group id


def prepare(engine: Engine, cycle_id: int, forms: Sequence[Any]) -> dict[str, Rows]:
    """Every form's rows, by submission key (the app's response and comment ids are random
    per attempt; here they are drawn once per form, which the database cannot tell apart)."""
    import secrets

    with read_session(engine) as session:
        instrument_id = session.execute(
            text("SELECT instrument_id FROM survey_cycle WHERE id = :id"), {"id": cycle_id}
        ).scalar_one()
        items = instrument_items(session=session, instrument_id=instrument_id)
        invitations = dict(
            session.execute(
                text("SELECT token_hash, id FROM invitation WHERE cycle_id = :id"),
                {"id": cycle_id},
            ).all()
        )
    prepared: dict[str, Rows] = {}
    for form in forms:
        department_id, staff_group_id = form.cell
        cell = {
            "cycle_id": cycle_id,
            "department_id": department_id,
            "staff_group_id": staff_group_id,
        }
        values = {
            items[code]: None if answer == NOT_APPLICABLE else int(answer)
            for code, answer in form.answers.items()
        }
        response_id = secrets.randbits(63) or 1
        comment = clean_comment(form.comment)
        prepared[form.key] = Rows(
            receipt={"key_hash": submission_key_hash(form.key), "cycle_id": cycle_id},
            invitation_id=None if form.is_open else invitations[hash_token(form.token)],
            response={"id": response_id, **cell, "instrument_id": instrument_id},
            answers=[
                {"response_id": response_id, "item_id": item.id, "value": value}
                for item, value in values.items()
            ],
            comment={"id": secrets.randbits(63) or 1, **cell, "text": comment, "released": False}
            if comment
            else None,
            rollups=response_increments(
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=staff_group_id,
                answers=values,
                has_comment=bool(comment),
            ),
            cycle_id=cycle_id,
            cell=(department_id, staff_group_id),
        )
    return prepared


class _Declined(Exception):
    """The form was not stored: already received, or its link already used."""

    def __init__(self, outcome: SubmitOutcome | None) -> None:
        self.outcome = outcome


class Floor:
    """A raw-driver writer per thread; `submit(rows)` stores one form or says why not."""

    def __init__(self, dialect: str, connect: Any, *, promises: bool) -> None:
        self.dialect = dialect
        self.sql = _row_sql(dialect)
        self.promises = promises
        self._connect = connect
        self._local = threading.local()
        self._connections: list[Any] = []
        self._guard = threading.Lock()
        # SQLite lets one writer in at a time: a lock, as the app's writer line.
        self._turn = threading.Lock()
        self._waiting = 0

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
            with self._guard:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._connections:
            connection.close()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self.dialect != "sqlite":
            yield
            return
        with self._guard:
            self._waiting += 1
        with self._turn:
            with self._guard:
                self._waiting -= 1
            yield

    def submit(self, rows: Rows) -> SubmitOutcome:
        connection = self._connection()
        try:
            with self._writer_turn():
                try:
                    self._store(connection, rows)
                finally:
                    if self.dialect == "sqlite" and self.promises and not self._waiting:
                        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except _Declined as declined:
            if declined.outcome is None:
                raise SurveyUnavailable(Unavailable.used, "link used") from None
            return declined.outcome
        return SubmitOutcome.stored

    def _store(self, connection: Any, rows: Rows) -> None:
        sql = self.sql
        cursor = connection.cursor()
        if self.dialect == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        try:
            # The submit path's own order: the link added to its cell's row of used links
            # (when it is already there, the form's receipt says whether this form was the
            # one stored), then the receipt.
            if rows.invitation_id is not None and not mark_used(
                cursor, self.dialect, rows.invitation_id, rows.cycle_id, rows.cell
            ):
                seen = cursor.execute(sql.receipt_seen, rows.receipt).fetchone()
                raise _Declined(SubmitOutcome.already_received if seen else None)
            if cursor.execute(sql.receipt, rows.receipt).fetchone() is None:
                raise _Declined(SubmitOutcome.already_received)
            # The submit path's own statements for the response, answers, comment and rollups.
            _write_response(
                cursor,
                sql,
                _ResponseRows(
                    response=rows.response,
                    answers=rows.answers,
                    comment=rows.comment,
                    rollups=rows.rollups,
                ),
            )
            if self.promises:
                # The submit path's own blur: the cell's comments when the form has one
                # (nothing on SQLite).
                _blur_transaction_ids(
                    cursor, sql, rows.cycle_id, rows.cell, rows.comment is not None
                )
        except BaseException:
            connection.rollback() if self.dialect == "postgresql" else cursor.execute("ROLLBACK")
            raise
        if self.dialect == "postgresql":
            connection.commit()
        else:
            cursor.execute("COMMIT")


def floor_for(engine: Engine, *, promises: bool) -> Floor:
    """A floor writing to the database `engine` points at, with the app's connection settings."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        path = url.database or ""

        def connect_sqlite() -> sqlite3.Connection:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in (
                "journal_mode=WAL",
                "foreign_keys=ON",
                "busy_timeout=30000",
                "synchronous=FULL",
                "secure_delete=ON",
            ):
                connection.execute(f"PRAGMA {pragma}")
            return connection

        return Floor("sqlite", connect_sqlite, promises=promises)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def connect_postgres() -> psycopg.Connection:
        return psycopg.connect(conninfo)

    return Floor("postgresql", connect_postgres, promises=promises)
