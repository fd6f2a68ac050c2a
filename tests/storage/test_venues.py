"""Venues and check-ins in storage: once per 30 minutes, counters in step, revocation, the log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage import venues
from storage.models import CheckIn, CommuneDailyCount, User, VenueDailyCount
from storage.venue_codes import is_valid_code

# 10:00 in Vietnam on 3 August 2021.
MORNING = dt.datetime(2021, 8, 3, 3, 0, tzinfo=dt.UTC)
DAY = dt.date(2021, 8, 3)


async def _venue(db, **kw):
    fields = dict(name="  Chợ  Hàng Da ", kind="market", commune_code="00070", address="Phố Hàng Da")
    return await venues.create_venue(db, **{**fields, **kw})


async def test_created_venue_has_a_valid_unique_code(sessions):
    async with sessions() as db, db.begin():
        a, b = await _venue(db), await _venue(db, name="UBND phường")
        assert is_valid_code(a.code) and a.code != b.code
        assert a.name == "Chợ Hàng Da"  # spaces tidied
        with pytest.raises(ValueError):
            await _venue(db, kind="casino")


async def test_same_visitor_counts_once_per_30_minutes(sessions):
    async with sessions() as db, db.begin():
        venue = await _venue(db)
        first = await venues.record_check_in(db, venue, "u:1", "telegram", MORNING)
        again = await venues.record_check_in(db, venue, "u:1", "telegram", MORNING + dt.timedelta(minutes=29))
        other = await venues.record_check_in(db, venue, "w:abc", "web", MORNING + dt.timedelta(minutes=1))
        later = await venues.record_check_in(db, venue, "u:1", "telegram", MORNING + dt.timedelta(minutes=31))
    assert (first.new, again.new, other.new, later.new) == (True, False, True, True)
    assert again.check_in.id == first.check_in.id
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(CheckIn)) == 3
        commune = await db.get(CommuneDailyCount, ("00070", DAY))
        assert commune.checkins == 3 and commune.checkins_already_installed == 0


async def test_answers_move_the_counts_of_the_check_in_day(sessions):
    late = dt.datetime(2021, 8, 3, 16, 50, tzinfo=dt.UTC)  # 23:50 in Vietnam: still 3 August
    async with sessions() as db, db.begin():
        venue = await _venue(db)
        check_in = (await venues.record_check_in(db, venue, "u:7", "telegram", late)).check_in
        assert not await venues.answer_installed(db, check_in.id, "u:8", True)  # not theirs
        assert await venues.answer_installed(db, check_in.id, "u:7", True)
        assert await venues.answer_installed(db, check_in.id, "u:7", True)  # the same answer twice
        assert check_in.already_installed is True
    async with sessions() as db:
        assert (await db.get(CommuneDailyCount, ("00070", DAY))).checkins_already_installed == 1
        row = await db.get(VenueDailyCount, (venue.id, DAY))
        assert (row.checkins, row.answered, row.already_installed) == (1, 1, 1)
    async with sessions() as db, db.begin():
        await venues.answer_installed(db, check_in.id, "u:7", False)  # changed their mind
    async with sessions() as db:
        assert (await db.get(CommuneDailyCount, ("00070", DAY))).checkins_already_installed == 0
        row = await db.get(VenueDailyCount, (venue.id, DAY))
        assert (row.checkins, row.answered, row.already_installed) == (1, 1, 0)


async def test_counts_today_last_7_days_and_total(sessions):
    async with sessions() as db, db.begin():
        venue = await _venue(db)
        for days_ago, visitors in ((0, 3), (6, 2), (7, 4), (30, 1)):
            for v in range(visitors):
                when = MORNING - dt.timedelta(days=days_ago)
                result = await venues.record_check_in(db, venue, f"u:{days_ago}-{v}", "telegram", when)
                await venues.answer_installed(db, result.check_in.id, f"u:{days_ago}-{v}", v % 2 == 0)
        counts = await venues.venue_counts(db, venue.id, DAY)
    assert (counts.today, counts.last_7_days, counts.total) == (3, 5, 10)
    assert (counts.answered, counts.already_installed) == (10, 2 + 1 + 2 + 1)


async def test_revoked_code_names_its_venue_and_never_comes_back(sessions):
    async with sessions() as db, db.begin():
        venue = await _venue(db)
        old = venue.code
        new = await venues.revoke(db, venue, MORNING)
        assert new != old and is_valid_code(new)
        found = await venues.find_by_code(db, old)
        assert found.revoked and found.venue.id == venue.id
        assert (await venues.find_by_code(db, new)).venue.id == venue.id
        assert (await venues.find_by_code(db, "2345678")).venue is None


async def test_log_numbers_visitors_per_venue(sessions):
    async with sessions() as db, db.begin():
        venue, other = await _venue(db), await _venue(db, name="Trường Tiểu học")
        for minutes, visitor in ((0, "u:5"), (1, "w:x"), (40, "u:5"), (41, "u:9")):
            await venues.record_check_in(
                db, venue, visitor, "web" if visitor[0] == "w" else "telegram", MORNING + dt.timedelta(minutes=minutes)
            )
        await venues.record_check_in(db, other, "u:9", "telegram", MORNING)
        log = await venues.check_in_log(db, venue.id)
    assert [(r.visitor_number, r.channel) for r in log] == [
        (1, "telegram"),
        (2, "web"),
        (1, "telegram"),
        (3, "telegram"),
    ]
    assert log[0].checked_in_at == MORNING


async def test_manager_sees_only_their_venues(sessions):
    async with sessions() as db, db.begin():
        a, b = User(), User()
        db.add_all([a, b])
        await db.flush()
        mine = await _venue(db, manager_user_id=a.id)
        assert await venues.manages_venues(db, a.id) and not await venues.manages_venues(db, b.id)
        assert [v.id for v in await venues.venues_of(db, a.id)] == [mine.id]
        assert await venues.managed_venue(db, mine.id, b.id) is None


async def test_csv_import_reports_bad_rows_and_updates_on_reimport(sessions):
    text = (
        "\ufeffname,type,commune_code,address,latitude,longitude\n"
        "UBND phường Hoàn Kiếm,government_office,70,126 Hàng Trống,21.03,105.85\n"
        "Chợ Đồng Xuân,market,00070,Phố Đồng Xuân,,\n"
        "Nowhere,market,99999,x street,,\n"
        "Casino,casino,00070,1 Street,,\n"
        "Half,school,00070,1 Street,21.0,\n"
    )
    async with sessions() as db, db.begin():
        report = await venues.import_csv(db, text)
    assert [v.name for v in report.created] == ["UBND phường Hoàn Kiếm", "Chợ Đồng Xuân"]
    assert [e.split(":")[0] for e in report.errors] == ["line 4", "line 5", "line 6"]
    codes = [v.code for v in report.created]
    async with sessions() as db, db.begin():
        again = await venues.import_csv(
            db, "name,type,commune_code,address\nChợ Đồng Xuân,market,00070,Phố Đồng Xuân mới\n"
        )
        assert not again.created and [v.code for v in again.updated] == [codes[1]]
        assert (await venues.import_csv(db, "name,address\nx,y\n")).errors == ["missing column(s): type, commune_code"]


async def test_csv_import_with_a_manager_gives_them_the_venues_and_leaves_others_alone(sessions):
    row = "name,type,commune_code,address\nChợ Đồng Xuân,market,00070,Phố Đồng Xuân\n"
    async with sessions() as db, db.begin():
        office, other = User(), User()
        db.add_all([office, other])
        await db.flush()
        (unmanaged,) = (await venues.import_csv(db, row)).created
        taken = await _venue(
            db, name="Chợ Đồng Xuân", manager_user_id=other.id
        )  # registered in the bot by someone else
        report = await venues.import_csv(db, row, office.id)
        assert [v.id for v in report.updated] == [unmanaged.id] and unmanaged.manager_user_id == office.id
        assert taken.manager_user_id == other.id  # not theirs to take
        (created,) = (await venues.import_csv(db, row.replace("Chợ Đồng Xuân", "Chợ Hôm"), office.id)).created
        assert created.manager_user_id == office.id
        again = await venues.import_csv(db, row, office.id)  # theirs now: updated, not duplicated
        assert [v.id for v in again.updated] == [unmanaged.id] and not again.created
        assert sorted(v.name for v in await venues.venues_in_commune(db, None)) == [
            "Chợ Hôm",
            "Chợ Đồng Xuân",
            "Chợ Đồng Xuân",
        ]
