"""Engine factory, session scopes, SQLite pragmas, write transactions and migrations.

Long because a write transaction's parts (the SQLite writer line, group commit, the log
checkpoint, the driver's own SQL) are one concern: how rows reach the database.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from surveys.config import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_WRITE_OPTION = "attune_write"
logger = logging.getLogger(__name__)


class _WriterLine:
    """This process's writers to one SQLite database, let in one at a time, first come first
    served; a writer that waits longer than the busy timeout gives up.

    A writer that brings work (`write_together`) leaves it in the line too, so that the one
    whose turn it is can run it in its own transaction (see `write_together`)."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._guard = threading.Lock()
        self._busy = False
        self._waiting: deque[threading.Event] = deque()
        self._work: deque[_Work] = deque()  # brought by waiting writers, not yet taken
        # A checkpoint found the write-ahead log in use: the next read or write tries again.
        self.log_pending = False

    def enter(self, work: _Work | None = None) -> bool:
        """Wait for the turn. With `work`, return as soon as either the turn came or another
        writer took the work and finished it (`work.finished`)."""
        with self._guard:
            if not self._busy:
                self._busy = True
                return True
            called = threading.Event() if work is None else work.called
            self._waiting.append(called)
            if work is not None:
                self._work.append(work)
        if called.wait(self.timeout_seconds):
            return True
        with self._guard:
            taken = work is not None and work.taken
            if not (called.is_set() or taken):  # not let in, and nobody is running it
                self._waiting.remove(called)
                if work is not None:
                    self._work.remove(work)
                return False
        called.wait()  # let in just as the time ran out, or being run: it ends soon
        return True

    def take(self, own: _Work, limit: int) -> list[_Work]:
        """For the writer whose turn it is: its own work and up to `limit - 1` more brought
        by writers waiting in line, who then wait for it rather than for the turn."""
        taken = [own]
        with self._guard:
            if own in self._work:
                self._work.remove(own)
            while self._work and len(taken) < limit:
                work = self._work.popleft()
                self._waiting.remove(work.called)
                taken.append(work)
            for work in taken:
                work.taken = True
        return taken

    def has_waiting(self) -> bool:
        with self._guard:
            return bool(self._waiting)

    def is_free(self) -> bool:
        with self._guard:
            return not self._busy

    def leave(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # handed straight on: still busy
            else:
                self._busy = False


# By database URL, so that every engine on one file (and engine.execution_options() copies,
# and an engine after dispose()) shares one line.
_writer_lines: dict[str, _WriterLine] = {}
_writer_lines_guard = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened; the message says which and why."""


_url_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def url_key(engine: Engine) -> str:
    """`str(engine.url)`, which every write asks for and SQLAlchemy renders anew each time."""
    key = _url_keys.get(engine)
    if key is None:
        key = _url_keys[engine] = str(engine.url)
    return key


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """Build the one engine a process should use for `url` (default: DATABASE_URL)."""
    settings = get_settings()
    url = url or settings.database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        with _writer_lines_guard:
            line = _writer_lines.setdefault(url_key(engine), _WriterLine(0.0))
            line.timeout_seconds = settings.sqlite_busy_timeout_ms / 1000
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=30)
    _check_idle_connections(engine)
    return engine


# A pooled PostgreSQL connection idle for longer than this is checked with a round trip
# before use (and replaced if the server has gone away: a restart, a failover).
PING_AFTER_IDLE_SECONDS = 1.0


def _check_idle_connections(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, but only for connections idle a while.

    `pool_pre_ping` costs every checkout a round trip to the server. Under a burst of
    submissions each pooled connection comes back within milliseconds, and a server that
    went away since then would fail the statement just as it would have failed the ping a
    moment later; a connection that sat idle is the one a restart leaves dead, so that is the
    one checked. Raising DisconnectionError makes the pool replace it and try again."""

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection: object, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: object, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: object) -> None:
        idle_since = record.info.get("idle_since", 0.0)
        if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(str(error)) from error
        if not alive:
            raise DisconnectionError("the connection did not answer")


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Take BEGIN away from pysqlite so that we can choose BEGIN IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # FULL keeps a committed survey through a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        # Deleted and overwritten row bytes (an updated rollup's old cell, a page freed by a
        # delete) are zeroed rather than left in the file's free space.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails with SQLITE_BUSY under
        # concurrency instead of waiting; IMMEDIATE takes the write lock up front.
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for queries; nothing it does is committed.

    On PostgreSQL its transaction is READ ONLY, so the server refuses any write, and it ends
    with COMMIT, which keeps nothing: a ROLLBACK would also make psycopg drop every statement
    the connection has prepared, and the next submissions on it would be parsed and planned
    anew (README, "Submissions under load")."""
    if not is_sqlite(engine):
        with engine.connect() as connection:
            connection.execution_options(postgresql_readonly=True)
            with Session(bind=connection, expire_on_commit=False) as session:
                yield session
                if session.in_transaction():
                    session.expunge_all()  # an object changed for display is not written
                    session.commit()
        return
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        # A reader that kept the last write's checkpoint from emptying the log empties it
        # when it is done, unless a writer (which empties it itself) has the turn.
        line = _writer_lines.get(url_key(engine)) if is_sqlite(engine) else None
        if line is not None and line.log_pending and line.is_free():
            forget_log(engine)


def _locked() -> OperationalError:
    """What SQLite itself raises when the busy timeout runs out."""
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


@contextmanager
def _writer_turn(engine: Engine) -> Iterator[_WriterLine | None]:
    """On SQLite, wait in line behind this process's other writers before BEGIN IMMEDIATE.

    SQLite lets one writer in at a time, and a writer that finds the database locked sleeps
    and tries again (up to 100 ms apart), so in a burst of submissions newcomers keep slipping
    in while the longest waiters sleep, and some give up at the busy timeout with the database
    idle half the time. Waiting in line instead hands the database straight to the next
    writer. The busy timeout still applies, and still covers writers in other processes.
    """
    line = _writer_lines.get(url_key(engine)) if is_sqlite(engine) else None
    if line is None:  # PostgreSQL, or an engine make_engine did not build
        yield None
        return
    if not line.enter():
        raise _locked()
    try:
        yield line
    finally:
        line.leave()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    # The turn comes before the connection, so that waiting writers hold no pooled connection.
    with _writer_turn(engine) as line:
        try:
            with engine.connect() as connection:
                connection.execution_options(**{_WRITE_OPTION: True})
                with (
                    connection.begin(),
                    Session(bind=connection, expire_on_commit=False) as session,
                ):
                    yield session
                    session.flush()
        finally:
            # The next writer in line checkpoints after its own commit (or rollback), so
            # the last writer of a burst empties the log of every write before it.
            if line is not None and not line.has_waiting():
                forget_log(engine)


class CommitUnconfirmed(RuntimeError):
    """COMMIT failed: the server may have made the transaction durable before it went away,
    so whether it was kept is unknown (the cause is the driver's or SQLAlchemy's error)."""


T = TypeVar("T")


@dataclass(eq=False)
class _Work:
    """One writer's transaction body, run by whichever writer has the turn."""

    body: Callable[[Session], Any]
    called: threading.Event = field(default_factory=threading.Event)
    taken: bool = False  # a writer with the turn has it
    finished: bool = False
    result: Any = None
    error: BaseException | None = None


