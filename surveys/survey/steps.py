"""Release in steps: what an open cycle shows moves only when at least k respondents moved it.

Every report reads an open cycle from its *released snapshot* (the `released_*` copies of the
rollups, `surveys.models.RELEASED`), never from the live rollups. Subtracting two looks at the
results, one before and one after a colleague answers, then finds nothing of theirs: the
snapshot has not moved, or it moved by at least k respondents at once.

What advances, and when:
- A rollup row (one cell's response count, one item's answer counts, one measure's score sums)
  is copied from the live rollups once its own count has grown by at least k
  (`ATTUNE_MIN_GROUP_SIZE`) since it was last copied. An item counts answers other than "does
  not apply", so every released change of an item's counts rests on at least k answers to it.
  A cell's relationship rows are recomputed from its released item rows.
- A cell's comments are released together once at least `ATTUNE_MIN_COMMENT_GROUP_SIZE` of
  them wait, and are then shuffled into the rest on every read (`surveys.reporting.comments`).
- Closing a cycle releases everything; opening (or reopening) one starts its snapshot at
  what the live rollups hold, which was all public at close or is empty for a new cycle.

Steps are taken per cell, not per atom: atoms are redrawn as counts grow, so a step "per atom"
would have no fixed unit. Per cell, every released count of an open cycle is 0 or at least k,
and every change of it is at least k, whatever filter or report adds cells up.

The step is taken inside the submission's own transaction (`advance`), so the snapshot is in
the database: two viewers at the same moment, on any replica, read the same figures.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlmodel import Session, col

from surveys.config import get_settings
from surveys.models import (
    RELEASED,
    VALUE_COLUMNS,
    CellRollup,
    Comment,
    ItemRollup,
    ScoreRollup,
)
from surveys.storage import array_literal, array_parameter, driver_cursor, driver_sql
from surveys.survey.rollups import relationships_from_item_rollup

CELL_COLUMNS = ("cycle_id", "department_id", "staff_group_id")


@dataclass(frozen=True)
class _Stepped:
    """One rollup whose rows advance by their own count: the row's extra key and its count."""

    live: Table
    key: str | None
    count: str

    @property
    def released(self) -> Table:
        return RELEASED[self.live.name]


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined]  # SQLModel does not declare the mapped __table__


_STEPPED = (
    _Stepped(_table(CellRollup), None, "responses"),
    _Stepped(_table(ItemRollup), "item_id", "+".join(VALUE_COLUMNS)),
    _Stepped(_table(ScoreRollup), "measure", "n"),
)
_RELATIONSHIPS = RELEASED["relationship_rollup"]


def _cell_condition(alias: str, cell: tuple[int, int] | None) -> str:
    condition = f"{alias}.cycle_id = :cycle"
    if cell is not None:
        condition += f" AND {alias}.department_id = :department AND {alias}.staff_group_id = :group"
    return condition


def advance(*, session: Session, cycle_id: int, cell: tuple[int, int] | None = None) -> bool:
    """Move one cell's released snapshot (`cell` = (department_id, staff_group_id)), or every
    cell's of the cycle, as far as the steps allow; inside the caller's transaction.

    Returns whether any released figure moved.
    """
    settings = get_settings()
    params: dict[str, object] = {"cycle": cycle_id, "step": settings.min_group_size}
    dialect, cursor = driver_cursor(session)
    due: dict[_Stepped, list[tuple]] = {}
    if cell is None:
        for stepped in _STEPPED:
            cursor.execute(_due_rows_sql(dialect, stepped), params)
            due[stepped] = [tuple(row) for row in cursor.fetchall()]
        comments_due = _cells_with_comments_due(
            cursor, dialect, cycle_id, settings.min_comment_group_size
        )
    else:
        # One cell, as every submission asks: what is due, in one read.
        params.update(
            department=cell[0],
            group=cell[1],
            no=False,
            minimum=settings.min_comment_group_size,
        )
        cursor.execute(_due_in_cell_sql(dialect), params)
        comments_due = []
        for kind, item_id, measure in cursor.fetchall():
            if kind == len(_STEPPED):
                comments_due.append(cell)
                continue
            stepped = _STEPPED[kind]
            extra = {"item_id": (item_id,), "measure": (measure,), None: ()}[stepped.key]
            due.setdefault(stepped, []).append((cycle_id, *cell, *extra))
    moved_items: set[tuple[int, int]] = set()
    moved = False
    for stepped in _STEPPED:
        rows = due.get(stepped)
        if not rows:
            continue
        moved = True
        keys = [*CELL_COLUMNS, *([stepped.key] if stepped.key else [])]
        _copy(session, stepped, keys, rows)
        if stepped.key == "item_id":
            moved_items.update((row[1], row[2]) for row in rows)
    for department_id, group_id in sorted(moved_items):
        _recount_relationships(session, cycle_id, department_id, group_id)
    for department_id, group_id in comments_due:
        _release_comments(cursor, dialect, cycle_id, department_id, group_id)
    return bool(comments_due) or moved


