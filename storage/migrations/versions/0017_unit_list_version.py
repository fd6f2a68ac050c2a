"""unit list version: a token that changes with every change to the unit tables

A tally keeps the database's unit list (codes, names, hierarchy) in memory, per process, keyed by
this token, and reads the token (one row) to know its copy is still the stored one. Triggers
change it on any INSERT, UPDATE or DELETE of provinces, districts and communes, whoever makes it
(the units loader, an upgrade's re-mapping, a hand-made fix in psql), so no writer can forget.
The token is random, not a counter: two databases (a test's, a restored copy) never share one
unless they share the units.

SQLite drops a table's triggers when a batch migration copies the table: a later migration that
alters provinces, districts or communes must create these triggers again
(tests/storage/test_unit_list.py fails otherwise).

Revision ID: 0017
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("provinces", "districts", "communes")
EVENTS = ("INSERT", "UPDATE", "DELETE")
NEW_TOKEN = {
    "postgresql": "md5(random()::text || clock_timestamp()::text)",
    "sqlite": "lower(hex(randomblob(16)))",
}


def upgrade() -> None:
    op.create_table(
        "unit_list_versions",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_unit_list_versions")),
    )
    dialect = op.get_bind().dialect.name
    op.execute(f"INSERT INTO unit_list_versions (token) VALUES ({NEW_TOKEN[dialect]})")
    if dialect == "postgresql":
        # Once per statement: a load of 3,321 communes changes the token once. The function
        # resolves the table in the schema it was created in, whatever the caller's search_path.
        op.execute(
            "CREATE FUNCTION unit_list_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ "
            f"BEGIN UPDATE unit_list_versions SET token = {NEW_TOKEN[dialect]}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_unit_list_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION unit_list_changed()"
            )
    else:
        # SQLite has row triggers only: a load changes the token once a row (microseconds each).
        for table in TABLES:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER {table}_unit_list_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN UPDATE unit_list_versions SET token = {NEW_TOKEN[dialect]}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_unit_list_changed ON {table}")
        op.execute("DROP FUNCTION unit_list_changed()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER {table}_unit_list_{event.lower()}")
    op.drop_table("unit_list_versions")
