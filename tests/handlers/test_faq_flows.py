"""Typed citizen questions through the real engine (issue 18): the issue's own examples, small
talk, "điểm hỗ trợ" to the person's own support points, and unanswered questions counted
without the person."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select

from storage import faq_misses
from storage.models import FaqMiss, FaqMissSalt, User
from storage.support_points import import_csv
from tests.handlers.test_citizen_flows import MENU
from tests.harness import ChatDriver
from texts import t


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("Ứng dụng Bluezone là gì?", "what_is"),
        ("bluezone la gi", "what_is"),
        ("dien thoai cu cai duoc khong", "old_phone"),
        ("dt cu ko cai dc", "old_phone"),
        ("app co ton pin khong", "battery"),
    ],
)
async def test_the_issues_questions_get_their_answer(service, content, typed, answer):
    chat = ChatDriver(service)
    await chat.send(typed)
    assert chat.keys == ["faq.answer"]
    ids = [q["id"] for q in content.section("faq.questions")]
    title = content.render(t(f"faq.questions.{ids.index(answer)}.question"))
    assert title in chat.text()


async def test_a_long_real_question_offers_its_answer_first(service):
    chat = ChatDriver(service)
    await chat.send("Người nào bị nhiễm thì đã bị cách ly …, vậy thì cài đặt Bluezone để làm gì nữa?")
    if chat.keys == ["faq.choose"]:  # close to another answer: both offered, the right one first
        assert chat.payloads()[0] == "faq:q:why_install"
    else:
        assert chat.keys == ["faq.answer"] and "faq:q:why_install" not in chat.payloads()


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("xin chào", "greeting"),
        ("chào bạn", "greeting"),
        ("alo", "greeting"),
        ("cảm ơn", "thanks"),
        ("ok", "ack"),
        ("👍", "ack"),
    ],
)
async def test_small_talk_gets_a_friendly_word_and_the_menu(service, typed, kind):
    chat = ChatDriver(service)
    await chat.send(typed)
    assert chat.keys == [f"small_talk.{kind}.reply"]
    assert chat.payloads() == MENU


async def test_close_answers_are_offered_as_buttons_and_each_answers(service):
    chat = ChatDriver(service)
    await chat.send("bat bluetooth lau co hai khong")
    assert chat.keys in (["faq.choose"], ["faq.answer"])
    if chat.keys == ["faq.choose"]:
        offered = [p for p in chat.payloads() if p.startswith("faq:q:")]
        assert 2 <= len(offered) <= 3
        await chat.press(offered[0])
        assert chat.keys == ["faq.answer"]


async def test_support_points_typed_lead_to_the_persons_own_commune(service):
    async with service.sessions() as db, db.begin():
        await import_csv(db, "commune_code,name,address\n00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng\n")
    chat = ChatDriver(service)
    await chat.send("điểm hỗ trợ")
    assert chat.keys == ["support.ask_commune"]  # the commune is not known yet: asked
    await chat.send("hoan kiem")
    assert chat.keys == ["support.points"]
    await chat.send("diem ho tro o dau vay ad")
    assert chat.keys == ["support.points"]  # now known: the points at once
    assert "Bưu điện Hoàn Kiếm" in chat.text()


async def test_help_answer_offers_the_persons_support_points(service):
    chat = ChatDriver(service)
    await chat.press("faq:q:help")
    assert "support" in chat.payloads()


async def test_unanswered_questions_are_counted_without_the_person(service):
    for user in ("2001", "2002", "2003"):
        chat = ChatDriver(service, user_id=user)
        await chat.send("Giá vàng hôm nay 0912345678 bao nhiêu?")
        assert chat.keys == ["menu.not_understood"]
    again = ChatDriver(service, user_id="2001")
    await again.send("gia vang hom nay bao nhieu")  # the same words typed again: still one person
    alone = ChatDriver(service, user_id="2004")
    await alone.send("Nguyễn Văn Bình số nhà 12 hỏi")  # one person's words never reach the list
    async with service.sessions() as db:
        rows = (await db.scalars(select(FaqMiss))).all()
        assert {r.text for r in rows} == {"gia vang hom nay bao nhieu", "nguyen van binh so nha hoi"}
        assert not any(ch.isdigit() for r in rows for ch in r.text)
        columns = {c.key for c in inspect(FaqMiss).columns}
        assert columns == {"id", "text", "day", "asker"}  # nothing that points to a person
        users = {str(u.id) for u in (await db.scalars(select(User))).all()}
        assert not any(r.asker in users for r in rows)
        listed = await faq_misses.phrasings(db)
    assert [(p.text, p.people) for p in listed] == [("gia vang hom nay bao nhieu", 3)]


async def test_misses_and_salts_are_kept_no_longer_than_promised(sessions):
    now = dt.datetime(2026, 12, 6, 5, tzinfo=dt.UTC)
    async with sessions() as db, db.begin():
        for days_ago in (0, 89, 91):
            await faq_misses.record(db, "vay tien nhanh", 7, now - dt.timedelta(days=days_ago))
        assert await faq_misses.prune(db, now) == 1
        days = sorted(r.day for r in (await db.scalars(select(FaqMiss))).all())
        assert days == [dt.date(2026, 9, 8), dt.date(2026, 12, 6)]
        # Only today's salt is left: yesterday's tags can no longer be recomputed from an id.
        assert [s.day for s in (await db.scalars(select(FaqMissSalt))).all()] == [dt.date(2026, 12, 6)]
        await faq_misses.record(db, "12345", 7, now)  # nothing but digits: nothing to keep
        assert len((await db.scalars(select(FaqMiss))).all()) == 2


def test_faq_misses_command_lists_phrasings_of_three_people(tmp_path, monkeypatch):
    import asyncio

    from bot.cli import main
    from storage.db import create_engine, sessionmaker
    from storage.migrate import upgrade

    url = f"sqlite:///{tmp_path}/misses.db"
    monkeypatch.setenv("DATABASE_URL", url)
    now = dt.datetime.now(dt.UTC)

    async def seed() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        async with sessionmaker(engine)() as db, db.begin():
            for person in (1, 2, 3):
                await faq_misses.record(db, "Bluezone có bản cho máy tính không?", person, now)
            await faq_misses.record(db, "hoi rieng mot nguoi", 1, now)
        await engine.dispose()

    asyncio.run(seed())
    result = CliRunner().invoke(main, ["faq", "misses"])
    assert result.exit_code == 0, result.output
    assert "bluezone co ban cho may tinh khong" in result.output
    assert "hoi rieng mot nguoi" not in result.output
    assert CliRunner().invoke(main, ["faq", "misses", "--min-people", "1"]).exit_code != 0


async def test_a_named_platform_opens_its_own_guide(service):
    chat = ChatDriver(service)
    await chat.send("huong dan cai bluezone tren iphone")
    assert chat.keys == ["guide.step"]
    assert any("apps.apple.com" in url for url in chat.urls())
