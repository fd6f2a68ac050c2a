"""The two maps: a code with its scheme, the pre-2025 map's districts as a level of the tallies,
figures at any level, and history carried onto today's map (storage/unit_map.py, storage/tally.py).

The seed: Thành phố Bắc Giang (pre2025 district 213) had 82.930 of 174.229 subscribers with the
app on 3 August 2021 (47,59%); with 60% by 31 August the gap is 21.608; on today's map the old
city lies in Bắc Ninh (24).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from storage import roles
from storage.db import create_engine, sessionmaker
from storage.figures import import_rows, record_figure, set_target
from storage.migrate import upgrade
from storage.models import Commune, District, OfficialFigure, Province, RoleGrant, Target, User
from storage.roles import Role
from storage.tally import tally
from storage.unit_map import (
    carried_into_2025,
    carry,
    pad_unit_code,
    unit_level,
    unit_map,
)
from storage.units import UnitsSchemeMismatch, database_scheme, known_unit, load_units
from texts import Percent

JUL27 = dt.date(2021, 7, 27)
AUG3 = dt.date(2021, 8, 3)
AUG31 = dt.date(2021, 8, 31)
BAC_GIANG_CITY = "213"  # pre2025: Thành phố Bắc Giang, a district-level city of Bắc Giang (24)


# --- the maps (pure) ---------------------------------------------------------------------------


def test_a_code_means_nothing_without_its_scheme():
    before, today = unit_map("pre2025").get("27937"), unit_map("2025").get("27937")
    assert before is not None and today is not None
    assert before.name != today.name  # a township before 2025, a commune today
    assert (before.scheme, today.scheme) == ("pre2025", "2025")
    assert unit_map("pre2025").parent("27937") == "802"  # its district; today's has none
    assert unit_map("2025").parent("27937") == "80"


def test_levels_and_sizes_of_each_map():
    before, today = unit_map("pre2025"), unit_map("2025")
    assert before.levels == ("country", "province", "district", "commune")
    assert today.levels == ("country", "province", "commune")
    sizes = {level: len(before.of_level(level)) for level in ("province", "district", "commune")}
    assert sizes == {"province": 63, "district": 696, "commune": 10051}
    assert (len(today.of_level("province")), len(today.of_level("commune"))) == (34, 3321)
    # The map just before 1 July 2025, not 2021's: the city already has Yên Dũng's communes.
    assert len(list(before.communes(BAC_GIANG_CITY))) == 34
    assert before.chain("07210") == ["07210", BAC_GIANG_CITY, "24", "VN"]


@pytest.mark.parametrize(
    "typed,scheme,padded",
    [
        ("1", "2025", "01"),
        ("167", "2025", "00167"),
        ("213", "pre2025", "213"),
        ("7210", "pre2025", "07210"),
        ("24", "pre2025", "24"),
        ("vn", "pre2025", "VN"),
    ],
)
def test_typed_codes_pad_to_their_level_in_their_scheme(typed, scheme, padded):
    assert pad_unit_code(typed, scheme) == padded


def test_levels_from_a_padded_code():
    assert [unit_level(c) for c in ("VN", "24", "213", "07210")] == ["country", "province", "district", "commune"]
    with pytest.raises(ValueError):
        unit_level("2134")
    with pytest.raises(ValueError):
        pad_unit_code("213", "1975")


def test_history_lands_on_the_smallest_unit_of_today_that_wholly_contains_it():
    assert carried_into_2025(BAC_GIANG_CITY) == "24"  # its communes went to 8 communes of Bắc Ninh
    assert carried_into_2025("24") == "24"  # old Bắc Giang province: all within today's Bắc Ninh
    # A commune that went whole into one commune of today lands on that commune.
    moved_whole = next(
        c.code
        for c in unit_map("pre2025").of_level("commune")
        if carried_into_2025(c.code) in unit_map("2025").units and unit_level(carried_into_2025(c.code)) == "commune"
    )
    assert unit_map("2025").get(carried_into_2025(moved_whole)) is not None
    # Today's units are not inside the older ones: nothing is carried back.
    assert carry("00070", "2025", "pre2025") is None
    assert carry("00070", "2025", "2025") == "00070"


# --- a pre-2025 deployment's database ----------------------------------------------------------


async def test_units_load_with_their_scheme(pre2025_sessions):
    async with pre2025_sessions() as db:
        assert await database_scheme(db) == "pre2025"
        assert await db.scalar(select(func.count()).select_from(District)) == 696
        assert await db.scalar(select(func.count()).select_from(Commune)) == 10051
        assert {s for s in await db.scalars(select(Province.scheme).distinct())} == {"pre2025"}
        commune = await db.get(Commune, "27937")
        assert commune is not None and commune.district_code == "802" and commune.scheme == "pre2025"
        assert await known_unit(db, BAC_GIANG_CITY)
        assert not await known_unit(db, BAC_GIANG_CITY, "2025")  # no district on today's map
        assert await known_unit(db, "00070", "2025")


async def seed_bac_giang(db) -> None:
    await record_figure(db, BAC_GIANG_CITY, JUL27, entered_by=None, source="seed", installed=75930, subscribers=174229)
    await record_figure(db, BAC_GIANG_CITY, AUG3, entered_by=None, source="seed", installed=82930)
    await set_target(db, "24", Fraction(3, 5), AUG31, set_by=None, source="seed")


async def test_the_seed_figures_replay_on_their_own_unit(pre2025_sessions, content):
    async with pre2025_sessions() as db, db.begin():
        await seed_bac_giang(db)
    async with pre2025_sessions() as db:
        city = await tally(db, BAC_GIANG_CITY, AUG3)
        row = city.totals
        assert (row.level, row.installed, row.denominator, row.own_figure) == ("district", 82930, 174229, True)
        assert content.format_value(Percent(row.rate)) == "47,59%"
        assert row.gap == 21608
        assert (row.communes, row.communes_with_figures) == (34, 34)  # the city's total covers it all
        assert len(city.rows) == 34 and {r.district_code for r in city.rows} == {BAC_GIANG_CITY}
        assert len(city.children) == 34  # a district's children are its communes
        assert row.gain == Fraction(82930 - 75930, 7)

        # The province rolls up from its districts: the city's figure, the other districts none.
        province = await tally(db, "24", AUG3)
        assert {r.level for r in province.children} == {"district"}
        (with_figures,) = [r for r in province.children if r.installed is not None]
        assert with_figures.code == BAC_GIANG_CITY
        assert (province.totals.installed, province.totals.denominator) == (82930, 174229)
        assert province.totals.communes_with_figures == 34 < province.totals.communes
        assert province.totals.gap == 21608
        country = await tally(db, "VN", AUG3)
        assert {r.level for r in country.children} == {"province"} and len(country.children) == 63


async def test_viewed_on_todays_map_the_city_lands_on_bac_ninh(pre2025_sessions):
    async with pre2025_sessions() as db, db.begin():
        await seed_bac_giang(db)
    async with pre2025_sessions() as db:
        bac_ninh = await tally(db, "24", AUG3, scheme="2025")
        assert bac_ninh.unit_name == "Tỉnh Bắc Ninh" and bac_ninh.scheme == "2025"
        (carried,) = bac_ninh.carried
        assert carried.code == "24" and carried.carried_from is not None
        assert (carried.carried_from.scheme, carried.carried_from.code) == ("pre2025", BAC_GIANG_CITY)
        assert (carried.installed, carried.denominator, carried.gap) == (82930, 174229, 21608)
        # Never split onto a commune of today, never summed into today's figures.
        assert bac_ninh.totals.installed is None
        commune_today = next(iter(unit_map("2025").children("24")))
        assert (await tally(db, commune_today, AUG3, scheme="2025")).carried == []
        assert (await tally(db, "VN", AUG3, scheme="2025")).carried[0].code == "24"


async def test_a_units_own_figure_and_its_childrens_sum_both_shown_when_they_disagree(pre2025_sessions):
    communes = list(unit_map("pre2025").communes(BAC_GIANG_CITY))[:2]
    async with pre2025_sessions() as db, db.begin():
        await seed_bac_giang(db)
        for code in communes:
            await record_figure(db, code, AUG3, entered_by=None, source="t", installed=1000, subscribers=4000)
    async with pre2025_sessions() as db:
        city = (await tally(db, BAC_GIANG_CITY, AUG3)).totals
        assert (city.installed, city.denominator) == (82930, 174229)
        assert city.summed is not None
        assert (city.summed.installed, city.summed.denominator) == (2000, 8000)
        assert (city.summed.communes_with_figures, city.summed.communes) == (2, 34)
        # Without its own figure, the district is its communes' sum, with the coverage.
        bare = await tally(db, BAC_GIANG_CITY, JUL27 - dt.timedelta(days=1))
        assert bare.totals.installed is None and not bare.totals.own_figure


async def test_a_district_officer_acts_on_the_district_s_communes(pre2025_sessions):
    inside, outside = "07210", "00070"
    async with pre2025_sessions() as db, db.begin():
        officer = User()
        db.add(officer)
        await db.flush()
        assert await roles.grant(db, officer.id, Role.DISTRICT_OFFICER, BAC_GIANG_CITY)
        with pytest.raises(ValueError):
            await roles.grant(db, officer.id, Role.DISTRICT_OFFICER, "24")  # a province, not a district
        assert await roles.check(db, officer.id, Role.COORDINATOR, inside)
        assert await roles.check(db, officer.id, Role.DISTRICT_OFFICER, BAC_GIANG_CITY)
        assert await roles.may_view(db, officer.id, BAC_GIANG_CITY)
        refused = await roles.check(db, officer.id, Role.COORDINATOR, outside)
        assert not refused and refused.refusal is roles.Refusal.OTHER_UNIT
        too_low = await roles.check(db, officer.id, Role.PROVINCE_OFFICER, "24")
        assert not too_low and too_low.refusal is roles.Refusal.TOO_LOW
        province_officer = User()
        db.add(province_officer)
        await db.flush()
        await roles.grant(db, province_officer.id, Role.PROVINCE_OFFICER, "24")
        assert await roles.check(db, province_officer.id, Role.DISTRICT_OFFICER, BAC_GIANG_CITY)
        assert await roles.check(db, province_officer.id, Role.COORDINATOR, inside)
        assert (await db.scalar(select(RoleGrant.unit_code).where(RoleGrant.role == "district_officer"))) == "213"


# --- today's deployment, with history of before 2025 -------------------------------------------


async def test_figures_of_the_old_map_imported_into_todays_deployment_are_history(sessions):
    header = ["unit_code", "date", "installed", "subscribers"]
    async with sessions() as db, db.begin():
        report = await import_rows(db, header, [["213", "03/08/2021", "82.930", "174.229"]], "import:t", "pre2025")
        assert (report.imported, report.errors) == (1, [])
        refused = await import_rows(db, header, [["213", "03/08/2021", "1", "2"]], "import:t")
        assert refused.imported == 0 and "unknown unit code" in refused.errors[0]  # 213 is no unit today
        await set_target(db, "24", Fraction(3, 5), AUG31, set_by=None, source="t", scheme="pre2025")
    async with sessions() as db:
        figure = (await db.scalars(select(OfficialFigure))).one()
        assert (figure.scheme, figure.unit_code) == ("pre2025", "213")
        assert (await db.scalars(select(Target.scheme))).one() == "pre2025"
        bac_ninh = await tally(db, "24", AUG3)
        assert bac_ninh.totals.installed is None and bac_ninh.totals.target is None  # today's, untouched
        (carried,) = bac_ninh.carried
        assert carried.carried_from is not None and carried.carried_from.code == "213"
        assert (carried.installed, carried.gap) == (82930, 21608)
        # As recorded, on its own map.
        recorded = await tally(db, "213", AUG3, scheme="pre2025")
        assert (recorded.totals.installed, recorded.totals.gap) == (82930, 21608)


async def test_a_database_keeps_the_map_its_data_is_on(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'switch.db'}")
    await upgrade(engine)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            assert await load_units(db) == (34, 3321)
            # Nothing stored yet: the campaign may still choose the other map.
            assert await load_units(db, scheme="pre2025") == (63, 10051)
            assert await database_scheme(db) == "pre2025"
            db.add(User(commune_code="27937"))  # Thị trấn Đức Hòa, before 2025
            await db.flush()
        async with sessionmaker(engine)() as db:
            with pytest.raises(UnitsSchemeMismatch):
                async with db.begin():
                    await load_units(db, scheme="2025")
        async with sessionmaker(engine)() as db:
            assert await database_scheme(db) == "pre2025"
            assert (await db.get(Commune, "27937")).name == "Thị trấn Đức Hòa"
    finally:
        await engine.dispose()
