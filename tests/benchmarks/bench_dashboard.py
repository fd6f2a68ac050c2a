"""The officials' dashboard: a unit's page and its XLSX for a commune, the biggest province and the
country, as an admin signed in; server time and page size.

The same data as bench_official_views (figures on two dates for all 3,321 communes, a country
target); each page requested through aiohttp's client from the real app, 5 rounds, on SQLite and
PostgreSQL. The CPU time of this process (server and client; PostgreSQL's own work not included)
says what a loaded machine's wall clock cannot. Aims (issue 20): a 168-commune province under 300 ms, the country under 500 ms, a page
under 200 KB.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time

from aiohttp.test_utils import TestClient, TestServer

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from storage import roles, web_sessions
from storage.accounts import find_or_create_person
from storage.db import create_engine
from storage.models import utcnow
from storage.roles import Role
from tests.benchmarks.bench_official_views import on_both_databases, prepare

ROUNDS = 5
PAGES = [
    ("commune 07210", "/dashboard/unit/07210"),
    ("province 79 (168 communes)", "/dashboard/unit/79"),
    ("province 79, sorted by rate, behind only", "/dashboard/unit/79?sort=rate&order=desc&behind=1"),
    ("country (34 provinces, 3,321 communes)", "/dashboard/unit/VN"),
    ("XLSX, province 79", "/dashboard/unit/79.xlsx"),
    ("XLSX, country", "/dashboard/unit/VN.xlsx"),
]


async def measure(label: str, url: str, schema: str | None) -> None:
    await prepare(url, schema)
    engine = create_engine(url, schema=schema)
    settings = Settings(database_url=url, qr_signing_key=Secret("bench-key"), public_base_url="http://127.0.0.1")
    service = Service(settings, db_engine=engine)
    client = TestClient(TestServer(init_app(settings, service)))
    await client.start_server()
    try:
        async with service.sessions() as db, db.begin():
            user, _ = await find_or_create_person(db, "telegram", "1")
            await roles.grant(db, user.id, Role.ADMIN, "VN")
            token = await web_sessions.issue_login(db, user.id, utcnow())
        page = await client.get(f"/dashboard/login/{token}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
        await client.post(f"/dashboard/login/{token}", data={"csrf": csrf}, allow_redirects=False)
        for name, path in PAGES:
            times, cpu, size = [], [], 0
            for _ in range(ROUNDS):
                started, used = time.perf_counter(), time.process_time()
                response = await client.get(path)
                body = await response.read()
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
                assert response.status == 200, (path, response.status)
                size = len(body)
            print(
                f"   {label}: {name}: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms"
                f" (this process's CPU: median {statistics.median(cpu):.0f} ms), {size / 1024:.0f} KiB"
            )
    finally:
        await client.close()
        await engine.dispose()


async def run() -> None:
    await on_both_databases(measure, "bench_dashboard")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
