"""survey drafts: a respondent's answers so far, encrypted with a key only their link gives

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing to fill: answers given before this revision lived only in session state.
    op.create_table(
        "survey_draft",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["survey_cycle.id"],
            name=op.f("fk_survey_draft_cycle_id_survey_cycle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_draft")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_survey_draft_cycle_id"), "survey_draft", ["cycle_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_draft_cycle_id"), table_name="survey_draft")
    op.drop_table("survey_draft")
