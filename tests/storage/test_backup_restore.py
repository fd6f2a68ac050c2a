"""docs/deploy.md's backup, tested: `pg_dump -Fc` of a seeded database, `pg_restore` into a fresh
one, and the country's tally reads the same there. Uses the machine's PostgreSQL client tools;
without them the test is skipped with the reason, except under CI=1, where it fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import uuid
from fractions import Fraction

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.commands.common import prepare_database
from bot.settings import Settings
from storage.counters import bump
from storage.db import create_engine, sessionmaker
from storage.figures import record_figure, set_target
from storage.models import OutboxMessage
from storage.tally import tally
from tests.conftest import PG_URL

TOOLS = ("pg_dump", "pg_restore", "psql")
AS_OF = dt.date(2021, 8, 3)


@pytest.fixture
def tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (Debian: apt-get install postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """The connection options of a SQLAlchemy URL for the PostgreSQL tools (password by PGPASSWORD)."""
    parsed = make_url(url)
    options = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    return options, env


async def seed(url: str) -> None:
    await prepare_database(Settings(database_url=url))
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            for code, visits, installs in (("00070", 40, 25), ("00082", 12, 7), ("25747", 3, 1)):
                await bump(db, code, AS_OF, households_visited=visits, installs_helped=installs, checkins=visits * 2)
            await record_figure(db, "00070", AS_OF, entered_by=None, source="test", installed=10420, subscribers=21900)
            await set_target(db, "01", Fraction(3, 5), dt.date(2021, 8, 31), set_by=None, source="test")
    finally:
        await engine.dispose()


async def read_back(url: str) -> tuple:
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as db:
            country = await tally(db, "VN", AS_OF)
            city = await tally(db, "01", AS_OF)
            outbox = await db.scalar(select(func.count()).select_from(OutboxMessage))
            return country.totals, country.children, city.rows, city.totals, outbox
    finally:
        await engine.dispose()


async def test_a_dump_restores_into_a_fresh_database_with_the_same_tally(tools, fresh_pg_database, tmp_path):
    await seed(fresh_pg_database)
    before = await read_back(fresh_pg_database)
    assert before[0].installed  # the seed shows in the tally: the comparison below means something
    options, env = libpq(fresh_pg_database)
    source = make_url(fresh_pg_database).database
    dump = tmp_path / "bluezone.dump"
    # As docs/deploy.md says: the custom format, compressed, restorable table by table.
    await asyncio.to_thread(
        subprocess.run, ["pg_dump", *options, "-Fc", "-f", str(dump), source], env=env, check=True, timeout=120
    )
    restored = f"bz_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{restored}"'))
        await asyncio.to_thread(
            subprocess.run,
            ["pg_restore", *options, "--no-owner", "--exit-on-error", "-d", restored, str(dump)],
            env=env,
            check=True,
            timeout=120,
        )
        # The restored database answers psql's check from the docs too.
        check = await asyncio.to_thread(
            subprocess.run,
            ["psql", *options, "-d", restored, "-Atc", "SELECT count(*) FROM communes"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert int(check.stdout) == 3321
        after = await read_back(fresh_pg_database.rsplit("/", 1)[0] + "/" + restored)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)'))
        await admin.dispose()
    assert after == before
