"""Counters equal a raw recount after any mix of visits, corrections, deletions, check-ins,
answers and self-reported installs (a property test), on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storage import venues, visits
from storage.accounts import find_or_create_person
from storage.counters import METRICS
from storage.installs import report_install
from storage.models import CheckIn, Visit
from storage.recount import _recount, rebuild
from storage.tally import tally
from tests.conftest import _clear
from tests.storage.test_visits import figures

COMMUNES = ("00070", "00082")
START = dt.datetime(2021, 8, 3, 16, 0, tzinfo=dt.UTC)  # 23:00 in Vietnam: days change

operations = st.lists(
    st.tuples(
        st.sampled_from(["visit", "visit", "correct", "delete", "check_in", "answer", "install"]), st.integers(0, 10**6)
    ),
    min_size=1,
    max_size=30,
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, rng=st.randoms(use_true_random=False))
async def test_counters_equal_a_raw_recount(db_engine, sessions, ops, rng):
    await _clear(db_engine)
    async with sessions() as db, db.begin():
        volunteer, _ = await find_or_create_person(db, "telegram", "v1")
        places = [
            await venues.create_venue(db, name=f"Chợ {c}", kind="market", commune_code=c, address="1 Phố")
            for c in COMMUNES
        ]
        people = [(await find_or_create_person(db, "telegram", f"c{i}"))[0] for i in range(3)]
        for step, (kind, n) in enumerate(ops):
            now = START + dt.timedelta(minutes=23 * step)
            live = (await db.scalars(select(Visit).where(Visit.deleted_at.is_(None)).order_by(Visit.id))).all()
            if kind == "visit" or (kind in ("correct", "delete") and not live):
                data = {
                    "commune_code": COMMUNES[n % 2],
                    "hamlet": f"Thôn {n % 3}",
                    "household": str(n % 4),
                    **figures(rng),
                }
                earlier = await visits.find_duplicate(db, data["commune_code"], data["hamlet"], data["household"])
                with contextlib.suppress(visits.HouseholdFull):  # refused before anything is stored
                    await visits.save_visit(
                        db,
                        visits.new_token(),
                        volunteer.id,
                        data,
                        now,
                        revisit_of=earlier if earlier is not None and n % 3 else None,
                    )
            elif kind == "correct":
                visit = live[n % len(live)]
                with contextlib.suppress(visits.HouseholdFull):
                    await visits.correct_visit(
                        db, visit, {**visits.snapshot(visit), **figures(rng)}, volunteer.id, now, visits.new_token()
                    )
            elif kind == "delete":
                visit = live[n % len(live)]
                if not await visits.has_return_visits(db, visit):
                    await visits.delete_visit(db, visit, volunteer.id, now)
            elif kind == "check_in":
                await venues.record_check_in(db, places[n % 2], f"u:{n % 4}", "telegram", now)
            elif kind == "answer":
                check_ins = (await db.scalars(select(CheckIn).order_by(CheckIn.id))).all()
                if check_ins:
                    chosen = check_ins[n % len(check_ins)]
                    await venues.answer_installed(db, chosen.id, chosen.visitor, bool(n % 2))
            else:
                await report_install(db, people[n % 3].id, COMMUNES[n % 2])
    async with sessions() as db, db.begin():
        assert await rebuild(db, fix=False) == []
    # And a tally of any unit as of any day says what the raw rows say up to that day.
    async with sessions() as db:
        recounted = await _recount(db)
        days = sorted({day for _, day in recounted})
        for as_of in [d - dt.timedelta(days=1) for d in days[:1]] + days:
            expected = {
                code: {m: sum(v[m] for (c, d), v in recounted.items() if c == code and d <= as_of) for m in METRICS}
                for code in COMMUNES
            }
            for unit in ("VN", "01", COMMUNES[0]):
                result = await tally(db, unit, as_of)
                got = {r.code: {m: r.activity[m] for m in METRICS} for r in result.rows if r.code in COMMUNES}
                assert got == {c: expected[c] for c in got}, (unit, as_of)
                assert {m: result.totals.activity[m] for m in METRICS} == {
                    m: sum(expected[c][m] for c in got) for m in METRICS
                }
