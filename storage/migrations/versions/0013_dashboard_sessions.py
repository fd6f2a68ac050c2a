"""the officials' dashboard: one-time login links, browser sessions, standing CSV links

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _user_column() -> sa.Column:
    return sa.Column("user_id", sa.Integer(), nullable=False)


def _user_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "dashboard_logins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _user_column(),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        _user_key("dashboard_logins"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_logins")),
    )
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _user_column(),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        _user_key("dashboard_sessions"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_sessions")),
    )
    op.create_table(
        "dashboard_feeds",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _user_column(),
        sa.Column("unit_code", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        _user_key("dashboard_feeds"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_feeds")),
    )
    for table in ("dashboard_logins", "dashboard_sessions", "dashboard_feeds"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("dashboard_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_logins_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    for table in ("dashboard_feeds", "dashboard_sessions", "dashboard_logins"):
        op.drop_table(table)
