"""Fuzzing every handler: random text, commands, button payloads and update kinds, from people
holding every role. No handler may fail (the apology for an internal error must never be the
answer) and every update gets an answer. Random update shapes posted to the webhook never
make it answer 500, and random Zalo events map to a message or to nothing, never to an error."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import build_router
from handlers.types import Incoming, Kind, Location
from tests.harness import ChatDriver, grant_role

ROUTER = build_router()
PREFIXES = sorted(ROUTER.buttons)
COMMANDS = sorted(ROUTER.commands) + ["start", "menu", "huy", "help"]
DEEP_LINKS = sorted(ROUTER.deep_links)
ARGS = st.sampled_from(
    [
        "",
        "0",
        "1",
        "7",
        "-1",
        "99999",
        "00070",
        "00082",
        "27316",
        "01",
        "79",
        "VN",
        "y",
        "n",
        "x",
        "q",
        "p",
        "c",
        "u",
        "send",
        "erase",
        "android",
        "iphone",
        "battery",
        "ABCDEF7",
        "💥",
        "a" * 40,
        "²",
        "①",
        "２",
        "2147483648",
        "99999999999999999999",
    ]
)
ROLES = [None, ("volunteer", "00070"), ("coordinator", "00070"), ("province_officer", "01"), ("admin", "VN")]
_ids = itertools.count(1)

texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "het pin",
            "Hoàn Kiếm",
            "Tân Phú, Đồng Nai",
            "thôn 3, số 12, 4 máy, cài 3, có sẵn 1",
            "tổ 2 số 9 vắng nhà",
            "CHECKIN ABCDEF7",
            "82.930",
            "60%",
            "31/08/2021",
            "1",
            "2",
            "9",
            "21.0285, 105.8542",
            "",
            " ",
            "😀" * 5,
            "x" * 4096,
            "²",
            "①",
            "9" * 5000,
            "Chợ\x00 Hàng Da",
            "\u202eKFC lanif",
            "\u200b\u200b\u200b",
        ]
    ),
    st.builds(lambda c, a: f"/{c} {a}".strip(), st.sampled_from(COMMANDS), ARGS),
    st.builds(lambda p, a: f"/start {p}-{a}", st.sampled_from(DEEP_LINKS or ["c"]), st.text(max_size=30)),
)
payloads = st.one_of(
    st.builds(lambda p, args: ":".join([p, *args])[:64], st.sampled_from(PREFIXES), st.lists(ARGS, max_size=4)),
    st.text(max_size=64),
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just(Kind.TEXT), texts),
        st.tuples(st.just(Kind.BUTTON), payloads),
        st.tuples(st.sampled_from([Kind.STICKER, Kind.PHOTO, Kind.VOICE, Kind.OTHER, Kind.FOLLOW]), st.none()),
        st.tuples(st.just(Kind.LOCATION), st.tuples(st.floats(-90, 90), st.floats(-180, 180))),
        st.tuples(st.just(Kind.CONTACT), st.sampled_from(["+84912345678", "0912345678", "abc", ""])),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(role=st.sampled_from(ROLES), steps=actions, buttons=st.booleans())
async def test_no_handler_fails_on_anything(service, role, steps, buttons):
    user_id = f"fuzz-{next(_ids)}"
    if role:
        await grant_role(service, user_id, *role)
    from tests.harness import BUTTONS, NO_BUTTONS

    chat = ChatDriver(
        service, user_id=user_id, channel="test" if buttons else "plain", caps=BUTTONS if buttons else NO_BUTTONS
    )
    for kind, value in steps:
        fields: dict = {}
        if kind is Kind.TEXT:
            fields["text"] = value
        elif kind is Kind.BUTTON:
            fields["payload"] = value
            fields["message_ref"] = "1"
        elif kind is Kind.LOCATION:
            fields["location"] = Location(*value)
        elif kind is Kind.CONTACT:
            fields["contact_phone"] = value
            fields["contact_is_own"] = True
        incoming = Incoming(
            channel=chat.channel.name, user_id=user_id, chat_id=user_id, update_id=f"f{next(_ids)}", kind=kind, **fields
        )
        replies = await chat.deliver(incoming)
        assert replies, (kind, value)  # every update is answered
        assert "menu.internal_error" not in [r.key for r in replies], (role, kind, value)


@pytest.fixture
async def webhook(service, aiohttp_client, settings):
    from bot.settings import Secret
    from bot.web import init_app
    from tests.standins.telegram_api import TelegramStandin

    async with TelegramStandin(token="1:fuzz") as tg:
        cfg = settings.__class__(
            **{
                **vars(settings),
                "telegram_bot_token": Secret("1:fuzz"),
                "telegram_api_base_url": tg.base_url,
                "public_base_url": "http://127.0.0.1:1",
                "telegram_webhook_secret": Secret("fuzz-secret"),
            }
        )
        service.settings = cfg
        service.engine.settings = cfg
        service.configure_channels()
        client = await aiohttp_client(init_app(cfg, service))
        yield client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
update_keys = st.sampled_from(
    ["update_id", "message", "callback_query", "edited_message", "my_chat_member", "chat", "from", "text", "data", "id"]
)
updates = st.one_of(
    json_values,
    st.dictionaries(update_keys, json_values, max_size=5),
    st.builds(
        lambda n, m: {"update_id": n, "message": m},
        st.integers(0, 2**31),
        st.dictionaries(update_keys, json_values, max_size=5),
    ),
)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(update=updates)
async def test_random_update_shapes_never_break_the_webhook(webhook, update):
    response = await webhook.post(
        "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "fuzz-secret"}
    )
    assert response.status in (200, 400), await response.text()


zalo_keys = st.sampled_from(
    [
        "event_name",
        "sender",
        "recipient",
        "follower",
        "message",
        "text",
        "msg_id",
        "id",
        "attachments",
        "payload",
        "type",
        "coordinates",
        "latitude",
        "longitude",
        "timestamp",
        "from",
        "chat",
        "chat_type",
        "message_id",
        "is_bot",
        "ok",
        "result",
    ]
)
zalo_event_names = st.sampled_from(
    [
        "user_send_text",
        "user_send_location",
        "user_send_image",
        "follow",
        "unfollow",
        "user_click_button",
        "message.text.received",
        "message.image.received",
        "message.sticker.received",
        "oa_send_text",
    ]
)
zalo_events = st.one_of(
    st.dictionaries(zalo_keys, json_values, max_size=6),
    st.dictionaries(zalo_keys, st.dictionaries(zalo_keys, json_values, max_size=5), max_size=5),
    st.builds(
        lambda name, rest: {**rest, "event_name": name},
        zalo_event_names,
        st.dictionaries(
            zalo_keys, st.one_of(json_values, st.dictionaries(zalo_keys, json_values, max_size=4)), max_size=5
        ),
    ),
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(event=zalo_events)
def test_random_zalo_events_map_to_a_message_or_nothing(event):
    from bot.channels import zalo_bot, zalo_oa

    for mapped in (zalo_oa.to_incoming(event), zalo_bot.to_incoming(event)):
        if isinstance(mapped, Incoming):
            assert mapped.user_id and mapped.chat_id and mapped.update_id and len(mapped.update_id) <= 64
            assert mapped.location is None or (-90 <= mapped.location.latitude <= 90)


def test_the_zalo_shapes_the_fuzzing_found():
    """Events that used to raise (an id or event name that is an object, attachments that are
    not a list, coordinates out of range) are now ignored or read as "something else"."""
    from bot.channels import zalo_bot, zalo_oa

    assert zalo_oa.to_incoming({"event_name": {"x": 1}, "sender": {"id": "1"}}) is None
    assert zalo_oa.to_incoming({"event_name": "follow", "follower": {"id": {"x": 1}}}) is None
    odd = zalo_oa.to_incoming(
        {"event_name": "user_send_location", "sender": {"id": "7"}, "message": {"attachments": 5, "msg_id": {"a": 1}}}
    )
    assert odd.kind is Kind.OTHER and odd.update_id.startswith("h:")
    far = zalo_oa.to_incoming(
        {
            "event_name": "user_send_location",
            "sender": {"id": "7"},
            "message": {
                "attachments": [
                    {"type": "location", "payload": {"coordinates": {"latitude": "nan", "longitude": "1e9"}}}
                ]
            },
        }
    )
    assert far.kind is Kind.OTHER
    assert zalo_bot.to_incoming({"event_name": {}}) is None
    # An id PostgreSQL cannot store (a control character) is no id: the event is ignored.
    assert (
        zalo_oa.to_incoming(
            {"event_name": "user_send_text", "sender": {"id": "12\x0034"}, "message": {"text": "hi", "msg_id": "m1"}}
        )
        is None
    )
    assert (
        zalo_bot.to_incoming(
            {
                "event_name": "message.text.received",
                "message": {"text": "hi", "from": {"id": ["1"]}, "chat": {"id": True}},
            }
        )
        is None
    )
