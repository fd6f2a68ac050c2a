"""Per-commune daily counters: upserts that add up, also when several workers bump at once."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from storage.counters import bump, defer_until_commit
from storage.installs import report_install
from storage.models import CommuneCount, CommuneDailyCount, OutboxMessage, User
from storage.tally import tally
from storage.updates import queue_replies
from tests.harness import statements_run

DAY = dt.date(2021, 8, 3)


async def test_bumps_add_up_and_undo(sessions):
    async with sessions() as db, db.begin():
        await bump(db, "00070", DAY, households_visited=1, smartphones_seen=4, installs_helped=3)
        await bump(db, "00070", DAY, households_visited=1, smartphones_seen=2)
        await bump(db, "00070", DAY, smartphones_seen=-2)  # a correction
        await bump(db, "00070", DAY)  # nothing to add: no row touched
    async with sessions() as db:
        row = await db.get(CommuneDailyCount, ("00070", DAY))
        assert (row.households_visited, row.smartphones_seen, row.installs_helped, row.checkins) == (2, 4, 3, 0)


async def test_running_total_is_the_days_summed_and_a_tally_leaves_later_days_out(sessions):
    later = DAY + dt.timedelta(days=2)
    async with sessions() as db, db.begin():
        await bump(db, "00070", DAY, households_visited=1, smartphones_seen=4)
        await bump(db, "00070", later, households_visited=2, refused=1)
        await bump(db, "00070", later, refused=-1)
    async with sessions() as db:
        total = await db.get(CommuneCount, "00070")
        assert (total.households_visited, total.smartphones_seen, total.refused) == (3, 4, 0)
        for as_of, visited in ((DAY - dt.timedelta(days=1), 0), (DAY, 1), (later, 3)):
            result = await tally(db, "VN", as_of)
            assert result.totals.activity["households_visited"] == visited
            assert {r.code: r.activity["households_visited"] for r in result.rows}["00070"] == visited


async def test_unknown_counter_is_refused(sessions):
    async with sessions() as db, db.begin():
        with pytest.raises(ValueError):
            await bump(db, "00070", DAY, vaccinated=1)


async def test_concurrent_bumps_are_not_lost(sessions):
    async def one():
        async with sessions() as db, db.begin():
            await bump(db, "00082", DAY, checkins=1, checkins_already_installed=1)

    await asyncio.gather(*(one() for _ in range(20)))
    async with sessions() as db:
        row = await db.get(CommuneDailyCount, ("00082", DAY))
        assert (row.checkins, row.checkins_already_installed) == (20, 20)


async def test_counters_added_at_commit_add_up_in_one_statement_without_deadlocks(sessions):
    """An update's counters wait for its COMMIT (defer_until_commit), then go in one order: on
    PostgreSQL all in one statement. Transactions bumping the same rows in opposite orders must
    neither deadlock nor lose a bump."""
    later = DAY + dt.timedelta(days=1)

    async def one(days: tuple[dt.date, ...]) -> None:
        async with sessions() as db, db.begin():
            defer_until_commit(db)
            for day in days:
                await bump(db, "00082", day, checkins=1)

    async with statements_run(sessions) as statements:
        await asyncio.gather(*(one((DAY, later) if n % 2 else (later, DAY)) for n in range(20)))
    async with sessions() as db:
        days = [await db.get(CommuneDailyCount, ("00082", day)) for day in (DAY, later)]
        assert [row.checkins for row in days] == [20, 20]
        assert (await db.get(CommuneCount, "00082")).checkins == 40
        # The running total and the two days: one chained upsert, or one upsert each.
        upserts = [s for s in statements if "INSERT INTO commune" in s]
        assert len(upserts) == (20 if db.bind.dialect.name == "postgresql" else 60)


async def test_counters_go_with_the_replies_queued_last(sessions):
    """On PostgreSQL an update's kept counters go in the statement that queues its replies, its
    last before COMMIT (a round trip less); on both databases they add up, from transactions
    bumping two days in opposite orders at once, and every reply is queued."""
    later = DAY + dt.timedelta(days=1)

    async def one(n: int) -> int:
        async with sessions() as db, db.begin():
            defer_until_commit(db)
            for day in (DAY, later) if n % 2 else (later, DAY):
                await bump(db, "00082", day, checkins=1)
            replies = [({"text": f"reply {k}", "key": "k"}, None) for k in range(1 + n % 2)]
            queued = await queue_replies(
                db,
                channel="telegram",
                chat_id=str(n),
                messages=replies,
                account_id=None,
                update_id=f"u{n}",
                lease=dt.timedelta(seconds=30),
            )
            return len(queued)

    async with statements_run(sessions) as statements:
        queued = await asyncio.gather(*(one(n) for n in range(20)))
    async with sessions() as db:
        days = [await db.get(CommuneDailyCount, ("00082", day)) for day in (DAY, later)]
        assert [row.checkins for row in days] == [20, 20]
        assert (await db.get(CommuneCount, "00082")).checkins == 40
        assert sum(queued) == 30 == len((await db.scalars(select(OutboxMessage))).all())
        upserts = [s for s in statements if "INSERT INTO commune" in s]
        if db.bind.dialect.name == "postgresql":
            assert len(upserts) == 20 and all("INSERT INTO outbox" in s for s in upserts)
        else:
            assert len(upserts) == 60 and not any("INSERT INTO outbox" in s for s in upserts)


async def test_self_reported_install_bumps_its_commune_once(sessions):
    async with sessions() as db, db.begin():
        user = User()
        db.add(user)
        await db.flush()
        assert await report_install(db, user.id, "00070")
        assert not await report_install(db, user.id, "00070")
    async with sessions() as db:
        rows = (await db.scalars(select(CommuneDailyCount))).all()
        assert [(r.commune_code, r.self_reported_installs) for r in rows] == [("00070", 1)]


async def test_rebuild_reports_and_repairs_drift(sessions):
    from storage.recount import rebuild

    async with sessions() as db, db.begin():
        for _ in range(3):
            user = User()
            db.add(user)
            await db.flush()
            await report_install(db, user.id, "00070")
        assert await rebuild(db) == []  # counters kept in step
        today = (await db.scalars(select(CommuneDailyCount))).one().day
        await bump(db, "00070", today, self_reported_installs=2)  # drift, as a bug would leave
        await bump(db, "00082", DAY, checkins=0, refused=1)
    async with sessions() as db, db.begin():
        drift = await rebuild(db)
        assert {(d.commune_code, d.metric, d.counter, d.recount) for d in drift} == {
            ("00070", "self_reported_installs", 5, 3),
            ("00082", "refused", 1, 0),
        }
    async with sessions() as db, db.begin():
        assert await rebuild(db, fix=False) == []
        totals = {r.commune_code: (r.self_reported_installs, r.refused) for r in await db.scalars(select(CommuneCount))}
        assert totals == {"00070": (3, 0)}  # the running totals repaired with the days
