"""Venue managers and visitors through the real engine: register a venue and get its poster, check
in by code or by QR link, the install question, counts, the CSV log, revocation."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.service import Service
from bot.settings import Secret, Settings
from handlers.venues import typed_coordinates
from storage.models import CheckIn, CommuneCount, CommuneDailyCount, Venue, VenueDailyCount
from storage.venue_codes import ALPHABET, new_code, sign
from tests.harness import NO_BUTTONS, ChatDriver, statements_seen

KEY = "flow-tests-qr-signing-key"


@pytest.fixture
def settings(database: dict) -> Settings:
    return Settings(database_url=database["url"], qr_signing_key=Secret(KEY), telegram_bot_username="bluezone_test_bot")


async def register(chat: ChatDriver, name: str = "Chợ Hàng Da", kind: str = "market") -> Venue:
    await chat.press("venue")
    assert chat.keys == ["venue.ask_name"]
    await chat.send(name)
    assert chat.keys == ["venue.ask_kind"]
    assert f"venue:kind:{kind}" in chat.payloads()
    await chat.press(f"venue:kind:{kind}")
    assert chat.keys == ["venue.ask_commune"]
    await chat.send("Hoàn Kiếm")
    assert chat.keys == ["venue.ask_address"]
    await chat.send("Phố Hàng Da")
    assert chat.keys == ["venue.ask_location"] and chat.last[0].ask == "location"
    assert chat.service.content.campaign["press"] in chat.text()  # the buttons' word where there are buttons
    await chat.press("venue:skip")
    assert chat.keys == ["venue.confirm"]
    await chat.press("venue:ok")
    assert chat.keys == ["venue.created", "venue.poster_pdf", "venue.poster_png"]
    async with chat.service.sessions() as db:
        return (await db.scalars(select(Venue).order_by(Venue.id.desc()).limit(1))).one()


def files(chat: ChatDriver) -> dict[str, bytes]:
    return {s.message.filename: s.attachment for s in chat.channel.sent if s.attachment is not None}


async def rows(service, model):
    async with service.sessions() as db:
        return (await db.scalars(select(model))).all()


async def test_register_a_venue_and_get_its_poster(service):
    manager = ChatDriver(service, user_id="5001")
    await manager.send("/start")
    assert "venue" in manager.payloads() and "venues" not in manager.payloads()
    venue = await register(manager)
    assert (venue.name, venue.kind, venue.commune_code, venue.address) == (
        "Chợ Hàng Da",
        "market",
        "00070",
        "Phố Hàng Da",
    )
    assert venue.code in manager.last[0].text
    sent = files(manager)
    assert sent[f"poster-{venue.code}.pdf"].startswith(b"%PDF-")
    assert sent[f"poster-{venue.code}.png"].startswith(b"\x89PNG")
    assert [m.attachment_kind for m in manager.last] == [None, "document", "image"]
    assert "venues" in manager.payloads()  # the last file carries the way to "my venues"
    await manager.press("venue:ok")  # a second tap on confirm: no second venue
    assert manager.keys == ["venue.stale"]
    assert len(await rows(service, Venue)) == 1
    await manager.send("/menu")
    assert "venues" in manager.payloads()  # now offered: the manager has a venue


async def test_registration_refuses_bad_answers(service):
    chat = ChatDriver(service, user_id="5002")
    await chat.send("/dangkydiem")
    await chat.send("ab")
    assert chat.keys == ["venue.name_invalid"]
    await chat.send("Trường Tiểu học Kim Đồng")
    await chat.send("a school")  # typed instead of pressing a kind
    assert chat.keys == ["venue.ask_kind"]
    await chat.press("venue:kind:casino")
    assert chat.keys == ["venue.stale"]


async def test_registration_without_buttons(service):
    chat = ChatDriver(service, user_id="5003", channel="plain", caps=NO_BUTTONS)
    await chat.send("/dangkydiem")
    await chat.send("Bến xe Giáp Bát")
    assert "7. " in chat.text()  # the kinds as a numbered list
    await chat.send("7")  # bus_station
    await chat.send("Hoàn Kiếm")
    await chat.send("Km 6 đường Giải Phóng")
    # No share-location button there: the words ask for coordinates, and "choose" Skip's number.
    assert chat.keys == ["venue.ask_location_typed"]
    choose = service.content.numbered().campaign["press"]
    assert choose in chat.text() and service.content.campaign["press"] not in chat.text()
    await chat.send("ở đây")
    assert chat.keys == ["venue.location_invalid_typed"]
    await chat.send("21,0285 105,8542")
    assert chat.keys == ["venue.confirm"] and "21.02850, 105.85420" in chat.text()
    await chat.send("1")  # confirm
    assert chat.keys[0] == "venue.created"
    (venue,) = await rows(service, Venue)
    assert (venue.kind, venue.latitude, venue.longitude) == ("bus_station", 21.0285, 105.8542)


async def test_check_in_by_typed_code_and_the_install_question(service):
    venue = await register(ChatDriver(service, user_id="5010"))
    visitor = ChatDriver(service, user_id="6001")
    await visitor.send(f"CHECKIN {venue.code}")
    assert visitor.keys == ["checkin.thanks"] and "Chợ Hàng Da" in visitor.text()
    yes, no = visitor.payloads()
    assert yes.startswith("ci:y:") and no.startswith("ci:n:")
    await visitor.press(yes)
    assert visitor.keys == ["checkin.installed_thanks"]
    (check_in,) = await rows(service, CheckIn)
    assert (check_in.venue_id, check_in.channel, check_in.already_installed) == (venue.id, "test", True)
    assert check_in.visitor.startswith("u:")
    # The same visitor again within 30 minutes, by command: counted once.
    await visitor.send(f"/checkin {venue.code.lower()}")
    assert visitor.keys == ["checkin.already"]
    assert len(await rows(service, CheckIn)) == 1
    (counts,) = await rows(service, CommuneDailyCount)
    assert (counts.commune_code, counts.checkins, counts.checkins_already_installed) == ("00070", 1, 1)


async def test_not_installed_opens_the_guide(service):
    venue = await register(ChatDriver(service, user_id="5011"))
    visitor = ChatDriver(service, user_id="6002")
    await visitor.send(f"check in {venue.code[:3]} {venue.code[3:]}")
    await visitor.press(visitor.payloads()[1])
    assert visitor.keys == ["checkin.guide_follows", "guide.choose_platform"]
    assert "guide:android" in visitor.payloads()
    (check_in,) = await rows(service, CheckIn)
    assert check_in.already_installed is False
    other = ChatDriver(service, user_id="6003")
    await other.press(f"ci:y:{check_in.id}")  # somebody else's check-in
    assert other.keys == ["menu.stale_button"]
    assert (await rows(service, CheckIn))[0].already_installed is False


async def test_every_single_character_typo_is_answered_with_check_the_code(service):
    venue = await register(ChatDriver(service, user_id="5012"))
    visitor = ChatDriver(service, user_id="6004")
    for i in range(len(venue.code)):
        wrong = next(c for c in ALPHABET if c != venue.code[i])
        await visitor.send(f"CHECKIN {venue.code[:i]}{wrong}{venue.code[i + 1 :]}")
        assert visitor.keys == ["checkin.code_invalid"], i
    await visitor.send(venue.code)  # the question stays open: the code alone is enough now
    assert visitor.keys == ["checkin.thanks"]
    assert len(await rows(service, CheckIn)) == 1


async def test_checkin_alone_asks_for_the_code(service):
    venue = await register(ChatDriver(service, user_id="5013"))
    visitor = ChatDriver(service, user_id="6005")
    await visitor.send("/checkin")
    assert visitor.keys == ["checkin.ask_code"]
    await visitor.send(f"CHECKIN {venue.code}")
    assert visitor.keys == ["checkin.thanks"]
    unknown = next(c for c in iter(new_code, None) if c != venue.code)
    await visitor.send(f"checkin {unknown}")  # well-formed, but no venue has it
    assert visitor.keys == ["checkin.code_unknown"]


async def test_qr_link_checks_in_and_forged_links_store_nothing(service):
    venue = await register(ChatDriver(service, user_id="5014"))
    payload = sign(KEY, venue.code)
    visitor = ChatDriver(service, user_id="6006")
    forged = [
        payload[:-1],
        payload[:-1] + ("A" if payload[-1] != "A" else "B"),
        payload.replace(venue.code, next(c for c in ALPHABET if c != venue.code[0]) + venue.code[1:]),
        sign("some-other-key-of-16+", venue.code),
        "c-" + venue.code,
    ]
    for i in range(len(payload)):  # each single character altered
        forged.append(payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1 :])
    for bad in forged:
        await visitor.send(f"/start {bad}")
        assert visitor.keys in (["checkin.link_invalid"], ["menu.greeting"]), (
            bad
        )  # "/start d-…" is no check-in link at all
    assert await rows(service, CheckIn) == []
    await visitor.send(f"/start {payload}")
    assert visitor.keys == ["checkin.thanks"]
    assert len(await rows(service, CheckIn)) == 1


async def test_a_new_persons_first_update_is_the_posters_check_in(service):
    """Someone who never wrote to the bot scans a poster: the check-in is stored with its counters
    (on PostgreSQL the venue is read and the check-in inserted in one statement), and the answer
    moves them; an old poster's code checks nobody in, first update or not."""
    venue = await register(ChatDriver(service, user_id="5015"))
    visitor = ChatDriver(service, user_id="6007")
    with statements_seen(service.db) as through_sqlalchemy:
        await visitor.send(f"/start {sign(KEY, venue.code)}")
        assert visitor.keys == ["checkin.thanks"]
        (check_in,) = await rows(service, CheckIn)
        assert (check_in.venue_id, check_in.channel, check_in.already_installed) == (venue.id, "test", None)
        await visitor.press(visitor.last[0].buttons[0][0].payload)  # [Already installed]
        assert visitor.keys == ["checkin.installed_thanks"]
    if service.db.dialect.name == "postgresql":
        # Each update's first statement (its processed mark and locked account, which SQLAlchemy
        # begins the transaction with) and the reads of `rows` above: the check-in, its answer,
        # the replies with the counters and the "sent" marks went to asyncpg directly.
        first_words = [" ".join(statement.split()[:2]) for statement in through_sqlalchemy]
        assert first_words == ["WITH processed_now", "SELECT check_ins.id,", "WITH processed_now"]
    async with service.sessions() as db:
        (day,) = (await db.scalars(select(CommuneDailyCount))).all()
        total = await db.get(CommuneCount, venue.commune_code)
        (venue_day,) = (await db.scalars(select(VenueDailyCount))).all()
    assert (day.checkins, day.checkins_already_installed) == (1, 1)
    assert (total.checkins, total.checkins_already_installed) == (1, 1)
    assert (venue_day.checkins, venue_day.answered, venue_day.already_installed) == (1, 1, 1)
    assert (await rows(service, CheckIn))[0].already_installed is True


