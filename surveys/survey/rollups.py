"""Rollups the dashboard reads instead of raw answers: kept current in each submission's own
transaction, and rebuildable from raw answers (after a bulk load, or to verify them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, text
from sqlmodel import Session, col

from surveys.models import (
    DRIVER_COLUMNS,
    VALUE_COLUMNS,
    CellRollup,
    ItemRollup,
    RelationshipRollup,
    ScoreRollup,
)
from surveys.records import ItemInfo
from surveys.scoring import (
    FAVOURABLE_MIN,
    GROUPS_SECTION,
    INDEX,
    LIKERT_POINTS,
    NPS_POINTS,
    NPS_SCALE,
    OUTCOMES,
    PATIENTS,
    outcome_scores,
    relationship_target,
    respondent_means,
    respondent_scores,
    scored,
)
from surveys.storage import insert_rows


@dataclass(frozen=True)
class Increments:
    """Rows to add to one rollup table: its key columns, the columns added, and the rows."""

    table: str
    keys: tuple[str, ...]
    increments: tuple[str, ...]
    rows: Sequence[Mapping[str, object]]


_CELL = ("cycle_id", "department_id", "staff_group_id")
_TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        model.__table__  # type: ignore[union-attr]  # SQLModel does not declare the mapped __table__
        for model in (CellRollup, ItemRollup, ScoreRollup, RelationshipRollup)
    )
}
_COUNTED = (*VALUE_COLUMNS, "n_na")
_NOTHING_COUNTED = dict.fromkeys(_COUNTED, 0)
_SCORE_SUMS = ("n", "total", "total_sq", *(c for o in OUTCOMES for c in DRIVER_COLUMNS[o]))


def _driver_sums(x: float, outcomes: Mapping[str, float]) -> dict[str, float]:
    """One respondent's key-driver sums for one measure (x: their mean answer in it, see
    surveys.scoring): n, x, y, x², y², xy per outcome, all zero for an outcome they did not
    answer."""
    sums: dict[str, float] = {}
    for outcome in OUTCOMES:
        columns = DRIVER_COLUMNS[outcome]
        if outcome in outcomes:
            y = outcomes[outcome]
            values: tuple[float, ...] = (1, x, y, x * x, y * y, x * y)
        else:
            values = (0, 0.0, 0.0, 0.0, 0.0, 0.0)
        sums.update(zip(columns, values, strict=True))
    return sums


def response_increments(
    *,
    cycle_id: int,
    department_id: int,
    staff_group_id: int,
    answers: Mapping[ItemInfo, int | None],
    has_comment: bool,
) -> list[Increments]:
    """What one response adds to each rollup table, in the order the tables are written.

    Rows are in a fixed order (by item id, then measure) so that concurrent submissions on
    PostgreSQL wait for each other instead of deadlocking.
    """
    cell = {"cycle_id": cycle_id, "department_id": department_id, "staff_group_id": staff_group_id}
    item_rows = []
    for item in sorted(answers, key=lambda item: item.id):
        value = answers[item]
        row = {**cell, "item_id": item.id, **_NOTHING_COUNTED}
        row["n_na" if value is None else VALUE_COLUMNS[value]] = 1
        item_rows.append(row)
    scores = respondent_scores(answers.items())
    means = respondent_means(answers.items())
    outcomes = outcome_scores(answers.items())
    relationships = _relationship_counts(answers)
    return [
        Increments(
            "cell_rollup",
            _CELL,
            ("responses", "comments"),
            [{**cell, "responses": 1, "comments": 1 if has_comment else 0}],
        ),
        Increments("item_rollup", (*_CELL, "item_id"), _COUNTED, item_rows),
        Increments(
            "score_rollup",
            (*_CELL, "measure"),
            _SCORE_SUMS,
            [
                {
                    **cell,
                    "measure": measure,
                    "n": 1,
                    "total": score,
                    "total_sq": score * score,
                    **_driver_sums(means[measure], outcomes),
                }
                for measure, score in sorted(scores.items())
            ],
        ),
        Increments(
            "relationship_rollup",
            (*_CELL, "target"),
            ("favourable", "applicable"),
            [
                {**cell, "target": target, "favourable": favourable, "applicable": applicable}
                for target, (favourable, applicable) in sorted(relationships.items())
            ],
        ),
    ]


def write_increments(cursor: Any, dialect: str, increments: Sequence[Increments]) -> None:
    """Run the upserts of `increments` on a DBAPI cursor (storage.driver_cursor): one
    statement per table for all its rows (storage.insert_rows)."""
    for table in increments:
        insert_rows(
            cursor,
            dialect,
            _TABLES[table.table],
            table.rows,
            conflict=table.keys,
            adds=table.increments,
        )


def _relationship_counts(answers: Mapping[ItemInfo, int | None]) -> dict[str, tuple[int, int]]:
    """(favourable, applicable) answers per relationship target; "does not apply" counts in
    neither, but still marks the target as asked."""
    counts: dict[str, tuple[int, int]] = {}
    for item, value in answers.items():
        target = relationship_target(item.section, item.about_group_id)
        if target is None or item.scale == NPS_SCALE:
            continue
        favourable, applicable = counts.get(target, (0, 0))
        if value is not None:
            favourable += scored(value, reverse=item.reverse) >= FAVOURABLE_MIN
            applicable += 1
        counts[target] = (favourable, applicable)
    return counts


def _scored_sql() -> str:
    return f"(CASE WHEN i.reverse THEN {LIKERT_POINTS + 1} - a.value ELSE a.value END)"


def rebuild(*, session: Session, cycle_id: int) -> None:
    """Recompute one cycle's rollups from its raw answers: the same results as writing each
    response's `response_increments`."""
    for table in (CellRollup, ItemRollup, ScoreRollup, RelationshipRollup):
        session.execute(delete(table).where(col(table.cycle_id) == cycle_id))
    params = {"cycle": cycle_id, "nps": NPS_SCALE, "index": INDEX}
    session.execute(
        text(
            "INSERT INTO cell_rollup (cycle_id, department_id, staff_group_id, responses, comments)"
            " SELECT r.cycle_id, r.department_id, r.staff_group_id, COUNT(*), 0"
            " FROM response r WHERE r.cycle_id = :cycle"
            " GROUP BY r.cycle_id, r.department_id, r.staff_group_id"
        ),
        params,
    )
    session.execute(
        text(
            "UPDATE cell_rollup SET comments = (SELECT COUNT(*) FROM comment c"
            " WHERE c.cycle_id = cell_rollup.cycle_id"
            " AND c.department_id = cell_rollup.department_id"
            " AND c.staff_group_id = cell_rollup.staff_group_id)"
            " WHERE cycle_id = :cycle"
        ),
        params,
    )
    value_counts = ", ".join(
        f"SUM(CASE WHEN a.value = {value} THEN 1 ELSE 0 END)" for value in range(11)
    )
    session.execute(
        text(
            "INSERT INTO item_rollup (cycle_id, department_id, staff_group_id, item_id, n_na, "
            + ", ".join(VALUE_COLUMNS)
            + ") SELECT r.cycle_id, r.department_id, r.staff_group_id, a.item_id,"
            " SUM(CASE WHEN a.value IS NULL THEN 1 ELSE 0 END), "
            + value_counts
            + " FROM answer a JOIN response r ON r.id = a.response_id"
            " WHERE r.cycle_id = :cycle"
            " GROUP BY r.cycle_id, r.department_id, r.staff_group_id, a.item_id"
        ),
        params,
    )
    scored = _scored_sql()
    per_respondent = (
        "SELECT r.id, r.department_id, r.staff_group_id, i.dimension AS measure,"
        f" 100.0 * SUM(CASE WHEN {scored} >= {FAVOURABLE_MIN} THEN 1 ELSE 0 END) / COUNT(*)"
        f" AS score, AVG(({scored} - 1) * {100.0 / (LIKERT_POINTS - 1)}) AS mean_score"
        " FROM answer a JOIN response r ON r.id = a.response_id JOIN item i ON i.id = a.item_id"
        " WHERE r.cycle_id = :cycle AND a.value IS NOT NULL AND i.scale <> :nps"
        " GROUP BY r.id, r.department_id, r.staff_group_id, i.dimension"
        " UNION ALL"
        " SELECT r.id, r.department_id, r.staff_group_id, :index AS measure,"
        f" AVG(({scored} - 1) * {100.0 / (LIKERT_POINTS - 1)}) AS score,"
        f" AVG(({scored} - 1) * {100.0 / (LIKERT_POINTS - 1)}) AS mean_score"
        " FROM answer a JOIN response r ON r.id = a.response_id JOIN item i ON i.id = a.item_id"
        " WHERE r.cycle_id = :cycle AND a.value IS NOT NULL AND i.scale <> :nps AND i.in_index"
        " GROUP BY r.id, r.department_id, r.staff_group_id"
    )
    session.execute(text(scores_from_answers(per_respondent, ":cycle")), params)
    # From the item counts just rebuilt: the same sums, without a second pass over answers.
    session.execute(text(relationships_from_item_rollup("r.cycle_id = :cycle")), params)