# How many waiting writers' work one SQLite transaction takes at most.
TOGETHER_AT_MOST = 64


def write_together(engine: Engine, body: Callable[[Session], T]) -> T:
    """Run `body(session)` in a write transaction and commit it; return what it returns, or
    raise what it raised (CommitUnconfirmed when COMMIT itself failed).

    On SQLite, writers wait in line for the one writer's turn (`_writer_turn`), and each
    commit waits for its `fsync`. Here the writer whose turn it is also runs the bodies the
    writers behind it brought, each in its own savepoint, and commits them all with one
    `fsync` (group commit): a body that raises is rolled back to its savepoint alone, and
    its writer gets the exception. A database error in any of them, or at BEGIN or COMMIT,
    fails every body of that transaction, since the transaction is lost. Each writer still
    returns only after its own rows are committed. On PostgreSQL, which lets writers in
    together, each body has its own transaction.
    """
    work = _Work(body)
    line = _writer_lines.get(url_key(engine)) if is_sqlite(engine) else None
    if line is None:
        _run_together(engine, [work])
    else:
        if not line.enter(work):
            raise _locked()
        if not work.finished:  # the turn is ours: run ours and the work behind us
            taken = line.take(work, TOGETHER_AT_MOST)
            try:
                _run_together(engine, taken)
                if not line.has_waiting():
                    forget_log(engine)
            finally:
                line.leave()
                for other in taken[1:]:
                    other.called.set()
    if work.error is not None:
        raise work.error
    return work.result


