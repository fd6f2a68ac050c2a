"""Housekeeping purges check-ins past their retention (the counts stay, and `tally rebuild` keeps
them) and old delivery bookkeeping."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot import housekeeping
from storage import updates, venues
from storage.models import CheckIn, CommuneDailyCount, OutboxMessage, ProcessedUpdate
from storage.recount import rebuild

UTC = dt.timezone.utc


async def test_old_check_ins_are_purged_and_their_counts_kept(sessions):
    long_ago = dt.datetime(2021, 8, 1, 3, 0, tzinfo=UTC)
    recently = dt.datetime(2021, 8, 30, 3, 0, tzinfo=UTC)
    now = dt.datetime(2021, 9, 1, 3, 0, tzinfo=UTC)
    async with sessions() as db, db.begin():
        venue = await venues.create_venue(db, name="Bến xe Gia Lâm", kind="bus_station", commune_code="00070", address="9 Ngô Gia Khảm")
        old = await venues.record_check_in(db, venue, "u:1", "telegram", long_ago)
        await venues.answer_installed(db, old.check_in.id, "u:1", True)
        await venues.record_check_in(db, venue, "u:2", "telegram", recently)
        assert await updates.mark_processed(db, "telegram", "1")
        row = updates.queue(db, channel="telegram", chat_id="1", body={}, account_id=None, update_id="1")
        await db.flush()
        await updates.mark_sent(db, row.id)
    async with sessions() as db, db.begin():
        for model, column in ((ProcessedUpdate, ProcessedUpdate.processed_at), (OutboxMessage, OutboxMessage.created_at)):
            await db.execute(model.__table__.update().values({column.key: long_ago}))
    purged = await housekeeping.run_once(sessions, checkin_retention_days=21, now=now)
    assert purged == {"check_ins": 1, "processed_updates": 1, "outbox": 1}
    assert await housekeeping.run_once(sessions, checkin_retention_days=21, now=now) == {"check_ins": 0, "processed_updates": 0, "outbox": 0}
    async with sessions() as db, db.begin():
        assert await db.scalar(select(func.count()).select_from(CheckIn)) == 1
        totals = (await db.execute(select(func.sum(CommuneDailyCount.checkins), func.sum(CommuneDailyCount.checkins_already_installed)))).one()
        assert tuple(totals) == (2, 1)  # the purged check-in still counts
        assert await rebuild(db, fix=False) == []  # and a rebuild does not "repair" it away
