"""email delivery and cycle schedules: invitation emails, reminders, opening and closing by date

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cycle_schedule",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("invite_on", sa.Date(), nullable=True),
        sa.Column("reminder_days", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invitations_sent", sa.Integer(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["survey_cycle.id"],
            name=op.f("fk_cycle_schedule_cycle_id_survey_cycle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_cycle_schedule")),
    )
    op.create_table(
        "invitation_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("step_done", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["survey_cycle.id"],
            name=op.f("fk_invitation_delivery_cycle_id_survey_cycle"),
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name=op.f("fk_invitation_delivery_invitation_id_invitation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_delivery")),
        sa.UniqueConstraint("cycle_id", "address", name=op.f("uq_invitation_delivery_cycle_id")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_invitation_delivery_invitation_id")),
        sa.UniqueConstraint("nonce", name=op.f("uq_invitation_delivery_nonce")),
    )
    with op.batch_alter_table("invitation_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_delivery_due", ["cycle_id", "step_done"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitation_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_invitation_delivery_due")

    op.drop_table("invitation_delivery")
    op.drop_table("cycle_schedule")
