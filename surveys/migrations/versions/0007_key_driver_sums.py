"""key driver sums: per outcome, n and the sums of x, y, x², y² and xy in the score rollup

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As of this revision (scoring.OUTCOMES and models.DRIVER_COLUMNS), frozen here so that later
# changes cannot change what this migration did.
OUTCOMES = ("enps", "overall")
PARTS = ("n", "x", "y", "xx", "yy", "xy")
COLUMNS = tuple(f"{outcome}_{part}" for outcome in OUTCOMES for part in PARTS)
KEYS = ("cycle_id", "department_id", "staff_group_id", "measure")

SCORED = "(CASE WHEN i.reverse THEN 6 - a.value ELSE a.value END)"
ANSWERS = "FROM answer a JOIN response r ON r.id = a.response_id JOIN item i ON i.id = a.item_id"
# Each respondent's dimension scores and index, and their mean answers (rollups.rebuild as
# of this revision).
PER_RESPONDENT = (
    "SELECT r.id, r.cycle_id, r.department_id, r.staff_group_id, i.dimension AS measure,"
    f" 100.0 * SUM(CASE WHEN {SCORED} >= 4 THEN 1 ELSE 0 END) / COUNT(*) AS score,"
    f" AVG(({SCORED} - 1) * 25.0) AS mean_score"
    f" {ANSWERS} WHERE a.value IS NOT NULL AND i.scale <> 'nps'"
    " GROUP BY r.id, r.cycle_id, r.department_id, r.staff_group_id, i.dimension"
    " UNION ALL"
    " SELECT r.id, r.cycle_id, r.department_id, r.staff_group_id, 'index' AS measure,"
    f" AVG(({SCORED} - 1) * 25.0) AS score, AVG(({SCORED} - 1) * 25.0) AS mean_score"
    f" {ANSWERS} WHERE a.value IS NOT NULL AND i.scale <> 'nps' AND i.in_index"
    " GROUP BY r.id, r.cycle_id, r.department_id, r.staff_group_id"
)
# Each respondent's outcome scores (scoring.outcome_scores).
PER_OUTCOME = (
    "SELECT r.id, i.dimension AS outcome,"
    f" AVG(CASE WHEN i.scale = 'nps' THEN a.value * 10.0 ELSE ({SCORED} - 1) * 25.0 END) AS y"
    f" {ANSWERS} WHERE a.value IS NOT NULL AND i.dimension IN ('enps', 'overall')"
    " GROUP BY r.id, i.dimension"
)


def _rebuild_sql() -> str:
    joins, sums = [], []
    for number, outcome in enumerate(OUTCOMES):
        alias, has = f"o{number}", f"o{number}.y IS NOT NULL"
        joins.append(
            f" LEFT JOIN ({PER_OUTCOME}) {alias} ON {alias}.id = s.id"
            f" AND {alias}.outcome = '{outcome}'"
        )
        x, y = "s.mean_score", f"{alias}.y"
        for value in ("1", x, y, f"{x} * {x}", f"{y} * {y}", f"{x} * {y}"):
            sums.append(f"SUM(CASE WHEN {has} THEN {value} ELSE 0 END)")
    return (
        "INSERT INTO score_rollup (cycle_id, department_id, staff_group_id, measure, n, total,"
        f" total_sq, {', '.join(COLUMNS)})"
        " SELECT s.cycle_id, s.department_id, s.staff_group_id, s.measure, COUNT(*),"
        " SUM(s.score), SUM(s.score * s.score), "
        + ", ".join(sums)
        + f" FROM ({PER_RESPONDENT}) s"
        + "".join(joins)
        + " GROUP BY s.cycle_id, s.department_id, s.staff_group_id, s.measure"
    )


def upgrade() -> None:
    for table in ("score_rollup", "released_score_rollup"):
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                kind = sa.Integer() if column.endswith("_n") else sa.Float()
                batch.add_column(sa.Column(column, kind, nullable=False, server_default="0"))
    # Databases with responses already: the score rollup rebuilt from raw answers, sums and all.
    op.execute("DELETE FROM score_rollup")
    op.execute(_rebuild_sql())
    # An open cycle's released rows take the new sums only where they hold exactly the live
    # respondents (the same n); the others start at zero and fill at their next step, so the
    # released snapshot still moves only in steps.
    match = " AND ".join(f"l.{key} = released_score_rollup.{key}" for key in KEYS)
    for column in COLUMNS:
        op.execute(
            f"UPDATE released_score_rollup SET {column} ="
            f" (SELECT l.{column} FROM score_rollup l WHERE {match})"
            f" WHERE EXISTS (SELECT 1 FROM score_rollup l WHERE {match}"
            " AND l.n = released_score_rollup.n)"
        )


def downgrade() -> None:
    for table in ("released_score_rollup", "score_rollup"):
        with op.batch_alter_table(table) as batch:
            for column in reversed(COLUMNS):
                batch.drop_column(column)
