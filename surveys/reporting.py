"""Every aggregate anyone sees, read from rollups, with small groups suppressed here.

Pages call the functions below and render what they return; they never see a rollup row, a
raw answer or an ORM object. Each function takes

- `departments`: the departments the viewer may see (None for everything). The caller passes
  the signed-in manager's set; it is always intersected with any filter, never widened.
- optional filters: `selected_departments`, `divisions` and `staff_groups` (sets of ids).

Confidentiality is enforced here and in `surveys.suppression`: every figure adds up whole
atoms of at least `ATTUNE_MIN_GROUP_SIZE` responses (comments: `ATTUNE_MIN_COMMENT_GROUP_SIZE`)
that lie inside what was asked for, so no combination of filters can isolate a small group.
A figure with nothing to add up comes back with `value=None` and `suppressed=True`.

The functions read through a `ReportSource`: the rollups in production (`RollupSource`), or,
in the benchmark, the same cell-level aggregates computed from raw answers.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select, text

from surveys import suppression
from surveys.config import get_settings
from surveys.csvsafe import frame_to_csv
from surveys.instruments import InstrumentError, builtin_instrument, discover_instruments
from surveys.models import CellRollup, Invitation, SurveyCycle
from surveys.scoring import (
    FAVOURABLE_MIN,
    INDEX,
    LIKERT_POINTS,
    NPS_SCALE,
    PATIENTS,
    Z_95,
    Estimate,
    change_is_significant,
    enps,
    relationship_target,
    t_quantile_95,
)
from surveys.storage import read_session

CELL = ["department_id", "staff_group_id"]
SCORE_COLUMNS = ["cycle_id", *CELL, "measure", "n", "total", "total_sq"]
SCORE_DTYPES = ["int64"] * 5 + ["float64"] * 2
FAVOURABLE_COLUMNS = ["cycle_id", *CELL, "measure", "favourable", "applicable"]
PATIENTS_LABEL = "Patients and families"
ALL_SELECTED = "All selected departments"
LIKERT_VALUES = tuple(range(1, LIKERT_POINTS + 1))
NPS_VALUES = tuple(range(0, 11))
# Pairs where one group rates the other at least this much lower are flagged (if significant).
ASYMMETRY_POINTS = 10.0


# --- What the existing landing page uses ----------------------------------------------------


@dataclass(frozen=True)
class CycleSummary:
    """One survey cycle as the landing page shows it.

    `responses` and `response_rate` are None when fewer than the minimum group size
    responded: a count of 1 or 2 would tell a watcher whose answers just arrived.
    """

    id: int
    name: str
    opens: date
    closes: date
    state: str
    responses: int | None
    invited: int
    response_rate: float | None


def suppressed(count: int, *, minimum: int | None = None) -> bool:
    """Whether a group of `count` respondents is too small to report."""
    minimum = get_settings().min_group_size if minimum is None else minimum
    return suppression.is_small(count, minimum)


def data_version(engine: Engine) -> int:
    """Changes whenever a response arrives; cached queries are keyed on it."""
    with read_session(engine) as session:
        total = session.scalar(select(func.coalesce(func.sum(CellRollup.responses), 0)))
    return int(total or 0)


def cycle_summaries(engine: Engine) -> list[CycleSummary]:
    """Cycles, newest first, with their response counts and rates."""
    with read_session(engine) as session:
        responses = dict(
            session.execute(
                select(CellRollup.cycle_id, func.sum(CellRollup.responses)).group_by(
                    CellRollup.cycle_id
                )
            ).all()
        )
        invited = dict(
            session.execute(
                select(Invitation.cycle_id, func.count())
                .where(Invitation.is_open == False)  # noqa: E712 - SQL expression
                .group_by(Invitation.cycle_id)
            ).all()
        )
        cycles = session.scalars(select(SurveyCycle).order_by(SurveyCycle.opens.desc())).all()
    summaries = []
    for cycle in cycles:
        assert cycle.id is not None
        count = int(responses.get(cycle.id, 0))
        invitations = int(invited.get(cycle.id, 0))
        shown = None if suppressed(count) else count
        rate = shown / invitations if shown is not None and invitations else None
        summaries.append(
            CycleSummary(
                cycle.id,
                cycle.name,
                cycle.opens,
                cycle.closes,
                cycle.state,
                shown,
                invitations,
                rate,
            )
        )
    return summaries


# --- Reference data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DivisionInfo:
    id: int
    name: str


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    name: str
    division_id: int


@dataclass(frozen=True)
class GroupInfo:
    id: int
    key: str
    name: str
    plural: str
    archived: bool = False


@dataclass(frozen=True)
class CycleRef:
    id: int
    name: str
    opens: date
    closes: date
    state: str
    instrument_id: int


@dataclass(frozen=True)
class DimensionInfo:
    key: str
    label: str
    in_index: bool


@dataclass(frozen=True)
class ItemRef:
    id: int
    instrument_id: int
    code: str
    section: str
    about_group_id: int | None
    dimension: str
    scale: str
    reverse: bool
    in_index: bool
    position: int
    text: str


@dataclass(frozen=True)
class Reference:
    """The organisation as reports name it: small tables, read whole on every report."""

    divisions: Mapping[int, DivisionInfo]
    departments: Mapping[int, DepartmentInfo]
    groups: tuple[GroupInfo, ...]
    cycles: tuple[CycleRef, ...]  # oldest first
    items: Mapping[int, ItemRef]
    dimensions: tuple[DimensionInfo, ...]  # every scored dimension, in instrument order

    def cycle(self, cycle_id: int) -> CycleRef:
        for cycle in self.cycles:
            if cycle.id == cycle_id:
                return cycle
        raise UnknownCycle(f"there is no survey cycle {cycle_id}")

    def previous_cycle(self, cycle_id: int) -> CycleRef | None:
        ids = [cycle.id for cycle in self.cycles]
        position = ids.index(self.cycle(cycle_id).id)
        return self.cycles[position - 1] if position else None

    def with_previous(self, cycle_id: int) -> tuple[CycleRef, CycleRef | None, list[int]]:
        """The cycle, the one before it (if any), and the ids of both, for change figures."""
        cycle, previous = self.cycle(cycle_id), self.previous_cycle(cycle_id)
        return cycle, previous, [c.id for c in (previous, cycle) if c is not None]

    @property
    def shown_groups(self) -> tuple[GroupInfo, ...]:
        """Groups offered as filters and matrix rows: not archived."""
        return tuple(group for group in self.groups if not group.archived)

    def dimension(self, key: str) -> DimensionInfo:
        for dimension in self.dimensions:
            if dimension.key == key:
                return dimension
        raise UnknownDimension(f"there is no dimension {key!r}")

    @property
    def division_of(self) -> dict[int, int]:
        return {department.id: department.division_id for department in self.departments.values()}


class UnknownCycle(LookupError):
    """A cycle id that does not exist."""


class UnknownDimension(LookupError):
    """A dimension key that no instrument defines."""


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
        row[0]: DivisionInfo(row[0], row[1])
        for row in _rows(connection, "SELECT id, name FROM division")
    }
    departments = {
        row[0]: DepartmentInfo(row[0], row[1], row[2])
        for row in _rows(connection, "SELECT id, name, division_id FROM department")
    }
    # Archived groups stay: their past responses still count toward every total.
    groups = tuple(
        GroupInfo(row[0], row[1], row[2], row[3], bool(row[4]))
        for row in _rows(
            connection,
            "SELECT id, key, name, plural, archived FROM staff_group ORDER BY position, id",
        )
    )
    cycles = tuple(
        CycleRef(row[0], row[1], _as_date(row[2]), _as_date(row[3]), row[4], row[5])
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
    items: dict[int, ItemRef] = {}
    for row in _rows(
        connection,
        "SELECT id, instrument_id, code, section, about_group_id, dimension, scale, reverse,"
        " in_index, position FROM item ORDER BY instrument_id, position, id",
    ):
        item = ItemRef(
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
        """cycle_id, department_id, staff_group_id, responses (cells with responses only)."""
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
        self, cycle_ids: Collection[int], targets: Mapping[str, Sequence[ItemRef]]
    ) -> pd.DataFrame:
        """cycle_id, department_id, staff_group_id, measure (the target's position in
        `targets`), favourable, applicable: answers over each relationship target's items
        (keys from scoring.relationship_target), reverse-scored."""
        ...

    def invitations(self, cycle_id: int) -> pd.DataFrame:
        """department_id, staff_group_id, invited (personal invitations only)."""
        ...

    def comments(self, cycle_id: int, cells: Collection[suppression.Cell]) -> list[str]:
        """The comment texts of those cells, in no particular order."""
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

    def cells(self, cycle_ids: Collection[int]) -> pd.DataFrame:
        rows = _rows(
            self.connection,
            "SELECT cycle_id, department_id, staff_group_id, responses FROM cell_rollup"
            f" WHERE cycle_id IN ({_int_list(cycle_ids)}) AND responses > 0",
        )
        return _frame(rows, ["cycle_id", *CELL, "responses"], ["int64"] * 4)

    def scores(self, cycle_ids: Collection[int], measures: Sequence[str]) -> pd.DataFrame:
        measures = list(measures)
        if not measures:
            return _frame([], SCORE_COLUMNS, SCORE_DTYPES)
        # The measure comes back as its position, so no string crosses into the frame.
        positions = " ".join(f"WHEN ? THEN {position}" for position in range(len(measures)))
        placeholders = ", ".join("?" for _ in measures)
        rows = _rows(
            self.connection,
            f"SELECT cycle_id, department_id, staff_group_id, CASE measure {positions} END,"
            " n, total, total_sq"
            f" FROM score_rollup WHERE cycle_id IN ({_int_list(cycle_ids)})"
            f" AND measure IN ({placeholders}) AND n > 0",
            [*measures, *measures],
        )
        return _frame(rows, SCORE_COLUMNS, SCORE_DTYPES)

    def answer_counts(
        self, cycle_ids: Collection[int], item_ids: Collection[int], values: Sequence[int]
    ) -> pd.DataFrame:
        value_columns = [f"v{int(value)}" for value in values]
        rows = _rows(
            self.connection,
            "SELECT cycle_id, department_id, staff_group_id, item_id, n_na, "
            + ", ".join(value_columns)
            + f" FROM item_rollup WHERE cycle_id IN ({_int_list(cycle_ids)})"
            f" AND {_id_condition('item_id', item_ids)}",
        )
        columns = ["cycle_id", *CELL, "item_id", "n_na", *value_columns]
        return _frame(rows, columns, ["int64"] * len(columns))

    def relationship_counts(
        self, cycle_ids: Collection[int], targets: Mapping[str, Sequence[ItemRef]]
    ) -> pd.DataFrame:
        keys = list(targets)
        if not keys:
            return _frame([], FAVOURABLE_COLUMNS, ["int64"] * len(FAVOURABLE_COLUMNS))
        positions = " ".join(f"WHEN ? THEN {position}" for position in range(len(keys)))
        placeholders = ", ".join("?" for _ in keys)
        rows = _rows(
            self.connection,
            f"SELECT cycle_id, department_id, staff_group_id, CASE target {positions} END,"
            " favourable, applicable"
            f" FROM relationship_rollup WHERE cycle_id IN ({_int_list(cycle_ids)})"
            f" AND target IN ({placeholders})",
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

    def comments(self, cycle_id: int, cells: Collection[suppression.Cell]) -> list[str]:
        wanted = set(cells)
        if not wanted:
            return []
        departments = {department for department, _ in wanted}
        rows = _rows(
            self.connection,
            "SELECT department_id, staff_group_id, text FROM comment WHERE cycle_id = ?"
            f" AND department_id IN ({_int_list(departments)})",
            (int(cycle_id),),
        )
        return [row[2] for row in rows if (row[0], row[1]) in wanted]


@contextmanager
def _source(data: Engine | ReportSource) -> Iterator[ReportSource]:
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


# --- Shown figures ------------------------------------------------------------------------------


class Figure(NamedTuple):
    """A number as shown: its 95% interval and n, or None with `suppressed=True`.

    `change` is the difference from the previous cycle when both are shown, and `significant`
    says whether that change is beyond chance at 95%. A suppressed figure never tells its n.
    (A named tuple rather than a dataclass: a heatmap makes tens of thousands of them.)
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    suppressed: bool
    change: float | None = None
    significant: bool = False
    note: str = ""

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, self.low, self.high, self.n)


