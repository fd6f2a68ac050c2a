"""The officials' dashboard in Chromium: a province officer asks the bot (the Telegram stand-in)
for a link, opens it, signs in, reads the table, drills down to a commune, downloads the XLSX and
signs out; a coordinator of one commune is refused another's page; a used link and a link a
messenger's preview fetched; revoking the role ends the session; the map of a province's communes
(and none where there are no points); axe-core finds nothing serious on any dashboard page. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import re
import urllib.request
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import pytest
from aiohttp import web
from openpyxl import load_workbook

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import DASHBOARD, init_app
from storage import roles, venues
from storage.accounts import find_or_create_person
from storage.db import create_engine
from storage.figures import record_figure, set_target
from storage.models import utcnow
from tests.browser.conftest import KEY, Site, accessibility_problems, prepare
from tests.browser.conftest import words as w
from tests.channels.test_telegram_e2e import TOKEN, exchange
from tests.conftest import PG_URL, _drop_schema, _pg_reachable, _prepare
from tests.standins.telegram_api import TelegramStandin
from texts.formats import local_date

BAC_NINH, BAC_GIANG, OTHER = "24", "07210", "07228"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/dashboard/login/[A-Za-z0-9_-]+")


class BotSite(Site):
    """The site with the bot on Telegram: the stand-in runs on the site's loop, its webhook here;
    its database on SQLite or in a PostgreSQL schema of its own."""

    schema: str | None = None

    async def _start(self) -> None:
        self.tg = TelegramStandin(token=TOKEN, username="bluezone_test_bot")
        await self.tg.__aenter__()
        self.settings = Settings(
            database_url=self.settings.database_url,
            qr_signing_key=Secret(KEY),
            public_base_url=self.base,
            http_port=self.port,
            telegram_bot_token=Secret(TOKEN),
            telegram_api_base_url=self.tg.base_url,
            telegram_webhook_secret=Secret("dashboard-webhook-secret"),
        )
        self.engine = create_engine(self.settings.database_url, schema=self.schema)
        self.service = Service(self.settings, db_engine=self.engine)
        self._runner = web.AppRunner(init_app(self.settings, self.service))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bot_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotSite]:
    """One site a module, on each database (PostgreSQL in a schema of its own)."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'site.db'}", None
        prepare(url)
    else:
        # In a thread: Playwright's sync API keeps an event loop running in this one.
        problem = in_thread(_pg_reachable())
        if problem:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {problem}")
            pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {problem}")
        url, schema = PG_URL, f"test_{uuid.uuid4().hex[:10]}"
        in_thread(_prepare(url, schema))
    running = BotSite(url)
    running.schema = schema
    running.start()
    running.run(seed(running))
    yield running
    running.run(running.tg.__aexit__(None, None, None))
    running.run(running.engine.dispose())
    running.stop()
    if schema:
        in_thread(_drop_schema(url, schema))


