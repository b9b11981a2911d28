"""codebook phrases: example phrases an administrator adds to the comment codebook

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: the shipped phrases live in the code, so existing databases need no fill.
    op.create_table(
        "codebook_phrase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codebook_phrase")),
        sa.UniqueConstraint("code", "phrase", name="uq_codebook_phrase_code"),
    )


def downgrade() -> None:
    op.drop_table("codebook_phrase")