def _suppressed_note(minimum: int) -> str:
    return f"fewer than {minimum} responses"


def _shown(estimate: Estimate, minimum: int) -> Figure:
    if estimate.value is None or suppression.is_small(estimate.n, minimum):
        return Figure(None, None, None, 0, True, note=_suppressed_note(minimum))
    return Figure(estimate.value, estimate.low, estimate.high, estimate.n, False)


def _with_change(current: Figure, previous: Figure | None) -> Figure:
    if previous is None or current.suppressed or previous.suppressed:
        return current
    assert current.value is not None and previous.value is not None
    return Figure(
        current.value,
        current.low,
        current.high,
        current.n,
        False,
        change=current.value - previous.value,
        significant=_significant(previous, current),
    )


def _significant(previous: Figure, current: Figure) -> bool:
    """`scoring.change_is_significant` for two shown figures, without building Estimates
    (a heatmap asks this thousands of times)."""
    before, after = previous.value, current.value
    if previous.low is None or previous.high is None or before is None:
        return False
    if current.low is None or current.high is None or after is None:
        return False
    combined = math.hypot(
        (previous.high - previous.low) / (2 * Z_95), (current.high - current.low) / (2 * Z_95)
    )
    if combined == 0:
        return before != after
    return abs(after - before) > Z_95 * combined


