"""unanswered typed questions, counted without personal data

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_misses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("asker", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_misses")),
    )
    with op.batch_alter_table("faq_misses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_misses_text"), ["text"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_misses_day"), ["day"], unique=False)
    op.create_table(
        "faq_miss_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_faq_miss_salts")),
    )


def downgrade() -> None:
    op.drop_table("faq_miss_salts")
    with op.batch_alter_table("faq_misses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_misses_day"))
        batch_op.drop_index(batch_op.f("ix_faq_misses_text"))
    op.drop_table("faq_misses")
