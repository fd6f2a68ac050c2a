"""Linking a Telegram and a Zalo account with a one-time code: one person, counted once."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from storage.models import Account, CommuneDailyCount, SelfReportedInstall, User
from tests.harness import NO_BUTTONS, ChatDriver


def code_in(text: str) -> str:
    return re.search(r"/lienket (\d{4} \d{4})", text).group(1)


def one_person_on_two_messengers(service, n: int) -> tuple[ChatDriver, ChatDriver]:
    """The same person on a messenger with buttons (Telegram) and on one without (Zalo Bot)."""
    return (
        ChatDriver(service, user_id=f"tg-{n}", channel="test"),
        ChatDriver(service, user_id=f"zl-{n}", channel="zalo_test", caps=NO_BUTTONS),
    )


async def test_linking_merges_two_people_and_keeps_one_install(service):
    telegram, zalo = one_person_on_two_messengers(service, 1)
    await telegram.press("install")
    await telegram.send("Hoàn Kiếm")
    assert telegram.keys == ["install.counted"]
    await zalo.send("/dacai")
    await zalo.send("Phường Ba Đình, Hà Nội")
    assert zalo.keys == ["install.counted"]

    await zalo.send("liên kết")  # typed, accents optional
    assert zalo.keys == ["link.intro"]
    await zalo.send("1")  # "Create a link code", the first numbered option
    assert zalo.keys == ["link.code"]
    code = code_in(zalo.text())

    await telegram.send(f"/lienket {code}")
    assert telegram.keys == ["link.done"]
    async with service.sessions() as db:
        (person,) = (await db.scalars(select(User))).all()
        assert {a.user_id for a in (await db.scalars(select(Account))).all()} == {person.id}
        assert await db.scalar(select(func.count()).select_from(SelfReportedInstall)) == 1
        assert await db.scalar(select(func.sum(CommuneDailyCount.self_reported_installs))) == 1

    await telegram.press("install")  # counted once for the person, whichever messenger asks
    assert telegram.keys == ["install.already"]
    await zalo.send("/dacai")
    assert zalo.keys == ["install.already"]
    await telegram.send(f"/lienket {code}")  # the code was used up
    assert telegram.keys == ["link.unknown"]


async def test_typed_code_and_wrong_codes(service):
    telegram, zalo = one_person_on_two_messengers(service, 2)
    await telegram.send("/lienket")
    code = code_in(telegram.text())
    await zalo.send("/lienket 1234")
    assert zalo.keys == ["link.unknown"]
    await zalo.send("LK " + code.replace(" ", "-"))
    assert zalo.keys == ["link.done"]
    await zalo.send("/lienket")
    again = code_in(zalo.text())
    await telegram.send(f"/lienket {again}")
    assert telegram.keys == ["link.same_person"]


async def test_linking_works_in_the_middle_of_a_question(service):
    telegram, zalo = one_person_on_two_messengers(service, 3)
    await telegram.press("link:new")
    code = code_in(telegram.text())
    await zalo.send("/hotro")  # the commune question is open
    await zalo.send(f"/lienket {code}")
    assert zalo.keys == ["link.done"]
