"""official figures, targets, report subscriptions

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "official_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("installed", sa.Integer(), nullable=True),
        sa.Column("subscribers", sa.Integer(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("entered_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["communes.code"], name=op.f("fk_official_figures_commune_code_communes")
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"], ["users.id"], name=op.f("fk_official_figures_entered_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_figures")),
    )
    with op.batch_alter_table("official_figures", schema=None) as batch_op:
        batch_op.create_index("ix_official_figures_commune_date", ["commune_code", "as_of"], unique=False)

    op.create_table(
        "report_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=5), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("last_sent_on", sa.Date(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_report_subscriptions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_subscriptions")),
        sa.UniqueConstraint("user_id", "unit_code", name=op.f("uq_report_subscriptions_user_id")),
    )
    with op.batch_alter_table("report_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_subscriptions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=5), nullable=False),
        sa.Column("rate_ppm", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("denominator", sa.String(length=20), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("set_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_targets_set_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_targets_unit_code"), ["unit_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_targets_unit_code"))

    op.drop_table("targets")
    with op.batch_alter_table("report_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_subscriptions_user_id"))

    op.drop_table("report_subscriptions")
    with op.batch_alter_table("official_figures", schema=None) as batch_op:
        batch_op.drop_index("ix_official_figures_commune_date")

    op.drop_table("official_figures")
