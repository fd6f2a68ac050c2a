"""daily activity counters per commune

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commune_daily_counts",
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("households_visited", sa.Integer(), nullable=False),
        sa.Column("revisits", sa.Integer(), nullable=False),
        sa.Column("smartphones_seen", sa.Integer(), nullable=False),
        sa.Column("installs_helped", sa.Integer(), nullable=False),
        sa.Column("already_installed", sa.Integer(), nullable=False),
        sa.Column("no_smartphone", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("nobody_home", sa.Integer(), nullable=False),
        sa.Column("checkins", sa.Integer(), nullable=False),
        sa.Column("checkins_already_installed", sa.Integer(), nullable=False),
        sa.Column("self_reported_installs", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["communes.code"], name=op.f("fk_commune_daily_counts_commune_code_communes")
        ),
        sa.PrimaryKeyConstraint("commune_code", "day", name=op.f("pk_commune_daily_counts")),
    )


def downgrade() -> None:
    op.drop_table("commune_daily_counts")