async def test_manager_sees_counts_exports_and_revokes(service):
    manager = ChatDriver(service, user_id="5020")
    venue = await register(manager)
    for n, answer, channel in ((1, "y", "zalo_oa"), (2, "n", "test"), (3, None, "test")):
        visitor = ChatDriver(service, user_id=f"70{n}", channel=channel)
        await visitor.send(f"CHECKIN {venue.code}")
        if answer:
            await visitor.press(next(p for p in visitor.payloads() if p.startswith(f"ci:{answer}:")))
    await manager.press("venues")
    assert manager.keys == ["venue.list"] and f"venues:v:{venue.id}" in manager.payloads()
    await manager.press(f"venues:v:{venue.id}")
    assert manager.keys == ["venue.details"]
    text = manager.text()
    assert "hôm nay: 3" in text and "7 ngày qua: 3" in text and "Tổng cộng: 3" in text
    assert "50,00% (1/2" in text  # of those who answered
    await manager.press(f"venues:x:{venue.id}")
    assert manager.keys == ["venue.export_caption"]
    data = files(manager)[f"checkins-{venue.code}.csv"]
    assert data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == ["Thời gian", "Khách số", "Kênh", "Đã cài sẵn"]
    # Channels by their Vietnamese names (one the content does not name, as it is).
    assert [r[1:] for r in table[1:]] == [
        ["1", "Zalo (Official Account)", "có"],
        ["2", "test", "chưa"],
        ["3", "test", ""],
    ]
    # Somebody else cannot see or revoke it.
    stranger = ChatDriver(service, user_id="5021")
    for action in "vpxrR":
        await stranger.press(f"venues:{action}:{venue.id}")
        assert stranger.keys == ["venue.stale"]
    old = venue.code
    await manager.press(f"venues:r:{venue.id}")
    assert manager.keys == ["venue.revoke_ask"]
    await manager.press(f"venues:R:{venue.id}")
    assert manager.keys == ["venue.revoked", "venue.poster_pdf", "venue.poster_png"]
    (renewed,) = await rows(service, Venue)
    assert renewed.code != old and renewed.code in manager.last[0].text
    late = ChatDriver(service, user_id="7099")
    await late.send(f"CHECKIN {old}")
    assert late.keys == ["checkin.revoked"]
    await late.send(f"/start {sign(KEY, old)}")
    assert late.keys == ["checkin.revoked"]
    assert len(await rows(service, CheckIn)) == 3
    await late.send(f"CHECKIN {renewed.code}")
    assert late.keys == ["checkin.thanks"]
    await manager.press(f"venues:p:{venue.id}")  # the poster again
    assert manager.keys == ["venue.poster_again", "venue.poster_pdf", "venue.poster_png"]


