"""Opting out, erasing one's data (counts stay, anonymous), and announcements to a unit: who gets
them (once), and who may send them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from bot.courier import Courier
from storage import venues
from storage.models import (
    Account,
    AuditEntry,
    Broadcast,
    CheckIn,
    CommuneDailyCount,
    OutboxMessage,
    RoleGrant,
    SelfReportedInstall,
    User,
    Volunteer,
)
from storage.recount import rebuild
from tests.harness import ChatDriver, grant_role

HOAN_KIEM, CUA_NAM, HCMC_COMMUNE = "00070", "00082", "27316"


async def _citizen(service, user_id: str, commune_query: str) -> ChatDriver:
    chat = ChatDriver(service, user_id=user_id)
    await chat.press("install")
    await chat.send(commune_query)
    assert chat.keys == ["install.counted"], chat.keys
    return chat


async def test_opt_out_and_back_in(service):
    chat = ChatDriver(service, user_id="o1")
    await chat.send("/ngung")
    assert chat.keys == ["privacy.opted_out"]
    async with service.sessions() as db:
        assert (await db.scalars(select(User))).one().opted_out_at is not None
    await chat.send("/batdau")
    assert chat.keys == ["privacy.opted_in"]
    async with service.sessions() as db:
        assert (await db.scalars(select(User))).one().opted_out_at is None


async def test_erasure_deletes_the_person_and_keeps_the_counts(service):
    chat = await _citizen(service, "e1", "Hoàn Kiếm")
    person = await grant_role(service, "e1", "volunteer", HOAN_KIEM)
    async with service.sessions() as db, db.begin():
        db.add(
            Volunteer(user_id=person, commune_code=HOAN_KIEM, display_name="Lan", phone="+84912345678", status="active")
        )
        venue = await venues.create_venue(
            db, name="Chợ Đồng Xuân", kind="market", commune_code=HOAN_KIEM, address="Đồng Xuân", manager_user_id=person
        )
        await venues.record_check_in(db, venue, f"u:{person}", "test", dt.datetime.now(dt.UTC))
    async with service.sessions() as db:
        counts_before = [
            tuple(r)
            for r in (
                await db.execute(
                    select(
                        CommuneDailyCount.commune_code,
                        CommuneDailyCount.self_reported_installs,
                        CommuneDailyCount.checkins,
                    )
                )
            ).all()
        ]

    await chat.send("/xoadulieu")
    assert chat.keys == ["privacy.explain"]
    await chat.press("privacy:keep")
    assert chat.keys == ["privacy.cancelled"]
    await chat.send("/xoadulieu")
    await chat.press("privacy:erase")
    assert chat.keys == ["privacy.erased"]  # the answer still reaches them, once

    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Account)) == 0
        assert await db.scalar(select(func.count()).select_from(Volunteer)) == 0
        assert await db.scalar(select(func.count()).select_from(RoleGrant)) == 0
        user = await db.get(User, person)
        assert user.erased_at is not None and user.commune_code is None
        (check_in,) = (await db.scalars(select(CheckIn))).all()
        assert not check_in.visitor.startswith("u:")
        assert (await db.scalars(select(SelfReportedInstall.commune_code))).all() == [HOAN_KIEM]
        counts_after = [
            tuple(r)
            for r in (
                await db.execute(
                    select(
                        CommuneDailyCount.commune_code,
                        CommuneDailyCount.self_reported_installs,
                        CommuneDailyCount.checkins,
                    )
                )
            ).all()
        ]
        assert counts_after == counts_before
    async with service.sessions() as db, db.begin():
        assert await rebuild(db, fix=False) == []
    # Writing again starts afresh: a new, empty person.
    await chat.send("/start")
    assert chat.keys == ["menu.greeting"]
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 2


async def test_announcements_reach_the_unit_once(service):
    a1 = await _citizen(service, "a1", "Hoàn Kiếm")
    a2 = await _citizen(service, "a2", "Hoàn Kiếm")
    await _citizen(service, "a3", "Hoàn Kiếm")  # blocks the bot below
    await _citizen(service, "b1", "Cửa Nam")
    await _citizen(service, "z1", "Phường An Đông")  # Hồ Chí Minh City
    await a2.send("/ngung")
    async with service.sessions() as db, db.begin():
        await db.execute(update(Account).where(Account.external_id == "a3").values(blocked_at=dt.datetime.now(dt.UTC)))
    await grant_role(service, "coord", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="coord")
    await coordinator.send("/thongbao")
    assert coordinator.keys == ["announce.ask_text"]
    await coordinator.send("x" * 1501)
    assert coordinator.keys == ["announce.too_long"]
    await coordinator.send("Chiều nay 15h, Đoàn Thanh niên hỗ trợ cài Bluezone tại nhà văn hóa.")
    assert coordinator.keys == ["announce.preview"] and "1 người" in coordinator.text()
    await coordinator.press("ann:send")
    assert coordinator.keys == ["announce.queued"]
    await coordinator.press("ann:send")
    assert coordinator.keys == ["announce.gone"]  # a second tap sends nothing

    async with service.sessions() as db:
        rows = (
            await db.execute(
                select(OutboxMessage.chat_id, OutboxMessage.broadcast_id).where(OutboxMessage.broadcast_id.is_not(None))
            )
        ).all()
        assert [r[0] for r in rows] == ["a1"]
        assert (await db.scalars(select(Broadcast.recipients))).all() == [1]
        assert (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all() == ["grant", "broadcast"]

    # Only the worker that sends announcements sends them; then each arrives once.
    other_worker = Courier(service.sessions, service.channels, sends_broadcasts=False)
    await other_worker.sweep()
    assert [s.message.key for s in a1.channel.sent if s.chat_id == "a1"][-1] != "announce.message"
    await service.courier.sweep()
    await service.courier.sweep()
    got = [s for s in a1.channel.sent if s.message.key == "announce.message"]
    assert [s.chat_id for s in got] == ["a1"]
    assert "nhà văn hóa" in got[0].message.text
    assert "người dân phường Hoàn Kiếm, " in got[0].message.text  # the kind in lower case mid-sentence


async def test_a_province_officer_announces_to_the_whole_province(service):
    for user, place in (("p1", "Hoàn Kiếm"), ("p2", "Cửa Nam"), ("p3", "Phường An Đông")):
        await _citizen(service, user, place)
    await grant_role(service, "officer", "province_officer", "01")
    officer = ChatDriver(service, user_id="officer")
    await officer.send("/thongbao")
    assert officer.keys == ["announce.ask_commune"]
    await officer.send("Cửa Nam")
    assert officer.keys == ["announce.choose_scope"]
    assert "ann:u:01" in officer.payloads()
    await officer.press("ann:u:01")
    await officer.send("Thông báo toàn thành phố.")
    assert "2 người" in officer.text()
    await officer.press("ann:send")
    async with service.sessions() as db:
        chats = sorted(
            (await db.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.broadcast_id.is_not(None)))).all()
        )
    assert chats == ["p1", "p2"]


async def test_who_may_not_announce(service):
    citizen = await _citizen(service, "c1", "Hoàn Kiếm")
    await citizen.send("/thongbao")
    assert citizen.keys == ["access.no_role"]
    assert "ann" not in citizen.payloads()
    await grant_role(service, "coord-b", "coordinator", CUA_NAM)
    coordinator = ChatDriver(service, user_id="coord-b")
    for payload in (f"ann:u:{HOAN_KIEM}", "ann:u:01", f"ann:c:{HOAN_KIEM}"):  # forged buttons
        await coordinator.press(payload)
        assert coordinator.keys[0].startswith("access."), (payload, coordinator.keys)
    await coordinator.press(f"ann:u:{CUA_NAM}")
    assert coordinator.keys == ["announce.ask_text"]


async def test_an_announcement_whose_handler_fails_sends_nothing(service, monkeypatch):
    """The handler's writes (the broadcast row) roll back with its failure: no copy may be queued
    under that broadcast's id, and the official gets the apology."""
    import handlers.announcements as announcements

    await _citizen(service, "f1", "Hoàn Kiếm")
    await grant_role(service, "coord-f", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="coord-f")
    await coordinator.send("/thongbao")
    await coordinator.send("Chiều nay 15h hỗ trợ cài đặt tại nhà văn hóa.")
    assert coordinator.keys == ["announce.preview"]

    def broken(*args, **kwargs):
        raise RuntimeError("rendering the confirmation failed")

    monkeypatch.setattr(announcements, "home_button", broken)  # fails after ctx.announce, in the confirmation
    await coordinator.press("ann:send")
    assert coordinator.keys == ["menu.internal_error"]
    async with service.sessions() as db:
        assert (
            await db.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.broadcast_id.is_not(None))
            )
        ) == 0
        assert (await db.scalar(select(func.count()).select_from(Broadcast))) == 0
