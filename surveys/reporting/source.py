"""Where reports read cell-level aggregates: the rollups, through plain SQL on the driver.

Only integers we produced and bound parameters ever reach the SQL text. A report reads
through a `ReportSource`: the rollups in production (`RollupSource`), or, in the benchmark,
the same cell-level aggregates computed from raw answers.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select, text
from sqlmodel import col

from surveys.config import get_settings
from surveys.instruments import InstrumentError, builtin_instrument, discover_instruments
from surveys.models import DRIVER_COLUMNS, DRIVER_PARTS, AuditEvent, CellRollup, CommentAnalysis
from surveys.records import (
    CycleInfo,
    CycleState,
    DepartmentInfo,
    DivisionInfo,
    ItemInfo,
    StaffGroupInfo,
)
from surveys.reporting.reference import DimensionInfo, Reference
from surveys.scoring import NPS_SCALE
from surveys.storage import read_session

Cell = tuple[int, int]
"""(department_id, staff_group_id)."""

CELL = ["department_id", "staff_group_id"]
SCORE_COLUMNS = ["cycle_id", *CELL, "measure", "n", "total", "total_sq"]
SCORE_DTYPES = ["int64"] * 5 + ["float64"] * 2
FAVOURABLE_COLUMNS = ["cycle_id", *CELL, "measure", "favourable", "applicable"]
DRIVER_SUM_COLUMNS = ["cycle_id", *CELL, "measure", *DRIVER_PARTS]
DRIVER_SUM_DTYPES = ["int64"] * 5 + ["float64"] * 5


# Audited actions that change no figure, name or release: they leave the data version alone.
_UNSEEN_ACTIONS = ("sign_in%", "sign_out%", "account.%", "mail.%", "invitations.%")


def data_version(engine: Engine) -> int:
    """Changes whenever what the results show may have changed; cached queries are keyed on it.

    Read from the database, so that it is the same on every replica: the responses stored,
    the latest audited change to the organisation or a cycle (a rename, a cycle opened or
    closed by an administrator or the job runner), and the comments analysed so far."""
    with read_session(engine) as session:
        total = session.scalar(select(func.coalesce(func.sum(CellRollup.responses), 0)))
        change = session.scalar(
            select(func.coalesce(func.max(AuditEvent.id), 0)).where(
                *(~col(AuditEvent.action).like(pattern) for pattern in _UNSEEN_ACTIONS)
            )
        )
        analysed = session.scalar(select(func.count()).select_from(CommentAnalysis))
    return (int(change or 0) << 64) | (int(analysed or 0) << 40) | int(total or 0)


@functools.lru_cache(maxsize=32)
def _definition_texts(
    key: str, version: int, groups: tuple[tuple[str, str], ...]
) -> tuple[dict[str, str], tuple[DimensionInfo, ...]]:
    """Item wording and dimension labels from the instrument file, when it can be found."""
    definition = builtin_instrument()
    if (definition.key, definition.version) != (key, version):
        try:
            found = discover_instruments(get_settings().instrument_dir)
        except InstrumentError:
            found = {}
        if (key, version) not in found:
            return {}, ()
        definition = found[(key, version)]
    texts = {item.code: item.text for item in definition.items(list(groups))}
    dimensions = tuple(
        DimensionInfo(dimension.key, dimension.label, dimension.in_index)
        for dimension in definition.dimensions
    )
    return texts, dimensions


def _rows(connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Run SQL through the driver's own cursor: plain tuples, no per-row ORM overhead.

    Only integers we produced and bound parameters ever reach the SQL text.
    """
    raw = connection.connection.driver_connection
    assert raw is not None
    arguments: tuple[Any, ...] | None = tuple(params)
    if connection.dialect.name != "sqlite":
        sql = sql.replace("?", "%s")
        arguments = arguments or None  # psycopg reads % signs only when given parameters
    cursor = raw.cursor()
    try:
        cursor.execute(sql, arguments)
        return cursor.fetchall()
    finally:
        cursor.close()


def _int_list(values: Collection[int]) -> str:
    return ", ".join(str(int(value)) for value in sorted(values)) or "NULL"


def _id_condition(column: str, ids: Collection[int]) -> str:
    """`column` within `ids`, as runs of consecutive ids: SQLite tests `BETWEEN` several
    times faster than `IN (...)` in a scan, and item ids mostly come in runs."""
    runs: list[list[int]] = []
    for value in sorted({int(i) for i in ids}):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    if not runs:
        return "FALSE"
    parts = [
        f"{column} = {low}" if low == high else f"{column} BETWEEN {low} AND {high}"
        for low, high in runs
    ]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _frame(rows: list[tuple], columns: Sequence[str], dtypes: Sequence[str]) -> pd.DataFrame:
    """Numbers only, read in one pass: several times faster than DataFrame(list_of_tuples)."""
    width = len(columns)
    flat = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.float64, count=len(rows) * width
    ).reshape(len(rows), width)
    return pd.DataFrame(
        {
            column: flat[:, index].astype(dtype)
            for index, (column, dtype) in enumerate(zip(columns, dtypes, strict=True))
        }
    )


