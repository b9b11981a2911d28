"""action plans: what a department will do about a result, and its dated progress notes

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("dimension_key", sa.String(length=80), nullable=True),
        sa.Column("from_group_id", sa.Integer(), nullable=True),
        sa.Column("to_group_id", sa.Integer(), nullable=True),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("show_owner", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_cycle_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'in_progress', 'done', 'dropped')",
            name=op.f("ck_action_plan_status"),
        ),
        sa.CheckConstraint(
            "(from_group_id IS NULL AND to_group_id IS NULL) OR "
            "(from_group_id IS NOT NULL AND to_group_id IS NOT NULL AND dimension_key IS NULL)",
            name=op.f("ck_action_plan_addresses"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_action_plan_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["from_group_id"],
            ["staff_group.id"],
            name=op.f("fk_action_plan_from_group_id_staff_group"),
        ),
        sa.ForeignKeyConstraint(
            ["started_cycle_id"],
            ["survey_cycle.id"],
            name=op.f("fk_action_plan_started_cycle_id_survey_cycle"),
        ),
        sa.ForeignKeyConstraint(
            ["to_group_id"],
            ["staff_group.id"],
            name=op.f("fk_action_plan_to_group_id_staff_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_plan")),
    )
    with op.batch_alter_table("action_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_plan_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "action_plan_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["action_plan.id"],
            name=op.f("fk_action_plan_note_plan_id_action_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_plan_note")),
    )
    with op.batch_alter_table("action_plan_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_plan_note_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_plan_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_plan_note_plan_id"))
    op.drop_table("action_plan_note")
    with op.batch_alter_table("action_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_plan_department_id"))
    op.drop_table("action_plan")
