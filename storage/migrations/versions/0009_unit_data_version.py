"""units know their data version: unit_sources records the vietnam-provinces version the codes mean

A database that already has communes was loaded from vietnam-provinces 2025.10.1, the only version
shipped before this revision: that is recorded, so loading 2026.9.0 next re-maps its codes instead
of writing the new names over the old codes. Codes are made zero-padded where any were not.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Tables whose unit_code column holds "VN", a province ("01") or a commune ("00070").
_UNIT_CODE_TABLES = ("role_grants", "targets", "report_subscriptions", "broadcasts", "audit_log")


def upgrade() -> None:
    op.create_table(
        "unit_sources",
        sa.Column("scheme", sa.String(length=10), nullable=False),
        sa.Column("package", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("data_date", sa.String(length=10), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scheme", name=op.f("pk_unit_sources")),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM communes")).scalar():
        now = dt.datetime.now(dt.UTC)
        op.bulk_insert(
            sa.table(
                "unit_sources",
                sa.column("scheme", sa.String),
                sa.column("package", sa.String),
                sa.column("version", sa.String),
                sa.column("data_date", sa.String),
                sa.column("loaded_at", sa.DateTime(timezone=True)),
            ),
            [
                {
                    "scheme": "2025",
                    "package": "vietnam-provinces",
                    "version": "2025.10.1",
                    "data_date": "2025-10-18",
                    "loaded_at": now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now,
                }
            ],
        )
    # The loader always wrote padded codes; a unit_code typed unpadded somewhere ("1", "167") is
    # padded to its level's width: one digit is a province, three or four a commune.
    for table in _UNIT_CODE_TABLES:
        query = sa.text(f"SELECT DISTINCT unit_code FROM {table} WHERE unit_code IS NOT NULL")
        codes: list[str] = list(bind.execute(query).scalars())
        for code in codes:
            padded = _padded(code)
            if padded != code:
                bind.execute(
                    sa.text(f"UPDATE {table} SET unit_code = :padded WHERE unit_code = :code"),
                    {"padded": padded, "code": code},
                )


def _padded(code: str) -> str:
    if not code.isdigit():
        return code
    if len(code) == 1:
        return code.zfill(2)
    if len(code) in (3, 4):
        return code.zfill(5)
    return code


def downgrade() -> None:
    op.drop_table("unit_sources")
