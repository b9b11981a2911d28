"""release in steps: released snapshots of the rollups, and released comments

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL = ("cycle_id", "department_id", "staff_group_id")
VALUES = tuple(f"v{value}" for value in range(11))

# The rollups as of this revision: (name, extra key columns, counted columns and their types).
ROLLUPS: dict[str, tuple[tuple[tuple[str, sa.types.TypeEngine], ...], tuple[str, ...]]] = {
    "cell_rollup": ((), ("responses", "comments")),
    "item_rollup": ((("item_id", sa.Integer()),), ("n_na", *VALUES)),
    "score_rollup": ((("measure", sa.String(length=80)),), ("n",)),
    "relationship_rollup": ((("target", sa.String(length=40)),), ("favourable", "applicable")),
}


def upgrade() -> None:
    for live, (keys, counted) in ROLLUPS.items():
        name = f"released_{live}"
        columns: list[sa.Column[Any]] = [
            sa.Column(column, sa.Integer(), nullable=False) for column in CELL
        ]
        columns += [sa.Column(column, kind, nullable=False) for column, kind in keys]
        columns += [sa.Column(column, sa.Integer(), nullable=False) for column in counted]
        if live == "score_rollup":
            columns += [
                sa.Column("total", sa.Float(), nullable=False),
                sa.Column("total_sq", sa.Float(), nullable=False),
            ]
        references = [("cycle_id", "survey_cycle"), ("department_id", "department")]
        references.append(("staff_group_id", "staff_group"))
        if live == "item_rollup":
            references.append(("item_id", "item"))
        op.create_table(
            name,
            *columns,
            *(
                sa.ForeignKeyConstraint(
                    [column], [f"{table}.id"], name=op.f(f"fk_{name}_{column}_{table}")
                )
                for column, table in references
            ),
            sa.PrimaryKeyConstraint(
                *CELL, *(column for column, _ in keys), name=op.f(f"pk_{name}")
            ),
            sqlite_with_rowid=False,
        )
        # Open cycles were shown live until now: their snapshot starts where the live view was.
        op.execute(
            f"INSERT INTO {name} SELECT * FROM {live}"
            " WHERE cycle_id IN (SELECT id FROM survey_cycle WHERE state = 'open')"
        )
    with op.batch_alter_table("comment") as batch:
        batch.add_column(
            sa.Column("released", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Every comment stored so far could already be seen.
    op.execute(sa.text("UPDATE comment SET released = :yes").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table("comment") as batch:
        batch.drop_column("released")
    for live in reversed(ROLLUPS):
        op.drop_table(f"released_{live}")
