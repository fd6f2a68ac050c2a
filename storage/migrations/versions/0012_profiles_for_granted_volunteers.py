"""profiles for volunteers granted from the command line, so the desk and the tallies count them

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

grants = sa.table(
    "role_grants",
    sa.column("user_id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("unit_code", sa.String),
    sa.column("granted_at", UTCDateTime()),
    sa.column("revoked_at", UTCDateTime()),
)
volunteers = sa.table(
    "volunteers",
    sa.column("user_id", sa.Integer),
    sa.column("commune_code", sa.String),
    sa.column("display_name", sa.String),
    sa.column("phone", sa.String),
    sa.column("team", sa.String),
    sa.column("status", sa.String),
    sa.column("registered_at", UTCDateTime()),
    sa.column("decided_at", UTCDateTime()),
)
accounts = sa.table(
    "accounts",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("external_id", sa.String),
)


def upgrade() -> None:
    bind = op.get_bind()
    profiled = {
        (r.user_id, r.commune_code) for r in bind.execute(sa.select(volunteers.c.user_id, volunteers.c.commune_code))
    }
    held = bind.execute(
        sa.select(grants.c.user_id, grants.c.unit_code, grants.c.granted_at).where(
            grants.c.role == "volunteer", grants.c.revoked_at.is_(None)
        )
    ).all()
    for user_id, commune_code, granted_at in held:
        if (user_id, commune_code) in profiled:
            continue
        account = bind.execute(
            sa.select(accounts.c.channel, accounts.c.external_id)
            .where(accounts.c.user_id == user_id)
            .order_by(accounts.c.id)
            .limit(1)
        ).first()
        # Named as `grant --user` names them, until they register themselves.
        name = f"{account.channel}:{account.external_id}" if account else f"person {user_id}"
        bind.execute(
            sa.insert(volunteers).values(
                user_id=user_id,
                commune_code=commune_code,
                display_name=name[:80],
                phone="",
                team="",
                status="active",
                registered_at=granted_at,
                decided_at=granted_at,
            )
        )


def downgrade() -> None:
    # Which profiles this made is not recorded; they are harmless under the old schema.
    pass