def in_thread[T](work: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def seed(site: BotSite) -> None:
    today = local_date(utcnow())
    async with site.service.sessions() as db, db.begin():
        for day, installed in ((today - dt.timedelta(days=10), 70000), (today - dt.timedelta(days=1), 82930)):
            await record_figure(
                db, BAC_GIANG, day, entered_by=None, source="t", installed=installed, subscribers=174229
            )
        await set_target(db, BAC_NINH, Fraction(3, 5), today + dt.timedelta(days=30), set_by=None, source="t")


def grant(site: BotSite, telegram_id: int, role: str, unit: str, revoke: bool = False) -> None:
    async def work() -> None:
        async with site.service.sessions() as db, db.begin():
            person, _ = await find_or_create_person(db, "telegram", str(telegram_id))
            if revoke:
                await roles.revoke(db, person.id, roles.Role(role), unit)
            else:
                await roles.grant(db, person.id, roles.Role(role), unit)

    site.run(work())


def link_from_bot(site: BotSite, telegram_id: int) -> str:
    """Sends /web as this person; returns the link of the bot's answer (text and button agree)."""
    user = site.tg.users.get(telegram_id) or site.tg.user(telegram_id)
    (answer,) = site.run(exchange(site.tg, telegram_id, lambda: user.send_command("web")))
    assert answer.params.get("link_preview_options", {}).get("is_disabled") is True
    url = LINK.search(answer.text or "").group(0)
    assert [b["url"] for b in answer.buttons() if "url" in b] == [url]
    return url


def sign_in(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name=w("dashboard.login.button")).click()
    page.wait_for_load_state()


def test_officer_reads_drills_down_downloads_and_signs_out(bot_site, page):
    grant(bot_site, 8101, "province_officer", BAC_NINH)
    url = link_from_bot(bot_site, 8101)

    response = page.goto(url)
    assert response.status == 200 and page.locator("h1").inner_text() == w("dashboard.login.title")
    page.get_by_role("button", name=w("dashboard.login.button")).click()
    page.wait_for_url(f"**/dashboard/unit/{BAC_NINH}")
    cookie = next(c for c in page.context.cookies() if c["name"] == "bz_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # http here
    assert page.locator("h1").inner_text() == "Tỉnh Bắc Ninh"
    assert "số liệu của 1/" in page.locator("p.muted").inner_text()

    row = page.locator("#units tbody tr", has_text="Bắc Giang")
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "82.930" and cells[2] == "47,59%" and cells[3] == "60%"
    assert page.csp_violations == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the table scrolls in its box, not the page
    page.emulate_media(media="print")  # on A4: the table, without navigation or forms
    assert not page.locator("nav").is_visible() and page.locator("#units").is_visible()
    page.emulate_media(media="screen")

    row.get_by_role("link").click()
    page.wait_for_url(f"**/dashboard/unit/{BAC_GIANG}")
    assert "Bắc Giang" in page.locator("h1").inner_text()
    assert page.get_by_role("heading", name=w("dashboard.unit.hamlets")).count() == 1
    page.get_by_role("link", name=w("dashboard.unit.up", unit="Tỉnh Bắc Ninh")).click()
    page.wait_for_url(f"**/dashboard/unit/{BAC_NINH}")

    with page.expect_download() as download:
        page.get_by_role("link", name=w("dashboard.exports.xlsx")).click()
    sheet = load_workbook(io.BytesIO(open(download.value.path(), "rb").read())).active
    found = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == BAC_GIANG)
    assert found[4:7] == (174229, 82930, 0.4759)

    page.get_by_role("button", name=w("dashboard.nav.logout")).click()
    page.wait_for_url("**/dashboard/signed-out")
    assert page.locator("h1").inner_text() == w("dashboard.problems.signed_out.title")
    assert not [c for c in page.context.cookies() if c["name"] == "bz_dashboard"]
    response = page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}"))
    assert response.status == 401


def test_a_coordinator_is_refused_another_communes_page(bot_site, page):
    grant(bot_site, 8102, "coordinator", BAC_GIANG)
    sign_in(page, link_from_bot(bot_site, 8102))
    assert page.url.endswith(f"/dashboard/unit/{BAC_GIANG}")
    response = page.goto(bot_site.url(f"/dashboard/unit/{OTHER}"))
    assert response.status == 403 and page.locator("h1").inner_text() == w("dashboard.problems.not_yours.title")
    assert page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}.xlsx")).status == 403


def test_a_used_link_and_one_a_preview_fetched(bot_site, page, browser):
    grant(bot_site, 8103, "province_officer", BAC_NINH)
    url = link_from_bot(bot_site, 8103)
    # A messenger's preview bot fetches the link (GET only): the link is still good after.
    with urllib.request.urlopen(url) as preview:
        assert preview.status == 200
    sign_in(page, url)
    assert page.url.endswith(f"/dashboard/unit/{BAC_NINH}")

    other = browser.new_context()  # the same link opened again, on another computer
    tab = other.new_page()
    assert tab.goto(url).status == 410
    assert tab.locator("h1").inner_text() == w("dashboard.problems.link_used.title")
    assert "/web" in tab.locator("main p").inner_text()
    other.close()


