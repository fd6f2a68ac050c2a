"""Visits in the database: saved exactly once (also by two workers at once, on PostgreSQL), and the
counters always equal what the stored visits say, through saves, corrections and deletions."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter

import pytest
from sqlalchemy import func, select

from storage import visits
from storage.accounts import find_or_create_person
from storage.models import CommuneDailyCount, Visit, VisitRevision, utcnow
from storage.visits import Figures, contribution

HOAN_KIEM = "00070"
METRICS = (
    "households_visited",
    "revisits",
    "smartphones_seen",
    "installs_helped",
    "already_installed",
    "no_smartphone",
    "refused",
    "nobody_home",
)


async def counter_totals(db) -> Counter:
    rows = (await db.scalars(select(CommuneDailyCount))).all()
    total = Counter()
    for row in rows:
        for m in METRICS:
            total[m] += getattr(row, m)
    return +total


async def expected_totals(db) -> Counter:
    total = Counter()
    for v in (await db.scalars(select(Visit).where(Visit.deleted_at.is_(None)))).all():
        total.update(contribution(Figures.of(v)))
    return +total


async def households_within_their_phones(db) -> bool:
    """Across each household's visits, installs are never more than its smartphones."""
    installs: Counter = Counter()
    phones: Counter = Counter()
    for v in (await db.scalars(select(Visit).where(Visit.deleted_at.is_(None), Visit.household_key != ""))).all():
        key = (v.commune_code, v.hamlet_key, v.household_key)
        installs[key] += v.installed_now
        phones[key] = max(phones[key], v.smartphones)
    return all(installs[k] <= phones[k] for k in installs)


def figures(rng: random.Random) -> dict:
    outcome = rng.choice(["helped", "already", "no_smartphone", "refused", "nobody_home"])
    if outcome in ("no_smartphone", "nobody_home"):
        return {"outcome": outcome, "smartphones": 0, "installed_now": 0, "already_installed": 0}
    s = rng.randint(1, 6)
    if outcome == "helped":
        i = rng.randint(1, s)
        return {"outcome": outcome, "smartphones": s, "installed_now": i, "already_installed": rng.randint(0, s - i)}
    if outcome == "already":
        return {"outcome": outcome, "smartphones": s, "installed_now": 0, "already_installed": rng.randint(1, s)}
    return {"outcome": outcome, "smartphones": s, "installed_now": 0, "already_installed": rng.randint(0, s - 1)}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_counters_follow_saves_corrections_and_deletions(sessions, seed):
    rng = random.Random(seed)
    async with sessions() as db, db.begin():
        volunteer, _ = await find_or_create_person(db, "telegram", "1")
        start = dt.datetime(2021, 8, 3, 16, 30, tzinfo=dt.UTC)  # 23:30 in Vietnam: days change
        for step in range(60):
            now = start + dt.timedelta(minutes=17 * step)
            live = (await db.scalars(select(Visit).where(Visit.deleted_at.is_(None)))).all()
            action = rng.random()
            if action < 0.6 or not live:
                data = {
                    "commune_code": HOAN_KIEM,
                    "hamlet": f"Thôn {rng.randint(1, 2)}",
                    "household": str(rng.randint(1, 4)),
                    **figures(rng),
                }
                earlier = await visits.find_duplicate(db, HOAN_KIEM, data["hamlet"], data["household"])
                token = await visits.create_draft(db, volunteer.id, data, now)
                assert await visits.claim_draft(db, token, volunteer.id)
                try:
                    saved = await visits.save_visit(
                        db,
                        token,
                        volunteer.id,
                        data,
                        now,
                        revisit_of=earlier if earlier and rng.random() < 0.7 else None,
                    )
                except visits.HouseholdFull:
                    continue  # nothing stored: the counters below still equal the visits
                assert saved is not None and saved.day == (now + dt.timedelta(hours=7)).date()
            elif action < 0.85:
                visit = rng.choice(live)
                before = visits.snapshot(visit)
                try:
                    await visits.correct_visit(
                        db, visit, {**visits.snapshot(visit), **figures(rng)}, volunteer.id, now, visits.new_token()
                    )
                except visits.HouseholdFull:
                    assert visits.snapshot(visit) == before
            else:
                visit = rng.choice(live)
                if not await visits.has_return_visits(db, visit):
                    assert await visits.delete_visit(db, visit, volunteer.id, now)
                    assert not await visits.delete_visit(db, visit, volunteer.id, now)
            assert await counter_totals(db) == await expected_totals(db), step
            assert await households_within_their_phones(db), step
        revisions = await db.scalar(select(func.count()).select_from(VisitRevision))
        assert revisions > 0


async def test_the_same_token_is_saved_once(sessions):
    async with sessions() as db, db.begin():
        volunteer, _ = await find_or_create_person(db, "telegram", "2")
        data = {
            "commune_code": HOAN_KIEM,
            "hamlet": "Thôn 1",
            "household": "",
            "outcome": "helped",
            "smartphones": 2,
            "installed_now": 2,
            "already_installed": 0,
        }
        assert await visits.save_visit(db, "tok", volunteer.id, data, utcnow()) is not None
        assert await visits.save_visit(db, "tok", volunteer.id, data, utcnow()) is None
        assert (await counter_totals(db))["installs_helped"] == 2
        with pytest.raises(ValueError):
            await visits.save_visit(db, "tok2", volunteer.id, {**data, "installed_now": 3}, utcnow())