async def test_without_a_signing_key_the_feature_stays_hidden(database, db_engine):
    service = Service(Settings(database_url=database["url"]), db_engine=db_engine)
    try:
        chat = ChatDriver(service, user_id="5030")
        await chat.send("/start")
        assert "venue" not in chat.payloads()
        await chat.send("/dangkydiem")
        assert chat.keys == ["venue.not_configured"]
        await chat.send("/start c-2345678abcdefgh")
        assert chat.keys == ["checkin.link_invalid"]
    finally:
        await service.stop()


async def test_without_the_bots_username_the_venue_is_kept_and_the_poster_explained(database, db_engine, caplog):
    service = Service(Settings(database_url=database["url"], qr_signing_key=Secret(KEY)), db_engine=db_engine)
    try:
        chat = ChatDriver(service, user_id="5031")
        await chat.press("venue")
        await chat.send("UBND phường Hoàn Kiếm")
        await chat.press("venue:kind:government_office")
        await chat.send("Hoàn Kiếm")
        await chat.send("126 Hàng Trống")
        await chat.press("venue:skip")
        await chat.press("venue:ok")
        assert chat.keys == ["venue.created", "venue.poster_no_handle"]
        assert "TELEGRAM" not in chat.text()  # the setting is for the administrator's log
        assert "TELEGRAM_BOT_USERNAME" in caplog.text
        assert len(await rows(service, Venue)) == 1
    finally:
        await service.stop()


async def test_typed_requests_open_the_venue_flows(service):
    chat = ChatDriver(service, user_id="5040")
    await chat.send("làm sao đăng ký điểm check-in cho cơ quan")
    assert chat.keys == ["venue.ask_name"]
    await chat.send("/menu")
    await chat.send("diem check-in cua toi")
    assert chat.keys == ["venue.none"]


@given(
    st.floats(-90, 90, allow_nan=False),
    st.floats(-180, 180, allow_nan=False),
    st.sampled_from([", ", ",", " ", "; "]),
    st.booleans(),
)
def test_typed_coordinates_parse_back(lat, lon, separator, decimal_comma):
    lat, lon = round(lat, 5), round(lon, 5)
    text = f"{lat:.5f}{separator}{lon:.5f}"
    if decimal_comma:
        text = f"{lat:.5f}".replace(".", ",") + " " + f"{lon:.5f}".replace(".", ",")
    assert typed_coordinates(text) == (lat, lon)


@pytest.mark.parametrize("text", ["", "ở đây", "91, 20", "20, 181", "21.0", "21.0, 105.8, 3", "abc, def", None])
def test_typed_coordinates_refuse_what_is_no_position(text):
    assert typed_coordinates(text) == (None, None)
