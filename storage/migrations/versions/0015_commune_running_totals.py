"""commune running totals: commune_daily_counts summed per commune, and an index on its day

The national tally read every day row of every commune; it now reads one row per commune and
subtracts the days after its date (found through the new index, usually none).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

METRICS = (
    "households_visited",
    "revisits",
    "smartphones_seen",
    "installs_helped",
    "already_installed",
    "no_smartphone",
    "refused",
    "nobody_home",
    "checkins",
    "checkins_already_installed",
    "self_reported_installs",
)


def upgrade() -> None:
    op.create_table(
        "commune_counts",
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        *(sa.Column(m, sa.Integer(), nullable=False) for m in METRICS),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["communes.code"], name=op.f("fk_commune_counts_commune_code_communes")
        ),
        sa.PrimaryKeyConstraint("commune_code", name=op.f("pk_commune_counts")),
    )
    with op.batch_alter_table("commune_daily_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commune_daily_counts_day"), ["day"], unique=False)
    sums = ", ".join(f"SUM({m})" for m in METRICS)
    op.execute(
        f"INSERT INTO commune_counts (commune_code, {', '.join(METRICS)}) "
        f"SELECT commune_code, {sums} FROM commune_daily_counts GROUP BY commune_code"
    )


def downgrade() -> None:
    with op.batch_alter_table("commune_daily_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commune_daily_counts_day"))
    op.drop_table("commune_counts")
