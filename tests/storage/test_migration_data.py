"""Data migrations on rows written by the revision before them: hamlet keys that keep accents
(0011) and profiles for volunteers granted from the command line (0012)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from storage import visits
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Visit, Volunteer

WHEN = dt.datetime(2021, 8, 3, 3, 0)


async def test_hamlet_keys_and_granted_volunteers_are_brought_up_to_date(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    await upgrade(engine, "0010")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO provinces (code, name, division_type) VALUES ('01', 'P', 'p')"))
        await conn.execute(
            text("INSERT INTO communes (code, name, division_type, province_code) VALUES ('00070', 'C', 'c', '01')")
        )
        await conn.execute(text("INSERT INTO users (id, created_at) VALUES (1, :w), (2, :w)"), {"w": str(WHEN)})
        await conn.execute(
            text(
                "INSERT INTO accounts (channel, external_id, chat_id, user_id, created_at, last_seen_at) "
                "VALUES ('telegram', '555', '555', 1, :w, :w)"
            ),
            {"w": str(WHEN)},
        )
        await conn.execute(
            text(
                "INSERT INTO role_grants (user_id, role, unit_code, granted_at) "
                "VALUES (1, 'volunteer', '00070', :w), (2, 'coordinator', '00070', :w)"
            ),
            {"w": str(WHEN)},
        )
        # Keyed the old way (accents folded away): two spellings and two tone-different names.
        for n, (hamlet, old_key) in enumerate(
            [
                ("Ấp Phú Hòa", "ap phu hoa"),
                ("Ap Phu Hoa", "ap phu hoa"),
                ("Thôn Đông", "thon dong"),
                ("Thôn Động", "thon dong"),
            ]
        ):
            await conn.execute(
                text(
                    "INSERT INTO visits (token, volunteer_id, commune_code, hamlet, hamlet_key, household, "
                    "household_key, outcome, smartphones, installed_now, already_installed, base_smartphones, "
                    "base_covered, visited_at, day) VALUES (:token, 1, '00070', :hamlet, :key, '', '', "
                    "'nobody_home', 0, 0, 0, 0, 0, :w, :d)"
                ),
                {
                    "token": f"t{n}",
                    "hamlet": hamlet,
                    "key": old_key,
                    "w": WHEN + dt.timedelta(minutes=n),
                    "d": WHEN.date(),
                },
            )
    await upgrade(engine)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Visit.hamlet, Visit.hamlet_key).order_by(Visit.id))).all()
        profiles = (await conn.execute(select(Volunteer.user_id, Volunteer.display_name, Volunteer.status))).all()
    await engine.dispose()
    assert [r.hamlet for r in rows] == ["Ấp Phú Hòa", "Ấp Phú Hòa", "Thôn Đông", "Thôn Động"]
    assert [r.hamlet_key for r in rows] == [visits.hamlet_key(r.hamlet) for r in rows]
    assert rows[2].hamlet_key != rows[3].hamlet_key
    assert profiles == [(1, "telegram:555", "active")]  # the coordinator is no volunteer