def _due_from(stepped: _Stepped, one_cell: bool) -> str:
    """FROM and WHERE of the live rows whose count has grown by at least a step (`:step`)
    since they were last copied, over the live table as `l`."""
    keys = [*CELL_COLUMNS, *([stepped.key] if stepped.key else [])]
    join = " AND ".join(f"r.{key} = l.{key}" for key in keys)
    count = stepped.count
    return (
        f" FROM {stepped.live.name} l LEFT JOIN {stepped.released.name} r ON {join}"
        f" WHERE {_cell_condition('l', (0, 0) if one_cell else None)}"
        f" AND ({_prefixed(count, 'l')}) - COALESCE(({_prefixed(count, 'r')}), 0) >= :step"
    )


@functools.cache
def _due_rows_sql(dialect: str, stepped: _Stepped) -> str:
    """A whole cycle's due rows of one rollup, keys first, as the driver's SQL."""
    keys = [*CELL_COLUMNS, *([stepped.key] if stepped.key else [])]
    return driver_sql(
        dialect,
        f"SELECT {', '.join(f'l.{key}' for key in keys)}{_due_from(stepped, one_cell=False)}",
    )


@functools.cache
def _due_in_cell_sql(dialect: str) -> str:
    """One cell's due rows of every rollup, and whether its waiting comments are due, in one
    statement built once: every submission runs it. Each row is (kind, item id, measure):
    kind is the rollup's place in _STEPPED, or len(_STEPPED) for the comments."""
    no_item, no_measure = "CAST(NULL AS INTEGER)", "CAST(NULL AS VARCHAR(80))"
    extra = {None: f"{no_item}, {no_measure}", "item_id": f"l.item_id, {no_measure}"}
    extra["measure"] = f"{no_item}, l.measure"
    parts = [
        f"SELECT {kind}, {extra[stepped.key]}{_due_from(stepped, one_cell=True)}"
        for kind, stepped in enumerate(_STEPPED)
    ]
    parts.append(
        f"SELECT {len(_STEPPED)}, {no_item}, {no_measure} WHERE (SELECT COUNT(*) FROM comment c"
        f" WHERE {_cell_condition('c', (0, 0))} AND c.released = :no) >= :minimum"
    )
    return driver_sql(dialect, " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3")


def _prefixed(expression: str, alias: str) -> str:
    """`v1+v2` over table alias `alias`: `l.v1+l.v2`."""
    return "+".join(f"{alias}.{column}" for column in expression.split("+"))


@functools.cache
def _copy_sql(dialect: str, stepped: _Stepped, keys: tuple[str, ...]) -> str:
    """INSERT ... SELECT of live rows into the released snapshot by key, replacing the
    released row where there is one (an upsert on the key), built once.

    On PostgreSQL the keys travel as one array per key column and the statement handles
    every row at once (one statement, not one a row); on SQLite it is for one row, run by
    `executemany` in process."""
    primary = {column.name for column in stepped.released.primary_key.columns}
    assert set(keys) == primary, (keys, primary)  # the upsert's conflict is on the key
    columns = [column.name for column in stepped.live.columns]
    replaced = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in primary)
    upsert = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {replaced}"
    names = ", ".join(columns)
    released = stepped.released.name
    if dialect == "postgresql":
        arrays = ", ".join(array_parameter(stepped.live, key) for key in keys)
        matched = " AND ".join(f"l.{key} = k.{key}" for key in keys)
        given = f"unnest({arrays}) AS k({', '.join(keys)})"
        live_names = ", ".join(f"l.{name}" for name in columns)
        return driver_sql(
            dialect,
            f"INSERT INTO {released} ({names}) SELECT {live_names}"
            f" FROM {stepped.live.name} l JOIN {given} ON {matched}{upsert}",
        )
    where = " AND ".join(f"{key} = :{key}" for key in keys)
    # The WHERE also keeps SQLite from reading ON CONFLICT as a join's ON.
    return driver_sql(
        dialect,
        f"INSERT INTO {released} ({names}) SELECT {names} FROM {stepped.live.name}"
        f" WHERE {where}{upsert}",
    )


