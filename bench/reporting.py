"""How fast the dashboard's figures are: from rollups, against DuckDB and pandas on raw answers.

(a) every figure the dashboard shows for one cycle, plus the trends over all cycles, through
    `surveys.reporting` reading the rollups (a fresh connection per figure, as a page would);
(b) the same figures with the cell-level aggregates computed by DuckDB straight from the raw
    answers, exported to Parquet beforehand (the export is not timed);
(c) naive pandas: read every answer into memory (timed), then group by.

All three feed the same suppression and scoring code, so they must give the same numbers;
`compare` checks that they do, which is the real test of the rollups.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Engine, text

from bench import rerun
from surveys import reporting
from surveys.organisation.cycles import change_cycle_state, list_cycles
from surveys.records import CycleState, ItemInfo
from surveys.reporting.reference import Reference
from surveys.reporting.source import FAVOURABLE_COLUMNS, SCORE_COLUMNS, load_reference
from surveys.scoring import FAVOURABLE_MIN, INDEX, LIKERT_POINTS, NPS_SCALE

CELL = ["cycle_id", "department_id", "staff_group_id"]
RAW_TABLES = {
    "response": "SELECT id, cycle_id, department_id, staff_group_id FROM response",
    # "Does not apply" is NULL; -1 keeps the column integer on the way out, NULL again below.
    "answer": "SELECT response_id, item_id, COALESCE(value, -1) FROM answer",
    "comment": "SELECT cycle_id, department_id, staff_group_id, text FROM comment",
    "invitation": "SELECT cycle_id, department_id, staff_group_id, is_open FROM invitation",
}
RAW_COLUMNS = {
    "response": ["id", "cycle_id", "department_id", "staff_group_id"],
    "answer": ["response_id", "item_id", "value"],
    "comment": ["cycle_id", "department_id", "staff_group_id", "text"],
    "invitation": ["cycle_id", "department_id", "staff_group_id", "is_open"],
}
CHUNK_ROWS = 1_000_000


# --- Raw answers out of the database, once ------------------------------------------------------


def export_raw(engine: Engine, folder: Path) -> Path:
    """Write the raw tables to Parquet (skipped when this data version is already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "data_version.json"
    version = {"url": engine.url.render_as_string(), "responses": reporting.data_version(engine)}
    if stamp.exists() and json.loads(stamp.read_text()) == version:
        return folder
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        for table, sql in RAW_TABLES.items():
            if engine.dialect.name == "postgresql":
                arrow = _copy_out(raw, sql, RAW_COLUMNS[table])
            else:
                arrow = _fetch_out(raw, sql, RAW_COLUMNS[table])
            if table == "answer":
                value = arrow["value"].to_numpy().astype(np.int16)
                arrow = arrow.set_column(
                    2, "value", pa.array(value, mask=value < 0, type=pa.int16())
                )
            pq.write_table(arrow, folder / f"{table}.parquet")
    stamp.write_text(json.dumps(version))
    return folder


def _fetch_out(raw: Any, sql: str, columns: list[str]) -> pa.Table:
    cursor = raw.cursor()
    cursor.execute(sql)
    batches = []
    while rows := cursor.fetchmany(CHUNK_ROWS):
        batches.append(pa.table(dict(zip(columns, zip(*rows, strict=True), strict=True))))
    cursor.close()
    if not batches:
        return pa.table({column: [] for column in columns})
    return pa.concat_tables(batches, promote_options="default")


def _copy_out(raw: Any, sql: str, columns: list[str]) -> pa.Table:
    buffer = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pa.table({column: [] for column in columns})
    return pa_csv.read_csv(buffer, read_options=pa_csv.ReadOptions(column_names=columns))


# --- (b) DuckDB over the raw answers ------------------------------------------------------------


def _ids(values: Collection[int]) -> str:
    return ", ".join(str(int(value)) for value in sorted(values)) or "NULL"


class DuckDBSource:
    """Cell-level aggregates computed by DuckDB from raw answers (a `reporting.ReportSource`)."""

    def __init__(self, folder: Path, reference: Reference, *, threads: int | None = None) -> None:
        self.db = duckdb.connect()
        if threads:
            self.db.execute(f"SET threads = {int(threads)}")
        for table in RAW_TABLES:
            path = str(folder / f"{table}.parquet").replace("'", "''")
            self.db.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
        self._reference = reference

    def reference(self) -> Reference:
        return self._reference

    def _df(self, sql: str) -> pd.DataFrame:
        return self.db.execute(sql).df()

    def cells(self, cycle_ids: Collection[int]) -> pd.DataFrame:
        frame = self._df(
            "SELECT cycle_id, department_id, staff_group_id, COUNT(*) AS responses"
            f" FROM response WHERE cycle_id IN ({_ids(cycle_ids)}) GROUP BY ALL"
        )
        return frame.astype("int64")

    def scores(self, cycle_ids: Collection[int], measures: Sequence[str]) -> pd.DataFrame:
        """Each respondent's scores in one pass over the answers, as rollups.rebuild does."""
        position = {measure: index for index, measure in enumerate(measures)}
        items = pd.DataFrame(
            {
                "item_id": [item.id for item in self._reference.items.values()],
                "measure": [
                    position.get(item.dimension, -1) for item in self._reference.items.values()
                ],
                "reverse": [item.reverse for item in self._reference.items.values()],
                "in_index": [
                    item.in_index and item.scale != NPS_SCALE and INDEX in position
                    for item in self._reference.items.values()
                ],
                "likert": [item.scale != NPS_SCALE for item in self._reference.items.values()],
            }
        )
        self.db.register("item_map", items)
        index_position = position.get(INDEX, -1)
        frame = self._df(
            "WITH scored AS ("
            " SELECT r.id, r.cycle_id, r.department_id, r.staff_group_id, i.measure, i.in_index,"
            f" CASE WHEN i.reverse THEN {LIKERT_POINTS + 1} - a.value ELSE a.value END AS score"
            " FROM answer a JOIN response r ON r.id = a.response_id"
            " JOIN item_map i ON i.item_id = a.item_id"
            f" WHERE r.cycle_id IN ({_ids(cycle_ids)}) AND a.value IS NOT NULL AND i.likert"
            " AND (i.measure >= 0 OR i.in_index)),"
            " per_respondent AS ("
            " SELECT id, cycle_id, department_id, staff_group_id, measure,"
            f" 100.0 * AVG(CASE WHEN score >= {FAVOURABLE_MIN} THEN 1 ELSE 0 END) AS score"
            " FROM scored WHERE measure >= 0 GROUP BY ALL"
            " UNION ALL"
            f" SELECT id, cycle_id, department_id, staff_group_id, {index_position} AS measure,"
            f" AVG((score - 1) * {100.0 / (LIKERT_POINTS - 1)}) AS score"
            " FROM scored WHERE in_index GROUP BY ALL)"
            " SELECT cycle_id, department_id, staff_group_id, measure, COUNT(*) AS n,"
            " SUM(score) AS total, SUM(score * score) AS total_sq FROM per_respondent GROUP BY ALL"
        )
        self.db.unregister("item_map")
        if frame.empty:
            return pd.DataFrame({column: [] for column in SCORE_COLUMNS})
        return frame.astype({c: "int64" for c in SCORE_COLUMNS[:5]})[SCORE_COLUMNS]

    def answer_counts(
        self, cycle_ids: Collection[int], item_ids: Collection[int], values: Sequence[int]
    ) -> pd.DataFrame:
        counts = ", ".join(
            f"COUNT(*) FILTER (WHERE a.value = {int(v)}) AS v{int(v)}" for v in values
        )
        frame = self._df(
            "SELECT r.cycle_id, r.department_id, r.staff_group_id, a.item_id,"
            f" COUNT(*) FILTER (WHERE a.value IS NULL) AS n_na, {counts}"
            " FROM answer a JOIN response r ON r.id = a.response_id"
            f" WHERE r.cycle_id IN ({_ids(cycle_ids)}) AND a.item_id IN ({_ids(item_ids)})"
            " GROUP BY ALL"
        )
        return frame.astype("int64")

    def relationship_counts(
        self, cycle_ids: Collection[int], item_sets: Mapping[str, Sequence[ItemInfo]]
    ) -> pd.DataFrame:
        members = [(item.id, index, item.reverse) for index, items in
                   enumerate(item_sets.values()) for item in items]  # fmt: skip
        if not members:
            return pd.DataFrame({column: [] for column in FAVOURABLE_COLUMNS})
        self.db.register(
            "set_map", pd.DataFrame(members, columns=["item_id", "measure", "reverse"])
        )
        frame = self._df(
            "SELECT r.cycle_id, r.department_id, r.staff_group_id, s.measure,"
            f" COUNT(*) FILTER (WHERE CASE WHEN s.reverse THEN {LIKERT_POINTS + 1} - a.value"
            f" ELSE a.value END >= {FAVOURABLE_MIN}) AS favourable,"
            " COUNT(a.value) AS applicable"
            " FROM answer a JOIN response r ON r.id = a.response_id"
            " JOIN set_map s ON s.item_id = a.item_id"
            f" WHERE r.cycle_id IN ({_ids(cycle_ids)}) GROUP BY ALL"
        )
        self.db.unregister("set_map")
        return frame.astype("int64")[FAVOURABLE_COLUMNS]

    def invitations(self, cycle_id: int) -> pd.DataFrame:
        frame = self._df(
            "SELECT department_id, staff_group_id, COUNT(*) AS invited FROM invitation"
            f" WHERE cycle_id = {int(cycle_id)} AND NOT is_open GROUP BY ALL"
        )
        return frame.astype("int64")

    def comments(self, cycle_id: int, cells: Collection[tuple[int, int]]) -> list[str]:
        wanted = set(cells)
        rows = self.db.execute(
            "SELECT department_id, staff_group_id, text FROM comment"
            f" WHERE cycle_id = {int(cycle_id)}"
        ).fetchall()
        return [text for department, group, text in rows if (department, group) in wanted]


# --- (c) Naive pandas ---------------------------------------------------------------------------


def load_answers(engine: Engine) -> pd.DataFrame:
    """Every answer with its response's cell, read through pandas in chunks."""
    sql = (
        "SELECT r.cycle_id, r.department_id, r.staff_group_id, a.response_id, a.item_id, a.value"
        " FROM answer a JOIN response r ON r.id = a.response_id"
    )
    with engine.connect() as connection:
        chunks = [
            chunk.astype(
                {
                    "cycle_id": "int32",
                    "department_id": "int32",
                    "staff_group_id": "int16",
                    "item_id": "int16",
                    "value": "float64",
                }
            )
            for chunk in pd.read_sql_query(text(sql), connection, chunksize=CHUNK_ROWS)
        ]
    return pd.concat(chunks, ignore_index=True)


class PandasSource:
    """Cell-level aggregates by pandas group-bys over every answer held in memory."""

    def __init__(self, answers: pd.DataFrame, raw: DuckDBSource, reference: Reference) -> None:
        self.answers = answers
        self._raw = raw  # comments and invitations: not answers, read as DuckDB reads them
        self._reference = reference
        items = reference.items.values()
        self._reverse = np.zeros(max([i.id for i in items], default=0) + 1, dtype=bool)
        for item in items:
            self._reverse[item.id] = item.reverse

    def reference(self) -> Reference:
        return self._reference

    def _rows(self, cycle_ids: Collection[int], item_ids: Collection[int]) -> pd.DataFrame:
        answers = self.answers
        mask = answers["cycle_id"].isin(list(cycle_ids)) & answers["item_id"].isin(list(item_ids))
        return answers[mask]

    def cells(self, cycle_ids: Collection[int]) -> pd.DataFrame:
        answers = self.answers[self.answers["cycle_id"].isin(list(cycle_ids))]
        frame = answers.groupby(CELL)["response_id"].nunique().rename("responses").reset_index()
        return frame.astype("int64")

    def _scored(self, rows: pd.DataFrame) -> np.ndarray:
        value = rows["value"].to_numpy()
        reverse = self._reverse[rows["item_id"].to_numpy()]
        return np.where(reverse, LIKERT_POINTS + 1 - value, value)

    def scores(self, cycle_ids: Collection[int], measures: Sequence[str]) -> pd.DataFrame:
        items = self._reference.items.values()
        frames = []
        for position, measure in enumerate(measures):
            ids = [
                item.id
                for item in items
                if item.scale != NPS_SCALE
                and (item.in_index if measure == INDEX else item.dimension == measure)
            ]
            rows = self._rows(cycle_ids, ids)
            rows = rows[rows["value"].notna()]
            scored = self._scored(rows)
            if measure == INDEX:
                score = (scored - 1) * (100.0 / (LIKERT_POINTS - 1))
            else:
                score = 100.0 * (scored >= FAVOURABLE_MIN)
            per_person = (
                rows.assign(score=score)
                .groupby([*CELL, "response_id"])["score"]
                .mean()
                .reset_index()
            )
            per_person["square"] = per_person["score"] ** 2
            cells = per_person.groupby(CELL).agg(
                n=("score", "size"), total=("score", "sum"), total_sq=("square", "sum")
            )
            frames.append(cells.reset_index().assign(measure=position))
        if not frames:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        frame = pd.concat(frames, ignore_index=True)
        return frame.astype({c: "int64" for c in SCORE_COLUMNS[:5]})[SCORE_COLUMNS]

    def answer_counts(
        self, cycle_ids: Collection[int], item_ids: Collection[int], values: Sequence[int]
    ) -> pd.DataFrame:
        rows = self._rows(cycle_ids, item_ids)
        value = rows["value"].fillna(-1).astype("int64").rename("value")
        table = (
            rows.assign(value=value)
            .groupby([*CELL, "item_id", "value"])
            .size()
            .unstack("value", fill_value=0)
        )
        frame = pd.DataFrame(index=table.index)
        frame["n_na"] = table.get(-1, 0)
        for v in values:
            frame[f"v{v}"] = table.get(v, 0)
        return frame.reset_index().astype("int64")

    def relationship_counts(
        self, cycle_ids: Collection[int], item_sets: Mapping[str, Sequence[ItemInfo]]
    ) -> pd.DataFrame:
        frames = []
        for position, items in enumerate(item_sets.values()):
            rows = self._rows(cycle_ids, [item.id for item in items])
            rows = rows[rows["value"].notna()]
            favourable = self._scored(rows) >= FAVOURABLE_MIN
            cells = (
                rows.assign(favourable=favourable).groupby(CELL)["favourable"].agg(["sum", "size"])
            )
            frames.append(
                cells.reset_index()
                .rename(columns={"sum": "favourable", "size": "applicable"})
                .assign(measure=position)
            )
        if not frames:
            return pd.DataFrame(columns=FAVOURABLE_COLUMNS)
        return pd.concat(frames, ignore_index=True).astype("int64")[FAVOURABLE_COLUMNS]

    def invitations(self, cycle_id: int) -> pd.DataFrame:
        return self._raw.invitations(cycle_id)

    def comments(self, cycle_id: int, cells: Collection[tuple[int, int]]) -> list[str]:
        return self._raw.comments(cycle_id, cells)


# --- What the dashboard shows -------------------------------------------------------------------


def dashboard_figures(data: Any, cycle_id: int) -> dict[str, Callable[[], Any]]:
    """Every figure the dashboard shows for one cycle, plus the trends over every cycle."""
    everything = {"departments": None}
    return {
        "filters": lambda: reporting.filter_options(data, **everything),
        "overview": lambda: reporting.overview(data, cycle_id=cycle_id, **everything),
        "heatmap": lambda: reporting.heatmap(data, cycle_id=cycle_id, **everything),
        "relationships": lambda: reporting.relationships(data, cycle_id=cycle_id, **everything),
        "item detail": lambda: reporting.item_distributions(data, cycle_id=cycle_id, **everything),
        "comments": lambda: reporting.comments(data, cycle_id=cycle_id, **everything),
        "index trend": lambda: reporting.trends(data, **everything),
        "relationship trend": lambda: reporting.relationship_trends(data, **everything),
    }


@dataclass
class Run:
    """Seconds per figure (median of the repeats) and the last results."""

    seconds: dict[str, float] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def run(figures: Mapping[str, Callable[[], Any]], *, repeats: int = 3) -> Run:
    result = Run()
    for name, compute in figures.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            result.results[name] = compute()
            times.append(time.perf_counter() - started)
        result.seconds[name] = statistics.median(times)
    return result


def comparable(result: Any) -> pd.DataFrame:
    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    if isinstance(result, reporting.Comments):
        return pd.DataFrame({"comment": sorted(result.texts)})
    if isinstance(result, reporting.FilterOptions):
        return pd.DataFrame({"department": [d.name for d in result.departments]})
    return result.table().reset_index(drop=True)


def compare(left: Run, right: Run) -> list[str]:
    """The figures on which two runs disagree (empty when they give the same numbers)."""
    problems = []
    for name, result in left.results.items():
        try:
            pd.testing.assert_frame_equal(
                comparable(result),
                comparable(right.results[name]),
                check_exact=False,
                rtol=1e-9,
                atol=1e-9,
                check_dtype=False,
            )
        except AssertionError as error:
            problems.append(f"{name}: {str(error).splitlines()[0]}")
    return problems


# --- The benchmark ------------------------------------------------------------------------------


@dataclass
class Figures:
    backend: str
    responses: int
    answers: int
    rollups: Run  # (a)
    duckdb: Run  # (b)
    pandas_load: float  # (c), reading every answer
    pandas: Run | None  # (c), the group-bys
    cached_reruns: dict[str, float]  # page -> median seconds of a warm rerun
    disagreements: list[str]
    board_report: float = float("nan")  # seconds for the organisation's PDF board report


def board_report_seconds(engine: Engine) -> float:
    """`attune report pdf` for the whole organisation on the cycle the pages open on: every
    section's figures through surveys/reporting/ and the layout, without writing the file."""
    from surveys.printing.board import render_board_report
    from surveys.reporting.board import board_report
    from surveys.reporting.named import select_by_name

    started = time.perf_counter()
    selection = select_by_name(engine, scope=None, cycle=None)
    render_board_report(board_report(engine, selection=selection))
    return time.perf_counter() - started


def measure(
    engine: Engine,
    *,
    backend: str,
    work: Path,
    repeats: int = 3,
    naive: bool = True,
    threads: int | None = None,
) -> Figures:
    """Time (a), (b) and (c) on one database and check that they agree.

    Raw answers know nothing of an open cycle's steps (surveys/survey/steps.py), so the
    benchmark's own database has its open cycles closed first: every figure is then final.
    """
    for cycle in list_cycles(engine=engine):
        if cycle.state == CycleState.open:
            change_cycle_state(engine=engine, cycle_id=cycle.id, action="close", actor="bench")
    with engine.connect() as connection:
        reference = load_reference(connection)
        responses, answers = (
            connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
            for table in ("response", "answer")
        )
    cycle_id = reference.cycles[-1].id
    folder = export_raw(engine, work / f"raw-{backend}")
    rollups = run(dashboard_figures(engine, cycle_id), repeats=repeats)
    raw = DuckDBSource(folder, reference, threads=threads)
    from_raw = run(dashboard_figures(raw, cycle_id), repeats=repeats)
    disagreements = [f"(b) {problem}" for problem in compare(rollups, from_raw)]
    pandas_load, pandas_run = float("nan"), None
    if naive:
        started = time.perf_counter()
        loaded = load_answers(engine)
        pandas_load = time.perf_counter() - started
        pandas_run = run(
            dashboard_figures(PandasSource(loaded, raw, reference), cycle_id), repeats=1
        )
        disagreements += [f"(c) {problem}" for problem in compare(rollups, pandas_run)]
        del loaded
    return Figures(
        backend=backend,
        responses=int(responses),
        answers=int(answers),
        rollups=rollups,
        duckdb=from_raw,
        pandas_load=pandas_load,
        pandas=pandas_run,
        cached_reruns=rerun.page_reruns(engine.url.render_as_string(hide_password=False)),
        disagreements=disagreements,
        board_report=board_report_seconds(engine),
    )


def _seconds(value: float | None) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:,.2f} s" if value < 10 else f"{value:,.1f} s"