def pooled_percent_favourable(favourable: int, applicable: int, items: int) -> Estimate:
    """% favourable over a set of items each respondent answers several of.

    The interval is a Wilson interval on the number of respondents behind the set (answers
    per item), not on the number of answers: one person's answers about the same group move
    together, and counting each as a separate observation would overstate the precision.
    """
    if applicable <= 0:
        return Estimate(None, None, None, 0)
    respondents = max(1, round(applicable / max(1, items)))
    share = favourable / applicable
    z2 = Z_95**2
    centre = (share + z2 / (2 * respondents)) / (1 + z2 / respondents)
    half = (
        Z_95
        * math.sqrt(share * (1 - share) / respondents + z2 / (4 * respondents**2))
        / (1 + z2 / respondents)
    )
    low = max(0.0, min(share, centre - half))
    high = min(1.0, max(share, centre + half))
    return Estimate(100 * share, 100 * low, 100 * high, respondents)


# --- Selecting what was asked for, within what the viewer may see -------------------------------


@dataclass(frozen=True)
class _Selection:
    departments: frozenset[int]
    groups: frozenset[int]


def _selection(
    reference: Reference,
    *,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None,
    divisions: frozenset[int] | None,
    staff_groups: frozenset[int] | None,
) -> _Selection:
    chosen = set(reference.departments)
    if departments is not None:
        chosen &= set(departments)  # the viewer's scope: never widened by a filter
    if selected_departments is not None:
        chosen &= set(selected_departments)
    if divisions is not None:
        chosen = {d for d in chosen if reference.departments[d].division_id in divisions}
    groups = {group.id for group in reference.groups}
    if staff_groups is not None:
        groups &= set(staff_groups)
    return _Selection(frozenset(chosen), frozenset(groups))


def _atoms(
    cells: pd.DataFrame, reference: Reference, cycle_ids: Collection[int], minimum: int
) -> suppression.AtomTable:
    """Each cycle's cells split into atoms (see surveys.suppression)."""
    wanted = cells[cells["cycle_id"].isin(list(cycle_ids))]
    return suppression.AtomTable.from_cells(
        wanted["cycle_id"].to_numpy(),
        wanted["department_id"].to_numpy(),
        wanted["staff_group_id"].to_numpy(),
        wanted["responses"].to_numpy(),
        division_of=reference.division_of,
        minimum=minimum,
    )


def _release(
    atoms: suppression.AtomTable,
    data: pd.DataFrame,
    selection: _Selection,
    *,
    keys: Sequence[str],
    n: str,
    sums: Sequence[str],
    minimum: int,
) -> pd.DataFrame:
    return atoms.release(
        data,
        selected=atoms.selected(selection.departments, selection.groups),
        keys=keys,
        n=n,
        sums=sums,
        minimum=minimum,
    )


def _scores_by_department(
    atoms: suppression.AtomTable,
    scores: pd.DataFrame,
    selection: _Selection,
    minimum: int,
    *,
    key: str = "department_id",
) -> pd.DataFrame:
    """Released score sums for all selected departments together (`key` -1), then for each
    department (or, with `key` "division_id", each division: whole atoms never span two)."""
    sums = ["total", "total_sq"]
    overall = _release(atoms, scores, selection, keys=[], n="n", sums=sums, minimum=minimum)
    each = _release(atoms, scores, selection, keys=[key], n="n", sums=sums, minimum=minimum)
    return pd.concat([overall.assign(**{key: -1}), each], ignore_index=True)


def _covered_cells(
    atoms: suppression.AtomTable, selection: _Selection, cycle_id: int
) -> set[suppression.Cell]:
    """The cells of one cycle that a figure over the whole selection adds up."""
    mask = atoms.covered(atoms.selected(selection.departments, selection.groups))
    mask &= atoms.columns["cycle_id"] == cycle_id
    return set(
        zip(
            atoms.columns["department_id"][mask].tolist(),
            atoms.columns["staff_group_id"][mask].tolist(),
            strict=True,
        )
    )


