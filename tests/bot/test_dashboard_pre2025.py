"""The dashboard on the map before 1 July 2025: a province's page lists its districts, a district's
its communes, each with the figures the tally gives; a district officer sees their district and
its communes, not another district."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction

import pytest

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import SERVICE, init_app
from storage import roles, web_sessions
from storage.accounts import find_or_create_person
from storage.figures import record_figure, set_target
from storage.models import utcnow
from storage.roles import Role
from storage.unit_map import unit_map
from texts import t

CITY, OTHER_DISTRICT, PROVINCE, DINH_KE = "213", "215", "24", "07231"  # Bắc Giang city, Yên Thế
AUG3 = dt.date(2021, 8, 3)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r'href="/dashboard/unit/(\w+)"')


@pytest.fixture
async def client(aiohttp_client, pre2025_database, pre2025_engine):
    settings = Settings(
        database_url=pre2025_database["url"],
        units="pre2025",
        qr_signing_key=Secret("dashboard-pre2025-key"),
        public_base_url="http://127.0.0.1",
    )
    return await aiohttp_client(init_app(settings, Service(settings, db_engine=pre2025_engine)))


async def signed_in(client, external_id: str, role: Role, unit: str) -> None:
    async with client.server.app[SERVICE].sessions() as db, db.begin():
        user, _ = await find_or_create_person(db, "telegram", external_id)
        await roles.grant(db, user.id, role, unit)
        token = await web_sessions.issue_login(db, user.id, utcnow())
    page = await client.get(f"/dashboard/login/{token}")
    csrf = CSRF.search(await page.text()).group(1)
    response = await client.post(f"/dashboard/login/{token}", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303


async def seed(client) -> None:
    async with client.server.app[SERVICE].sessions() as db, db.begin():
        await record_figure(db, CITY, AUG3, entered_by=None, source="t", installed=82930, subscribers=174229)
        await set_target(db, PROVINCE, Fraction(3, 5), dt.date(2021, 8, 31), set_by=None, source="t")


def words(client, key: str) -> str:
    return client.server.app[SERVICE].content.render(t(key))


async def test_a_province_lists_its_districts_and_a_district_its_communes(client):
    await seed(client)
    await signed_in(client, "501", Role.PROVINCE_OFFICER, PROVINCE)
    units = unit_map("pre2025")

    page = await client.get(f"/dashboard/unit/{PROVINCE}")
    assert page.status == 200
    html = await page.text()
    assert words(client, "dashboard.unit.children.district") in html
    linked = set(LINK.findall(html))
    assert set(units.children(PROVINCE)) <= linked
    assert "82.930" in html and "47,59%" in html  # the city's own figure, on its row and in the total

    page = await client.get(f"/dashboard/unit/{CITY}")
    assert page.status == 200
    html = await page.text()
    assert words(client, "dashboard.unit.children.commune") in html
    assert set(units.children(CITY)) <= set(LINK.findall(html))
    assert f'href="/dashboard/unit/{PROVINCE}"' in html  # up to the province


async def test_a_district_officer_sees_their_district_and_its_communes_only(client):
    await seed(client)
    await signed_in(client, "502", Role.DISTRICT_OFFICER, CITY)
    assert (await client.get(f"/dashboard/unit/{CITY}")).status == 200
    assert (await client.get(f"/dashboard/unit/{DINH_KE}")).status == 200
    assert (await client.get(f"/dashboard/unit/{OTHER_DISTRICT}")).status == 403
    assert (await client.get(f"/dashboard/unit/{PROVINCE}")).status == 403
    html = await (await client.get(f"/dashboard/unit/{CITY}")).text()
    assert f'href="/dashboard/unit/{PROVINCE}"' not in html  # no link up to what they may not see