def load_reference(connection: Connection) -> Reference:
    divisions = {
        row[0]: DivisionInfo(row[0], row[1], bool(row[2]))
        for row in _rows(connection, "SELECT id, name, archived FROM division")
    }
    departments = {
        row[0]: DepartmentInfo(
            row[0],
            row[1],
            row[2],
            divisions[row[2]].name if row[2] in divisions else "",
            bool(row[3]),
        )
        for row in _rows(connection, "SELECT id, name, division_id, archived FROM department")
    }
    # Archived groups stay: their past responses still count toward every total.
    groups = tuple(
        StaffGroupInfo(row[0], row[1], row[2], row[3], bool(row[4]), row[5])
        for row in _rows(
            connection,
            "SELECT id, key, name, plural, archived, position FROM staff_group"
            " ORDER BY position, id",
        )
    )
    cycles = tuple(
        CycleInfo(row[0], row[1], _as_date(row[2]), _as_date(row[3]), row[4], row[5])
        for row in _rows(
            connection,
            "SELECT id, name, opens, closes, state, instrument_id FROM survey_cycle"
            " ORDER BY opens, id",
        )
    )
    instruments = {
        row[0]: (row[1], row[2])
        for row in _rows(connection, "SELECT id, key, version FROM instrument")
    }
    group_names = tuple((group.key, group.plural) for group in groups if not group.archived)
    texts: dict[int, dict[str, str]] = {}
    dimensions: dict[str, DimensionInfo] = {}
    for instrument_id, (key, version) in sorted(instruments.items()):
        try:
            texts[instrument_id], defined = _definition_texts(key, version, group_names)
        except ValueError:
            texts[instrument_id], defined = {}, ()
        for dimension in defined:
            dimensions.setdefault(dimension.key, dimension)
    items: dict[int, ItemInfo] = {}
    for row in _rows(
        connection,
        "SELECT id, instrument_id, code, section, about_group_id, dimension, scale, reverse,"
        " in_index, position FROM item ORDER BY instrument_id, position, id",
    ):
        item = ItemInfo(
            id=row[0],
            instrument_id=row[1],
            code=row[2],
            section=row[3],
            about_group_id=row[4],
            dimension=row[5],
            scale=row[6],
            reverse=bool(row[7]),
            in_index=bool(row[8]),
            position=row[9],
            text=texts.get(row[1], {}).get(row[2], row[2]),
        )
        items[item.id] = item
        if item.dimension not in dimensions:
            label = item.dimension.replace("_", " ").capitalize()
            dimensions[item.dimension] = DimensionInfo(item.dimension, label, item.in_index)
    scored = {item.dimension for item in items.values() if item.scale != NPS_SCALE}
    return Reference(
        divisions=divisions,
        departments=departments,
        groups=groups,
        cycles=cycles,
        items=items,
        dimensions=tuple(d for d in dimensions.values() if d.key in scored),
    )


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- Where cell-level aggregates come from ------------------------------------------------------


class ReportSource(Protocol):
    """Cell-level aggregates (one row per cycle × department × staff group, and measure)."""

    def reference(self) -> Reference: ...

    def cells(self, cycle_ids: Collection[int]) -> pd.DataFrame:
        """cycle_id, department_id, staff_group_id, responses: cells with responses, and a
        finished cycle's personally invited cells where nobody answered (responses 0)."""
        ...

    def scores(self, cycle_ids: Collection[int], measures: Sequence[str]) -> pd.DataFrame:
        """cycle_id, department_id, staff_group_id, measure, n, total, total_sq, where
        measure is the position of the measure's key in `measures`."""
        ...

    def answer_counts(
        self, cycle_ids: Collection[int], item_ids: Collection[int], values: Sequence[int]
    ) -> pd.DataFrame:
        """cycle_id, department_id, staff_group_id, item_id, n_na, v<value> for each value."""
        ...

    def relationship_counts(
        self, cycle_ids: Collection[int], targets: Mapping[str, Sequence[ItemInfo]]
    ) -> pd.DataFrame:
        """cycle_id, department_id, staff_group_id, measure (the target's position in
        `targets`), favourable, applicable: answers over each relationship target's items
        (keys from scoring.relationship_target), reverse-scored."""
        ...

    def invitations(self, cycle_id: int) -> pd.DataFrame:
        """department_id, staff_group_id, invited (personal invitations only)."""
        ...

    def comments(self, cycle_id: int, cells: Collection[Cell]) -> list[str]:
        """The comment texts of those cells, in no particular order."""
        ...


