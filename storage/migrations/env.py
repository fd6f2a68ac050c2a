"""Alembic environment: runs on the connection handed in by storage.migrate, or on DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from storage.db import create_engine

    async def run() -> None:
        url = config.get_main_option("sqlalchemy.url")
        assert url is not None  # storage.migrate sets it
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(run_migrations)
        await engine.dispose()

    asyncio.run(run())


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `bluezone-bot db upgrade`")
run_online()