def test_revoking_the_role_ends_the_session(bot_site, page):
    grant(bot_site, 8104, "province_officer", BAC_NINH)
    sign_in(page, link_from_bot(bot_site, 8104))
    assert page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}")).status == 200
    grant(bot_site, 8104, "province_officer", BAC_NINH, revoke=True)
    response = page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}"))
    assert response.status == 401
    assert page.locator("h1").inner_text() == w("dashboard.problems.signed_out_needed.title")
    grant(bot_site, 8104, "province_officer", BAC_NINH)  # given back: the ended session stays ended
    assert page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}")).status == 401


def test_the_map_of_a_provinces_communes(bot_site, page):
    grant(bot_site, 8105, "province_officer", BAC_NINH)
    sign_in(page, link_from_bot(bot_site, 8105))
    dots = page.locator("#map svg.map circle")
    communes = page.locator("#units tbody tr").count()
    assert communes > 90 and dots.count() == communes  # every commune of 2025 has its point
    dot = page.locator("#map svg.map circle", has=page.locator("title", has_text="Bắc Giang"))
    assert dot.get_attribute("fill") == "#41b6c4"  # 47,59%: the band from 40% to under 60%
    legend = page.locator("#map .legend").inner_text()
    assert w("dashboard.map.band", band=w("dashboard.map.between", low="40%", high="60%"), count="1") in legend
    assert page.locator("#map svg.map").get_attribute("role") == "img"
    assert page.locator("#map-alt").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.goto(bot_site.url(f"/dashboard/unit/{BAC_GIANG}"))  # a commune's hamlets have no points
    assert page.locator("h1").inner_text().endswith("Bắc Giang") and page.locator("#map").count() == 0


def test_no_points_no_map(bot_site, page):
    grant(bot_site, 8106, "province_officer", BAC_NINH)
    sign_in(page, link_from_bot(bot_site, 8106))
    dashboard = bot_site._runner.app[DASHBOARD]
    shipped, dashboard.points = dashboard.points, {}
    try:
        page.reload()
        assert page.locator("#units tbody tr").count() > 90 and page.locator("#map").count() == 0
    finally:
        dashboard.points = shipped


def add_managed_venue(site: BotSite, telegram_id: int) -> None:
    async def work() -> None:
        async with site.service.sessions() as db, db.begin():
            person, _ = await find_or_create_person(db, "telegram", str(telegram_id))
            await venues.create_venue(
                db, name="Chợ Bắc Giang", kind="market", commune_code=BAC_GIANG, address="", manager_user_id=person.id
            )

    site.run(work())


def test_axe_finds_nothing_serious_on_the_dashboard(bot_site, page, browser):
    grant(bot_site, 8107, "province_officer", BAC_NINH)
    grant(bot_site, 8107, "coordinator", BAC_GIANG)
    add_managed_venue(bot_site, 8107)
    url = link_from_bot(bot_site, 8107)
    found = {}
    page.goto(url)
    found["login"] = accessibility_problems(page)
    page.get_by_role("button", name=w("dashboard.login.button")).click()
    page.wait_for_url("**/dashboard")
    found["home"] = accessibility_problems(page)
    for path in (
        f"/dashboard/unit/{BAC_NINH}",
        f"/dashboard/unit/{BAC_NINH}?sort=rate&order=desc&behind=1",
        f"/dashboard/unit/{BAC_GIANG}",
        f"/dashboard/unit/{OTHER[:2]}",  # another province: refused
        "/dashboard/unit/99999",  # no such unit
        "/dashboard/venues",
    ):
        page.goto(bot_site.url(path))
        found[path] = accessibility_problems(page)
    page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}"))
    page.get_by_role("button", name=w("dashboard.feeds.create")).click()
    page.wait_for_url("**#feeds")
    found["new feed"] = accessibility_problems(page)
    page.get_by_role("button", name=w("dashboard.nav.logout")).click()
    page.wait_for_url("**/dashboard/signed-out")
    found["signed out"] = accessibility_problems(page)
    page.goto(url)  # the used link
    found["used link"] = accessibility_problems(page)
    assert found == {k: [] for k in found}
