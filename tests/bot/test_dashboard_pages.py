"""The dashboard's pages through the real app (aiohttp's client): the table sorted and filtered
from the address and its exports holding exactly those rows; standing CSV links; a venue
manager's venues; the session cookie's flags; forms without their token refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from fractions import Fraction

import pytest

from bot.dashboard.unit_map import unit_points
from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from storage import roles, venues, visits, web_sessions
from storage.accounts import find_or_create_person
from storage.figures import record_figure, set_target
from storage.models import utcnow
from storage.roles import Role
from texts import Divisions, t
from texts.formats import local_date

BAC_NINH, BAC_GIANG, QUE_VO = "24", "07210", "09247"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def app_for(database: dict, db_engine, base: str = "http://127.0.0.1") -> object:
    settings = Settings(
        database_url=database["url"], qr_signing_key=Secret("dashboard-pages-key"), public_base_url=base
    )
    return init_app(settings, Service(settings, db_engine=db_engine))


@pytest.fixture
async def client(aiohttp_client, database, db_engine):
    return await aiohttp_client(app_for(database, db_engine))


def service_of(client) -> Service:
    from bot.web import SERVICE

    return client.server.app[SERVICE]


async def person(client, external_id: str, role: Role | None = None, unit: str = BAC_NINH) -> int:
    async with service_of(client).sessions() as db, db.begin():
        user, _ = await find_or_create_person(db, "telegram", external_id)
        if role is not None:
            await roles.grant(db, user.id, role, unit)
        return user.id


async def sign_in(client, user: int) -> None:
    async with service_of(client).sessions() as db, db.begin():
        token = await web_sessions.issue_login(db, user, utcnow())
    page = await client.get(f"/dashboard/login/{token}")
    assert page.status == 200
    csrf = CSRF.search(await page.text()).group(1)
    response = await client.post(f"/dashboard/login/{token}", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303


async def seed(client) -> None:
    today = local_date(utcnow())
    async with service_of(client).sessions() as db, db.begin():
        for code, before, now in ((BAC_GIANG, 70000, 82930), (QUE_VO, 20000, 20100)):
            await record_figure(
                db,
                code,
                today - dt.timedelta(days=20),
                entered_by=None,
                source="t",
                installed=before,
                subscribers=100000,
            )
            await record_figure(db, code, today - dt.timedelta(days=1), entered_by=None, source="t", installed=now)
        await set_target(db, BAC_NINH, Fraction(3, 5), today + dt.timedelta(days=30), set_by=None, source="t")


def names_in_table(html: str) -> list[str]:
    body = html.split('<table id="units">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td><a href="/dashboard/unit/(\d+)">', body)


async def test_the_table_sorted_and_filtered_and_its_exports(client):
    await seed(client)
    await sign_in(client, await person(client, "1", Role.PROVINCE_OFFICER))
    home = await client.get("/dashboard", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == f"/dashboard/unit/{BAC_NINH}"

    page = await client.get(f"/dashboard/unit/{BAC_NINH}?sort=rate&order=desc")
    html = await page.text()
    assert page.status == 200 and len(html.encode()) < 200_000
    assert names_in_table(html)[:2] == [BAC_GIANG, QUE_VO]  # 82,93% then 20,1%; no figures last
    # Chat's coverage words: the province has both communes and wards.
    coverage = t("tally.coverage", covered=2, total=99, kinds=Divisions(frozenset({"Xã", "Phường"})))
    assert service_of(client).content.render(coverage) in html

    behind = await client.get(f"/dashboard/unit/{BAC_NINH}?behind=1")
    shown = names_in_table(await behind.text())
    assert QUE_VO in shown and BAC_GIANG not in shown  # Bắc Giang is above its line; communes without figures have none
    export = await client.get(f"/dashboard/unit/{BAC_NINH}.csv?behind=1")
    assert export.headers["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO((await export.read()).decode("utf-8-sig"))))
    assert [r["code"] for r in rows] == [*shown, BAC_NINH]  # the rows on screen, then the totals

    stale = await client.get(f"/dashboard/unit/{BAC_NINH}?stale=2")
    assert BAC_GIANG not in names_in_table(await stale.text())  # a figure yesterday


async def test_a_standing_csv_link_until_revoked(client):
    await seed(client)
    await sign_in(client, await person(client, "2", Role.PROVINCE_OFFICER))
    page = await client.get(f"/dashboard/unit/{BAC_NINH}")
    csrf = CSRF.search(await page.text()).group(1)
    made = await client.post(f"/dashboard/unit/{BAC_NINH}/feeds", data={"csrf": csrf}, allow_redirects=False)
    assert made.status == 303
    shown = await (await client.get(f"/dashboard/unit/{BAC_NINH}")).text()
    url = re.search(r'<code id="new-feed">([^<]+)</code>', shown).group(1)
    path = url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    again = await (await client.get(f"/dashboard/unit/{BAC_NINH}")).text()
    assert 'id="new-feed"' not in again  # shown once

    client.session.cookie_jar.clear()  # Power BI has no cookie
    feed = await client.get("/" + path)
    assert feed.status == 200 and feed.content_type == "text/csv"
    assert BAC_GIANG in (await feed.read()).decode("utf-8-sig")

    await sign_in(client, await person(client, "2"))
    page = await (await client.get(f"/dashboard/unit/{BAC_NINH}")).text()
    key = re.search(r'action="/dashboard/feeds/([0-9a-f]{64})/revoke"', page).group(1)
    csrf = CSRF.search(page).group(1)
    await client.post(f"/dashboard/feeds/{key}/revoke", data={"csrf": csrf, "back": f"/dashboard/unit/{BAC_NINH}"})
    assert (await client.get("/" + path)).status == 404


async def test_a_venue_manager_sees_their_venues(client):
    user = await person(client, "3")
    async with service_of(client).sessions() as db, db.begin():
        venue = await venues.create_venue(
            db, name="Chợ Hàng Da", kind="market", commune_code="00070", address="Phố Hàng Da", manager_user_id=user
        )
        await venues.record_check_in(db, venue, "u:99", "test", utcnow())
    await sign_in(client, user)
    home = await client.get("/dashboard", allow_redirects=False)
    assert home.headers["Location"] == "/dashboard/venues"
    page = await (await client.get("/dashboard/venues")).text()
    assert "Chợ Hàng Da" in page and venue.code in page
    assert (await client.get(f"/dashboard/unit/{BAC_NINH}")).status == 403  # no role over any unit


async def test_forms_need_their_token_and_pages_a_session(client):
    user = await person(client, "4", Role.COORDINATOR, BAC_GIANG)
    assert (await client.get(f"/dashboard/unit/{BAC_GIANG}")).status == 401
    async with service_of(client).sessions() as db, db.begin():
        token = await web_sessions.issue_login(db, user, utcnow())
    forged = await client.post(f"/dashboard/login/{token}", data={"csrf": "x"}, allow_redirects=False)
    assert forged.status == 403
    await sign_in(client, user)  # the forged press did not use the link up
    page = await client.get(f"/dashboard/unit/{BAC_GIANG}")
    assert page.status == 200
    no_token = await client.post(f"/dashboard/unit/{BAC_GIANG}/feeds", data={}, allow_redirects=False)
    assert no_token.status == 403


async def test_the_cookie_is_secure_under_https(aiohttp_client, database, db_engine):
    client = await aiohttp_client(app_for(database, db_engine, "https://bluezone.example.vn"))
    user = await person(client, "5", Role.PROVINCE_OFFICER)
    async with service_of(client).sessions() as db, db.begin():
        token = await web_sessions.issue_login(db, user, utcnow())
    page = await client.get(f"/dashboard/login/{token}")
    csrf = CSRF.search(await page.text()).group(1)
    response = await client.post(f"/dashboard/login/{token}", data={"csrf": csrf}, allow_redirects=False)
    cookie = response.cookies["bz_dashboard"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/dashboard"


async def test_a_communes_page_lists_its_hamlets(client):
    user = await person(client, "6", Role.COORDINATOR, BAC_GIANG)
    async with service_of(client).sessions() as db, db.begin():
        visit = {"commune_code": BAC_GIANG, "hamlet": "Tổ 5", "household": "7", "smartphones": 2}
        helped = {**visit, "outcome": "helped", "installed_now": 2, "already_installed": 0}
        away = {**visit, "household": "9", "outcome": "nobody_home", "smartphones": 0, "installed_now": 0}
        for n, data in enumerate((helped, {**away, "already_installed": 0})):
            await visits.save_visit(db, f"hamlet-{n}", user, data, utcnow())
        await record_figure(db, BAC_GIANG, local_date(utcnow()), entered_by=user, source="chat", installed=5)
    await sign_in(client, user)
    html = await (await client.get(f"/dashboard/unit/{BAC_GIANG}")).text()
    entered = t("dashboard.unit.entered_by", role=t("access.role.coordinator"))
    assert service_of(client).content.render(entered) in html  # who entered the last figure: a role, no name
    row = re.search(r"<tr><td>Tổ 5</td>(.*?)</tr>", html).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["2", "1", "2", "0", "0", "1", "9"]


async def test_an_expired_link_says_how_to_get_a_new_one(client):
    user = await person(client, "7", Role.PROVINCE_OFFICER)
    async with service_of(client).sessions() as db, db.begin():
        token = await web_sessions.issue_login(db, user, utcnow() - web_sessions.LOGIN_VALID)
    page = await client.get(f"/dashboard/login/{token}")
    html = await page.text()
    assert page.status == 410 and "/web" in html and 'name="csrf"' not in html  # no button to press
    unknown = await client.get("/dashboard/login/not-a-link")
    assert unknown.status == 410 and "/web" in await unknown.text()


async def test_no_map_on_the_pre2025_map(aiohttp_client, pre2025_database, pre2025_engine):
    """The shipped points are of today's codes; on the pre-2025 map a commune's code may be
    another commune's today: a dot there would be in the wrong place."""
    client = await aiohttp_client(app_for(pre2025_database, pre2025_engine))
    await sign_in(client, await person(client, "1", Role.ADMIN, unit="VN"))
    page = await client.get("/dashboard/unit/213")  # the city of Bắc Giang, a district then
    html = await page.text()
    listed = set(re.findall(r'<td><a href="/dashboard/unit/(\d{5})">', html))
    assert page.status == 200 and listed & set(unit_points())  # its communes, some codes as today's
    assert 'id="map"' not in html


async def test_a_map_of_the_provinces_on_todays_map(client):
    await seed(client)
    await sign_in(client, await person(client, "1", Role.ADMIN, unit="VN"))
    html = await (await client.get("/dashboard/unit/VN")).text()
    figure = html.split('<figure id="map">', 1)[1].split("</figure>", 1)[0]
    assert figure.count("<circle") - figure.count('<circle cx="7" cy="7"') == 34  # every province, in place
