"""Officials' /thongke and Excel in chat for a commune, the biggest province and the country.

Official figures (two dates) and a target for all 3,321 communes; each view through the real
engine (tally, summary, chart or XLSX, rendering, outbox), 5 rounds, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from sqlalchemy import insert, select

from bot.service import Service
from bot.settings import Settings
from storage.db import create_engine, sessionmaker
from storage.figures import set_target
from storage.migrate import upgrade
from storage.models import Commune, OfficialFigure, utcnow
from storage.units import load_units
from tests.conftest import PG_URL
from tests.harness import ChatDriver, grant_role

ROUNDS = 5
VIEWS = [
    ("commune 07210", "tk:u:07210"),
    ("province 79 (168 communes)", "tk:u:79"),
    ("country (3,321 communes)", "tk:u:VN"),
    ("Excel, province 79", "tk:x:79"),
    ("Excel, country", "tk:x:VN"),
]


async def prepare(url: str, schema: str | None) -> None:
    engine = create_engine(url, schema=schema)
    await upgrade(engine)
    rng = random.Random(5)
    async with sessionmaker(engine)() as db, db.begin():
        await load_units(db)
        codes = (await db.scalars(select(Commune.code))).all()
        rows = []
        for code in codes:
            subscribers = rng.randint(2_000, 200_000)
            for days_ago in (7, 0):
                rows.append(
                    {
                        "unit_code": code,
                        "as_of": dt.date(2021, 8, 3) - dt.timedelta(days=days_ago),
                        "installed": int(subscribers * rng.uniform(0.05, 0.7)),
                        "subscribers": subscribers,
                        "source": "bench",
                        "entered_at": utcnow(),
                    }
                )
        await db.execute(insert(OfficialFigure), rows)
        await set_target(db, "VN", Fraction(3, 5), dt.date(2021, 8, 31), set_by=None, source="bench")
    await engine.dispose()


async def measure(label: str, url: str, schema: str | None) -> None:
    await prepare(url, schema)
    engine = create_engine(url, schema=schema)
    service = Service(Settings(database_url=url), db_engine=engine)
    await grant_role(service, "1", "admin", "VN")
    chat = ChatDriver(service, user_id="1")
    for name, payload in VIEWS:
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            await chat.press(payload)
            times.append((time.perf_counter() - started) * 1000)
        sizes = ", ".join(
            f"{len(s.attachment) // 1024} KiB {s.message.attachment_kind}"
            for s in chat.channel.sent[-len(chat.last) :]
            if s.attachment
        )
        print(
            f"   {label}: {name}: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms"
            + (f" ({sizes})" if sizes else "")
        )
    await service.stop()
    await engine.dispose()


async def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await measure("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", None)
    schema = f"bench_officials_{random.randrange(10**6)}"
    admin = create_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:
        print(f"   PostgreSQL skipped: {exc.__class__.__name__}")
        await admin.dispose()
        return
    try:
        await measure("PostgreSQL", PG_URL, schema)
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.dispose()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