class DriverSource(ReportSource, Protocol):
    """A source that also holds the key-driver sums of the score rollup."""

    def driver_sums(
        self, cycle_ids: Collection[int], measures: Sequence[str], outcome: str
    ) -> pd.DataFrame:
        """cycle_id, department_id, staff_group_id, measure (position in `measures`), n, x,
        y, xx, yy, xy: over the respondents with both the measure and `outcome`."""
        ...


class RollupSource:
    """Reads the rollups kept with every submission: never a raw answer."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._reference: Reference | None = None

    def reference(self) -> Reference:
        if self._reference is None:
            self._reference = load_reference(self.connection)
        return self._reference

    def _read(
        self, sql: str, table: str, cycle_ids: Collection[int], params: Sequence[Any] = ()
    ) -> list[tuple]:
        """Rows of `sql` (with `{table}` and `{cycles}` to fill in) for these cycles: an open
        cycle's from the released snapshot of `table`, any other's from `table` itself.

        The one place a report picks its rollups, so no report can read an open cycle live.
        """
        wanted = {int(cycle_id) for cycle_id in cycle_ids}
        is_open = {cycle.id for cycle in self.reference().cycles if cycle.state == CycleState.open}
        rows: list[tuple] = []
        for name, ids in ((table, wanted - is_open), (f"released_{table}", wanted & is_open)):
            if ids:
                filled = sql.format(table=name, cycles=_int_list(ids))
                rows += _rows(self.connection, filled, params)
        return rows

    def cells(self, cycle_ids: Collection[int]) -> pd.DataFrame:
        rows = self._read(
            "SELECT cycle_id, department_id, staff_group_id, responses FROM {table}"
            " WHERE cycle_id IN ({cycles}) AND responses > 0",
            "cell_rollup",
            cycle_ids,
        )
        # A finished cycle's personally invited cells where nobody answered are cells too,
        # pooled like any small one: otherwise whether a small group answered at all would
        # show (in the figures its pooling hides, and in the "invited" count). In an open
        # cycle a cell's released count stays 0 until at least k have answered, which says
        # nothing, so there they stay out of the atoms.
        finished = {
            cycle.id
            for cycle in self.reference().cycles
            if cycle.id in set(cycle_ids) and cycle.state != CycleState.open
        }
        if finished:
            rows += _rows(
                self.connection,
                "SELECT DISTINCT i.cycle_id, i.department_id, i.staff_group_id, 0"
                f" FROM invitation i WHERE i.cycle_id IN ({_int_list(finished)})"
                " AND i.is_open = ? AND NOT EXISTS (SELECT 1 FROM cell_rollup c"
                " WHERE c.cycle_id = i.cycle_id AND c.department_id = i.department_id"
                " AND c.staff_group_id = i.staff_group_id AND c.responses > 0)",
                (False,),
            )
        return _frame(rows, ["cycle_id", *CELL, "responses"], ["int64"] * 4)

    def scores(self, cycle_ids: Collection[int], measures: Sequence[str]) -> pd.DataFrame:
        measures = list(measures)
        if not measures:
            return _frame([], SCORE_COLUMNS, SCORE_DTYPES)
        # The measure comes back as its position, so no string crosses into the frame.
        positions = " ".join(f"WHEN ? THEN {position}" for position in range(len(measures)))
        placeholders = ", ".join("?" for _ in measures)
        rows = self._read(
            f"SELECT cycle_id, department_id, staff_group_id, CASE measure {positions} END,"
            " n, total, total_sq"
            " FROM {table} WHERE cycle_id IN ({cycles})"
            f" AND measure IN ({placeholders}) AND n > 0",
            "score_rollup",
            cycle_ids,
            [*measures, *measures],
        )
        return _frame(rows, SCORE_COLUMNS, SCORE_DTYPES)

    def driver_sums(
        self, cycle_ids: Collection[int], measures: Sequence[str], outcome: str
    ) -> pd.DataFrame:
        measures = list(measures)
        if not measures or outcome not in DRIVER_COLUMNS:
            return _frame([], DRIVER_SUM_COLUMNS, DRIVER_SUM_DTYPES)
        positions = " ".join(f"WHEN ? THEN {position}" for position in range(len(measures)))
        placeholders = ", ".join("?" for _ in measures)
        # Column names from the model's own list, never from the caller.
        columns = DRIVER_COLUMNS[outcome]
        rows = self._read(
            f"SELECT cycle_id, department_id, staff_group_id, CASE measure {positions} END,"
            f" {', '.join(columns)}"
            " FROM {table} WHERE cycle_id IN ({cycles})"
            f" AND measure IN ({placeholders}) AND {columns[0]} > 0",
            "score_rollup",
            cycle_ids,
            [*measures, *measures],
        )
        return _frame(rows, DRIVER_SUM_COLUMNS, DRIVER_SUM_DTYPES)

    def answer_counts(
        self, cycle_ids: Collection[int], item_ids: Collection[int], values: Sequence[int]
    ) -> pd.DataFrame:
        value_columns = [f"v{int(value)}" for value in values]
        rows = self._read(
            "SELECT cycle_id, department_id, staff_group_id, item_id, n_na, "
            + ", ".join(value_columns)
            + " FROM {table} WHERE cycle_id IN ({cycles})"
            f" AND {_id_condition('item_id', item_ids)}",
            "item_rollup",
            cycle_ids,
        )
        columns = ["cycle_id", *CELL, "item_id", "n_na", *value_columns]
        return _frame(rows, columns, ["int64"] * len(columns))

    def relationship_counts(
        self, cycle_ids: Collection[int], targets: Mapping[str, Sequence[ItemInfo]]
    ) -> pd.DataFrame:
        keys = list(targets)
        if not keys:
            return _frame([], FAVOURABLE_COLUMNS, ["int64"] * len(FAVOURABLE_COLUMNS))
        positions = " ".join(f"WHEN ? THEN {position}" for position in range(len(keys)))
        placeholders = ", ".join("?" for _ in keys)
        rows = self._read(
            f"SELECT cycle_id, department_id, staff_group_id, CASE target {positions} END,"
            " favourable, applicable"
            " FROM {table} WHERE cycle_id IN ({cycles})"
            f" AND target IN ({placeholders})",
            "relationship_rollup",
            cycle_ids,
            [*keys, *keys],
        )
        return _frame(rows, FAVOURABLE_COLUMNS, ["int64"] * len(FAVOURABLE_COLUMNS))

    def invitations(self, cycle_id: int) -> pd.DataFrame:
        rows = _rows(
            self.connection,
            "SELECT department_id, staff_group_id, COUNT(*) FROM invitation"
            " WHERE cycle_id = ? AND is_open = ? GROUP BY department_id, staff_group_id",
            (int(cycle_id), False),
        )
        return _frame(rows, [*CELL, "invited"], ["int64"] * 3)

    def comments(self, cycle_id: int, cells: Collection[Cell]) -> list[str]:
        return [text for text, _theme, _tone in self.analysed_comments(cycle_id, cells)]

    def analysed_comments(
        self, cycle_id: int, cells: Collection[Cell]
    ) -> list[tuple[str, str | None, str | None]]:
        """`comments`, each with its theme and tone (None until `attune comments analyse` or
        the job runner has analysed it)."""
        wanted = set(cells)
        if not wanted:
            return []
        departments = {department for department, _ in wanted}
        # An open cycle's comments show once released, in batches (surveys/survey/steps.py).
        is_open = self.reference().cycle(cycle_id).state == CycleState.open
        rows = _rows(
            self.connection,
            "SELECT c.department_id, c.staff_group_id, c.text, a.theme, a.tone FROM comment c"
            " LEFT JOIN comment_analysis a ON a.comment_id = c.id WHERE c.cycle_id = ?"
            f" AND c.department_id IN ({_int_list(departments)})"
            + (" AND c.released = ?" if is_open else ""),
            (int(cycle_id), True) if is_open else (int(cycle_id),),
        )
        return [(row[2], row[3], row[4]) for row in rows if (row[0], row[1]) in wanted]


@contextmanager
def open_source(data: Engine | ReportSource) -> Iterator[ReportSource]:
    """The source to read one report from: an engine opens one connection (on PostgreSQL one
    snapshot) for the whole report."""
    if not isinstance(data, Engine):
        yield data
        return
    with data.connect() as connection:
        if connection.dialect.name == "postgresql":
            # One snapshot for the whole report, so its figures add up with each other.
            connection.execution_options(isolation_level="REPEATABLE READ")
            connection.execute(text("SELECT 1"))  # begins the transaction every query shares
            # Compiling these sub-second scans costs more than it saves.
            connection.execute(text("SET LOCAL jit = off"))
        else:
            connection.execute(text("SELECT 1"))
        yield RollupSource(connection)
