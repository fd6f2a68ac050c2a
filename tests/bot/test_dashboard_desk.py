"""Acting on the dashboard through the real app (aiohttp's client), on SQLite and PostgreSQL: a
coordinator's desk (approve, deactivate, the invite) and venues (revoke, posters in bulk), each
checked in the stored rows and the audit log, role by role; forms without their token refused."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import select

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from documents.posters.bundle import INDEX_FILE, file_stem
from storage import roles, venues, visits, volunteers
from storage.models import AuditEntry, Venue, Volunteer, VolunteerInvite, utcnow
from storage.roles import Role
from tests.bot import test_dashboard_pages as pages
from texts import t

BAC_NINH, BAC_GIANG, QUE_VO, HA_NOI_WARD = "24", "07210", "09247", "00070"
CSRF = pages.CSRF


@pytest.fixture
async def client(aiohttp_client, database, db_engine):
    settings = Settings(
        database_url=database["url"],
        qr_signing_key=Secret("dashboard-acting-key"),
        public_base_url="http://127.0.0.1",
        telegram_bot_username="bluezone_test_bot",
    )
    return await aiohttp_client(init_app(settings, Service(settings, db_engine=db_engine)))


async def pending_volunteer(client, external_id: str, commune: str = BAC_GIANG) -> Volunteer:
    user = await pages.person(client, external_id)
    async with pages.service_of(client).sessions() as db, db.begin():
        return await volunteers.register(
            db, user, commune, display_name="Nguyễn Thị Lan", phone="+84912345678", team="", now=utcnow()
        )


async def stored(client, model, key):
    async with pages.service_of(client).sessions() as db:
        return await db.get(model, key)


async def audit_entries(client) -> list[tuple[str, str, int | None, str | None]]:
    """The log, less the tests' own grants (from the command line)."""
    async with pages.service_of(client).sessions() as db:
        stmt = select(AuditEntry).where(AuditEntry.source != "cli").order_by(AuditEntry.id)
        rows = (await db.scalars(stmt)).all()
        return [(e.action, e.source, e.actor_user_id, e.unit_code) for e in rows]


async def token(client, path: str) -> str:
    page = await client.get(path)
    assert page.status == 200, page.status
    return CSRF.search(await page.text()).group(1)