def _run_together(engine: Engine, taken: Sequence[_Work]) -> None:
    """One transaction for every body in `taken`; each ends finished, with its result or
    error. Raises nothing but what stops the calling writer itself (KeyboardInterrupt)."""
    alone = len(taken) == 1
    try:
        with engine.connect() as connection:
            connection.execution_options(**{_WRITE_OPTION: True})
            transaction = connection.begin()
            try:
                with Session(bind=connection, expire_on_commit=False) as session:
                    cursor = None if alone else driver_cursor(session)[1]
                    for work in taken:
                        _run_one(session, cursor, work, engine.dialect.loaded_dbapi.Error)
                    session.flush()
            except BaseException:
                transaction.rollback()
                raise
            try:
                transaction.commit()
            except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
                raise CommitUnconfirmed(str(error)) from error
    except BaseException as error:  # the transaction is lost: so is every body's work
        for work in taken:
            if work.error is None:
                work.result, work.error = None, error
        if not isinstance(error, Exception):
            raise
    finally:
        for work in taken:
            work.finished = True


def _run_one(session: Session, cursor: Any, work: _Work, driver_error: type[BaseException]) -> None:
    """Run one body; with a cursor, in a savepoint that its own exception rolls back."""
    if cursor is None:  # alone: whatever it raises rolls the whole transaction back
        work.result = work.body(session)
        return
    # What an earlier body read through the ORM is not this one's to trust: raw writes
    # (a link marked used) bypass the identity map.
    session.expunge_all()
    cursor.execute("SAVEPOINT attune_work")
    try:
        work.result = work.body(session)
    except (SQLAlchemyError, driver_error):
        raise  # the database failed: the whole transaction goes
    except Exception as refused:
        cursor.execute("ROLLBACK TO attune_work")
        work.error = refused
    cursor.execute("RELEASE attune_work")


def forget_log(engine: Engine) -> bool:
    """On SQLite, copy the write-ahead log into the database file and cut it to nothing.

    A submission's transaction writes its cell's row of used links and the response's pages
    together, so a copy of the `-wal` file, replayed commit by commit, would pair each used
    link with its response and comment. The database file alone holds only the latest
    state. This closes that window; it is best effort: a reader still reading from the log
    keeps its frames (SQLite then checkpoints what it can without waiting), and the next
    read or write to end, or the next call, tries again. True when the log was emptied.
    """
    if not is_sqlite(engine):
        return False
    line = _writer_lines.get(url_key(engine))
    settings = get_settings()
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            # Never wait on a reader: a submission must not stall behind a results page.
            cursor.execute("PRAGMA busy_timeout=0")
            try:
                busy, _log_frames, _checkpointed = cursor.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                ).fetchone()
            finally:
                cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
                cursor.close()
        finally:
            connection.close()
    except (sqlite3.Error, SQLAlchemyError) as error:
        logger.debug("write-ahead log not checkpointed: %s", error)
        busy = True
    else:
        if busy:
            logger.debug("write-ahead log not emptied: a reader or another writer is using it")
    if line is not None:
        line.log_pending = bool(busy)
    return not busy


def dialect_insert(session: Session):
    """The INSERT construct of the session's database (PostgreSQL's or SQLite's), for
    ON CONFLICT clauses, which plain `sqlalchemy.insert` lacks."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@functools.cache
def driver_sql(dialect: str, sql: str) -> str:
    """`sql` written with `:name` parameters, in the driver's own style (sqlite3 takes
    `:name`, psycopg `%(name)s`), for `Connection.exec_driver_sql` on the submit path, where
    building and compiling SQLAlchemy statements cost more than the database's work."""
    if dialect == "postgresql":
        return _NAMED_PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
    return sql


def array_parameter(table: Table, column: str) -> str:
    """`:column` cast to an array of `column`'s PostgreSQL type, for `unnest`; its value is
    an `array_literal`."""
    return f":{column}::{table.c[column].type.compile(dialect=postgresql.dialect())}[]"


@functools.cache
def _python_type(table: Table, column: str) -> type:
    return table.c[column].type.python_type