def _mean_intervals(released: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means and 95% bounds from released n/total/total_sq sums, for all rows at once: the
    arithmetic of `scoring.mean_interval` (bounds are NaN where n is 1)."""
    n = released["n"].to_numpy(dtype=np.float64)
    total = released["total"].to_numpy(dtype=np.float64)
    total_sq = released["total_sq"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        degrees = np.maximum(n - 1, 0).astype(np.int64)
        quantiles = np.full(int(degrees.max(initial=0)) + 1, np.nan)
        for df in np.unique(degrees[degrees >= 1]).tolist():
            quantiles[df] = t_quantile_95(df)
        variance = np.maximum(0.0, (total_sq - n * mean * mean) / (n - 1))
        half = quantiles[degrees] * np.sqrt(variance / n)
    return mean, mean - half, mean + half


def _score_figures(
    released: pd.DataFrame, measures: Sequence[str], keys: Sequence[str], minimum: int
) -> dict[tuple, Figure]:
    """(cycle_id, measure key, *keys) -> Figure, from released n/total/total_sq sums."""
    mean, low, high = _mean_intervals(released)
    identities = zip(
        *(released[column].tolist() for column in ("cycle_id", "measure", *keys)), strict=True
    )
    missing = _missing(minimum)
    figures = {}
    for (cycle_id, measure, *rest), count, value, lower, upper in zip(
        identities,
        released["n"].tolist(),
        mean.tolist(),
        low.tolist(),
        high.tolist(),
        strict=True,
    ):
        key = (int(cycle_id), measures[int(measure)], *rest)
        if suppression.is_small(count, minimum):
            figures[key] = missing
        elif count == 1:
            figures[key] = Figure(value, None, None, 1, False)
        else:
            figures[key] = Figure(value, lower, upper, int(count), False)
    return figures


@functools.lru_cache(maxsize=8)
def _missing(minimum: int) -> Figure:
    """The figure shown in place of one resting on too few responses (immutable, shared)."""
    return Figure(None, None, None, 0, True, note=_suppressed_note(minimum))


def _sorted_departments(reference: Reference, ids: Collection[int]) -> list[DepartmentInfo]:
    return sorted(
        (reference.departments[d] for d in ids),
        key=lambda d: (reference.divisions[d.division_id].name, d.name),
    )


# --- Filter options -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterOptions:
    """What a viewer can pick from: only divisions and departments within their scope."""

    cycles: tuple[CycleRef, ...]  # newest first
    divisions: tuple[DivisionInfo, ...]
    departments: tuple[DepartmentInfo, ...]
    staff_groups: tuple[GroupInfo, ...]
    dimensions: tuple[DimensionInfo, ...]


def filter_options(
    data: Engine | ReportSource, *, departments: frozenset[int] | None
) -> FilterOptions:
    with _source(data) as source:
        reference = source.reference()
    allowed = _selection(
        reference,
        departments=departments,
        selected_departments=None,
        divisions=None,
        staff_groups=None,
    ).departments
    visible = _sorted_departments(reference, allowed)
    division_ids = {department.division_id for department in visible}
    return FilterOptions(
        cycles=tuple(reversed(reference.cycles)),
        divisions=tuple(
            sorted(
                (reference.divisions[d] for d in division_ids), key=lambda division: division.name
            )
        ),
        departments=tuple(visible),
        staff_groups=reference.shown_groups,
        dimensions=reference.dimensions,
    )


# --- Overview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionFigure:
    key: str
    label: str
    figure: Figure


@dataclass(frozen=True)
class DepartmentFigure:
    department_id: int
    department: str
    division: str
    figure: Figure


@dataclass(frozen=True)
class Overview:
    """The headline figures of one cycle for a selection."""

    cycle_id: int
    cycle: str
    previous_cycle: str | None
    responses: int | None  # None when suppressed
    invited: int | None
    response_rate: float | None  # 0-1
    index: Figure
    enps: Figure
    dimensions: tuple[DimensionFigure, ...]  # shown ones highest first, then suppressed ones
    strongest: tuple[DimensionFigure, ...]
    weakest: tuple[DimensionFigure, ...]  # lowest first
    declines: tuple[DepartmentFigure, ...]  # largest fall in the index first
    improvements: tuple[DepartmentFigure, ...]  # largest rise first
    minimum: int

    def table(self) -> pd.DataFrame:
        rows = [
            _figure_row("responses", "Responses", _count_figure(self.responses, self.minimum)),
            _figure_row("index", "Relationship Health Index", self.index),
            _figure_row("enps", "eNPS", self.enps),
        ]
        rows += [_figure_row(f"dimension:{d.key}", d.label, d.figure) for d in self.dimensions]
        rows += [
            _figure_row(f"department:{d.department_id}", f"{d.department} (index)", d.figure)
            for d in (*self.declines, *self.improvements)
        ]
        frame = pd.DataFrame(rows)
        frame.insert(0, "cycle", self.cycle)
        return frame


def _count_figure(count: int | None, minimum: int) -> Figure:
    if count is None:
        return _missing(minimum)
    return Figure(float(count), None, None, count, False)


def _figure_row(measure: str, label: str, figure: Figure) -> dict[str, object]:
    return {
        "measure": measure,
        "label": label,
        "value": figure.value,
        "low": figure.low,
        "high": figure.high,
        "n": figure.n if not figure.suppressed else None,
        "change": figure.change,
        "significant": figure.significant if figure.change is not None else None,
        "suppressed": figure.suppressed,
        "note": figure.note,
    }


def overview(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    movers: int = 3,
) -> Overview:
    """Responses, response rate, index, eNPS, dimensions and biggest movers for one cycle."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with _source(data) as source:
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=staff_groups,
        )
        cells = source.cells(cycle_ids)
        invitations = source.invitations(cycle_id)
        measures = [INDEX, *(d.key for d in reference.dimensions)]
        scores = source.scores(cycle_ids, measures)
        nps_items = [item.id for item in reference.items.values() if item.scale == NPS_SCALE]
        nps = source.answer_counts(cycle_ids, nps_items, NPS_VALUES)
    atoms = _atoms(cells, reference, cycle_ids, minimum)

    # Responses, and the response rate over exactly the cells those responses come from
    # (plus selected cells where nobody answered: their invitations are not a secret).
    covered = _covered_cells(atoms, selection, cycle_id)
    this_cycle = cells[cells["cycle_id"] == cycle_id]
    per_cell = dict(
        zip(
            zip(
                this_cycle["department_id"].tolist(),
                this_cycle["staff_group_id"].tolist(),
                strict=True,
            ),
            this_cycle["responses"].tolist(),
            strict=True,
        )
    )
    answered = set(per_cell)
    responses = sum(count for cell, count in per_cell.items() if cell in covered) or None
    invited = 0
    for department, group, count in invitations.itertuples(index=False):
        cell = (department, group)
        in_selection = department in selection.departments and group in selection.groups
        if in_selection and (cell in covered or cell not in answered):
            invited += int(count)
    rate = responses / invited if responses and invited else None
    if responses is None:
        invited = None

    sums = ["total", "total_sq"]
    overall = _score_figures(
        _release(atoms, scores, selection, keys=[], n="n", sums=sums, minimum=minimum),
        measures,
        [],
        minimum,
    )

    def figure(measure: str) -> Figure:
        now = overall.get((cycle_id, measure), _missing(minimum))
        before = overall.get((previous.id, measure)) if previous else None
        return _with_change(now, before)

    index = figure(INDEX)
    nps_values = [f"v{v}" for v in NPS_VALUES]
    nps = nps.assign(measure=0, n=nps[nps_values].sum(axis=1))
    enps_figures = _enps_figures(
        _release(atoms, nps, selection, keys=[], n="n", sums=nps_values, minimum=minimum),
        minimum,
    )
    enps_figure = _with_change(
        enps_figures.get(cycle_id, _missing(minimum)),
        enps_figures.get(previous.id) if previous else None,
    )

    relationship_dimensions = [d for d in reference.dimensions if d.in_index]
    dimension_figures = [
        DimensionFigure(d.key, d.label, figure(d.key)) for d in reference.dimensions
    ]
    dimension_figures.sort(key=lambda d: (d.figure.suppressed, -(d.figure.value or 0.0), d.label))
    ranked = [
        d
        for d in dimension_figures
        if not d.figure.suppressed and d.key in {r.key for r in relationship_dimensions}
    ]
    strongest = tuple(ranked[:movers])
    weakest = tuple(reversed(ranked[-movers:])) if ranked else ()

    by_department = _score_figures(
        _release(
            atoms,
            scores[scores["measure"] == measures.index(INDEX)],
            selection,
            keys=["department_id"],
            n="n",
            sums=sums,
            minimum=minimum,
        ),
        measures,
        ["department_id"],
        minimum,
    )
    changes = []
    if previous is not None:
        for department in _sorted_departments(reference, selection.departments):
            now = by_department.get((cycle_id, INDEX, department.id))
            before = by_department.get((previous.id, INDEX, department.id))
            if now is None or before is None:
                continue
            changed = _with_change(now, before)
            changes.append(
                DepartmentFigure(
                    department.id,
                    department.name,
                    reference.divisions[department.division_id].name,
                    changed,
                )
            )
    falling = sorted((c for c in changes if (c.figure.change or 0) < 0), key=_change_key)
    rising = sorted(
        (c for c in changes if (c.figure.change or 0) > 0), key=_change_key, reverse=True
    )
    return Overview(
        cycle_id=cycle.id,
        cycle=cycle.name,
        previous_cycle=previous.name if previous else None,
        responses=responses,
        invited=invited,
        response_rate=rate,
        index=index,
        enps=enps_figure,
        dimensions=tuple(dimension_figures),
        strongest=strongest,
        weakest=weakest,
        declines=tuple(falling[:movers]),
        improvements=tuple(rising[:movers]),
        minimum=minimum,
    )


