"""The unit list a process keeps for tallies (storage/unit_list.py): current after any change to
the units, whoever makes it; and no figure kept: what was committed a moment ago is in a tally."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import subprocess
import sys
import textwrap

from sqlalchemy import select, text

from storage import unit_list as kept_units
from storage import visits
from storage.accounts import find_or_create_person
from storage.models import UnitListVersion
from storage.tally import tally, unit_name
from tests.storage.test_visits import figures

AUG3 = dt.date(2021, 8, 3)
MOMENT = dt.datetime(2021, 8, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 on 3 August in Vietnam
COMMUNE = "00070"  # Phường Hoàn Kiếm, Hà Nội


async def token(db) -> str:
    return await db.scalar(select(UnitListVersion.token))


async def test_every_change_to_the_units_changes_the_token(sessions):
    statements = [
        "INSERT INTO provinces (code, name, division_type, scheme) VALUES ('99', 'P', 'tỉnh', '2025')",
        "INSERT INTO districts (code, name, division_type, province_code) VALUES ('999', 'D', 'huyện', '99')",
        "INSERT INTO communes (code, name, division_type, province_code) VALUES ('99999', 'C', 'xã', '99')",
        "UPDATE provinces SET name = 'P2' WHERE code = '99'",
        "UPDATE districts SET name = 'D2' WHERE code = '999'",
        "UPDATE communes SET name = 'C2' WHERE code = '99999'",
        "DELETE FROM communes WHERE code = '99999'",
        "DELETE FROM districts WHERE code = '999'",
        "DELETE FROM provinces WHERE code = '99'",
    ]
    async with sessions() as db, db.begin():
        before = await token(db)
        seen = {before}
        for statement in statements:
            await db.execute(text(statement))
            now = await token(db)
            assert now not in seen, statement
            seen.add(now)
        await db.rollback()  # the shared units stay as loaded
    async with sessions() as db:
        assert await token(db) == before


async def rename(db, code: str, name: str) -> None:
    await db.execute(text("UPDATE communes SET name = :n WHERE code = :c"), {"n": name, "c": code})


async def test_a_commune_renamed_in_this_process_is_in_the_next_tally(sessions):
    async with sessions() as db:
        original = await unit_name(db, COMMUNE)
        first = await tally(db, "01", AUG3)
    assert original is not None and original in [r.name for r in first.rows]
    try:
        async with sessions() as db, db.begin():
            await rename(db, COMMUNE, "Phường Thử Tên")
        async with sessions() as db:
            country, province = await tally(db, "VN", AUG3), await tally(db, "01", AUG3)
            assert await unit_name(db, COMMUNE) == "Phường Thử Tên"
        for result in (country, province):
            assert {r.code: r.name for r in result.rows}[COMMUNE] == "Phường Thử Tên"
    finally:
        async with sessions() as db, db.begin():
            await rename(db, COMMUNE, original)
    async with sessions() as db:
        assert {r.code: r.name for r in (await tally(db, "VN", AUG3)).rows}[COMMUNE] == original


RENAME_ELSEWHERE = textwrap.dedent(
    """
    import asyncio, sys
    from sqlalchemy import text
    from storage.db import create_engine

    async def main():
        engine = create_engine(sys.argv[1], schema=sys.argv[2] or None)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE communes SET name = :n WHERE code = :c"), {"n": sys.argv[4], "c": sys.argv[3]})
        await engine.dispose()

    asyncio.run(main())
    """
)


def rename_in_another_process(database: dict, code: str, name: str) -> None:
    """As another worker would: its own process and connection, no call into this one."""
    subprocess.run(
        [sys.executable, "-c", RENAME_ELSEWHERE, database["url"], database["schema"] or "", code, name], check=True
    )


async def test_a_commune_renamed_by_another_process_is_in_the_next_tally(database, sessions):
    async with sessions() as db:
        original = await unit_name(db, COMMUNE)
        kept = (await kept_units.unit_list(db)).token
        await tally(db, "VN", AUG3)  # this process's copy is current
    assert original is not None
    try:
        await asyncio.to_thread(rename_in_another_process, database, COMMUNE, "Phường Đổi Nơi Khác")
        async with sessions() as db:
            assert (await kept_units.unit_list(db)).token != kept
            result = await tally(db, "VN", AUG3)
        assert {r.code: r.name for r in result.rows}[COMMUNE] == "Phường Đổi Nơi Khác"
    finally:
        await asyncio.to_thread(rename_in_another_process, database, COMMUNE, original)
    async with sessions() as db:
        assert await unit_name(db, COMMUNE) == original


async def test_the_list_is_read_once_while_the_units_stay_the_same(sessions):
    async with sessions() as db:
        first = await kept_units.unit_list(db)
    async with sessions() as db:
        assert await kept_units.unit_list(db) is first  # the same copy, not read again
    assert len(first.communes) == 3321 and first.scheme == "2025"
    assert [c.code for c in first.of("01", "province")][:1] and len(first.of("01", "province")) == 126
    assert first.of("00070", "commune")[0].name == first.names["00070"]


async def test_a_visit_committed_a_moment_ago_is_in_the_country_tally(sessions):
    async with sessions() as db:
        before = await tally(db, "VN", AUG3)
    rng = random.Random(3)
    data = {"commune_code": COMMUNE, "hamlet": "Tổ 1", "household": "12", **figures(rng)}
    async with sessions() as db, db.begin():
        volunteer, _ = await find_or_create_person(db, "telegram", "v-now")
        assert await visits.save_visit(db, visits.new_token(), volunteer.id, data, MOMENT) is not None
    async with sessions() as db:
        after = await tally(db, "VN", AUG3)
    assert after.totals.activity["households_visited"] == before.totals.activity["households_visited"] + 1
    assert after.totals.activity["smartphones_seen"] == before.totals.activity["smartphones_seen"] + data["smartphones"]
    hanoi = {r.code: r for r in after.children}["01"]
    assert (
        hanoi.activity["households_visited"]
        == {r.code: r for r in before.children}["01"].activity["households_visited"] + 1
    )
    assert {r.code: r.activity["households_visited"] for r in after.rows}[COMMUNE] == 1
    # And not on the day before: the day's counts are taken off a tally as of an earlier date.
    async with sessions() as db:
        earlier = await tally(db, "VN", AUG3 - dt.timedelta(days=1))
    assert {r.code: r.activity["households_visited"] for r in earlier.rows}[COMMUNE] == 0
