"""Tallies at scale: 10 million visits over the 3,321 communes; a national and a province tally
read from the per-commune counters, against a plain GROUP BY over the raw visits, on SQLite and on
PostgreSQL (BENCH_VISITS sets the number of visits; BENCH_BACKENDS=sqlite,postgresql).

BENCH_TALLY_KEEP=DIR keeps the loaded data (DIR/tally-<visits>.db, PostgreSQL schema
bench_tally_<visits>) and reuses it next time, migrated to this tree first: loading 10 million
visits takes minutes. BENCH_TALLY_BASELINE=REV (e.g. main) measures that revision's tally on the
same data, alternating with this tree's (BENCH_TALLY_ROUNDS rounds, 2 by default); each tree's
tallies run in a process of their own, warmed up by one tally first, as a worker's are."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
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
KEEP = os.environ.get("BENCH_TALLY_KEEP")
BASELINE = os.environ.get("BENCH_TALLY_BASELINE")
ROUNDS = int(os.environ.get("BENCH_TALLY_ROUNDS", "2"))
REPO = Path(__file__).resolve().parents[2]
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


# Run by each tree's process (this one's and the baseline's): only calls the API both share.
TIMER = """
import asyncio, datetime as dt, json, statistics, sys, time
from pathlib import Path
import storage
assert Path(storage.__file__).resolve().is_relative_to(Path.cwd().resolve()), storage.__file__
from storage.db import create_engine, sessionmaker
from storage.tally import tally
url, schema, as_of, province, repeat = sys.argv[1], sys.argv[2] or None, dt.date.fromisoformat(sys.argv[3]), sys.argv[4], int(sys.argv[5])
async def main():
    engine = create_engine(url, schema=schema)
    sessions = sessionmaker(engine)
    async def once(unit, every_row=False):
        started = time.perf_counter()
        async with sessions() as db:
            result = await tally(db, unit, as_of)
            if unit == "VN":
                assert len(result.rows) == 3321
            if every_row:  # what a view listing every commune reads (the XLSX, the furthest behind)
                assert sum(r.activity["households_visited"] for r in result.rows) == result.totals.activity["households_visited"]
        return time.perf_counter() - started, result
    first, result = await once("VN")
    out = {"first": first, "visited": result.totals.activity["households_visited"]}
    for unit, key, every in (("VN", "country", False), ("VN", "country_rows", True), (province, "province", False)):
        out[key] = statistics.median([(await once(unit, every))[0] for _ in range(repeat)])
    for every, key in ((False, "country_cpu"), (True, "country_rows_cpu")):
        cpu = time.process_time()
        for _ in range(repeat):
            await once("VN", every)
        out[key] = (time.process_time() - cpu) / repeat
    await engine.dispose()
    print(json.dumps(out))
asyncio.run(main())
"""


def baseline_tree(rev: str, into: Path) -> Path:
    """REV's files (git archive), to import its storage package in a process of its own."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def timed_in(tree: Path, url: str, schema: str | None, repeat: int = 9) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", TIMER, url, schema or "", AS_OF.isoformat(), PROVINCE, str(repeat)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


async def timed(make, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await make()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def measure(
    engine, url: str, schema: str | None, label: str, load_seconds: float | None, base: Path | None
) -> None:
    sessions = sessionmaker(engine)

    async def national_raw():
        async with sessions() as db:
            rows = (await db.execute(raw_group_by(None))).all()
            assert len(rows) == 3321

    async def province_raw():
        async with sessions() as db:
            (await db.execute(raw_group_by(PROVINCE))).all()

    async with sessions() as db:
        raw = {r[0]: r[1] for r in (await db.execute(raw_group_by(None))).all()}
    assert sum(raw.values()) == VISITS
    loaded = "reused the kept data" if load_seconds is None else f"loaded in {load_seconds:.0f} s"
    print(f"   {label}: {VISITS:,} visits, {loaded}; load average {load_average()}", flush=True)

    trees = [("this tree", REPO)] + ([(f"baseline {BASELINE}", base)] if base else [])
    results: dict[str, list[dict]] = {name: [] for name, _ in trees}
    raws = []
    for n in range(ROUNDS):
        for name, tree in trees:
            result = timed_in(tree, url, schema)
            # The counters agree with the rows, in both trees.
            assert result["visited"] == VISITS, (name, result["visited"])
            results[name].append(result)
        nr, pr = await timed(national_raw, 3), await timed(province_raw, 3)
        raws.append((nr, pr))
        print(
            f"   {label}, round {n + 1}: raw GROUP BY: the country {nr * 1000:.0f} ms, province {PROVINCE} {pr * 1000:.0f} ms; load average {load_average()}",
            flush=True,
        )
        for name, _ in trees:
            r = results[name][-1]
            print(
                f"   {label}, round {n + 1}, {name}: the country {r['country'] * 1000:.1f} ms "
                f"({nr / r['country']:.1f}x the GROUP BY; CPU {r['country_cpu'] * 1000:.1f} ms; "
                f"the process's first {r['first'] * 1000:.0f} ms); with every commune row read "
                f"{r['country_rows'] * 1000:.1f} ms ({nr / r['country_rows']:.1f}x; CPU {r['country_rows_cpu'] * 1000:.1f} ms), "
                f"province {PROVINCE} {r['province'] * 1000:.1f} ms ({pr / r['province']:.1f}x)",
                flush=True,
            )


async def seeded(url: str, schema: str | None, loader, reset) -> float | None:
    """Migrate, and load the visits unless the kept data already holds them (the totals are
    loaded last); the load's seconds."""
    engine = create_engine(url, schema=schema)
    await upgrade(engine)
    async with engine.connect() as conn:
        done = (await conn.execute(text("SELECT count(*) FROM commune_counts"))).scalar()
    await engine.dispose()
    if done and KEEP:
        return None
    await reset()  # a load cut short, or data of another run
    engine, communes, users = await prepare(url, schema)
    seconds = await loader(engine, communes, users)
    await engine.dispose()
    return seconds


async def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline_tree(BASELINE, Path(tmp) / "base") if BASELINE else None
        if "sqlite" in BACKENDS:
            path = Path(KEEP or tmp) / f"tally-{VISITS}.db"

            async def load_lite(engine, communes, users):
                return await asyncio.to_thread(load_sqlite, str(path), communes, users)

            async def wipe_lite():
                for leftover in path.parent.glob(path.name + "*"):
                    leftover.unlink()

            url = f"sqlite:///{path}"
            seconds = await seeded(url, None, load_lite, wipe_lite)
            engine = create_engine(url)
            await measure(engine, url, None, "SQLite", seconds, base)
            await engine.dispose()
        if "postgresql" in BACKENDS:
            schema = f"bench_tally_{VISITS}" if KEEP else f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            try:

                async def load_pg(engine, communes, users):
                    return await load_postgres(engine, schema, communes, users)

                async def wipe_pg():
                    async with admin.begin() as conn:
                        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))

                seconds = await seeded(PG_URL, schema, load_pg, wipe_pg)
                engine = create_engine(PG_URL, schema=schema)
                await measure(engine, PG_URL, schema, "PostgreSQL", seconds, base)
                await engine.dispose()
            finally:
                if not KEEP:
                    async with admin.begin() as conn:
                        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                await admin.dispose()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
