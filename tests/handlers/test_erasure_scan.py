"""/xoadulieu leaves nothing that identifies the person, in any table, checked from the metadata.

One person does everything that writes personal data: reports an install, checks in in chat and on
the web, links a Zalo account (whose messages go through the inbound queue), registers as a
volunteer there (coordinators get a notice naming them), is approved (a notice to them), logs a
visit, registers a venue and gets its poster as files the messenger fetches by URL, and is sent an
announcement. Then they erase their data. Every text and JSON column of every table (a table
added later is scanned too) is searched for their name, phone, team, messenger ids and the link
code they typed: nothing. Their counts stay.
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata

import pytest
from sqlalchemy import JSON, String, func, select

from bot.settings import Secret, Settings
from bot.web import init_app
from storage.models import Base, CommuneDailyCount, InboundEvent, MediaFile, OutboxMessage
from storage.recount import rebuild
from storage.venue_codes import sign
from tests.handlers.test_checkin_flows import register
from tests.harness import NO_BUTTONS, ChatDriver, RecordingChannel, grant_role

KEY = "erasure-tests-qr-signing-key"
HOAN_KIEM = "00070"

TELEGRAM_ID = "7301945528"
ZALO_ID = "5820193746612345"
NAME = "Hoàng Thị Quỳnh Xuyến"
PHONE_TYPED, PHONE_DIGITS = "0987 123 456", "987123456"  # stored as +84987123456
TEAM = "Chi đoàn Ximăng Lục Ngạn"


@pytest.fixture
def settings(database: dict) -> Settings:
    return Settings(
        database_url=database["url"],
        qr_signing_key=Secret(KEY),
        telegram_bot_username="bluezone_test_bot",
        public_base_url="http://bot.example.gov.vn",
        media_url_key=Secret("erasure-tests-media-key"),
    )


class FetchedByUrlChannel(RecordingChannel):
    """A messenger that fetches files from our server by URL, as the Zalo Bot Platform does: each
    file sent is kept in media_files for that chat (bot/media.py)."""

    def __init__(self, name, capabilities, media) -> None:
        super().__init__(name, capabilities)
        self.media = media

    async def send(self, chat_id, message, attachment) -> None:
        if attachment is not None:
            await self.media.publish(
                attachment,
                message.mime_type or "application/octet-stream",
                message.filename or "file",
                channel=self.name,
                chat_id=chat_id,
            )
        await super().send(chat_id, message, attachment)


class QueuedChatDriver(ChatDriver):
    """A person on a Zalo-like messenger: each message is stored in the inbound queue first, as
    the Zalo webhooks do, then handled by the inbox, and its replies sent."""

    async def deliver(self, incoming):
        before = len(self.channel.sent)
        await self.service.inbox.accept(incoming)
        async with self.service.sessions() as db:
            event = (
                await db.scalars(select(InboundEvent.id).where(InboundEvent.update_id == incoming.update_id))
            ).one()
        for _ in range(200):
            await self.service.inbox.handle_due()
            async with self.service.sessions() as db:
                row = await db.get(InboundEvent, event)
            if row is None or row.done_at is not None:  # erasure deletes the event it came in
                break
            await asyncio.sleep(0.01)
        await self.service.courier.drain()
        self.last = [s.message for s in self.channel.sent[before:] if s.chat_id == self.user_id]
        return self.last


def _forms(value: str) -> set[str]:
    return {unicodedata.normalize(form, value).casefold() for form in ("NFC", "NFD")}


async def scan(service, needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text or JSON value of every table that holds a needle."""
    wanted = set().union(*(_forms(n) for n in needles))
    hits = []
    async with service.sessions() as db:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, JSON))]
            if not columns:
                continue
            for row in (await db.execute(select(*columns))).all():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = json.dumps(value, ensure_ascii=False) if isinstance(column.type, JSON) else str(value)
                    text = unicodedata.normalize("NFC", text).casefold() + unicodedata.normalize("NFD", text).casefold()
                    hits.extend((table.name, column.name, n) for n in wanted if n in text)
    return hits


async def web_check_in(aiohttp_client, settings, service, venue_code: str) -> None:
    """Scan the poster's QR in a browser and check in with one tap (the page's own form)."""
    client = await aiohttp_client(init_app(settings, service))
    path = f"/q/{sign(KEY, venue_code)}"
    page = await (await client.get(path)).text()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert (await client.post(path, data=hidden)).status == 200
    await client.close()  # stops the app's background tasks; the tests below drive the service


