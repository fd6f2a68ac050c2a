"""Tallies at scale: 10 million visits over the 3,321 communes; a national and a province tally
read from the per-commune day counters, against a plain GROUP BY over the raw visits, on SQLite
and on PostgreSQL (BENCH_VISITS sets the number of visits; BENCH_BACKENDS=sqlite,postgresql)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select, text

from storage.counters import METRICS
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.models import Visit
from storage.tally import tally
from storage.units import load_units
from storage.visits import Figures, contribution

VISITS = int(os.environ.get("BENCH_VISITS", "10000000"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DAYS = 60
FIRST_DAY = dt.date(2021, 7, 1)
AS_OF = FIRST_DAY + dt.timedelta(days=DAYS - 1)
PROVINCE = "01"  # Hà Nội: 126 communes
BATCH = 200_000
COLUMNS = (
    "id",
    "token",
    "volunteer_id",
    "commune_code",
    "hamlet",
    "hamlet_key",
    "household",
    "household_key",
    "outcome",
    "smartphones",
    "installed_now",
    "already_installed",
    "base_smartphones",
    "base_covered",
    "visited_at",
    "day",
)
OUTCOMES = [("helped", 0.45), ("already", 0.2), ("no_smartphone", 0.15), ("refused", 0.05), ("nobody_home", 0.15)]


def generate(communes: list[str], users: dict[str, int], counters: dict):
    """Batches of visit rows (first visits, realistic figures), and their counter contributions."""
    rng = random.Random(11)
    names, weights = zip(*OUTCOMES, strict=True)
    for start in range(0, VISITS, BATCH):
        rows = []
        for i in range(start, min(VISITS, start + BATCH)):
            commune = communes[i % len(communes)]
            outcome = rng.choices(names, weights)[0]
            s = i_now = a = 0
            if outcome == "helped":
                s = rng.randint(1, 5)
                i_now = rng.randint(1, s)
                a = rng.randint(0, s - i_now)
            elif outcome == "already":
                s = rng.randint(1, 5)
                a = rng.randint(1, s)
            elif outcome == "refused":
                s = rng.randint(1, 4)
            day = FIRST_DAY + dt.timedelta(days=i % DAYS)
            moment = dt.datetime.combine(day, dt.time(3, 0), tzinfo=dt.UTC)
            hamlet = f"Thôn {i % 17}"
            rows.append(
                (
                    i + 1,
                    f"{i:x}",
                    users[commune],
                    commune,
                    hamlet,
                    hamlet.lower(),
                    str(i % 997),
                    str(i % 997),
                    outcome,
                    s,
                    i_now,
                    a,
                    0,
                    0,
                    moment,
                    day,
                )
            )
            for metric, value in contribution(Figures(outcome, s, i_now, a)).items():
                counters[(commune, day)][metric] += value
        yield rows


async def prepare(url: str, schema: str | None):
    engine = create_engine(url, schema=schema)
    await upgrade(engine)
    async with sessionmaker(engine)() as db, db.begin():
        await load_units(db)
        communes = list((await db.scalars(text("SELECT code FROM communes ORDER BY code"))).all())
        users = {}
        for code in communes:
            result = await db.execute(
                text("INSERT INTO users (created_at) VALUES (:t) RETURNING id"),
                {"t": dt.datetime.now(dt.UTC).replace(tzinfo=None) if "sqlite" in url else dt.datetime.now(dt.UTC)},
            )
            users[code] = result.scalar_one()
    return engine, communes, users


def counter_rows(counters: dict) -> list[tuple]:
    return [(code, day, *(values.get(m, 0) for m in METRICS)) for (code, day), values in counters.items()]


def total_rows(counters: dict) -> list[tuple]:
    """The running totals (commune_counts) that storage.counters.bump keeps beside the days."""
    totals: dict = defaultdict(lambda: defaultdict(int))
    for (code, _day), values in counters.items():
        for metric, value in values.items():
            totals[code][metric] += value
    return [(code, *(values.get(m, 0) for m in METRICS)) for code, values in totals.items()]


async def load_postgres(engine, schema, communes, users) -> float:
    counters: dict = defaultdict(lambda: defaultdict(int))
    started = time.perf_counter()
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for rows in generate(communes, users, counters):
            await raw.copy_records_to_table("visits", records=rows, columns=list(COLUMNS), schema_name=schema)
        await raw.copy_records_to_table(
            "commune_daily_counts",
            records=counter_rows(counters),
            columns=["commune_code", "day", *METRICS],
            schema_name=schema,
        )
        await raw.copy_records_to_table(
            "commune_counts", records=total_rows(counters), columns=["commune_code", *METRICS], schema_name=schema
        )
        await raw.execute(
            f'ANALYZE "{schema}".visits; ANALYZE "{schema}".commune_daily_counts; ANALYZE "{schema}".commune_counts'
        )
    return time.perf_counter() - started


def load_sqlite(path: str, communes, users) -> float:
    counters: dict = defaultdict(lambda: defaultdict(int))
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    placeholders = ",".join("?" * len(COLUMNS))
    for rows in generate(communes, users, counters):
        db.executemany(
            f"INSERT INTO visits ({','.join(COLUMNS)}) VALUES ({placeholders})",
            [(*r[:14], r[14].replace(tzinfo=None).isoformat(sep=" "), r[15].isoformat()) for r in rows],
        )
        db.commit()
    db.executemany(
        f"INSERT INTO commune_daily_counts (commune_code, day, {','.join(METRICS)}) VALUES ({','.join('?' * (2 + len(METRICS)))})",
        [(c, d.isoformat(), *v) for c, d, *v in counter_rows(counters)],
    )
    db.executemany(
        f"INSERT INTO commune_counts (commune_code, {','.join(METRICS)}) VALUES ({','.join('?' * (1 + len(METRICS)))})",
        total_rows(counters),
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - started


def raw_group_by(province: str | None):
    """The plain way: aggregate the raw visit rows per commune (what the counters spare us)."""
    stmt = select(
        Visit.commune_code,
        func.count(),
        func.sum(Visit.smartphones),
        func.sum(Visit.installed_now),
        func.sum(Visit.already_installed),
    ).where(Visit.deleted_at.is_(None), Visit.day <= AS_OF)
    if province:
        stmt = stmt.where(Visit.commune_code.in_(select(text("code FROM communes WHERE province_code = :p")))).params(
            p=province
        )
    return stmt.group_by(Visit.commune_code)


async def timed(make, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await make()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(engine, label: str, load_seconds: float) -> None:
    sessions = sessionmaker(engine)

    async def national_tally():
        async with sessions() as db:
            result = await tally(db, "VN", AS_OF)
            assert len(result.rows) == 3321

    async def province_tally():
        async with sessions() as db:
            await tally(db, PROVINCE, AS_OF)

    async def national_raw():
        async with sessions() as db:
            rows = (await db.execute(raw_group_by(None))).all()
            assert len(rows) == 3321

    async def province_raw():
        async with sessions() as db:
            (await db.execute(raw_group_by(PROVINCE))).all()

    async with sessions() as db:
        check = await tally(db, "VN", AS_OF)
        raw = {r[0]: r[1] for r in (await db.execute(raw_group_by(None))).all()}
    assert sum(raw.values()) == VISITS
    assert check.totals.activity["households_visited"] == VISITS  # the counters agree with the rows

    nt, nr = await timed(national_tally), await timed(national_raw, 3)
    pt, pr = await timed(province_tally), await timed(province_raw, 3)
    print(f"   {label}: loaded {VISITS:,} visits in {load_seconds:.0f} s")
    print(f"   {label}: national tally {nt * 1000:.0f} ms vs raw GROUP BY {nr * 1000:.0f} ms ({nr / nt:.1f}x)")
    print(
        f"   {label}: province tally ({PROVINCE}) {pt * 1000:.0f} ms vs raw GROUP BY {pr * 1000:.0f} ms ({pr / pt:.1f}x)"
    )


async def run() -> None:
    if "sqlite" in BACKENDS:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            engine, communes, users = await prepare(f"sqlite+aiosqlite:///{path}", None)
            await engine.dispose()
            seconds = await asyncio.to_thread(load_sqlite, str(path), communes, users)
            engine = create_engine(f"sqlite+aiosqlite:///{path}")
            await measure(engine, "SQLite", seconds)
            await engine.dispose()
    if "postgresql" in BACKENDS:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            engine, communes, users = await prepare(PG_URL, schema)
            seconds = await load_postgres(engine, schema, communes, users)
            await measure(engine, "PostgreSQL", seconds)
            await engine.dispose()
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
