"""foundation: units, people, conversations, outbox, support points

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("update_id", sa.String(length=64), nullable=False),
        sa.Column("processed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_id", name=op.f("pk_processed_updates")),
    )
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_updates_processed_at"), ["processed_at"], unique=False)

    op.create_table(
        "provinces",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("division_type", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_provinces")),
    )
    op.create_table(
        "communes",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("division_type", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["province_code"], ["provinces.code"], name=op.f("fk_communes_province_code_provinces")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_communes")),
    )
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_communes_province_code"), ["province_code"], unique=False)

    op.create_table(
        "support_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("opening_hours", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["communes.code"], name=op.f("fk_support_points_commune_code_communes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_points")),
        sa.UniqueConstraint("commune_code", "name", name=op.f("uq_support_points_commune_code")),
    )
    with op.batch_alter_table("support_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_support_points_commune_code"), ["commune_code"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["commune_code"], ["communes.code"], name=op.f("fk_users_commune_code_communes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_commune_code"), ["commune_code"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_accounts_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_accounts_channel")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "self_reported_installs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("reported_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["communes.code"], name=op.f("fk_self_reported_installs_commune_code_communes")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_self_reported_installs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_reported_installs")),
        sa.UniqueConstraint("user_id", name=op.f("uq_self_reported_installs_user_id")),
    )
    with op.batch_alter_table("self_reported_installs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_self_reported_installs_commune_code"), ["commune_code"], unique=False)

    op.create_table(
        "conversations",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=True),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("menu", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_conversations_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("update_id", sa.String(length=64), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_outbox_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_outbox_pending", ["sent_at", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_chat", ["channel", "chat_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat")
        batch_op.drop_index("ix_outbox_pending")
        batch_op.drop_index(batch_op.f("ix_outbox_account_id"))

    op.drop_table("outbox")
    op.drop_table("conversations")
    with op.batch_alter_table("self_reported_installs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_reported_installs_commune_code"))

    op.drop_table("self_reported_installs")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_user_id"))

    op.drop_table("accounts")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_commune_code"))

    op.drop_table("users")
    with op.batch_alter_table("support_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_points_commune_code"))

    op.drop_table("support_points")
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_communes_province_code"))

    op.drop_table("communes")
    op.drop_table("provinces")
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_updates_processed_at"))

    op.drop_table("processed_updates")
