"""Officials through the real engine on the map before 1 July 2025: a district officer's summary,
own figure, target and announcement; a province drilled down by district; typed district codes.
The clock is 03/08/2021, the day of the seed letter."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import select

from bot.settings import Settings
from storage.figures import record_figure, set_target
from storage.models import OfficialFigure, Target
from storage.unit_map import unit_map
from tests.harness import ChatDriver, grant_role
from texts import Divisions, Percent, t

CITY, PROVINCE, DINH_KE = "213", "24", "07231"  # Thành phố Bắc Giang, its province, one of its wards
AUG3 = dt.date(2021, 8, 3)
AUG31 = dt.date(2021, 8, 31)
NOW = dt.datetime(2021, 8, 3, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def august_third(monkeypatch):
    monkeypatch.setattr("bot.engine.utcnow", lambda: NOW)


@pytest.fixture
async def pre2025_service(pre2025_database, pre2025_engine, content):
    from bot.service import Service

    settings = Settings(database_url=pre2025_database["url"], units="pre2025")
    service = Service(settings, content=content, db_engine=pre2025_engine)
    yield service
    await service.stop()


def words(service, key: str, **values) -> str:
    return service.content.render(t(key, **values))


def token(chat: ChatDriver, prefix: str) -> str:
    return next(p for p in chat.payloads() if p.startswith(prefix)).rsplit(":", 1)[1]


async def seed(service) -> None:
    async with service.sessions() as db, db.begin():
        await record_figure(db, CITY, AUG3, entered_by=None, source="t", installed=82930, subscribers=174229)
        await set_target(db, PROVINCE, Fraction(3, 5), AUG31, set_by=None, source="t")


async def test_a_province_drills_down_by_district_and_codes_are_typed_at_their_level(pre2025_service):
    service = pre2025_service
    await seed(service)
    await grant_role(service, "admin", "admin", "VN")
    admin = ChatDriver(service, user_id="admin")
    await admin.send(f"/thongke {PROVINCE}")
    districts = [f"tk:u:{code}" for code in unit_map("pre2025").children(PROVINCE)]
    assert set(districts) <= set(admin.payloads()) and len(districts) == 10
    assert "82.930/174.229" in admin.text()
    await admin.send(f"/thongke {CITY}")  # three digits: a district on this map, not commune 00213
    assert "47,59%" in admin.text() and "21.608" in admin.text()
    assert words(service, "tally.summary.own_figure") in admin.text()
    assert f"tk:u:{PROVINCE}" in admin.payloads() and f"cn:c:{CITY}" in admin.payloads()
    await admin.send(f"/thongke {DINH_KE}")
    assert f"tk:u:{CITY}" in admin.payloads()  # a ward's way up is its district


async def test_a_district_officer_enters_the_city_total_and_sees_both_when_the_wards_disagree(pre2025_service):
    service = pre2025_service
    await seed(service)
    async with service.sessions() as db, db.begin():
        await record_figure(db, DINH_KE, AUG3, entered_by=None, source="t", installed=1000, subscribers=4000)
    await grant_role(service, "hung", "district_officer", CITY)
    hung = ChatDriver(service, user_id="hung")
    await hung.send("/thongke")
    summary = hung.text()
    assert "82.930/174.229" in summary and "47,59%" in summary
    assert "1.000/4.000" in summary and "1/34" in summary  # the wards' sum, beside the city's own

    await hung.press(f"cn:c:{CITY}")
    assert hung.keys == ["official.figures.ask_date"]
    for answer in ("cn:d:0", "90.000", "174.229"):
        await (hung.press(answer) if answer.startswith("cn:") else hung.send(answer))
    await hung.press("cn:s:population")
    await hung.press("cn:s:households")
    assert hung.keys == ["official.figures.confirm"]
    await hung.press(f"cn:save:{token(hung, 'cn:save:')}")
    assert "90.000/174.229" in hung.text()
    async with service.sessions() as db:
        latest = (await db.scalars(select(OfficialFigure).order_by(OfficialFigure.id.desc()))).first()
    assert (latest.scheme, latest.unit_code, latest.installed, latest.source) == ("pre2025", CITY, 90000, "chat")

    # Not the province's: its own figure is for the province officer.
    await hung.press(f"cn:c:{PROVINCE}")
    assert hung.keys == ["access.too_low"]


async def test_a_district_officer_sets_the_district_target_and_announces_to_it(pre2025_service):
    service = pre2025_service
    await seed(service)
    await grant_role(service, "hung", "district_officer", CITY)
    hung = ChatDriver(service, user_id="hung")
    await hung.send("/chitieu")
    assert hung.keys == ["official.targets.choose_unit"]
    assert f"ct:u:{CITY}" in hung.payloads() and "ct:u:VN" not in hung.payloads()
    await hung.press(f"ct:u:{CITY}")
    assert hung.keys == ["official.targets.ask_rate"]
    await hung.press("ct:r:70")
    await hung.press("ct:dk")  # the province's deadline, kept
    await hung.press("ct:n:subscribers")
    assert words(service, "official.targets.scope_district") in hung.text()
    await hung.press(f"ct:save:{token(hung, 'ct:save:')}")
    target = (await _all(service, Target))[-1]
    assert (target.scheme, target.unit_code, target.rate_ppm) == ("pre2025", CITY, 700000)

    await hung.send("/thongbao")
    assert hung.keys == ["announce.ask_commune"]
    await hung.send("Dinh Ke")
    assert hung.keys == ["announce.choose_scope"]
    assert f"ann:u:{CITY}" in hung.payloads() and f"ann:u:{PROVINCE}" not in hung.payloads()
    await hung.press(f"ann:u:{PROVINCE}")  # a forged button
    assert hung.keys == ["access.too_low"]


async def _all(service, model) -> list:
    async with service.sessions() as db:
        return list((await db.scalars(select(model).order_by(model.id))).all())


async def test_todays_deployment_shows_history_of_before_2025_apart_and_marked(service):
    """A 2025 deployment with the letter's figure imported on its own unit (pre2025 213): the
    province officer of today's Bắc Ninh sees it listed apart, never in today's rate."""
    from storage.figures import import_rows

    async with service.sessions() as db, db.begin():
        header = ["unit_code", "date", "installed", "subscribers"]
        report = await import_rows(db, header, [[CITY, "03/08/2021", "82.930", "174.229"]], "import:t", "pre2025")
        assert report.imported == 1
    await grant_role(service, "officer", "province_officer", PROVINCE)
    officer = ChatDriver(service, user_id="officer")
    await officer.send("/thongke")
    text = officer.text()
    assert words(service, "tally.summary.carried_title") in text
    line = words(
        service,
        "tally.summary.carried_line",
        name=unit_map("pre2025").units[CITY].name,
        unit=unit_map("2025").units[PROVINCE].name,
        installed=82930,
        denominator=174229,
        rate=Percent.of(82930, 174229),
    )
    assert line in text and "47,59%" in line
    none_today = words(service, "tally.summary.no_figures_any", units=Divisions(frozenset({"xã", "phường"})))
    assert none_today in text  # today's units: none entered, the history not counted among them
