"""The migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.migrate import current_revision
from storage.models import Base


async def test_migrated_schema_matches_the_models(db_engine):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db_engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
    assert await current_revision(db_engine) is not None
