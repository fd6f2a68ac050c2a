"""The poster, read back without trusting our own code: a manager registers a venue on Telegram
(the real client against the Bot API stand-in), the PDF and the PNG the bot uploaded are drawn by
poppler and read by zxing-cpp, and a visitor sends the decoded link's payload to the bot."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from bot.service import Service
from bot.settings import Secret, Settings
from storage.models import CheckIn, CommuneDailyCount, Venue
from tests.channels.test_telegram_e2e import TOKEN, exchange, tg  # noqa: F401 - tg is a fixture
from tests.documents.posters.tools import as_telegram_photo, decode_qr, rasterise

KEY = "round-trip-qr-signing-key"
PNG_DPI = 150


@pytest.fixture
async def checkin_bot(tg, database, db_engine):
    settings = Settings(
        database_url=database["url"],
        telegram_bot_token=Secret(TOKEN),
        telegram_api_base_url=tg.base_url,
        qr_signing_key=Secret(KEY),
    )
    service = Service(settings, db_engine=db_engine)
    service.configure_channels()
    await service.start()
    yield service
    await service.stop()


async def register_on_telegram(tg, manager) -> tuple[bytes, bytes]:
    """The manager's conversation; returns the PDF and the PNG as uploaded to Telegram."""
    await exchange(tg, manager.id, lambda: manager.send_command("start"))
    await exchange(tg, manager.id, lambda: manager.press("venue"))
    await exchange(tg, manager.id, lambda: manager.send_text("Trường THCS Nguyễn Huệ – điểm thi số 3"))
    await exchange(tg, manager.id, lambda: manager.press("venue:kind:school"))
    await exchange(tg, manager.id, lambda: manager.send_text("Hoàn Kiếm"))
    ask, alternatives = await exchange(tg, manager.id, lambda: manager.send_text("Số 1 phố Ấu Triệu"), count=2)
    assert ask.reply_markup["keyboard"][0][0]["request_location"] is True
    (confirm,) = await exchange(tg, manager.id, lambda: manager.send_location(21.0287, 105.8489))
    assert "21.02870, 105.84890" in confirm.text
    created, document, photo = await exchange(tg, manager.id, lambda: manager.press("venue:ok"), count=3)
    assert (document.method, photo.method) == ("sendDocument", "sendPhoto")
    assert "100%" in document.text  # the caption: print at actual size
    return document.file("document").data, photo.file("photo").data


def payload_of(link: str) -> str:
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", "/bluezone_test_bot")
    (payload,) = parse_qs(parts.query)["start"]
    return payload


async def check_in_with(tg, service, visitor, payload: str) -> CheckIn:
    (thanks,) = await exchange(tg, visitor.id, lambda: visitor.send_command("start", payload))
    assert "Cảm ơn bạn đã check-in tại Trường THCS Nguyễn Huệ" in thanks.text
    await exchange(tg, visitor.id, lambda: visitor.press(thanks.callback_data()[0]))  # [Already installed]
    async with service.sessions() as db:
        venue = (await db.scalars(select(Venue))).one()
        latest = (await db.scalars(select(CheckIn).order_by(CheckIn.id.desc()).limit(1))).one()
    assert (latest.venue_id, latest.channel) == (venue.id, "telegram")
    return latest


async def test_pdf_and_png_posters_round_trip(tg, checkin_bot, pdftoppm, tmp_path):
    service = checkin_bot
    pdf, png = await register_on_telegram(tg, tg.user(8001, first_name="Hiệu trưởng"))
    assert pdf.startswith(b"%PDF-") and png.startswith(b"\x89PNG")

    # The PDF, drawn by poppler at 100 dpi.
    link, extra, side_px = decode_qr(rasterise(pdftoppm, pdf, tmp_path, dpi=100))
    assert (extra["Version"], extra["ECLevel"]) == ("4", "M")
    assert side_px / 100 * 25.4 >= 150  # at least 15 × 15 cm on the A4 page
    check_in = await check_in_with(tg, service, tg.user(8002), payload_of(link))
    assert check_in.already_installed is True

    # The PNG, as uploaded; and as a phone receives it, recompressed by Telegram.
    image = Image.open(io.BytesIO(png))
    assert image.size == (1240, 1754)  # A4 at 150 dpi
    png_link, _, png_side = decode_qr(image)
    assert png_link == link and png_side / PNG_DPI * 25.4 >= 150
    assert decode_qr(as_telegram_photo(png))[0] == link
    await check_in_with(tg, service, tg.user(8003), payload_of(png_link))

    async with service.sessions() as db:
        assert len((await db.scalars(select(CheckIn))).all()) == 2
        (counts,) = (await db.scalars(select(CommuneDailyCount))).all()
        assert (counts.checkins, counts.checkins_already_installed) == (2, 2)