def outcomes_sql(condition: str) -> str:
    """Each respondent's outcome scores (id, outcome, y), as `scoring.outcome_scores` gives
    them, for the responses matching `condition` (a trusted SQL expression over `r`)."""
    scored = _scored_sql()
    rescaled = f"({scored} - 1) * {100.0 / (LIKERT_POINTS - 1)}"
    keys = ", ".join(f"'{outcome}'" for outcome in OUTCOMES)
    return (
        "SELECT r.id, i.dimension AS outcome,"
        f" AVG(CASE WHEN i.scale = '{NPS_SCALE}' THEN a.value * {100.0 / NPS_POINTS}"
        f" ELSE {rescaled} END) AS y"
        " FROM answer a JOIN response r ON r.id = a.response_id JOIN item i ON i.id = a.item_id"
        f" WHERE {condition} AND a.value IS NOT NULL AND i.dimension IN ({keys})"
        " GROUP BY r.id, i.dimension"
    )


def scores_from_answers(per_respondent: str, cycle: str) -> str:
    """INSERT … SELECT of score rows, with their key-driver sums, from `per_respondent` (rows
    of id, department_id, staff_group_id, measure, score, mean_score of one cycle, `cycle`)."""
    joins, sums = [], []
    for number, outcome in enumerate(OUTCOMES):
        alias = f"o{number}"
        joins.append(
            f" LEFT JOIN ({outcomes_sql('r.cycle_id = ' + cycle)}) {alias}"
            f" ON {alias}.id = s.id AND {alias}.outcome = '{outcome}'"
        )
        has = f"{alias}.y IS NOT NULL"
        y = f"{alias}.y"
        x = "s.mean_score"
        sums += [
            f"SUM(CASE WHEN {has} THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN {has} THEN {x} ELSE 0 END)",
            f"SUM(CASE WHEN {has} THEN {y} ELSE 0 END)",
            f"SUM(CASE WHEN {has} THEN {x} * {x} ELSE 0 END)",
            f"SUM(CASE WHEN {has} THEN {y} * {y} ELSE 0 END)",
            f"SUM(CASE WHEN {has} THEN {x} * {y} ELSE 0 END)",
        ]
    columns = ", ".join(_SCORE_SUMS)
    return (
        f"INSERT INTO score_rollup (cycle_id, department_id, staff_group_id, measure, {columns})"
        f" SELECT {cycle}, s.department_id, s.staff_group_id, s.measure, COUNT(*),"
        " SUM(s.score), SUM(s.score * s.score), "
        + ", ".join(sums)
        + f" FROM ({per_respondent}) s"
        + "".join(joins)
        + " GROUP BY s.department_id, s.staff_group_id, s.measure"
    )


