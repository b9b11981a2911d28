"""used links per cell: one row per cell lists its used personal links; invitation.used goes

A submission rewrote every used link of its cell so that PostgreSQL's transaction ids
(xmin) could not pair its link with its response: a cost that grew with the cell. It now
rewrites the cell's one row instead (surveys.models.UsedLinks).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_link",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("staff_group_id", sa.Integer(), nullable=False),
        sa.Column("invitation_ids", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["survey_cycle.id"], name=op.f("fk_used_link_cycle_id_survey_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_used_link_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_group_id"],
            ["staff_group.id"],
            name=op.f("fk_used_link_staff_group_id_staff_group"),
        ),
        sa.PrimaryKeyConstraint(
            "cycle_id", "department_id", "staff_group_id", name=op.f("pk_used_link")
        ),
        sqlite_with_rowid=False,
    )
    connection = op.get_bind()
    cells: dict[tuple[int, int, int], list[int]] = {}
    for cycle_id, department_id, group_id, invitation_id in connection.execute(
        sa.text(
            "SELECT cycle_id, department_id, staff_group_id, id FROM invitation"
            " WHERE used AND NOT is_open"
        )
    ):
        cells.setdefault((cycle_id, department_id, group_id), []).append(invitation_id)
    if cells:
        connection.execute(
            sa.text(
                "INSERT INTO used_link (cycle_id, department_id, staff_group_id, invitation_ids)"
                " VALUES (:cycle, :department, :group, :ids)"
            ),
            [
                {
                    "cycle": cell[0],
                    "department": cell[1],
                    "group": cell[2],
                    "ids": ",".join(str(number) for number in sorted(ids)),
                }
                for cell, ids in sorted(cells.items())
            ],
        )
    # Both databases drop a plain column in place (SQLite since 3.35), keeping the table's
    # CHECK constraint, which a copy of the table by Alembic's batch mode would not.
    op.execute("ALTER TABLE invitation DROP COLUMN used")
    if connection.dialect.name == "postgresql":
        # Each used link's row still carries the transaction id (xmin) of the last submission
        # in its cell before this upgrade, and submissions no longer write link rows: links
        # used from now on would keep their roster's id and stand apart from those used
        # before, pairing them with the responses stored since. Rewriting every link's row
        # gives all of them this migration's id. (Their old versions go at the next VACUUM.)
        op.execute("UPDATE invitation SET cycle_id = cycle_id")


def downgrade() -> None:
    op.add_column(
        "invitation",
        sa.Column("used", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    connection = op.get_bind()
    for ids in connection.execute(sa.text("SELECT invitation_ids FROM used_link")).scalars().all():
        marked = [{"yes": True, "id": int(number)} for number in ids.split(",") if number]
        if marked:
            connection.execute(sa.text("UPDATE invitation SET used = :yes WHERE id = :id"), marked)
    if connection.dialect.name == "postgresql":  # as 0001 made it (SQLite keeps the default)
        op.alter_column("invitation", "used", server_default=None)
    op.drop_table("used_link")