def _milliseconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def table(scale: str, results: Sequence[Figures]) -> str:
    """The README table: one column per backend, (a)/(b)/(c) side by side."""
    backends = [r.backend for r in results]
    first = results[0]
    header = f"| `--scale {scale}`: {first.responses:,} responses, {first.answers:,} answers | "
    lines = [
        header + " | ".join(backends) + " |",
        "| --- | " + " | ".join("---:" for _ in results) + " |",
    ]

    def row(label: str, cells: Sequence[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("(a) every figure of one cycle + all-cycle trends, from rollups",
        [_seconds(r.rollups.total) for r in results])  # fmt: skip
    row("(b) the same, DuckDB over raw answers (Parquet)",
        [_seconds(r.duckdb.total) for r in results])  # fmt: skip
    row("(b) ÷ (a)", [f"{r.duckdb.total / r.rollups.total:,.1f}×" for r in results])
    row("(c) naive pandas: read every answer",
        [_seconds(r.pandas_load) for r in results])  # fmt: skip
    row("(c) naive pandas: then group by",
        [_seconds(r.pandas.total if r.pandas else None) for r in results])  # fmt: skip
    row("slowest cached page rerun (AppTest, median of 5)",
        [_milliseconds(max(r.cached_reruns.values())) for r in results])  # fmt: skip
    row("PDF board report, whole organisation (`attune report pdf`; target 30 s)",
        [_seconds(r.board_report) for r in results])  # fmt: skip
    row("(a), (b) and (c) agree",
        ["yes" if not r.disagreements else "**no**" for r in results])  # fmt: skip
    lines.append("")
    lines.append("Per figure, (a) rollups / (b) DuckDB:")
    lines.append("")
    lines.append("| Figure | " + " | ".join(backends) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in results) + " |")
    for name in first.rollups.seconds:
        row(
            name,
            [
                f"{r.rollups.seconds[name] * 1000:,.0f} / {r.duckdb.seconds[name] * 1000:,.0f} ms"
                for r in results
            ],
        )
    lines.append("")
    lines.append("Cached page rerun per page (AppTest, median of 5 warm runs):")
    lines.append("")
    lines.append("| Page | " + " | ".join(backends) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in results) + " |")
    for page in first.cached_reruns:
        row(page, [_milliseconds(r.cached_reruns[page]) for r in results])
    return "\n".join(lines) + "\n"
