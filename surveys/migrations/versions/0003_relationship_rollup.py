"""relationship rollup

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# rollups.relationships_from_item_rollup() as of this revision, frozen here so that later
# changes to the rollups cannot change what this migration did.
FILL_FROM_ITEM_ROLLUP = (
    "INSERT INTO relationship_rollup"
    " (cycle_id, department_id, staff_group_id, target, favourable, applicable)"
    " SELECT cycle_id, department_id, staff_group_id, target, SUM(favourable), SUM(applicable)"
    " FROM (SELECT r.cycle_id, r.department_id, r.staff_group_id,"
    " CASE WHEN i.section = 'groups' AND i.about_group_id IS NOT NULL"
    " THEN 'group:' || CAST(i.about_group_id AS VARCHAR(20))"
    " WHEN i.section = 'patients' THEN 'patients' END AS target,"
    " CASE WHEN i.reverse THEN (r.v1 + r.v2) ELSE (r.v4 + r.v5) END AS favourable,"
    " (r.v1 + r.v2 + r.v3 + r.v4 + r.v5) AS applicable"
    " FROM item_rollup r JOIN item i ON i.id = r.item_id"
    " WHERE i.scale <> 'nps') per_item"
    " WHERE target IS NOT NULL"
    " GROUP BY cycle_id, department_id, staff_group_id, target"
)


def upgrade() -> None:
    op.create_table(
        "relationship_rollup",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("staff_group_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("favourable", sa.Integer(), nullable=False),
        sa.Column("applicable", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["survey_cycle.id"],
            name=op.f("fk_relationship_rollup_cycle_id_survey_cycle"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_relationship_rollup_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_group_id"],
            ["staff_group.id"],
            name=op.f("fk_relationship_rollup_staff_group_id_staff_group"),
        ),
        sa.PrimaryKeyConstraint(
            "cycle_id",
            "department_id",
            "staff_group_id",
            "target",
            name=op.f("pk_relationship_rollup"),
        ),
        sqlite_with_rowid=False,
    )
    # Databases with responses already: the same sums from the item counts they hold.
    op.execute(FILL_FROM_ITEM_ROLLUP)


def downgrade() -> None:
    op.drop_table("relationship_rollup")
