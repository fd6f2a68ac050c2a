"""venues and check-ins: posters' venues, their revoked codes, check-ins, per-venue daily counts

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "venues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("manager_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["commune_code"], ["communes.code"], name=op.f("fk_venues_commune_code_communes")),
        sa.ForeignKeyConstraint(
            ["manager_user_id"], ["users.id"], name=op.f("fk_venues_manager_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues")),
        sa.UniqueConstraint("code", name=op.f("uq_venues_code")),
    )
    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_venues_commune_code"), ["commune_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_venues_manager_user_id"), ["manager_user_id"], unique=False)

    op.create_table(
        "check_ins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("visitor", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("checked_in_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("already_installed", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_check_ins_venue_id_venues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index("ix_check_ins_visit", ["venue_id", "visitor", "checked_in_at"], unique=False)

    op.create_table(
        "revoked_venue_codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("revoked_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_revoked_venue_codes_venue_id_venues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_revoked_venue_codes")),
    )
    with op.batch_alter_table("revoked_venue_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_venue_codes_venue_id"), ["venue_id"], unique=False)

    op.create_table(
        "venue_daily_counts",
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("checkins", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("already_installed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_venue_daily_counts_venue_id_venues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("venue_id", "day", name=op.f("pk_venue_daily_counts")),
    )


def downgrade() -> None:
    op.drop_table("venue_daily_counts")
    with op.batch_alter_table("revoked_venue_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_venue_codes_venue_id"))

    op.drop_table("revoked_venue_codes")
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index("ix_check_ins_visit")

    op.drop_table("check_ins")
    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_venues_manager_user_id"))
        batch_op.drop_index(batch_op.f("ix_venues_commune_code"))

    op.drop_table("venues")