def _change_key(item: DepartmentFigure) -> tuple[float, str]:
    return (item.figure.change or 0.0, item.department)


def _enps_figures(released: pd.DataFrame, minimum: int) -> dict[int, Figure]:
    figures = {}
    for row in released.itertuples(index=False):
        record = row._asdict()
        counts = {value: int(record[f"v{value}"]) for value in NPS_VALUES}
        figures[int(record["cycle_id"])] = _shown(enps(counts), minimum)
    return figures


def _department_grid(
    atoms: suppression.AtomTable,
    scores: pd.DataFrame,
    selection: _Selection,
    *,
    cycle_id: int,
    previous_id: int | None,
    departments: Sequence[int | None],
    measures: int,
    minimum: int,
    key: str = "department_id",
) -> list[Figure | None]:
    """Figures for every department (None: all selected) × measure, in that order, with the
    change from the previous cycle: the same arithmetic as `_score_figures` and
    `_with_change`, done for the whole grid at once. None where suppressed. With `key`
    "division_id", `departments` holds division ids instead."""
    released = _scores_by_department(atoms, scores, selection, minimum, key=key)
    mean, low, high = _mean_intervals(released)
    count = released["n"].to_numpy(dtype=np.float64)
    shown = count >= minimum
    place = {department: index for index, department in enumerate(departments)}
    row = np.asarray(
        [place.get(None if d == -1 else d, -1) for d in released[key].tolist()],
        dtype=np.int64,
    )
    position = row * measures + released["measure"].to_numpy(dtype=np.int64)
    size = len(departments) * measures

    def layer(cycle: int | None) -> tuple[np.ndarray, ...]:
        value, lower, upper, n = (np.full(size, np.nan) for _ in range(4))
        if cycle is not None:
            mask = shown & (row >= 0) & (released["cycle_id"].to_numpy() == cycle)
            value[position[mask]] = mean[mask]
            lower[position[mask]] = low[mask]
            upper[position[mask]] = high[mask]
            n[position[mask]] = count[mask]
        return value, lower, upper, n

    value, lower, upper, n = layer(cycle_id)
    before, before_low, before_high, _ = layer(previous_id)
    change = value - before
    combined = np.hypot((upper - lower) / (2 * Z_95), (before_high - before_low) / (2 * Z_95))
    with np.errstate(invalid="ignore"):
        significant = np.where(combined == 0, change != 0, np.abs(change) > Z_95 * combined)
    significant &= ~np.isnan(combined)
    figures: list[Figure | None] = []
    for v, lo, hi, k, c, sig in zip(
        value.tolist(), lower.tolist(), upper.tolist(), n.tolist(), change.tolist(),
        significant.tolist(), strict=True,
    ):  # fmt: skip
        if v != v:  # NaN: nothing shown
            figures.append(None)
            continue
        bounds = (None, None) if lo != lo else (lo, hi)
        figures.append(
            Figure(v, *bounds, int(k), False, None if c != c else c, bool(sig) and c == c)
        )
    return figures


# --- Heatmap ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapCell:
    department_id: int | None  # None for the row of all selected departments
    department: str
    dimension: str
    label: str
    figure: Figure


HeatmapRows = Literal["department", "division"]


@dataclass(frozen=True)
class Heatmap:
    """Departments (or divisions) × dimensions for one cycle, in percent favourable."""

    cycle_id: int
    cycle: str
    previous_cycle: str | None
    # (department id, name), the total row first; division ids and names when `by` says so.
    rows: tuple[tuple[int | None, str], ...]
    dimensions: tuple[DimensionInfo, ...]
    cells: tuple[HeatmapCell, ...]
    minimum: int
    by: HeatmapRows = "department"

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            [
                {
                    "cycle": self.cycle,
                    "department_id": cell.department_id,
                    "department": cell.department,
                    "dimension": cell.dimension,
                    "dimension_label": cell.label,
                    **_figure_row(cell.dimension, cell.label, cell.figure),
                }
                for cell in self.cells
            ]
        )
        if frame.empty:
            return frame
        frame["department_id"] = frame["department_id"].astype("Int64")
        frame = frame.drop(columns=["measure", "label"])
        if self.by == "division":
            frame = frame.rename(columns={"department_id": "division_id", "department": "division"})
        return frame


