"""unit schemes and districts: every unit row says its scheme; figures at any level, by scheme

The pre-2025 map (63 provinces, 696 districts, 10,051 communes) can now be a database's map
instead of today's: provinces and communes say which scheme they are of, communes their district,
and a districts table holds that level. Official figures are entered for any unit (a commune, a
district, a province), so their `commune_code` becomes `unit_code` without the foreign key to
communes; figures and targets carry their scheme, since they may be history on the other map.
Everything stored before this revision is on today's map: scheme "2025".

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _scheme(default: str = "2025") -> sa.Column:
    return sa.Column("scheme", sa.String(length=10), nullable=False, server_default=default)


def upgrade() -> None:
    with op.batch_alter_table("provinces", schema=None) as batch_op:
        batch_op.add_column(_scheme())
    op.create_table(
        "districts",
        sa.Column("code", sa.String(length=3), nullable=False),
        _scheme("pre2025"),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("division_type", sa.String(length=40), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["province_code"], ["provinces.code"], name=op.f("fk_districts_province_code_provinces")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_districts")),
    )
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_districts_province_code"), ["province_code"], unique=False)
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.add_column(_scheme())
        batch_op.add_column(sa.Column("district_code", sa.String(length=3), nullable=True))
        batch_op.create_index(batch_op.f("ix_communes_district_code"), ["district_code"], unique=False)

    with op.batch_alter_table("official_figures", schema=None) as batch_op:
        batch_op.add_column(_scheme())
        batch_op.add_column(sa.Column("unit_code", sa.String(length=5), nullable=True))
    op.execute("UPDATE official_figures SET unit_code = commune_code")
    with op.batch_alter_table("official_figures", schema=None) as batch_op:
        batch_op.alter_column("unit_code", existing_type=sa.String(length=5), nullable=False)
        batch_op.drop_index("ix_official_figures_commune_date")
        batch_op.drop_constraint("fk_official_figures_commune_code_communes", type_="foreignkey")
        batch_op.drop_column("commune_code")
        batch_op.create_index("ix_official_figures_unit_date", ["scheme", "unit_code", "as_of"], unique=False)

    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(_scheme())


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("scheme")
    with op.batch_alter_table("official_figures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune_code", sa.String(length=5), nullable=True))
    # Figures of a district or a province, or of the other scheme, had no place before: dropped.
    op.execute("DELETE FROM official_figures WHERE scheme <> '2025' OR length(unit_code) <> 5")
    op.execute("UPDATE official_figures SET commune_code = unit_code")
    with op.batch_alter_table("official_figures", schema=None) as batch_op:
        batch_op.drop_index("ix_official_figures_unit_date")
        batch_op.drop_column("unit_code")
        batch_op.drop_column("scheme")
        batch_op.alter_column("commune_code", existing_type=sa.String(length=5), nullable=False)
        batch_op.create_foreign_key("fk_official_figures_commune_code_communes", "communes", ["commune_code"], ["code"])
        batch_op.create_index("ix_official_figures_commune_date", ["commune_code", "as_of"], unique=False)
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_communes_district_code"))
        batch_op.drop_column("district_code")
        batch_op.drop_column("scheme")
    op.drop_table("districts")
    with op.batch_alter_table("provinces", schema=None) as batch_op:
        batch_op.drop_column("scheme")