def _quoted(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(table: Table, column: str, values: Iterable[object]) -> str:
    """`values` as a PostgreSQL array literal for `column` ('{1,NULL,3}'): psycopg sends one
    string, where a Python list costs it a conversion (a regex, or a struct) per value, most
    of a submission's time in the driver."""
    kind = _python_type(table, column)
    if kind is str:
        items = ("NULL" if value is None else _quoted(value) for value in values)
    elif kind is float:
        items = ("NULL" if value is None else repr(float(value)) for value in values)  # type: ignore[arg-type]
    elif kind is bool:
        items = ("NULL" if value is None else ("t" if value else "f") for value in values)
    else:
        items = ("NULL" if value is None else str(int(value)) for value in values)  # type: ignore[call-overload]
    return "{" + ",".join(items) + "}"


@functools.cache
def many_rows_sql(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...] = (),
    adds: tuple[str, ...] = (),
) -> str:
    """One statement that inserts many rows of `columns` into `table`, as the driver's SQL;
    with `conflict` (the key), a row already there gets `adds` added to it instead.

    On PostgreSQL the rows travel as one array per column and the statement inserts
    `unnest(...)` of them: one statement for the lot, where psycopg's `executemany` would
    run the statement once per row. On SQLite the statement is for one row, for
    `executemany`, which steps one prepared statement in process. `insert_rows` runs it."""
    names = ", ".join(columns)
    if dialect == "postgresql":
        arrays = ", ".join(array_parameter(table, column) for column in columns)
        source = f"SELECT * FROM unnest({arrays})"
    else:
        source = f"VALUES ({', '.join(f':{column}' for column in columns)})"
    sql = f"INSERT INTO {table.name} ({names}) {source}"
    if conflict:
        added = ", ".join(
            f"{column} = {table.name}.{column} + excluded.{column}" for column in adds
        )
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {added}"
    return driver_sql(dialect, sql)


def insert_rows(
    cursor: Any,
    dialect: str,
    table: Table,
    rows: Sequence[Mapping[str, object]],
    *,
    conflict: tuple[str, ...] = (),
    adds: tuple[str, ...] = (),
) -> None:
    """Insert `rows` (mappings with the same keys) with `many_rows_sql`, on a DBAPI cursor
    inside the caller's transaction (`driver_cursor`). Rows are written in the order given:
    concurrent writers that give the same keys in the same order wait for each other
    instead of deadlocking."""
    if not rows:
        return
    columns = tuple(rows[0])
    sql = many_rows_sql(dialect, table, columns, conflict, adds)
    if dialect == "postgresql":
        cursor.execute(
            sql,
            {
                column: array_literal(table, column, (row[column] for row in rows))
                for column in columns
            },
        )
    else:
        cursor.executemany(sql, rows)


def driver_cursor(session: Session) -> tuple[str, Any]:
    """The dialect name and a DBAPI cursor on the session's connection, inside its
    transaction: the submit path runs `driver_sql` statements on it directly, since
    SQLAlchemy's execution machinery cost more per statement than SQLite's work. Errors are
    the driver's own (`engine.dialect.loaded_dbapi.Error`), not SQLAlchemy's."""
    connection = session.connection()
    return connection.dialect.name, connection.connection.cursor()


def new_random_id() -> int:
    """A random positive 63-bit id: unguessable, and its order says nothing about time."""
    return secrets.randbits(63) or 1


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; URLs carry %-escapes (e.g. search_path options).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` through Alembic (the only way tables are made)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@functools.cache
def migration_heads() -> frozenset[str]:
    """The newest revisions shipped with this code (read once: every page checks them)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def schema_revisions(engine: Engine) -> frozenset[str]:
    """The revisions the database has been migrated to; empty for a database with no schema."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def schema_is_current(engine: Engine) -> bool:
    """True when the database has been migrated to the newest revision."""
    return schema_revisions(engine) == migration_heads()


def check_connection(engine: Engine) -> None:
    """Raise DatabaseUnavailable with a plain explanation when the database cannot be used."""
    try:
        with engine.connect() as connection:
            inspect(connection).get_table_names()
    except Exception as error:  # noqa: BLE001 - every driver raises its own kind
        safe_url = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(
            f"Cannot open the database at {safe_url}: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no detail'}"
        ) from error