def heatmap(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    by: HeatmapRows = "department",
) -> Heatmap:
    """Every selected department's percent favourable per dimension, with n and change; with
    `by` "division", a row per division instead (for organisations too large to read whole).
    A division's figure adds up only whole atoms, like every other figure."""
    if by not in ("department", "division"):
        raise ValueError(f"A heatmap has a row per department or per division, not {by!r}")
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with _source(data) as source:
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=staff_groups,
        )
        cells = source.cells(cycle_ids)
        measures = [d.key for d in reference.dimensions]
        scores = source.scores(cycle_ids, measures)
    atoms = _atoms(cells, reference, cycle_ids, minimum)
    rows: list[tuple[int | None, str]] = [(None, ALL_SELECTED)]
    shown = _sorted_departments(reference, selection.departments)
    if by == "division":
        division_ids = {department.division_id for department in shown}
        rows += sorted(
            ((d, reference.divisions[d].name) for d in division_ids), key=lambda row: row[1]
        )
    else:
        rows += [(d.id, d.name) for d in shown]
    grid = _department_grid(
        atoms,
        scores,
        selection,
        cycle_id=cycle.id,
        previous_id=previous.id if previous else None,
        departments=[row_id for row_id, _ in rows],
        measures=len(measures),
        minimum=minimum,
        key=f"{by}_id",
    )
    missing = _missing(minimum)
    heat_cells = []
    figures = iter(grid)
    for department_id, name in rows:
        for dimension in reference.dimensions:
            figure = next(figures)
            heat_cells.append(
                HeatmapCell(department_id, name, dimension.key, dimension.label, figure or missing)
            )
    return Heatmap(
        cycle_id=cycle.id,
        cycle=cycle.name,
        previous_cycle=previous.name if previous else None,
        rows=tuple(rows),
        dimensions=reference.dimensions,
        cells=tuple(heat_cells),
        minimum=minimum,
        by=by,
    )


# --- Trends -------------------------------------------------------------------------------------


def _cycles_in_range(reference: Reference, cycle_range: tuple[int, int] | None) -> list[CycleRef]:
    if cycle_range is None:
        return list(reference.cycles)
    first, last = (reference.cycle(cycle_id) for cycle_id in cycle_range)
    if (first.opens, first.id) > (last.opens, last.id):
        first, last = last, first
    return [
        cycle
        for cycle in reference.cycles
        if (first.opens, first.id) <= (cycle.opens, cycle.id) <= (last.opens, last.id)
    ]


TREND_COLUMNS = [
    "cycle_id",
    "cycle",
    "opens",
    "department_id",
    "department",
    "measure",
    "label",
    "value",
    "low",
    "high",
    "n",
    "suppressed",
    "note",
]


def trends(
    data: Engine | ReportSource,
    *,
    departments: frozenset[int] | None,
    measure: str = INDEX,
    cycle_range: tuple[int, int] | None = None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
) -> pd.DataFrame:
    """The index (or one dimension) per department and cycle, with 95% bands.

    One row per cycle and selected department, plus rows with `department_id` NA for all
    selected departments together; suppressed points have NA values and `suppressed` True.
    """
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with _source(data) as source:
        reference = source.reference()
        if measure == INDEX:
            label = "Relationship Health Index"
        else:
            label = reference.dimension(measure).label
        cycles = _cycles_in_range(reference, cycle_range)
        cycle_ids = [cycle.id for cycle in cycles]
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=staff_groups,
        )
        cells = source.cells(cycle_ids)
        scores = source.scores(cycle_ids, [measure])
    atoms = _atoms(cells, reference, cycle_ids, minimum)
    released = _scores_by_department(atoms, scores, selection, minimum)
    mean, low, high = _mean_intervals(released)
    shown = released["n"].to_numpy() >= minimum
    figures = pd.DataFrame(
        {
            "cycle_id": released["cycle_id"].to_numpy(dtype=np.int64),
            "department_id": released["department_id"].to_numpy(dtype=np.int64),
            "value": np.where(shown, mean, np.nan),
            "low": np.where(shown, low, np.nan),
            "high": np.where(shown, high, np.nan),
            "n": np.where(shown, released["n"].to_numpy(dtype=np.float64), np.nan),
        }
    )
    # Every cycle × (all selected, then each department), figures where there are some.
    targets = [(-1, ALL_SELECTED)]
    targets += [(d.id, d.name) for d in _sorted_departments(reference, selection.departments)]
    grid = pd.DataFrame(
        {
            "cycle_id": np.repeat([c.id for c in cycles], len(targets)),
            "cycle": np.repeat([c.name for c in cycles], len(targets)),
            "opens": np.repeat(np.asarray([c.opens for c in cycles], dtype=object), len(targets)),
            "department_id": np.tile([t[0] for t in targets], len(cycles)).astype(np.int64),
            "department": np.tile(np.asarray([t[1] for t in targets], dtype=object), len(cycles)),
        }
    )
    frame = grid.merge(figures, on=["cycle_id", "department_id"], how="left")
    frame["suppressed"] = frame["value"].isna()
    frame["note"] = np.where(frame["suppressed"], _suppressed_note(minimum), "")
    frame["n"] = frame["n"].astype("Int64")
    frame["department_id"] = (
        frame["department_id"].astype("Int64").mask(frame["department_id"] == -1)
    )
    frame["measure"], frame["label"] = measure, label
    return frame[TREND_COLUMNS]


def _figure_values(figure: Figure) -> tuple[object, ...]:
    return (
        figure.value,
        figure.low,
        figure.high,
        None if figure.suppressed else figure.n,
        figure.suppressed,
        figure.note,
    )


# --- Relationships between groups --------------------------------------------------------------


@dataclass(frozen=True)
class RelationshipCell:
    rater_id: int
    rater: str
    rated_id: int | None  # None for patients and families
    rated: str
    figure: Figure


@dataclass(frozen=True)
class Asymmetry:
    """`rater` rates `rated` clearly lower than `rated` rates `rater`."""

    rater_id: int
    rater: str
    rated_id: int
    rated: str
    value: float
    reverse_value: float
    difference: float  # reverse_value - value, in points


@dataclass(frozen=True)
class Relationships:
    """Percent favourable of each group (rows: rated) as each group sees it (columns: rating)."""

    cycle_id: int
    cycle: str
    raters: tuple[GroupInfo, ...]
    rated: tuple[tuple[int | None, str], ...]  # staff groups, then patients and families
    cells: tuple[RelationshipCell, ...]
    asymmetries: tuple[Asymmetry, ...]
    minimum: int

    def cell(self, rater_id: int, rated_id: int | None) -> RelationshipCell:
        return next(c for c in self.cells if (c.rater_id, c.rated_id) == (rater_id, rated_id))

    def table(self) -> pd.DataFrame:
        asymmetric = {(a.rater_id, a.rated_id) for a in self.asymmetries}
        frame = pd.DataFrame(
            [
                {
                    "cycle": self.cycle,
                    "rating_group": cell.rater,
                    "rated_group": cell.rated,
                    **_figure_row("", "", cell.figure),
                    "rates_lower_than_rated_back": (cell.rater_id, cell.rated_id) in asymmetric,
                }
                for cell in self.cells
            ]
        )
        return frame.drop(columns=["measure", "label"])