async def test_two_workers_saving_one_draft_store_one_visit(db_engine, sessions):
    """Two transactions at once, without the account lock the engine takes: the draft is claimed
    by one, and the visit's unique token stops the other."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    async with sessions() as db, db.begin():
        volunteer, _ = await find_or_create_person(db, "telegram", "3")
    data = {
        "commune_code": HOAN_KIEM,
        "hamlet": "Thôn 1",
        "household": "5",
        "outcome": "helped",
        "smartphones": 3,
        "installed_now": 2,
        "already_installed": 1,
    }
    both_in = asyncio.Barrier(2)

    async def worker(token: str, claim: bool) -> bool:
        async with sessions() as db, db.begin():
            draft = await visits.get_draft(db, token, volunteer.id)
            await both_in.wait()  # both read the draft before either writes
            if claim and not await visits.claim_draft(db, token, volunteer.id):
                return False
            return await visits.save_visit(db, token, volunteer.id, draft.data, utcnow()) is not None

    for claim in (True, False):  # with the draft claim, and with the unique token alone
        async with sessions() as db, db.begin():
            await db.execute(Visit.__table__.delete())
            await db.execute(CommuneDailyCount.__table__.delete())
            token = await visits.create_draft(db, volunteer.id, data, utcnow())
        results = await asyncio.gather(worker(token, claim), worker(token, claim))
        assert sorted(results) == [False, True]
        async with sessions() as db:
            assert await db.scalar(select(func.count()).select_from(Visit)) == 1
            assert (await counter_totals(db)) == Counter(
                households_visited=1, smartphones_seen=3, installs_helped=2, already_installed=1
            )


async def save(db, who: int, data: dict, now: dt.datetime, revisit_of=None):
    token = await visits.create_draft(db, who, data, now)
    return await visits.save_visit(db, token, who, data, now, revisit_of=revisit_of)


async def test_a_household_never_has_more_installs_than_phones(sessions):
    """Sending "thon 3 so 12 4 may cai 3" again and saving it as a return visit would make 6
    installs on 4 phones: refused; one more install fits, and a correction cannot overfill it."""
    now = utcnow()
    line = {"commune_code": HOAN_KIEM, "hamlet": "Thôn 3", "household": "12", "outcome": "helped"}
    async with sessions() as db, db.begin():
        volunteer, _ = await find_or_create_person(db, "telegram", "1")
        first = await save(db, volunteer.id, {**line, "smartphones": 4, "installed_now": 3}, now)
        record = await visits.household_of(db, HOAN_KIEM, "thôn 3", "12")
        assert record is not None and record.latest.id == first.id
        assert (record.smartphones, record.covered, record.installs, record.room) == (4, 3, 3, 1)
        again = {**line, "smartphones": 4, "installed_now": 3}
        with pytest.raises(visits.HouseholdFull):
            await save(db, volunteer.id, again, now, revisit_of=first)
        with pytest.raises(visits.HouseholdFull):  # as a "new" household with the same reference too
            await save(db, volunteer.id, again, now)
        revisit = await save(
            db, volunteer.id, {**line, "smartphones": 4, "installed_now": 1, "already_installed": 3}, now, first
        )
        assert revisit.base_covered == 3
        assert (await visits.household_of(db, HOAN_KIEM, "Thôn 3", "12")).room == 0
        with pytest.raises(visits.HouseholdFull):
            await visits.correct_visit(
                db, first, {**visits.snapshot(first), "installed_now": 4}, volunteer.id, now, visits.new_token()
            )
        # Without a house reference there is no household to cap.
        for _ in range(2):
            await save(db, volunteer.id, {**line, "household": "", "smartphones": 4, "installed_now": 4}, now)
        assert await counter_totals(db) == await expected_totals(db)
        assert (await counter_totals(db))["installs_helped"] == 3 + 1 + 8


async def test_a_return_visit_s_baseline_carries_every_install():
    """A return visit that finds fewer phones at home still leaves the installed ones covered."""
    first = {"outcome": "helped", "smartphones": 4, "installed_now": 2, "already_installed": 0}
    base = visits.baseline(first)
    assert base["base_covered"] == 2
    second = {**first, "installed_now": 1, "already_installed": 0, "revisit_of": 1, **base}
    assert visits.baseline(second)["base_covered"] == 3  # 2 before + 1 now, though 1 phone was seen


def test_hamlet_keys_keep_accents_but_not_tone_placement():
    assert visits.hamlet_key("Ấp Phú Hòa") == visits.hamlet_key("ấp phú hoà")  # old and new tone placement
    assert visits.hamlet_key("Thôn Đông") != visits.hamlet_key("Thôn Động")
    assert visits.hamlet_key("Ap Phu Hoa") != visits.hamlet_key("Ấp Phú Hòa")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ap phu hoa", "Ấp Phú Hòa"),  # unaccented: joins the one accented hamlet it matches
        ("Ấp Phu Hoa", "Ấp Phú Hòa"),  # the kind's word accented by the shorthand, the name not
        ("Ấp Phú Hoà", "Ấp Phú Hòa"),  # the same accents, placed the new way: the first spelling stays
        ("Ấp Phù Hoa", "Ấp Phù Hoa"),  # other accents: another hamlet
        ("thon dong", "thon dong"),  # matches Đông and Động: neither is guessed
        ("Thôn Động", "Thôn Động"),
        ("Tổ 5", "Tổ 5"),
    ],
)
def test_a_typed_hamlet_joins_only_the_hamlet_it_surely_is(typed, expected):
    known = {visits.hamlet_key(n): n for n in ("Ấp Phú Hòa", "Thôn Đông", "Thôn Động")}
    assert visits.match_hamlet(typed, known) == expected


def test_a_hamlet_once_saved_unaccented_does_not_block_the_accented_one():
    known = {visits.hamlet_key(n): n for n in ("Ấp Phu Hoa", "Ấp Phú Hòa")}
    assert visits.match_hamlet("ap phu hoa", known) == "Ấp Phú Hòa"
