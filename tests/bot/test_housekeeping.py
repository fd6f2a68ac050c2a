"""Housekeeping purges check-ins past their retention (the counts stay, and `tally rebuild` keeps
them) and old delivery bookkeeping."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot import housekeeping
from storage import updates, venues
from storage.models import CheckIn, CommuneDailyCount, OutboxMessage, ProcessedUpdate
from storage.recount import rebuild

UTC = dt.UTC


async def test_old_check_ins_are_purged_and_their_counts_kept(sessions):
    long_ago = dt.datetime(2021, 8, 1, 3, 0, tzinfo=UTC)
    recently = dt.datetime(2021, 8, 30, 3, 0, tzinfo=UTC)
    now = dt.datetime(2021, 9, 1, 3, 0, tzinfo=UTC)
    async with sessions() as db, db.begin():
        venue = await venues.create_venue(
            db, name="Bến xe Gia Lâm", kind="bus_station", commune_code="00070", address="9 Ngô Gia Khảm"
        )
        old = await venues.record_check_in(db, venue, "u:1", "telegram", long_ago)
        await venues.answer_installed(db, old.check_in.id, "u:1", True)
        await venues.record_check_in(db, venue, "u:2", "telegram", recently)
        assert await updates.mark_processed(db, "telegram", "1")
        row = updates.queue(db, channel="telegram", chat_id="1", body={}, account_id=None, update_id="1")
        await db.flush()
        await updates.mark_sent(db, row.id, "k")
    async with sessions() as db, db.begin():
        for model, column in (
            (ProcessedUpdate, ProcessedUpdate.processed_at),
            (OutboxMessage, OutboxMessage.created_at),
        ):
            await db.execute(model.__table__.update().values({column.key: long_ago}))
    purged = await housekeeping.run_once(sessions, checkin_retention_days=21, now=now)
    assert purged == {"check_ins": 1, "processed_updates": 1, "outbox": 1, "short_lived": 0}
    nothing = {"check_ins": 0, "processed_updates": 0, "outbox": 0, "short_lived": 0}
    assert await housekeeping.run_once(sessions, checkin_retention_days=21, now=now) == nothing
    async with sessions() as db, db.begin():
        assert await db.scalar(select(func.count()).select_from(CheckIn)) == 1
        totals = (
            await db.execute(
                select(func.sum(CommuneDailyCount.checkins), func.sum(CommuneDailyCount.checkins_already_installed))
            )
        ).one()
        assert tuple(totals) == (2, 1)  # the purged check-in still counts
        assert await rebuild(db, fix=False) == []  # and a rebuild does not "repair" it away


async def test_short_lived_rows_go_when_their_time_is_up(sessions):
    """Unsaved summaries after 3 days, link codes once used or expired, wrong-code counts after
    their hour, media files once their URL expired: as the README's table says."""
    from storage.accounts import find_or_create_person
    from storage.models import Account, LinkAttempt, LinkCode, MediaFile, VisitDraft

    now = dt.datetime(2021, 9, 1, 3, 0, tzinfo=UTC)
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    async with sessions() as db, db.begin():
        person, _ = await find_or_create_person(db, "telegram", "77")
        other, _ = await find_or_create_person(db, "telegram", "78")
        account = (await db.scalars(select(Account).where(Account.user_id == person.id))).one()
        other_account = (await db.scalars(select(Account).where(Account.user_id == other.id))).one()
        db.add_all(
            [
                VisitDraft(token="old", user_id=person.id, data={}, created_at=now - 4 * day),
                VisitDraft(token="fresh", user_id=person.id, data={}, created_at=now - day),
                LinkCode(
                    code="11112222",
                    user_id=person.id,
                    created_at=now - hour,
                    expires_at=now - 50 * dt.timedelta(minutes=1),
                ),
                LinkCode(code="33334444", user_id=person.id, created_at=now, expires_at=now + hour, used_at=now),
                LinkCode(code="55556666", user_id=person.id, created_at=now, expires_at=now + hour),
                LinkAttempt(account_id=account.id, failures=3, window_started_at=now - 2 * hour),
                LinkAttempt(account_id=other_account.id, failures=1, window_started_at=now - hour / 2),
                MediaFile(id="gone", data=b"x", mime_type="image/png", filename="a.png", expires_at=now - hour),
                MediaFile(id="kept", data=b"x", mime_type="image/png", filename="a.png", expires_at=now + hour),
            ]
        )
    purged = await housekeeping.run_once(sessions, checkin_retention_days=21, now=now)
    assert purged["short_lived"] == 5
    async with sessions() as db:
        assert (await db.scalars(select(VisitDraft.token))).all() == ["fresh"]
        assert (await db.scalars(select(LinkCode.code))).all() == ["55556666"]
        assert (await db.scalars(select(LinkAttempt.account_id))).all() == [other_account.id]
        assert (await db.scalars(select(MediaFile.id))).all() == ["kept"]
