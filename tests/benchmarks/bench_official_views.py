"""Officials' /thongke and Excel in chat for a commune, the biggest province and the country.

Official figures (two dates) and a target for all 3,321 communes; each view through the real
engine (tally, summary, chart or XLSX, rendering, outbox), 5 rounds, on SQLite and PostgreSQL;
then the province's /thongke in parts (tally, summary, chart) against issue 19's goals.
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
PROVINCE = "79"  # Hồ Chí Minh City, 168 communes: the biggest
GOAL_MS, GOAL_KIB = 300, 150  # a province's /thongke, its chart (issue 19)
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
        if payload == f"tk:u:{PROVINCE}":
            image = max((len(s.attachment) for s in chat.channel.sent[-len(chat.last) :] if s.attachment), default=0)
            met = statistics.median(times) < GOAL_MS and image < GOAL_KIB * 1024
            print(f"   {label}: goal under {GOAL_MS} ms and {GOAL_KIB} KiB: {'met' if met else 'MISSED'}")
    await parts(label, service)
    await service.stop()
    await engine.dispose()


async def parts(label: str, service: Service) -> None:
    """The province's /thongke piece by piece, median of ROUNDS: where its time goes."""
    try:
        from handlers.progress import chart, division_kinds, glance, summary_text
    except ImportError:  # the code before issue 19's chart, measured side by side
        return
    from storage.tally import tally

    content = service.content
    times: dict[str, list[float]] = {"tally": [], "summary": [], "chart": []}
    size = 0
    for _ in range(ROUNDS):
        async with service.sessions() as db:
            started = time.perf_counter()
            result = await tally(db, PROVINCE, dt.date(2021, 8, 3))
            times["tally"].append(time.perf_counter() - started)
            kinds = division_kinds(await service.engine.communes(db), result)
        started = time.perf_counter()
        content.render(summary_text(result, result.unit_name, kinds))
        times["summary"].append(time.perf_counter() - started)
        started = time.perf_counter()
        size = len(chart(result, glance(result, result.unit_name, content, kinds)).data)
        times["chart"].append(time.perf_counter() - started)
    shown = ", ".join(f"{name} {statistics.median(t) * 1000:.0f} ms" for name, t in times.items())
    print(f"   {label}: province {PROVINCE} in parts (median): {shown}; chart {size // 1024} KiB")


async def on_both_databases(measure, prefix: str) -> None:
    """`measure(label, url, schema)` on SQLite, then on PostgreSQL in a schema of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        await measure("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", None)
    schema = f"{prefix}_{random.randrange(10**6)}"
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


async def run() -> None:
    await on_both_databases(measure, "bench_officials")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
