"""A deployment on the map before 1 July 2025 (UNITS=pre2025), end to end on Telegram: the real
python-telegram-bot client against the Bot API stand-in. A citizen of Phường Dĩnh Kế (07231), a
ward of Thành phố Bắc Giang (district 213) finds its support point and reports the app installed;
its coordinator invites a volunteer, who logs a visit; the city's district officer reads the
letter's figure (82.930 of 174.229, 47,59%, 21.608 short of 60%) and the province officer of
Bắc Giang (24) drills down by district."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import select

from storage.figures import record_figure, set_target
from storage.models import SelfReportedInstall, Visit
from storage.support_points import import_csv
from tests.channels.test_telegram_e2e import exchange, polling_service, tg  # noqa: F401 - fixtures
from tests.channels.test_telegram_volunteers_e2e import data_starting, grant

DINH_KE, CITY, PROVINCE = "07231", "213", "24"


@pytest.fixture
async def pre2025_bot(tg, pre2025_database, pre2025_engine):
    async with polling_service(tg, pre2025_database, pre2025_engine, units="pre2025") as service:
        async with service.sessions() as db, db.begin():
            await record_figure(
                db, CITY, dt.date(2021, 8, 3), entered_by=None, source="t", installed=82930, subscribers=174229
            )
            await set_target(db, PROVINCE, Fraction(3, 5), dt.date(2021, 8, 31), set_by=None, source="t")
            await import_csv(db, f"commune_code,name,address\n{DINH_KE},Bưu điện Dĩnh Kế,1 Xương Giang\n")
        yield service


async def test_citizen_volunteer_coordinator_and_officers(tg, pre2025_bot):
    service = pre2025_bot

    # A citizen: the ward by its name of before 2025 (its district told apart), then "installed".
    minh = tg.user(7401, first_name="Minh")
    await exchange(tg, minh.id, lambda: minh.send_command("start"))
    await exchange(tg, minh.id, lambda: minh.press("support"))
    (points,) = await exchange(tg, minh.id, lambda: minh.send_text("Dinh Ke"))
    assert "Bưu điện Dĩnh Kế" in points.text
    (thanks,) = await exchange(tg, minh.id, lambda: minh.send_command("dacai"))
    assert "Dĩnh Kế" in thanks.text
    async with service.sessions() as db:
        assert (await db.scalars(select(SelfReportedInstall.commune_code))).all() == [DINH_KE]

    # The ward's coordinator invites a volunteer; the volunteer logs a household.
    await grant(service, 7402, "coordinator", DINH_KE)
    coordinator, an = tg.user(7402, first_name="Hà"), tg.user(7403, first_name="An")
    (menu,) = await exchange(tg, coordinator.id, lambda: coordinator.send_command("start"))
    assert "co" in menu.callback_data()
    (desk,) = await exchange(tg, coordinator.id, lambda: coordinator.press("co"))
    assert f"co:i:{DINH_KE}" in desk.callback_data()
    (invite,) = await exchange(tg, coordinator.id, lambda: coordinator.press(f"co:i:{DINH_KE}"))
    link = next(word for word in invite.text.split() if word.startswith("https://t.me/"))
    (ask_name,) = await exchange(tg, an.id, lambda: an.send_command("start", link.split("start=", 1)[1]))
    assert "Dĩnh Kế" in ask_name.text
    await exchange(tg, an.id, lambda: an.send_text("An"))
    _, skip = await exchange(tg, an.id, lambda: an.send_contact("+84912345678"), count=2)
    await exchange(tg, an.id, lambda: an.press("reg:skip"))
    (summary,) = await exchange(tg, an.id, lambda: an.send_text("tổ 5 số 7 3 máy cài 1"))
    (saved,) = await exchange(tg, an.id, lambda: an.press(data_starting(summary, "vs:save:")))
    assert saved.text.startswith("✅")
    async with service.sessions() as db:
        (visit,) = (await db.scalars(select(Visit))).all()
    assert (visit.commune_code, visit.installed_now) == (DINH_KE, 1)
    (ward,) = await exchange(tg, coordinator.id, lambda: coordinator.send_command("thongke"))
    assert "Dĩnh Kế" in ward.text and f"tk:u:{CITY}" not in ward.callback_data()  # not the city's to see

    # The city's district officer: the letter's figure on its own unit, the communes' chart.
    await grant(service, 7404, "district_officer", CITY)
    hung = tg.user(7404, first_name="Hùng")
    city, photo = await exchange(tg, hung.id, lambda: hung.send_command("thongke"), count=2)
    assert "Thành phố Bắc Giang" in city.text
    assert "82.930/174.229" in city.text and "47,59%" in city.text and "21.608" in city.text
    assert photo.method == "sendPhoto" and photo.ok
    assert f"cn:c:{CITY}" in photo.callback_data()  # the city's own total, entered in chat
    assert f"tk:u:{PROVINCE}" not in photo.callback_data()
    (ward,) = await exchange(tg, hung.id, lambda: hung.send_command("thongke", DINH_KE))
    assert "Dĩnh Kế" in ward.text and f"tk:u:{CITY}" in ward.callback_data()  # back up to the city
    (refused,) = await exchange(tg, hung.id, lambda: hung.send_command("thongke", PROVINCE))
    assert "cán bộ phụ trách tỉnh" in refused.text

    # The province officer of Bắc Giang (24, before 2025): drills down by district.
    await grant(service, 7405, "province_officer", PROVINCE)
    lan = tg.user(7405, first_name="Lan")
    province, photo = await exchange(tg, lan.id, lambda: lan.send_command("thongke"), count=2)
    assert "Bắc Giang" in province.text and "82.930/174.229" in province.text and "21.608" in province.text
    assert f"tk:u:{CITY}" in photo.callback_data()
    assert DINH_KE not in " ".join(photo.callback_data())  # districts, not 200-odd communes
    city, _ = await exchange(tg, lan.id, lambda: lan.press(f"tk:u:{CITY}"), count=2)
    assert "47,59%" in city.text
    assert f"tk:u:{PROVINCE}" in _.callback_data()  # and back up to the province
