"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the service, a chat driver."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.settings import Settings
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.models import Base
from storage.units import load_units

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# Redis's address, without a database number: each xdist worker uses its own (see redis_url).
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Tables that hold reference data, loaded once per test session and kept between tests.
KEEP = {"provinces", "districts", "communes", "unit_sources", "unit_list_versions"}


# What kind of test each directory holds, for `-m` (see the markers in pyproject.toml): `make
# test-fast` leaves out what runs servers, browsers or processes, and PostgreSQL.
KIND_OF_DIRECTORY = {
    "channels": ["e2e"],
    "browser": ["e2e", "browser"],
    "faults": ["faults"],
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        directory = item.path.relative_to(tests).parts[0] if tests in item.path.parents else ""
        for kind in KIND_OF_DIRECTORY.get(directory, []):
            item.add_marker(kind)
        # The PostgreSQL half of the `database` fixture (parametrized directly or indirectly), and
        # tests that ask for PostgreSQL by name.
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if "postgresql" in (params.get("database"), params.get("pre2025_database")) or (
            "postgresql_database" in getattr(item, "fixturenames", ())
        ):
            item.add_marker("postgresql")


async def _prepare(url: str, schema: str | None, scheme: str = "2025") -> None:
    if schema:
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = create_engine(url, schema=schema)
    await upgrade(engine)
    async with sessionmaker(engine)() as db, db.begin():
        await load_units(db, scheme=scheme)
    await engine.dispose()


async def _drop_schema(url: str, schema: str) -> None:
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await admin.dispose()


async def _pg_reachable() -> str | None:
    engine = create_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return str(exc)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("db") / "test.db"
    url = f"sqlite:///{path}"
    asyncio.run(_prepare(url, None))
    return {"url": url, "schema": None}


def _postgresql(scheme: str):
    problem = asyncio.run(_pg_reachable())
    if problem:
        message = f"PostgreSQL at {PG_URL} is unreachable: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI has PostgreSQL: a missing one is a failure, not a skip
        pytest.skip(message)
    schema = f"test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_prepare(PG_URL, schema, scheme))
    yield {"url": PG_URL, "schema": schema}
    asyncio.run(_drop_schema(PG_URL, schema))


@pytest.fixture(scope="session")
def postgresql_database() -> dict:
    yield from _postgresql("2025")


# A deployment on the pre-2025 map (63 provinces, 696 districts, 10,051 communes): its own
# databases, loaded once per test session like today's.
@pytest.fixture(scope="session")
def pre2025_sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("db") / "pre2025.db"
    url = f"sqlite:///{path}"
    asyncio.run(_prepare(url, None, "pre2025"))
    return {"url": url, "schema": None}


@pytest.fixture(scope="session")
def pre2025_postgresql_database() -> dict:
    yield from _postgresql("pre2025")


@pytest.fixture(params=["sqlite", "postgresql"])
def pre2025_database(request: pytest.FixtureRequest) -> dict:
    return request.getfixturevalue(f"pre2025_{request.param}_database")


@pytest.fixture
async def pre2025_engine(pre2025_database: dict):
    engine = create_engine(pre2025_database["url"], schema=pre2025_database["schema"])
    await _clear(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def pre2025_sessions(pre2025_engine):
    return sessionmaker(pre2025_engine)


async def _clear(engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict:
    """The prepared database of one backend; tests using it run once on each."""
    return request.getfixturevalue(f"{request.param}_database")


@pytest.fixture
def sqlite_only(request: pytest.FixtureRequest) -> dict:
    return request.getfixturevalue("sqlite_database")


@pytest.fixture
async def db_engine(database: dict):
    engine = create_engine(database["url"], schema=database["schema"])
    await _clear(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(db_engine):
    return sessionmaker(db_engine)


@pytest.fixture
def settings(database: dict) -> Settings:
    return Settings(database_url=database["url"])


# The commune index (all 3,321 communes, folded and sorted) is built from the reference data, the
# same in every test (KEEP): the first service that builds it hands it to the next ones. Building
# it was most of a short flow test's time. A test of the loading itself sets `_communes` to None.
_COMMUNE_INDEX: list = []


@pytest.fixture
async def service(settings: Settings, db_engine, content):
    from bot.service import Service

    # The content files are the same for every test too: loaded once.
    svc = Service(settings, content=content, db_engine=db_engine)
    if _COMMUNE_INDEX:
        svc.engine._communes = _COMMUNE_INDEX[0]
    yield svc
    await svc.stop()
    if not _COMMUNE_INDEX and svc.engine._communes is not None:
        _COMMUNE_INDEX.append(svc.engine._communes)


@pytest.fixture(scope="session")
def content():
    from texts.content import Content

    return Content.load()


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fresh_pg_database(postgresql_database) -> str:
    """The URL of a PostgreSQL database of its own, dropped afterwards: for service processes,
    which connect without the test schema's search_path."""
    name = f"bz_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    async with admin.connect() as conn:
        await conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    await admin.dispose()


def redis_database_number() -> int:
    """9 for the first xdist worker (or none), 10, 11, 12 for the next: tests running at once
    never share a Redis database, and 0–8 stay for whatever else uses this Redis."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return 9 + (int(worker) if worker.isdigit() else 0) % 4


@pytest.fixture
async def redis_url():
    """The URL of a Redis database of this test's own, flushed before and after."""
    import redis.asyncio

    url = f"{REDIS_SERVER}/{redis_database_number()}"
    client = redis.asyncio.from_url(url)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        message = f"Redis at {REDIS_SERVER} is unreachable: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI has Redis: a missing one is a failure, not a skip
        pytest.skip(message)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()
