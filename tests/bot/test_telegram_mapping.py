"""Telegram updates map to the normalized incoming message (and groups are ignored)."""

from __future__ import annotations

from telegram import Update

from bot.channels.telegram import to_incoming
from handlers.types import Kind
from tests.standins.telegram_api import TelegramStandin


def _incoming(update: dict):
    return to_incoming(Update.de_json(update, None))


def test_each_kind_of_update_maps():
    tg = TelegramStandin()
    u = tg.user(42)
    m = _incoming(u.build_text("/start c-abc"))
    assert (m.kind, m.command, m.user_id, m.chat_id) == (Kind.TEXT, ("start", "c-abc"), "42", "42")
    assert _incoming(u.build_location(21.03, 105.85)).location.latitude == 21.03
    contact = _incoming(u.build_contact("+84901234567"))
    assert contact.kind is Kind.CONTACT and contact.contact_is_own and contact.contact_phone == "+84901234567"
    assert not _incoming(u.build_contact("+84900000000", user_id=99)).contact_is_own
    assert _incoming(u.build_sticker()).kind is Kind.STICKER
    assert _incoming(u.build_photo()).kind is Kind.PHOTO
    assert _incoming(u.build_voice()).kind is Kind.VOICE
    assert _incoming(u.build_document()).kind is Kind.OTHER


def test_callback_query_carries_payload_and_message():
    update = {
        "update_id": 5,
        "callback_query": {
            "id": "1",
            "from": {"id": 42, "is_bot": False, "first_name": "A"},
            "chat_instance": "x",
            "data": "guide:android:2",
            "message": {"message_id": 77, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "t"},
        },
    }
    m = _incoming(update)
    assert (m.kind, m.payload, m.message_ref, m.update_id) == (Kind.BUTTON, "guide:android:2", "77", "5")


def test_groups_and_edits_are_ignored():
    group = {
        "update_id": 6,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -100, "type": "group"},
            "from": {"id": 42, "is_bot": False, "first_name": "A"},
            "text": "hi",
        },
    }
    assert _incoming(group) is None
    edit = {
        "update_id": 7,
        "edited_message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "A"},
            "text": "hi",
        },
    }
    assert _incoming(edit) is None
