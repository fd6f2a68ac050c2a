"""roles, volunteers and visits

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("unit_code", sa.String(length=5), nullable=False),
        sa.Column("granted_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_role_grants_granted_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_role_grants_revoked_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_role_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grants")),
        sa.UniqueConstraint("user_id", "role", "unit_code", name=op.f("uq_role_grants_user_id")),
    )
    with op.batch_alter_table("role_grants", schema=None) as batch_op:
        batch_op.create_index("ix_role_grants_role_unit", ["role", "unit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_role_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("hamlet", sa.String(length=80), nullable=False),
        sa.Column("hamlet_key", sa.String(length=80), nullable=False),
        sa.Column("household", sa.String(length=120), nullable=False),
        sa.Column("household_key", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("smartphones", sa.Integer(), nullable=False),
        sa.Column("installed_now", sa.Integer(), nullable=False),
        sa.Column("already_installed", sa.Integer(), nullable=False),
        sa.Column("revisit_of", sa.Integer(), nullable=True),
        sa.Column("base_outcome", sa.String(length=16), nullable=True),
        sa.Column("base_smartphones", sa.Integer(), nullable=False),
        sa.Column("base_covered", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("visited_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["commune_code"], ["communes.code"], name=op.f("fk_visits_commune_code_communes")),
        sa.ForeignKeyConstraint(["revisit_of"], ["visits.id"], name=op.f("fk_visits_revisit_of_visits")),
        sa.ForeignKeyConstraint(["volunteer_id"], ["users.id"], name=op.f("fk_visits_volunteer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("token", name=op.f("uq_visits_token")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visits_household", ["commune_code", "hamlet_key", "household_key", "visited_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_visits_revisit_of"), ["revisit_of"], unique=False)
        batch_op.create_index("ix_visits_volunteer", ["volunteer_id", "visited_at"], unique=False)

    op.create_table(
        "volunteer_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["communes.code"], name=op.f("fk_volunteer_invites_commune_code_communes")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_volunteer_invites_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_invites")),
        sa.UniqueConstraint("code", name=op.f("uq_volunteer_invites_code")),
    )
    with op.batch_alter_table("volunteer_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_invites_commune_code"), ["commune_code"], unique=False)

    op.create_table(
        "visit_drafts",
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_visit_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_drafts_visit_id_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_visit_drafts")),
    )
    with op.batch_alter_table("visit_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_drafts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "visit_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name=op.f("fk_visit_revisions_changed_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_revisions_visit_id_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_revisions")),
        sa.UniqueConstraint("token", name=op.f("uq_visit_revisions_token")),
    )
    with op.batch_alter_table("visit_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_revisions_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["commune_code"], ["communes.code"], name=op.f("fk_volunteers_commune_code_communes")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_volunteers_decided_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"],
            ["volunteer_invites.id"],
            name=op.f("fk_volunteers_invite_id_volunteer_invites"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_volunteers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
        sa.UniqueConstraint("user_id", "commune_code", name=op.f("uq_volunteers_user_id")),
    )
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteers_commune_code"), ["commune_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_volunteers_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteers_user_id"))
        batch_op.drop_index(batch_op.f("ix_volunteers_commune_code"))

    op.drop_table("volunteers")
    with op.batch_alter_table("visit_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_revisions_visit_id"))

    op.drop_table("visit_revisions")
    with op.batch_alter_table("visit_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_drafts_user_id"))

    op.drop_table("visit_drafts")
    with op.batch_alter_table("volunteer_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_invites_commune_code"))

    op.drop_table("volunteer_invites")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_volunteer")
        batch_op.drop_index(batch_op.f("ix_visits_revisit_of"))
        batch_op.drop_index("ix_visits_household")

    op.drop_table("visits")
    with op.batch_alter_table("role_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_grants_user_id"))
        batch_op.drop_index("ix_role_grants_role_unit")

    op.drop_table("role_grants")