async def test_a_coordinator_approves_deactivates_and_makes_an_invite(client):
    lan = await pending_volunteer(client, "11")
    coordinator = await pages.person(client, "10", Role.COORDINATOR, BAC_GIANG)
    await pages.sign_in(client, coordinator)
    desk = f"/dashboard/desk/{BAC_GIANG}"
    html = await (await client.get(desk)).text()
    assert "Nguyễn Thị Lan" in html and f"/volunteers/{lan.id}/approve" in html
    csrf = CSRF.search(html).group(1)

    refused = await client.post(f"{desk}/volunteers/{lan.id}/approve", data={}, allow_redirects=False)
    assert refused.status == 403  # no token: nothing done
    assert (await stored(client, Volunteer, lan.id)).status == "pending"

    done = await client.post(f"{desk}/volunteers/{lan.id}/approve", data={"csrf": csrf}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == f"{desk}?done=approved"
    assert (await stored(client, Volunteer, lan.id)).status == "active"
    async with pages.service_of(client).sessions() as db:
        assert await roles.check(db, lan.user_id, Role.VOLUNTEER, BAC_GIANG)
    again = await client.post(f"{desk}/volunteers/{lan.id}/approve", data={"csrf": csrf}, allow_redirects=False)
    assert again.headers["Location"] == f"{desk}?done=already"  # decided once, audited once

    await client.post(f"{desk}/volunteers/{lan.id}/deactivate", data={"csrf": csrf}, allow_redirects=False)
    assert (await stored(client, Volunteer, lan.id)).status == "inactive"
    assert await audit_entries(client) == [
        ("volunteer_approved", "web", coordinator, BAC_GIANG),
        ("grant", "web", coordinator, BAC_GIANG),
        ("volunteer_deactivated", "web", coordinator, BAC_GIANG),
        ("revoke", "web", coordinator, BAC_GIANG),
    ]

    await client.post(f"{desk}/invite", data={"csrf": csrf, "action": "new"}, allow_redirects=False)
    async with pages.service_of(client).sessions() as db:
        invite = await volunteers.active_invite(db, BAC_GIANG, utcnow())
    assert invite is not None and invite.created_by == coordinator
    shown = await (await client.get(f"{desk}?done=invite_new")).text()
    assert f'<code id="invite-code">{invite.code}</code>' in shown
    assert f"https://t.me/bluezone_test_bot?start=v-{invite.code}" not in shown  # no Telegram channel running
    await client.post(f"{desk}/invite", data={"csrf": csrf, "action": "revoke"}, allow_redirects=False)
    assert (await stored(client, VolunteerInvite, invite.id)).revoked_at is not None


async def test_a_coordinator_cannot_act_on_another_commune(client):
    lan = await pending_volunteer(client, "21")
    other = await pages.person(client, "20", Role.COORDINATOR, QUE_VO)
    await pages.sign_in(client, other)
    csrf = await token(client, f"/dashboard/desk/{QUE_VO}")
    assert (await client.get(f"/dashboard/desk/{BAC_GIANG}")).status == 403
    theirs = await client.post(f"/dashboard/desk/{BAC_GIANG}/volunteers/{lan.id}/approve", data={"csrf": csrf})
    assert theirs.status == 403
    # The volunteer's id under one's own commune's address: not in that commune.
    mine = await client.post(f"/dashboard/desk/{QUE_VO}/volunteers/{lan.id}/approve", data={"csrf": csrf})
    assert mine.status == 404
    invite = await client.post(f"/dashboard/desk/{BAC_GIANG}/invite", data={"csrf": csrf, "action": "new"})
    assert invite.status == 403
    assert (await stored(client, Volunteer, lan.id)).status == "pending"
    assert await audit_entries(client) == []


async def a_venue(client, manager: int | None, name: str = "Chợ Hàng Da", commune: str = HA_NOI_WARD) -> Venue:
    async with pages.service_of(client).sessions() as db, db.begin():
        return await venues.create_venue(
            db, name=name, kind="market", commune_code=commune, address="Phố Hàng Da", manager_user_id=manager
        )


async def test_a_manager_revokes_their_venue_and_downloads_its_posters(client):
    manager = await pages.person(client, "30")
    mine = await a_venue(client, manager)
    other = await a_venue(client, None, "Bưu điện Hà Nội")
    await pages.sign_in(client, manager)
    csrf = await token(client, f"/dashboard/venues/{mine.id}/revoke")
    assert (await client.get(f"/dashboard/venues/{other.id}/revoke")).status == 403  # not theirs
    assert (await client.get(f"/dashboard/venues/commune/{HA_NOI_WARD}")).status == 403  # no role over the commune

    done = await client.post(
        f"/dashboard/venues/{mine.id}/revoke", data={"csrf": csrf, "back": "/dashboard/venues"}, allow_redirects=False
    )
    assert (
        done.status == 303 and done.headers["Location"] == f"/dashboard/venues/{mine.id}/revoked?back=/dashboard/venues"
    )
    renewed = await stored(client, Venue, mine.id)
    assert renewed.code != mine.code
    async with pages.service_of(client).sessions() as db:
        assert (await venues.find_by_code(db, mine.code)).revoked
    assert await audit_entries(client) == [("venue_revoked", "web", manager, HA_NOI_WARD)]
    shown = await (await client.get(done.headers["Location"])).text()
    assert mine.code in shown and renewed.code in shown

    download = await client.get("/dashboard/venues/posters.zip")
    assert download.status == 200 and download.content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(await download.read()))
    stem = file_stem(renewed)
    assert archive.namelist() == [f"{stem}.pdf", INDEX_FILE]
    assert archive.read(f"{stem}.pdf").startswith(b"%PDF")
    index = list(csv.DictReader(io.StringIO(archive.read(INDEX_FILE).decode("utf-8-sig"))))
    assert [(r["code"], r["name"], r["pdf"]) for r in index] == [(renewed.code, "Chợ Hàng Da", f"{stem}.pdf")]


