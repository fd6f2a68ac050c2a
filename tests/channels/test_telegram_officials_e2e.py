"""Officials end to end on Telegram: the real python-telegram-bot client against the Bot API
stand-in. The summary as text, the chart as a photo (a PNG Telegram accepts), the XLSX as a
document that opens with numbers in its cells, and figures entered in chat showing in /thongke."""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction

from openpyxl import load_workbook
from sqlalchemy import select

from storage.figures import record_figure, set_target
from storage.models import OfficialFigure
from tests.channels.test_telegram_e2e import exchange, polling_bot, tg  # noqa: F401 - fixtures
from tests.channels.test_telegram_volunteers_e2e import data_starting, grant

BAC_GIANG, BAC_NINH = "07210", "24"


async def seed(service, figures: bool = True) -> None:
    async with service.sessions() as db, db.begin():
        if figures:
            await record_figure(
                db, BAC_GIANG, dt.date(2021, 8, 3), entered_by=None, source="t", installed=82930, subscribers=174229
            )
        await set_target(db, BAC_NINH, Fraction(3, 5), dt.date(2021, 8, 31), set_by=None, source="t")


async def test_summary_chart_and_excel(tg, polling_bot):
    service = polling_bot
    await seed(service)
    await grant(service, 7301, "province_officer", BAC_NINH)
    officer = tg.user(7301, first_name="Hùng")
    summary, photo = await exchange(tg, officer.id, lambda: officer.send_command("thongke"), count=2)
    assert summary.method == "sendMessage"
    assert "Bắc Ninh" in summary.text and "82.930/174.229" in summary.text and "47,59%" in summary.text
    assert "21.608" in summary.text and "trước ngày 31/8/2021" in summary.text
    assert photo.method == "sendPhoto" and photo.ok
    assert photo.file("photo").data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "tk:x:24" in photo.callback_data() and f"tk:u:{BAC_GIANG}" in photo.callback_data()

    (document,) = await exchange(tg, officer.id, lambda: officer.press("tk:x:24"))
    assert document.method == "sendDocument" and document.ok
    upload = document.file("document")
    assert upload.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(upload.data)).active
    row = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == BAC_GIANG)
    assert row[4:7] == (174229, 82930, 0.4759)  # denominator, installed, rate: numbers, not text
    assert row[9] == 21608


async def test_the_biggest_province_chart_is_a_photo_telegram_accepts(tg, polling_bot):
    await grant(polling_bot, 7302, "province_officer", "79")  # Hồ Chí Minh City: 168 communes
    officer = tg.user(7302)
    _, photo = await exchange(tg, officer.id, lambda: officer.send_command("thongke"), count=2)
    assert photo.method == "sendPhoto" and photo.ok  # within 10000 px and a 1:20 ratio


async def test_figures_entered_in_chat_show_in_the_next_summary(tg, polling_bot):
    service = polling_bot
    await seed(service, figures=False)
    await grant(service, 7303, "coordinator", BAC_GIANG)
    lan = tg.user(7303, first_name="Lan")
    (before,) = await exchange(tg, lan.id, lambda: lan.send_command("thongke"))
    assert "47,59%" not in before.text

    (ask_date,) = await exchange(tg, lan.id, lambda: lan.send_command("capnhat"))
    assert ask_date.callback_data()[:2] == ["cn:d:0", "cn:d:1"]
    await exchange(tg, lan.id, lambda: lan.press("cn:d:0"))
    await exchange(tg, lan.id, lambda: lan.send_text("82.930"))
    await exchange(tg, lan.id, lambda: lan.send_text("174.229"))
    await exchange(tg, lan.id, lambda: lan.press("cn:s:population"))
    (confirm,) = await exchange(tg, lan.id, lambda: lan.press("cn:s:households"))
    assert "47,59%" in confirm.text
    saved, summary = await exchange(tg, lan.id, lambda: lan.press(data_starting(confirm, "cn:save:")), count=2)
    assert "47,59%" in summary.text and "21.608" in summary.text
    async with service.sessions() as db:
        (row,) = (await db.scalars(select(OfficialFigure))).all()
    assert (row.installed, row.subscribers, row.source) == (82930, 174229, "chat")

    (after,) = await exchange(tg, lan.id, lambda: lan.send_command("thongke"))
    assert "82.930/174.229" in after.text and "47,59%" in after.text and "21.608" in after.text

    intro, script = await exchange(tg, lan.id, lambda: lan.press(f"lp:c:{BAC_GIANG}"), count=2)
    # Read aloud: the bot's name without "@" (issue 19), as people search for it.
    assert "47,59%" in script.text and "21.608" in script.text and "tìm tên bluezone_test_bot" in script.text