async def test_erasure_leaves_nothing_that_identifies_the_person(service, settings, aiohttp_client):
    coordinator_id = await grant_role(service, "coord-81", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="coord-81")
    service.add_channel(FetchedByUrlChannel("zalo_test", NO_BUTTONS, service.media))
    telegram = ChatDriver(service, user_id=TELEGRAM_ID)
    zalo = QueuedChatDriver(service, user_id=ZALO_ID, channel="zalo_test", caps=NO_BUTTONS)
    venue = await register(ChatDriver(service, user_id="manager-81"), name="Nhà văn hóa phường")

    # A citizen on Telegram: their install, a check-in in chat, and one on the web.
    await telegram.press("install")
    await telegram.send("Hoàn Kiếm")
    assert telegram.keys == ["install.counted"]
    await telegram.send(f"CHECKIN {venue.code}")
    assert telegram.keys == ["checkin.thanks"]
    await web_check_in(aiohttp_client, settings, service, venue.code)

    # The same person on Zalo: linked, then registered as a volunteer there.
    await zalo.send("liên kết")
    await zalo.send("1")
    assert zalo.keys == ["link.code"]
    code = re.search(r"/lienket (\d{4} \d{4})", zalo.text()).group(1)
    await telegram.send(f"/lienket {code}")
    assert telegram.keys == ["link.done"]
    for typed in ("/dangky", "1", "Hoàn Kiếm", NAME, PHONE_TYPED, TEAM):
        await zalo.send(typed)
    assert zalo.keys == ["volunteer.pending"]
    request = [s.message for s in coordinator.channel.sent if s.chat_id == "coord-81"][-1]
    assert request.key == "volunteer.approval_request" and NAME in request.text
    await coordinator.press(coordinator.payloads(request)[0])
    assert coordinator.keys == ["coordinator.approved"]
    assert zalo.channel.sent[-1].message.key == "volunteer.approved_notice"

    # Their work: a visit, and a venue with its poster (files fetched by URL on Zalo).
    await telegram.send("to 5 so 7 3 may cai 1 san 2")
    await telegram.press(next(p for p in telegram.payloads() if p.startswith("vs:")))
    assert telegram.keys == ["visit.saved"]
    for typed in ("/dangkydiem", "Quán cà phê Lục Ngạn", "9", "Hoàn Kiếm", "12 Hàng Bạc", "1", "1"):
        await zalo.send(typed)
    assert "venue.created" in zalo.keys

    # An announcement to the commune reaches them.
    await coordinator.send("/thongbao")
    await coordinator.send("Chiều nay Đoàn Thanh niên hỗ trợ cài đặt tại nhà văn hóa.")
    await coordinator.press("ann:send")
    await service.courier.sweep()
    await service.courier.drain()
    assert "announce.message" in [
        s.message.key for s in zalo.channel.sent + telegram.channel.sent if s.chat_id in (TELEGRAM_ID, ZALO_ID)
    ]

    # The phone as stored (+84987123456) and as the bot shows it (0987 123 456, the house format).
    needles = [NAME, PHONE_DIGITS, PHONE_TYPED, TEAM, TELEGRAM_ID, ZALO_ID, code.replace(" ", "")]
    before = {(table, column) for table, column, _ in await scan(service, needles)}
    # What the scan must find before erasure, or it proves nothing afterwards. (Sent messages keep
    # their content key only: the coordinator's "approved: <name>" no longer holds the name.)
    assert {
        ("accounts", "external_id"),
        ("volunteers", "display_name"),
        ("inbound_events", "incoming"),
        ("outbox", "chat_id"),
        ("media_files", "chat_id"),
        ("link_codes", "code"),
    } <= before, before
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(MediaFile)) >= 2
        counts = (await db.execute(select(CommuneDailyCount).order_by(CommuneDailyCount.day))).scalars().all()
        counts_before = [(c.households_visited, c.checkins, c.self_reported_installs) for c in counts]

    await zalo.send("/xoadulieu")
    assert zalo.keys == ["privacy.explain"]
    await zalo.send("1")  # the numbered "erase"
    assert zalo.keys == ["privacy.erased"]  # the farewell still reaches them

    assert await scan(service, needles) == []
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(MediaFile)) == 0
        assert (
            await db.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.about_user_id.is_not(None))
            )
            == 0
        )
        counts = (await db.execute(select(CommuneDailyCount).order_by(CommuneDailyCount.day))).scalars().all()
        assert [(c.households_visited, c.checkins, c.self_reported_installs) for c in counts] == counts_before
    async with service.sessions() as db, db.begin():
        assert await rebuild(db, fix=False) == []  # the counters still equal a recount
    assert coordinator_id  # the coordinator keeps their own data
