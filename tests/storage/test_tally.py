"""Tally arithmetic and roll-up: the seeds' numbers, truncated rates, sums not averages."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from storage.counters import bump
from storage.figures import TargetSpec, import_rows, record_figure, set_target
from storage.tally import (
    ACTIVITY,
    Tally,
    TallyRow,
    commune_row,
    daily_gain,
    people_gap,
    people_needed,
    projected_date,
    province_rollups,
    roll_up,
    tally,
)
from texts import Percent

AUG3 = dt.date(2021, 8, 3)
AUG31 = dt.date(2021, 8, 31)
SIXTY = TargetSpec("24", Fraction(3, 5), AUG31, "subscribers")


def test_the_seed_numbers_reproduce():
    row = TallyRow("x", "TP. Bắc Giang", "24", "Bắc Ninh", SIXTY, installed=82930)
    row.denominators["subscribers"] = 174229
    assert Percent(row.rate).truncated() == Fraction(4759, 10000)  # 47,59%, as in the letter
    assert people_needed(Fraction(3, 5), 174229) == 104538
    assert row.gap == 21608


def test_never_rounded_up_to_the_target():
    row = TallyRow("x", "x", "24", "x", SIXTY, installed=59996)
    row.denominators["subscribers"] = 100000
    assert Percent(row.rate).truncated() == Fraction(5999, 10000)
    assert row.gap == 4


def test_projection_and_lateness():
    assert daily_gain((AUG3, 82930), (dt.date(2021, 7, 27), 75930)) == 1000
    assert projected_date(AUG3, 21608, Fraction(1000)) == AUG3 + dt.timedelta(days=22)  # 25/08, in time
    assert projected_date(AUG3, 21608, Fraction(500)) == AUG3 + dt.timedelta(days=44)  # after 31/08
    assert projected_date(AUG3, 0, None) == AUG3
    assert projected_date(AUG3, 5, Fraction(0)) is None
    assert daily_gain((AUG3, 1), (AUG3, 0)) is None
    row = TallyRow("x", "x", "24", "x", SIXTY, installed=82930, gain=Fraction(500))
    row.denominators["subscribers"] = 174229
    assert row.late(AUG3)
    row.gain = Fraction(1000)
    assert not row.late(AUG3)


communes = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 10**6)),  # installed
        st.one_of(st.none(), st.integers(1, 10**6)),  # subscribers
        st.integers(0, 10**4),  # a counter
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300)
@given(communes)
def test_province_is_the_sum_of_its_communes(data):
    rows = []
    for i, (installed, subscribers, visits) in enumerate(data):
        row = TallyRow(f"{i:05d}", f"C{i}", "24", "P", SIXTY, installed=installed)
        row.denominators["subscribers"] = subscribers
        row.activity["households_visited"] = visits
        rows.append(row)
    total = roll_up(rows, "24", "P", SIXTY)
    assert total.activity["households_visited"] == sum(v for _, _, v in data)
    complete = [(i, s) for i, s, _ in data if i is not None and s]
    if complete:
        assert total.installed == sum(i for i, _ in complete)
        assert total.denominator == sum(s for _, s in complete)
        # The rate comes from the sums, never from an average of the communes' rates.
        assert total.rate == Fraction(sum(i for i, _ in complete), sum(s for _, s in complete))
        assert total.gap == max(0, people_needed(Fraction(3, 5), total.denominator) - total.installed)
    else:
        assert total.rate is None and total.gap is None
    assert total.communes == len(data)


@given(st.integers(0, 10**7), st.integers(1, 10**7), st.integers(1, 10**6))
def test_gap_reaches_the_target_exactly(installed, denominator, ppm):
    rate = Fraction(ppm, 10**6)
    gap = people_gap(installed, rate, denominator)
    assert Fraction(installed + gap, denominator) >= rate
    if gap:
        assert Fraction(installed + gap - 1, denominator) < rate


async def test_tally_from_the_database(sessions):
    async with sessions() as db, db.begin():
        await set_target(db, "01", Fraction(3, 5), AUG31, set_by=None, source="test")
        await set_target(db, "00082", Fraction(1, 2), AUG31, set_by=None, source="test")  # its own
        await record_figure(
            db, "00070", dt.date(2021, 7, 27), entered_by=None, source="test", installed=7000, subscribers=20000
        )
        await record_figure(db, "00070", AUG3, entered_by=None, source="test", installed=8400)  # subscribers carried
        await record_figure(db, "00082", AUG3, entered_by=None, source="test", installed=5000, subscribers=10000)
        await record_figure(db, "00070", dt.date(2021, 8, 10), entered_by=None, source="test", installed=9999)  # future
        await bump(db, "00070", AUG3, households_visited=3, installs_helped=2)
        await bump(db, "00070", dt.date(2021, 8, 4), households_visited=100)  # after the date
    async with sessions() as db:
        t = await tally(db, "01", AUG3)
    by_code = {r.code: r for r in t.rows}
    hk = by_code["00070"]
    assert (hk.installed, hk.denominator, hk.target_rate) == (8400, 20000, Fraction(3, 5))
    assert hk.gain == 200  # (8400 - 7000) / 7 days
    assert hk.activity["households_visited"] == 3 and hk.activity["installs_helped"] == 2
    assert by_code["00082"].target_rate == Fraction(1, 2) and by_code["00082"].gap == 0
    assert len(t.rows) == 126  # every commune of Hà Nội
    assert t.totals.installed == 13400 and t.totals.denominator == 30000
    assert t.totals.communes_with_figures == 2
    behind = t.furthest_behind(10)
    assert behind[0].code == "00070" and "00082" not in [r.code for r in behind]


async def test_stocks_as_of_a_past_date(sessions):
    """Venues and active volunteers as they stood at the end of the date asked for, not today."""
    from storage.accounts import find_or_create_person
    from storage.models import Volunteer
    from storage.venues import create_venue

    local = dt.timezone(dt.timedelta(hours=7))
    async with sessions() as db, db.begin():
        for n, joined in enumerate(
            (dt.datetime(2021, 8, 1, 9, tzinfo=local), dt.datetime(2021, 8, 5, 9, tzinfo=local))
        ):
            person, _ = await find_or_create_person(db, "telegram", f"88{n}")
            db.add(
                Volunteer(
                    user_id=person.id,
                    commune_code="00070",
                    display_name=f"TNV {n}",
                    phone="+84912345678",
                    status="active",
                    registered_at=joined,
                    decided_at=joined,
                )
            )
            venue = await create_venue(db, name=f"Điểm {n}", kind="market", commune_code="00070", address="x")
            venue.created_at = joined
    async with sessions() as db:
        early, later = await tally(db, "00070", AUG3), await tally(db, "00070", dt.date(2021, 8, 5))
    assert (early.rows[0].activity["active_volunteers"], early.rows[0].activity["venues"]) == (1, 1)
    assert (later.rows[0].activity["active_volunteers"], later.rows[0].activity["venues"]) == (2, 2)


async def test_country_and_provinces(sessions):
    async with sessions() as db, db.begin():
        await record_figure(db, "00070", AUG3, entered_by=None, source="t", installed=1, subscribers=4)
        await record_figure(db, "27316", AUG3, entered_by=None, source="t", installed=3, subscribers=4)
    async with sessions() as db:
        country = await tally(db, "VN", AUG3)
        provinces = await province_rollups(db, AUG3)
    assert len(country.rows) == 3321
    assert country.totals.rate == Fraction(4, 8)
    assert len(provinces) == 34
    assert sum(p.installed or 0 for p in provinces) == 4


async def test_import_figures_reports_bad_rows(sessions):
    header = ["commune_code", "date", "installed", "subscribers", "population", "households"]
    rows = [
        ["70", "03/08/2021", "82.930", "174.229", "", ""],
        ["99999", "2021-08-03", "1", "2", "", ""],
        ["00070", "31/02/2021", "1", "", "", ""],
        ["00070", "2021-08-04", "1,5", "", "", ""],
        ["", "", "", "", "", ""],
        [82.0, dt.datetime(2021, 8, 3), 5000.0, 10000, None, None],
    ]
    async with sessions() as db, db.begin():
        report = await import_rows(db, header, rows, "import:test.csv")
    assert report.imported == 2
    assert [e.split(":")[0] for e in report.errors] == ["line 3", "line 4", "line 5"]
    async with sessions() as db:
        t = await tally(db, "00070", AUG3)
    assert (t.totals.installed, t.totals.denominator) == (82930, 174229)


async def test_bad_targets_refused(sessions):
    async with sessions() as db, db.begin():
        for args in ((Fraction(0), AUG31), (Fraction(3, 2), AUG31)):
            with pytest.raises(ValueError):
                await set_target(db, "01", *args, set_by=None, source="t")
        with pytest.raises(ValueError):
            await set_target(db, "01", Fraction(1, 2), AUG31, "voters", set_by=None, source="t")
        with pytest.raises(ValueError):
            await set_target(db, "99", Fraction(1, 2), AUG31, set_by=None, source="t")


def test_province_pace_from_the_communes_that_have_one():
    a = TallyRow("a", "A", "24", "P", SIXTY, installed=100, gain=Fraction(10))
    b = TallyRow("b", "B", "24", "P", SIXTY, installed=50)  # one count only: no pace yet
    a.denominators["subscribers"] = b.denominators["subscribers"] = 1000
    total = roll_up([a, b], "24", "P", SIXTY)
    assert total.gain == 10 and total.projected(AUG3) is not None
    b.gain = None
    a.gain = None
    assert roll_up([a, b], "24", "P", SIXTY).gain is None


def test_a_commune_row_built_fast_is_the_dataclass_row():
    activity = dict.fromkeys(ACTIVITY, 0) | {"households_visited": 4, "venues": 1}
    fast = commune_row("07654", "Xã An Lạc", "24", "Bắc Ninh", SIXTY, dict(activity), "213", "TP. Bắc Giang")
    slow = TallyRow("07654", "Xã An Lạc", "24", "Bắc Ninh", SIXTY, activity=dict(activity))
    slow.district_code, slow.district_name = "213", "TP. Bắc Giang"
    assert fast == slow  # every field compared: one the fast path forgot fails here
    fast.denominators["subscribers"] = 10
    assert commune_row("x", "x", "24", "x", None, {}, "", "").denominators["subscribers"] is None  # its own dict


def assert_rolled_up_from_the_rows(result: Tally, below: str) -> None:
    """Each child of `result` is roll_up over its built commune rows (the tally sums most
    communes from their counts, without building their rows)."""
    rows = list(result.rows)
    assert len(result.children) > 1
    for child in result.children:
        members = [r for r in rows if getattr(r, below) == child.code]
        expected = roll_up(members, child.code, child.name, child.target, child.province_code, child.province_name)
        got = (
            child.installed,
            child.denominators,
            child.gain,
            child.installed_on,
            child.activity,
            child.communes,
            child.communes_with_figures,
        )
        assert got == (
            expected.installed,
            expected.denominators,
            expected.gain,
            expected.installed_on,
            expected.activity,
            expected.communes,
            expected.communes_with_figures,
        ), child.code
    whole = roll_up(rows, result.unit_code, "", result.totals.target)
    assert (result.totals.activity, result.totals.installed, result.totals.communes) == (
        whole.activity,
        whole.installed,
        whole.communes,
    )


async def test_the_provinces_sum_their_communes_counts_and_figures(sessions):
    async with sessions() as db, db.begin():
        await set_target(db, "01", Fraction(3, 5), AUG31, set_by=None, source="test")
        stmt = text("SELECT min(code) FROM communes WHERE province_code IN ('24', '79', '92') GROUP BY province_code")
        elsewhere = sorted((await db.scalars(stmt)).all())
        for n, code in enumerate(("00070", "00082", *elsewhere[:2])):
            await record_figure(
                db, code, AUG3 - dt.timedelta(days=7), entered_by=None, source="t", installed=n, subscribers=100
            )
            await record_figure(db, code, AUG3, entered_by=None, source="t", installed=10 * n + 5)
        for n, code in enumerate(("00070", "00103", *elsewhere)):
            await bump(db, code, AUG3, households_visited=n + 1, installs_helped=n, checkins=2 * n)
            await bump(db, code, AUG3 + dt.timedelta(days=1), households_visited=50)  # after the date
    async with sessions() as db:
        country = await tally(db, "VN", AUG3)
        hanoi = await tally(db, "01", AUG3)
    assert_rolled_up_from_the_rows(country, "province_code")
    assert country.totals.activity["households_visited"] == 15 and country.totals.activity["checkins"] == 20
    assert len(hanoi.children) == 126 and hanoi.totals.activity["households_visited"] == 1 + 2


async def test_the_districts_sum_their_communes_on_the_pre2025_map(pre2025_sessions):
    async with pre2025_sessions() as db, db.begin():
        communes = (await db.execute(text("SELECT code FROM communes WHERE province_code = '24' ORDER BY code"))).all()
        for n, (code,) in enumerate(communes[:40]):
            await bump(db, code, AUG3, households_visited=n + 1, smartphones_seen=n)
            if n % 7 == 0:
                await record_figure(db, code, AUG3, entered_by=None, source="t", installed=n, subscribers=100 + n)
    async with pre2025_sessions() as db:
        province = await tally(db, "24", AUG3)
        country = await tally(db, "VN", AUG3)
    assert_rolled_up_from_the_rows(province, "district_code")
    assert province.totals.activity["households_visited"] == sum(range(1, 41))
    assert country.totals.activity["households_visited"] == sum(range(1, 41))
    assert_rolled_up_from_the_rows(country, "province_code")


async def test_two_tallies_of_the_same_data_are_equal_and_a_visit_tells_them_apart(sessions):
    """A tally's rows compare as the list they stand for (a restored backup's tally is checked
    against the original's this way), whether or not each row was built yet."""
    async with sessions() as db, db.begin():
        await bump(db, "00070", AUG3, households_visited=3)
    async with sessions() as db:
        first, second = await tally(db, "01", AUG3), await tally(db, "01", AUG3)
    assert first.rows[5] is not None  # one row built before comparing, the rest not
    assert first.rows == second.rows and first.rows == list(second.rows)
    async with sessions() as db, db.begin():
        await bump(db, "00082", AUG3, households_visited=1)
    async with sessions() as db:
        third = await tally(db, "01", AUG3)
    assert third.rows != first.rows