def _plus(values: Iterable[int]) -> str:
    return "(" + " + ".join(f"r.v{value}" for value in values) + ")"


def relationships_from_item_rollup(
    condition: str = "1 = 1",
    *,
    source: str = "item_rollup",
    target: str = "relationship_rollup",
) -> str:
    """INSERT … SELECT of relationship rows into `target` from the item rows of `source`
    matching `condition` (a trusted SQL expression over the item rows `r`); the released
    snapshot (surveys/survey/steps.py) uses its own two tables."""
    likert = range(1, LIKERT_POINTS + 1)
    about = (
        f"CASE WHEN i.section = '{GROUPS_SECTION}' AND i.about_group_id IS NOT NULL"
        " THEN 'group:' || CAST(i.about_group_id AS VARCHAR(20))"
        f" WHEN i.section = '{PATIENTS}' THEN '{PATIENTS}' END"
    )
    favourable = _plus(v for v in likert if v >= FAVOURABLE_MIN)
    favourable_reversed = _plus(v for v in likert if LIKERT_POINTS + 1 - v >= FAVOURABLE_MIN)
    return (
        f"INSERT INTO {target}"
        " (cycle_id, department_id, staff_group_id, target, favourable, applicable)"
        " SELECT cycle_id, department_id, staff_group_id, target, SUM(favourable),"
        " SUM(applicable)"
        f" FROM (SELECT r.cycle_id, r.department_id, r.staff_group_id, {about} AS target,"
        f" CASE WHEN i.reverse THEN {favourable_reversed} ELSE {favourable} END AS favourable,"
        f" {_plus(likert)} AS applicable"
        f" FROM {source} r JOIN item i ON i.id = r.item_id"
        f" WHERE i.scale <> '{NPS_SCALE}' AND {condition}) per_item"
        " WHERE target IS NOT NULL"
        " GROUP BY cycle_id, department_id, staff_group_id, target"
    )