async def test_officers_and_coordinators_over_a_communes_venues(client):
    await a_venue(client, None, "Chợ Hàng Da")
    target = await a_venue(client, None, "Bưu điện Hà Nội")
    coordinator = await pages.person(client, "40", Role.COORDINATOR, HA_NOI_WARD)
    await pages.sign_in(client, coordinator)
    listing = await client.get(f"/dashboard/venues/commune/{HA_NOI_WARD}")
    html = await listing.text()
    assert listing.status == 200 and "Bưu điện Hà Nội" in html and "/revoke" not in html  # sees, may not revoke
    assert (await client.get(f"/dashboard/venues/{target.id}/revoke")).status == 403
    download = await client.get(f"/dashboard/venues/commune/{HA_NOI_WARD}/posters.zip")
    names = zipfile.ZipFile(io.BytesIO(await download.read())).namelist()
    assert sorted(names) == sorted([f"{file_stem(v)}.pdf" for v in await commune_venues(client)] + [INDEX_FILE])

    elsewhere = await pages.person(client, "41", Role.PROVINCE_OFFICER, BAC_NINH)
    await pages.sign_in(client, elsewhere)
    assert (await client.get(f"/dashboard/venues/commune/{HA_NOI_WARD}")).status == 403
    assert (await client.get(f"/dashboard/venues/commune/{HA_NOI_WARD}/posters.zip")).status == 403
    assert (await client.get(f"/dashboard/venues/{target.id}/revoke")).status == 403

    officer = await pages.person(client, "42", Role.PROVINCE_OFFICER, "01")
    await pages.sign_in(client, officer)
    html = await (await client.get(f"/dashboard/venues/commune/{HA_NOI_WARD}")).text()
    assert f"/dashboard/venues/{target.id}/revoke" in html
    csrf = CSRF.search(html).group(1)
    back = f"/dashboard/venues/commune/{HA_NOI_WARD}"
    done = await client.post(
        f"/dashboard/venues/{target.id}/revoke", data={"csrf": csrf, "back": "//evil.example"}, allow_redirects=False
    )
    assert done.headers["Location"] == f"/dashboard/venues/{target.id}/revoked"  # never another site
    assert (await stored(client, Venue, target.id)).code != target.code
    assert await audit_entries(client) == [("venue_revoked", "web", officer, HA_NOI_WARD)]
    assert back in await (await client.get(f"/dashboard/venues/{target.id}/revoked?back={back}")).text()


async def commune_venues(client) -> list[Venue]:
    async with pages.service_of(client).sessions() as db:
        return await venues.venues_in_commune(db, HA_NOI_WARD)


async def test_a_coordinator_renames_then_merges_a_hamlet(client):
    coordinator = await pages.person(client, "50", Role.COORDINATOR, BAC_GIANG)
    async with pages.service_of(client).sessions() as db, db.begin():
        visit = {"commune_code": BAC_GIANG, "household": "7", "smartphones": 0, "installed_now": 0}
        for n, hamlet in enumerate(("Thon Dong", "Thôn Tây")):
            data = {
                **visit,
                "hamlet": hamlet,
                "household": str(n + 1),
                "outcome": "nobody_home",
                "already_installed": 0,
            }
            await visits.save_visit(db, f"desk-{n}", coordinator, data, utcnow())
    await pages.sign_in(client, coordinator)
    desk = f"/dashboard/desk/{BAC_GIANG}"
    html = await (await client.get(desk)).text()
    ref = visits.hamlet_ref(visits.hamlet_key("Thon Dong"))
    assert f"{desk}/hamlets/{ref}" in html

    asked = await (await client.get(f"{desk}/hamlets/{ref}", params={"name": "Thôn Đông"})).text()
    question = t("coordinator.hamlet_rename_ask", old="Thon Dong", new="Thôn Đông", old_households=1)
    assert pages.service_of(client).content.render(question) in asked  # chat's question
    csrf = CSRF.search(asked).group(1)
    assert (await client.post(f"{desk}/hamlets/{ref}", data={"name": "Thôn Đông"})).status == 403  # no token
    done = await client.post(f"{desk}/hamlets/{ref}", data={"csrf": csrf, "name": "Thôn Đông"}, allow_redirects=False)
    assert done.headers["Location"] == f"{desk}?done=hamlet_renamed#hamlets"

    renamed = visits.hamlet_ref(visits.hamlet_key("Thôn Đông"))
    empty = await client.post(f"{desk}/hamlets/{renamed}", data={"csrf": csrf, "name": " "}, allow_redirects=False)
    assert empty.status == 303 and "/hamlets/" in empty.headers["Location"]  # asked again, nothing done
    merged = await client.post(
        f"{desk}/hamlets/{renamed}", data={"csrf": csrf, "name": "thon tay"}, allow_redirects=False
    )
    assert merged.headers["Location"] == f"{desk}?done=hamlet_merged#hamlets"
    async with pages.service_of(client).sessions() as db:
        assert set((await visits.hamlets_of(db, BAC_GIANG)).values()) == {"Thôn Tây"}
    assert await audit_entries(client) == [
        ("hamlet_renamed", "web", coordinator, BAC_GIANG),
        ("hamlet_merged", "web", coordinator, BAC_GIANG),
    ]
    gone = await client.get(f"{desk}/hamlets/{renamed}", params={"name": "x"})
    assert gone.status == 404