def _copy(session: Session, stepped: _Stepped, keys: Sequence[str], rows: Sequence[tuple]) -> None:
    """Replace these rows of the released snapshot with the live rows."""
    dialect, cursor = driver_cursor(session)
    copy = _copy_sql(dialect, stepped, tuple(keys))
    if dialect == "postgresql":
        columns = {
            key: array_literal(stepped.live, key, (row[number] for row in rows))
            for number, key in enumerate(keys)
        }
        cursor.execute(copy, columns)
        return
    cursor.executemany(copy, [dict(zip(keys, row, strict=True)) for row in rows])


@functools.cache
def _recount_sql(dialect: str) -> tuple[str, str]:
    cell = "cycle_id = :cycle AND department_id = :department AND staff_group_id = :group"
    return (
        driver_sql(dialect, f"DELETE FROM {_RELATIONSHIPS.name} WHERE {cell}"),
        driver_sql(
            dialect,
            relationships_from_item_rollup(
                "r.cycle_id = :cycle AND r.department_id = :department"
                " AND r.staff_group_id = :group",
                source=RELEASED["item_rollup"].name,
                target=_RELATIONSHIPS.name,
            ),
        ),
    )


def _recount_relationships(
    session: Session, cycle_id: int, department_id: int, group_id: int
) -> None:
    """A cell's released relationship rows, from its released item rows."""
    dialect, cursor = driver_cursor(session)
    remove, recount = _recount_sql(dialect)
    params = {"cycle": cycle_id, "department": department_id, "group": group_id}
    cursor.execute(remove, params)
    cursor.execute(recount, params)


@functools.cache
def _waiting_comments_sql(dialect: str) -> str:
    """A cycle's cells with at least :minimum comments waiting, as the driver's SQL."""
    return driver_sql(
        dialect,
        "SELECT c.department_id, c.staff_group_id FROM comment c"
        " WHERE c.cycle_id = :cycle AND c.released = :no"
        " GROUP BY c.department_id, c.staff_group_id HAVING COUNT(*) >= :minimum",
    )


def _cells_with_comments_due(
    cursor: Any, dialect: str, cycle_id: int, minimum: int
) -> list[tuple[int, int]]:
    cursor.execute(
        _waiting_comments_sql(dialect), {"cycle": cycle_id, "no": False, "minimum": minimum}
    )
    return [(department_id, group_id) for department_id, group_id in cursor.fetchall()]


def _release_comments(
    cursor: Any, dialect: str, cycle_id: int, department_id: int, group_id: int
) -> None:
    """Release a cell's waiting comments, together."""
    cursor.execute(
        driver_sql(
            dialect,
            "UPDATE comment SET released = :yes WHERE cycle_id = :cycle"
            " AND department_id = :department AND staff_group_id = :group AND released = :no",
        ),
        {
            "yes": True,
            "no": False,
            "cycle": cycle_id,
            "department": department_id,
            "group": group_id,
        },
    )


def release_all(*, session: Session, cycle_id: int) -> None:
    """At close: everything of the cycle is shown, so its snapshot is no longer needed."""
    clear(session=session, cycle_id=cycle_id)
    session.execute(
        update(Comment)
        .where(col(Comment.cycle_id) == cycle_id)
        .values(released=True)
        .execution_options(synchronize_session=False)
    )


def clear(*, session: Session, cycle_id: int) -> None:
    """Remove a cycle's released snapshot."""
    for table in RELEASED.values():
        session.execute(delete(table).where(table.c.cycle_id == cycle_id))


def start(*, session: Session, cycle_id: int) -> None:
    """When a cycle opens: its snapshot is what the live rollups hold (empty for a new cycle,
    everything released at close for a reopened one)."""
    clear(session=session, cycle_id=cycle_id)
    for live_name, released in RELEASED.items():
        live = released.metadata.tables[live_name]
        names = [column.name for column in live.columns]
        session.execute(
            insert(released).from_select(
                names,
                select(*(live.c[name] for name in names)).where(live.c.cycle_id == cycle_id),
            )
        )