def _relationship_sets(reference: Reference) -> dict[str, list[ItemRef]]:
    """The items of each relationship the matrix shows: the shown groups, then patients."""
    by_target: dict[str | None, list[ItemRef]] = {}
    for item in reference.items.values():
        by_target.setdefault(relationship_target(item.section, item.about_group_id), []).append(
            item
        )
    keys = [f"group:{group.id}" for group in reference.shown_groups] + [PATIENTS]
    return {key: by_target[key] for key in keys if by_target.get(key)}


def _relationship_figures(
    source: ReportSource,
    reference: Reference,
    cycle_ids: list[int],
    selection: _Selection,
    minimum: int,
) -> tuple[dict[tuple[int, str, int], Figure], dict[str, list[ItemRef]]]:
    """(cycle_id, set key, rater group id) -> Figure."""
    sets = _relationship_sets(reference)
    cells = source.cells(cycle_ids)
    counts = source.relationship_counts(cycle_ids, sets)
    atoms = _atoms(cells, reference, cycle_ids, minimum)
    keys = list(sets)
    # Respondents behind a set in a cell: its answers per item of the cycle's instrument.
    instrument_of = {cycle.id: cycle.instrument_id for cycle in reference.cycles}
    cycle_order = np.asarray(sorted(instrument_of), dtype=np.int64)
    items_in_set = np.asarray(
        [
            [
                max(1, sum(1 for item in sets[key] if item.instrument_id == instrument_of[c]))
                for c in cycle_order.tolist()
            ]
            for key in keys
        ],
        dtype=np.float64,
    ).reshape(len(keys), len(cycle_order))
    if len(counts):
        per_item = items_in_set[
            counts["measure"].to_numpy(),
            np.searchsorted(cycle_order, counts["cycle_id"].to_numpy()),
        ]
        counts = counts.assign(n=counts["applicable"].to_numpy() / per_item)
    else:
        counts = counts.assign(n=pd.Series(dtype="float64"))
    released = _release(
        atoms,
        counts,
        selection,
        keys=["staff_group_id"],
        n="n",
        sums=["favourable", "applicable"],
        minimum=minimum,
    )
    figures = {}
    for cycle_id, measure, rater, favourable, applicable in zip(
        *(
            released[column].tolist()
            for column in ("cycle_id", "measure", "staff_group_id", "favourable", "applicable")
        ),
        strict=True,
    ):
        items = items_in_set[int(measure), int(np.searchsorted(cycle_order, cycle_id))]
        estimate = pooled_percent_favourable(int(favourable), int(applicable), int(items))
        figures[(int(cycle_id), keys[int(measure)], int(rater))] = _shown(estimate, minimum)
    return figures, sets


def _rated_targets(
    reference: Reference, sets: Mapping[str, object]
) -> list[tuple[int | None, str, str]]:
    targets: list[tuple[int | None, str, str]] = [
        (group.id, group.name, f"group:{group.id}")
        for group in reference.shown_groups
        if f"group:{group.id}" in sets
    ]
    if PATIENTS in sets:
        targets.append((None, PATIENTS_LABEL, PATIENTS))
    return targets


def relationships(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    asymmetry_points: float = ASYMMETRY_POINTS,
) -> Relationships:
    """How each staff group rates working with each other group, and with patients."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with _source(data) as source:
        reference = source.reference()
        cycle, previous, cycle_ids = reference.with_previous(cycle_id)
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=None,
        )
        figures, sets = _relationship_figures(source, reference, cycle_ids, selection, minimum)
    targets = _rated_targets(reference, sets)
    matrix = []
    for rated_id, rated_name, key in targets:
        for rater in reference.shown_groups:
            now = figures.get((cycle.id, key, rater.id), _missing(minimum))
            before = figures.get((previous.id, key, rater.id)) if previous else None
            matrix.append(
                RelationshipCell(
                    rater.id, rater.name, rated_id, rated_name, _with_change(now, before)
                )
            )
    result = Relationships(
        cycle_id=cycle.id,
        cycle=cycle.name,
        raters=reference.shown_groups,
        rated=tuple((rated_id, name) for rated_id, name, _ in targets),
        cells=tuple(matrix),
        asymmetries=(),
        minimum=minimum,
    )
    return _with_asymmetries(result, asymmetry_points)


def _with_asymmetries(result: Relationships, points: float) -> Relationships:
    flagged = []
    by_pair = {(c.rater_id, c.rated_id): c for c in result.cells}
    for (rater_id, rated_id), cell in by_pair.items():
        if rated_id is None or rated_id == rater_id:
            continue
        back = by_pair.get((rated_id, rater_id))
        if back is None or cell.figure.suppressed or back.figure.suppressed:
            continue
        assert cell.figure.value is not None and back.figure.value is not None
        difference = back.figure.value - cell.figure.value
        if difference >= points and change_is_significant(
            cell.figure.estimate, back.figure.estimate
        ):
            flagged.append(
                Asymmetry(
                    rater_id,
                    cell.rater,
                    rated_id,
                    cell.rated,
                    cell.figure.value,
                    back.figure.value,
                    difference,
                )
            )
    flagged.sort(key=lambda a: -a.difference)
    return Relationships(
        cycle_id=result.cycle_id,
        cycle=result.cycle,
        raters=result.raters,
        rated=result.rated,
        cells=result.cells,
        asymmetries=tuple(flagged),
        minimum=result.minimum,
    )


RELATIONSHIP_TREND_COLUMNS = [
    "cycle_id",
    "cycle",
    "opens",
    "rater_id",
    "rater",
    "rated_id",
    "rated",
    "value",
    "low",
    "high",
    "n",
    "suppressed",
    "note",
]


def relationship_trends(
    data: Engine | ReportSource,
    *,
    departments: frozenset[int] | None,
    cycle_range: tuple[int, int] | None = None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
) -> pd.DataFrame:
    """The relationship matrix in every cycle of the range: one row per cycle and pair."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with _source(data) as source:
        reference = source.reference()
        cycles = _cycles_in_range(reference, cycle_range)
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=None,
        )
        figures, sets = _relationship_figures(
            source, reference, [c.id for c in cycles], selection, minimum
        )
    rows = []
    for cycle in cycles:
        for rated_id, rated_name, key in _rated_targets(reference, sets):
            for rater in reference.shown_groups:
                shown = figures.get((cycle.id, key, rater.id), _missing(minimum))
                rows.append(
                    (cycle.id, cycle.name, cycle.opens, rater.id, rater.name, rated_id, rated_name)
                    + _figure_values(shown)
                )
    frame = pd.DataFrame(rows, columns=RELATIONSHIP_TREND_COLUMNS)
    frame["rated_id"] = frame["rated_id"].astype("Int64")
    return frame


