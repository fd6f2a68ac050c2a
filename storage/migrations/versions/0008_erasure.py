"""erasure leaves nothing: notices know whom they name, media files know their recipient

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("about_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("forget_when_settled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f("ix_outbox_about_user_id"), ["about_user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_about_user_id_users"), "users", ["about_user_id"], ["id"], ondelete="CASCADE"
        )

    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("chat_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_media_files_chat", ["channel", "chat_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.drop_index("ix_media_files_chat")
        batch_op.drop_column("chat_id")
        batch_op.drop_column("channel")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_about_user_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_about_user_id"))
        batch_op.drop_column("forget_when_settled")
        batch_op.drop_column("about_user_id")
