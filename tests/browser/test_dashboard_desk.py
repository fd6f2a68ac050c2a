"""Acting on the dashboard in Chromium, role by role: a coordinator approves a volunteer (who is told
on Telegram) and is refused another commune's desk; a venue manager revokes their venue's code,
downloads their posters as a ZIP, and sees only their own venues. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile

from documents.posters.bundle import INDEX_FILE, file_stem
from storage import venues, visits, volunteers
from storage.accounts import find_or_create_person
from storage.models import Venue, Volunteer, utcnow
from tests.browser import test_dashboard as dashboard
from tests.browser.conftest import accessibility_problems
from tests.browser.conftest import words as w
from tests.channels.test_telegram_e2e import exchange

BAC_GIANG, OTHER, HA_NOI_WARD = dashboard.BAC_GIANG, dashboard.OTHER, "00070"
bot_site = dashboard.bot_site  # the same site with the bot on Telegram, one for this module, on each database


def person_id(site, telegram_id: int) -> int:
    async def work() -> int:
        async with site.service.sessions() as db, db.begin():
            person, _ = await find_or_create_person(db, "telegram", str(telegram_id))
            return person.id

    return site.run(work())


def register(site, telegram_id: int, name: str) -> Volunteer:
    """A volunteer who wrote to the bot, registered without an invite: waiting for approval."""
    user = site.tg.user(telegram_id)
    site.run(exchange(site.tg, telegram_id, lambda: user.send_command("start")))

    async def work() -> Volunteer:
        async with site.service.sessions() as db, db.begin():
            person, _ = await find_or_create_person(db, "telegram", str(telegram_id))
            return await volunteers.register(
                db, person.id, BAC_GIANG, display_name=name, phone="+84912345678", team="", now=utcnow()
            )

    return site.run(work())


def stored(site, model, key):
    async def work():
        async with site.service.sessions() as db:
            return await db.get(model, key)

    return site.run(work())


def next_message(site, chat_id: int, before: int):
    async def work():
        for _ in range(500):
            sent = site.tg.sent(chat_id)
            if len(sent) > before:
                return sent[before]
            await asyncio.sleep(0.02)
        raise AssertionError(f"nothing sent to {chat_id}")

    return site.run(work())


def test_a_coordinator_approves_a_volunteer_who_is_told(bot_site, page):
    lan = register(bot_site, 8212, "Trần Thị Lan")
    dashboard.grant(bot_site, 8211, "coordinator", BAC_GIANG)
    dashboard.sign_in(page, dashboard.link_from_bot(bot_site, 8211))
    assert page.url.endswith(f"/dashboard/unit/{BAC_GIANG}")
    page.get_by_role("link", name=w("dashboard.desk.open")).click()
    page.wait_for_url(f"**/dashboard/desk/{BAC_GIANG}")
    before = len(bot_site.tg.sent(8212))

    page.get_by_role("button", name=w("dashboard.desk.approve", name="Trần Thị Lan")).click()
    page.wait_for_url("**?done=approved")
    assert page.locator("#done").inner_text() == w("dashboard.desk.done.approved")
    assert stored(bot_site, Volunteer, lan.id).status == "active"
    assert page.get_by_role("button", name=w("dashboard.desk.deactivate", name="Trần Thị Lan")).count() == 1
    told = next_message(bot_site, 8212, before)
    assert "Bắc Giang" in told.text and w("visit.menu") in [b["text"] for b in told.buttons()]
    assert page.csp_violations == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # tables scroll in their box


def test_a_coordinator_is_refused_another_communes_desk(bot_site, page):
    dashboard.grant(bot_site, 8213, "coordinator", OTHER)
    dashboard.sign_in(page, dashboard.link_from_bot(bot_site, 8213))
    response = page.goto(bot_site.url(f"/dashboard/desk/{BAC_GIANG}"))
    assert response.status == 403 and page.locator("h1").inner_text() == w("dashboard.problems.not_yours.title")
    assert page.goto(bot_site.url(f"/dashboard/desk/{OTHER}")).status == 200


def a_venue(site, manager: int | None, name: str) -> Venue:
    async def work() -> Venue:
        async with site.service.sessions() as db, db.begin():
            return await venues.create_venue(
                db, name=name, kind="market", commune_code=HA_NOI_WARD, address="Phố Hàng Da", manager_user_id=manager
            )

    return site.run(work())


def test_a_venue_manager_revokes_a_code_and_downloads_the_posters(bot_site, page):
    manager = person_id(bot_site, 8214)
    mine = a_venue(bot_site, manager, "Chợ Hàng Da")
    theirs = a_venue(bot_site, None, "Bưu điện Hà Nội")
    dashboard.sign_in(page, dashboard.link_from_bot(bot_site, 8214))
    page.wait_for_url("**/dashboard/venues")
    table = page.locator("#venues")
    assert "Chợ Hàng Da" in table.inner_text() and "Bưu điện Hà Nội" not in table.inner_text()  # only theirs
    assert page.goto(bot_site.url(f"/dashboard/venues/{theirs.id}/revoke")).status == 403
    page.goto(bot_site.url("/dashboard/venues"))

    page.get_by_role("link", name=w("dashboard.venue_desk.revoke", code=mine.code)).click()
    assert page.locator("h1").inner_text() == w("dashboard.venue_desk.revoke_title", name="Chợ Hàng Da")
    page.get_by_role("button", name=w("dashboard.venue_desk.revoke_yes")).click()
    page.wait_for_url(f"**/dashboard/venues/{mine.id}/revoked**")
    renewed = stored(bot_site, Venue, mine.id)
    assert renewed.code != mine.code
    assert page.get_by_role("status").inner_text() == w(
        "dashboard.venue_desk.revoked_text", old=mine.code, code=renewed.code
    )

    page.get_by_role("link", name=w("dashboard.venue_desk.back")).click()
    page.wait_for_url("**/dashboard/venues")
    with page.expect_download() as download:
        page.get_by_role("link", name=w("dashboard.venue_desk.my_posters")).click()
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    stem = file_stem(renewed)
    assert archive.namelist() == [f"{stem}.pdf", INDEX_FILE]
    assert archive.read(f"{stem}.pdf")[:4] == b"%PDF"
    (row,) = csv.DictReader(io.StringIO(archive.read(INDEX_FILE).decode("utf-8-sig")))
    assert (row["code"], row["name"], row["pdf"]) == (renewed.code, "Chợ Hàng Da", f"{stem}.pdf")
    assert page.csp_violations == []


def test_axe_finds_nothing_serious_on_the_desk_and_the_venues(bot_site, page):
    register(bot_site, 8216, "Phạm Văn Minh")
    dashboard.grant(bot_site, 8215, "coordinator", BAC_GIANG)
    dashboard.grant(bot_site, 8215, "province_officer", "01")  # over the venues' ward, to revoke
    venue = a_venue(bot_site, None, "Nhà văn hóa phường")

    async def hamlet_visit() -> None:
        async with bot_site.service.sessions() as db, db.begin():
            person, _ = await find_or_create_person(db, "telegram", "8215")
            data = {"commune_code": BAC_GIANG, "hamlet": "Tổ 3", "household": "12", "smartphones": 0}
            data |= {"outcome": "nobody_home", "installed_now": 0, "already_installed": 0}
            await visits.save_visit(db, "axe-desk", person.id, data, utcnow())

    bot_site.run(hamlet_visit())
    dashboard.sign_in(page, dashboard.link_from_bot(bot_site, 8215))
    found = {}
    desk = f"/dashboard/desk/{BAC_GIANG}"
    ref = visits.hamlet_ref(visits.hamlet_key("Tổ 3"))
    for path in (
        desk,
        f"{desk}/hamlets/{ref}?name=T%E1%BB%95+4",  # the question
        f"{desk}/hamlets/{ref}?name=+",  # no name: asked again
        f"/dashboard/venues/commune/{HA_NOI_WARD}",
        f"/dashboard/venues/{venue.id}/revoke",
    ):
        page.goto(bot_site.url(path))
        found[path] = accessibility_problems(page)
    page.goto(bot_site.url(desk))
    page.get_by_role("button", name=w("dashboard.desk.invite_make")).click()
    page.wait_for_url("**invite_new**")
    found["invite"] = accessibility_problems(page)
    page.goto(bot_site.url(f"/dashboard/venues/{venue.id}/revoke"))
    page.get_by_role("button", name=w("dashboard.venue_desk.revoke_yes")).click()
    page.wait_for_url("**/revoked**")
    found["revoked"] = accessibility_problems(page)
    assert found == {k: [] for k in found}