# --- Item detail --------------------------------------------------------------------------------

ITEM_COLUMNS = [
    "item_id",
    "code",
    "text",
    "dimension",
    "about_group",
    "n",
    "not_applicable",
    *(f"count_{v}" for v in LIKERT_VALUES),
    *(f"percent_{v}" for v in LIKERT_VALUES),
    "percent_favourable",
    "suppressed",
    "note",
]


def item_distributions(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    dimension: str | None = None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
) -> pd.DataFrame:
    """How answers to each 1-5 item of a dimension (or of every dimension) spread, after
    reverse-scoring: counts and percents per scored value, n and "does not apply"."""
    # From the settings only: a page must not be able to lower it.
    minimum = get_settings().min_group_size
    with _source(data) as source:
        reference = source.reference()
        cycle = reference.cycle(cycle_id)
        if dimension is not None:
            reference.dimension(dimension)
        items = [
            item
            for item in reference.items.values()
            if item.instrument_id == cycle.instrument_id
            and item.scale != NPS_SCALE
            and (dimension is None or item.dimension == dimension)
        ]
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=staff_groups,
        )
        cells = source.cells([cycle_id])
        counts = source.answer_counts([cycle_id], [item.id for item in items], LIKERT_VALUES)
    atoms = _atoms(cells, reference, [cycle_id], minimum)
    values = [f"v{v}" for v in LIKERT_VALUES]
    counts = counts.assign(measure=counts["item_id"], n=counts[values].sum(axis=1))
    released = _release(
        atoms, counts, selection, keys=[], n="n", sums=["n_na", *values], minimum=minimum
    )
    group_names = {group.id: group.name for group in reference.groups}
    position = {measure: row for row, measure in enumerate(released["measure"].tolist())}
    found = np.asarray([position.get(item.id, -1) for item in items], dtype=np.int64)
    released_values = np.vstack(
        [
            released[["n", "n_na", *values]].to_numpy(dtype=np.float64),
            np.full((1, 2 + len(values)), np.nan),  # where items with no figure point
        ]
    )
    shown_values = released_values[found].reshape(len(items), 2 + len(values))
    n = shown_values[:, 0]
    hidden = np.isnan(n) | (n < minimum)
    shown_values[hidden] = np.nan
    n = shown_values[:, 0]
    reverse = np.asarray([item.reverse for item in items], dtype=bool)
    rows = np.arange(len(items))
    columns: dict[str, object] = {
        "item_id": [item.id for item in items],
        "code": [item.code for item in items],
        "text": [item.text for item in items],
        "dimension": [item.dimension for item in items],
        "about_group": [group_names.get(item.about_group_id) for item in items],
        "n": _whole(n),
        "not_applicable": _whole(shown_values[:, 1]),
    }
    favourable = np.zeros(len(items))
    percents = {}
    for value in LIKERT_VALUES:
        # Negatively worded items: raw answer 1 is scored 5, and so on.
        raw = np.where(reverse, LIKERT_POINTS + 1 - value, value)
        count = shown_values[rows, 1 + raw]
        columns[f"count_{value}"] = _whole(count)
        percents[f"percent_{value}"] = 100 * count / n
        if value >= FAVOURABLE_MIN:
            favourable = favourable + count
    columns |= percents
    columns["percent_favourable"] = 100 * favourable / n
    columns["suppressed"] = hidden
    columns["note"] = [_suppressed_note(minimum) if h else "" for h in hidden.tolist()]
    return pd.DataFrame(columns)[ITEM_COLUMNS]


def _whole(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Counts as nullable integers: missing where suppressed."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(
        np.where(missing, 0, np.rint(np.nan_to_num(values))).astype(np.int64), missing
    )


# --- Comments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comments:
    """Comment texts in a fresh random order, or none when the group is too small."""

    texts: tuple[str, ...]
    suppressed: bool
    minimum: int
    note: str = ""

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"comment": list(self.texts)})


def comments(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    limit: int | None = None,
) -> Comments:
    """Comments of the selection, only from groups of at least the comment minimum.

    Plain strings, shuffled on every call, with no date, department or group attached: the
    page must show them as text (st.text), never as markdown or HTML.
    """
    minimum = get_settings().min_comment_group_size
    with _source(data) as source:
        reference = source.reference()
        reference.cycle(cycle_id)
        selection = _selection(
            reference,
            departments=departments,
            selected_departments=selected_departments,
            divisions=divisions,
            staff_groups=staff_groups,
        )
        cells = source.cells([cycle_id])
        atoms = _atoms(cells, reference, [cycle_id], minimum)
        covered = _covered_cells(atoms, selection, cycle_id)
        texts = source.comments(cycle_id, covered)
    random.SystemRandom().shuffle(texts)
    if limit is not None:
        texts = texts[:limit]
    # Also when nobody in the selection answered: "none" and "too few" must look the same.
    is_suppressed = not covered
    return Comments(
        tuple(texts),
        is_suppressed,
        minimum,
        note=f"comments are shown for groups of {minimum} or more responses"
        if is_suppressed
        else "",
    )


# --- Downloads ----------------------------------------------------------------------------------


def to_csv(result: pd.DataFrame | Any) -> str:
    """The aggregates behind a chart as CSV that spreadsheets will not execute.

    Accepts any result above (its `table()`) or a DataFrame these functions returned.
    """
    frame = result if isinstance(result, pd.DataFrame) else result.table()
    return frame_to_csv(frame)


__all__ = [
    "ALL_SELECTED",
    "Asymmetry",
    "Comments",
    "CycleSummary",
    "DepartmentFigure",
    "DimensionFigure",
    "Figure",
    "FilterOptions",
    "Heatmap",
    "HeatmapCell",
    "Overview",
    "Relationships",
    "RelationshipCell",
    "ReportSource",
    "RollupSource",
    "comments",
    "cycle_summaries",
    "data_version",
    "filter_options",
    "heatmap",
    "item_distributions",
    "overview",
    "relationship_trends",
    "relationships",
    "suppressed",
    "to_csv",
    "trends",
]
