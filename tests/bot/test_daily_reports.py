"""Daily reports: delivered at the chosen local hour, once per day even with several workers."""

from __future__ import annotations

import asyncio
import datetime as dt
from fractions import Fraction

from bot.daily_reports import DailyReports
from storage import roles
from storage.accounts import open_account
from storage.figures import record_figure, set_target
from storage.reports import subscribe, subscriptions_of
from storage.roles import Role
from tests.harness import ChatDriver
from texts import Divisions, t

UTC = dt.UTC


async def test_report_once_a_day_across_workers(service):
    chat = ChatDriver(service, user_id="9001")
    await chat.send("/start")
    subscribed_at = dt.datetime(2021, 8, 3, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
    async with service.sessions() as db, db.begin():
        account, user, _ = await open_account(db, "test", "9001", "9001")
        await roles.grant(db, user.id, Role.PROVINCE_OFFICER, "24")
        await subscribe(db, user.id, "24", 7, subscribed_at)  # 07:00 has passed today: from tomorrow
        await set_target(db, "24", Fraction(3, 5), dt.date(2021, 8, 31), set_by=None, source="t")
        await record_figure(
            db, "07210", dt.date(2021, 8, 3), entered_by=None, source="t", installed=82930, subscribers=174229
        )
    workers = [DailyReports(service) for _ in range(3)]
    assert await workers[0].run_once(subscribed_at) == 0
    before_seven = dt.datetime(2021, 8, 3, 23, 30, tzinfo=UTC)  # 06:30 on 4 August
    assert await workers[0].run_once(before_seven) == 0
    at_seven = dt.datetime(2021, 8, 4, 0, 5, tzinfo=UTC)  # 07:05 on 4 August
    sent = await asyncio.gather(*(w.run_once(at_seven) for w in workers))
    assert sum(sent) == 1
    messages = [s.message for s in chat.channel.sent if s.chat_id == "9001" and s.message.key == "common.lines"]
    assert len(messages) == 1
    assert "Bắc Ninh" in messages[0].text and "47,59%" in messages[0].text and "21.608" in messages[0].text
    # One commune of 99 has figures: the report says so beside the rate.
    covered = service.content.render(t("tally.coverage", covered=1, total=99, kinds=Divisions(frozenset())))
    assert f"47,59% ({covered})" in messages[0].text
    assert sum(await asyncio.gather(*(w.run_once(at_seven + dt.timedelta(hours=5)) for w in workers))) == 0
    assert await workers[1].run_once(at_seven + dt.timedelta(days=1)) == 1  # the next morning


async def test_report_dropped_when_the_subscriber_may_no_longer_view_the_unit(service):
    officer = ChatDriver(service, user_id="9002")
    coordinator = ChatDriver(service, user_id="9003")
    subscribed_at = dt.datetime(2021, 8, 3, 1, 0, tzinfo=UTC)
    async with service.sessions() as db, db.begin():
        ids = {}
        for external, role, unit in (("9002", Role.PROVINCE_OFFICER, "24"), ("9003", Role.COORDINATOR, "07210")):
            _, user, _ = await open_account(db, "test", external, external)
            await roles.grant(db, user.id, role, unit)
            await subscribe(db, user.id, unit, 7, subscribed_at)
            ids[external] = user.id
        await roles.revoke(db, ids["9003"], Role.COORDINATOR, "07210")
    at_seven = dt.datetime(2021, 8, 4, 0, 5, tzinfo=UTC)
    assert await DailyReports(service).run_once(at_seven) == 1
    (report,) = [s.message for s in officer.channel.sent if s.chat_id == "9002"]
    assert report.key == "common.lines" and [b.payload for row in report.buttons for b in row] == ["tk:u:24"]
    assert [s for s in coordinator.channel.sent if s.chat_id == "9003"] == []
    async with service.sessions() as db:
        assert await subscriptions_of(db, ids["9003"]) == []  # dropped, not retried every day
        assert len(await subscriptions_of(db, ids["9002"])) == 1
