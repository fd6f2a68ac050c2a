"""Fuzzing every HTTP route the service serves, as a stranger and with credentials: random paths,
path parts, query parameters, headers and bodies (junk bytes, odd JSON, 50,000 nested brackets,
correctly signed Zalo events carrying anything). No answer is a 5xx, and nothing is logged as an
error or with a traceback. The routes are read from the app's router, so a route added later is
fuzzed too.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.channels import zalo_bot as zalo_bot_channel
from bot.channels.zalo_oa import SIGNATURE_HEADER, signature
from bot.settings import Secret, Settings
from bot.web import init_app
from tests.standins.telegram_api import TelegramStandin
from tests.standins.zalo_bot_api import ZaloBotStandin
from tests.standins.zalo_oa_api import ZaloOaStandin

TELEGRAM_SECRET = "http-fuzz-telegram-secret"
ZALO_BOT_SECRET = "http-fuzz-zalo-bot-secret"


@pytest.fixture
async def app_client(aiohttp_client, database):
    async with TelegramStandin(token="77:http-fuzz") as tg, ZaloOaStandin() as oa, ZaloBotStandin() as zbot:
        settings = Settings(
            database_url=database["url"],
            public_base_url="http://127.0.0.1:9",
            telegram_bot_token=Secret(tg.token),
            telegram_api_base_url=tg.base_url,
            telegram_webhook_secret=Secret(TELEGRAM_SECRET),
            zalo_oa_app_id=oa.app_id,
            zalo_oa_app_secret=Secret(oa.app_secret),
            zalo_oa_secret_key=Secret(oa.oa_secret_key),
            zalo_oa_refresh_token=Secret("refresh-token-0"),
            zalo_oa_api_base_url=oa.base_url,
            zalo_oauth_base_url=oa.base_url,
            zalo_bot_token=Secret(zbot.token),
            zalo_bot_api_base_url=zbot.base_url,
            zalo_bot_webhook_secret=Secret(ZALO_BOT_SECRET),
            qr_signing_key=Secret("http-fuzz-qr-signing-key"),
            telegram_bot_username="fuzz_bot",
        )
        app = init_app(settings, None)
        client = await aiohttp_client(app)
        client.oa = oa
        yield client


def _routes() -> list[tuple[str, str]]:
    """(method, path pattern) of every route, from a freshly built app."""
    app = init_app(Settings())
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        pattern = info.get("formatter") or info.get("path") or info.get("prefix", "/")
        for route in resource:
            found.append((route.method, pattern))
    return sorted(set(found))


ROUTES = _routes()

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "²",
            "①",
            "１２３",
            "9" * 5000,
            "-1",
            "0",
            "%00",
            "..",
            "../../etc/passwd",
            "\u202e",
            "\x00",
            "a" * 300,
            "ABCDEF7",
            "0" * 32,
            "f" * 32,
            "1796631551",
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | odd_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4),
    max_leaves=15,
)
event_keys = st.sampled_from(
    [
        "update_id",
        "message",
        "callback_query",
        "event_name",
        "sender",
        "timestamp",
        "text",
        "from",
        "chat",
        "id",
        "date",
        "msg_id",
        "ok",
        "result",
    ]
)
events = st.dictionaries(event_keys, json_values, max_size=6)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    events.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 60_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 60_000).map(lambda n: b'{"update_id": 1, "message": ' + b"[" * n + b"]" * n + b"}"),
)


def _path(pattern: str, parts: list[str]) -> str:
    path, n = pattern, 0
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        part = parts[n % len(parts)] if parts else "x"
        path = path[:start] + (quote(part, safe="") or "-") + path[end + 1 :]
        n += 1
    return path


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@hypothesis_settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    route=st.sampled_from(ROUTES + [("GET", "/{x}"), ("POST", "/{x}/{y}")]),
    method=st.sampled_from([None, "GET", "POST", "PUT", "DELETE", "HEAD"]),
    parts=st.lists(odd_text, max_size=3),
    query=st.dictionaries(st.sampled_from(["e", "s", "x", "update_id", "code", "t", ""]), odd_text, max_size=3),
    body=bodies,
    credentials=st.booleans(),
    sign_oa=st.booleans(),
)
async def test_no_route_answers_5xx_or_logs_a_traceback(
    app_client, caplog, route, method, parts, query, body, credentials, sign_oa
):
    caplog.clear()
    verb, pattern = route
    headers = {"Content-Type": "application/json"}
    if credentials:
        headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET
        headers[zalo_bot_channel.SECRET_HEADER] = ZALO_BOT_SECRET
        if sign_oa:  # a correctly signed OA event with this body, dated now
            oa = app_client.oa
            stamp = str(int(time.time() * 1000))
            body = b'{"timestamp": "' + stamp.encode() + b'", "x": ' + (body if body[:1] in b"[{" else b"0") + b"}"
            headers[SIGNATURE_HEADER] = signature(oa.app_id, body, stamp, oa.oa_secret_key)
    with caplog.at_level(logging.WARNING):
        try:
            response = await app_client.request(
                method or verb, _path(pattern, parts), params=query, data=body, headers=headers
            )
            status, text = response.status, await response.text()
        except aiohttp.ClientResponseError as exc:  # the client could not read a 4xx to a 9 KB URL
            status, text = exc.status, exc.message
    case = (method or verb, pattern, [p[:50] for p in parts], query, body[:200])
    assert status < 500, (case, status, text[:300])
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_requests_that_broke_the_service(app_client, caplog):
    """Found by an intruder on a running copy: each was a 5xx and a traceback."""
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        ("POST", "/webhooks/zalo-oa", {}, deep, {}, 401),  # parsed before its signature was checked
        ("POST", "/webhooks/telegram", {}, deep, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, 400),
        ("POST", "/webhooks/zalo-bot", {}, deep, {zalo_bot_channel.SECRET_HEADER: ZALO_BOT_SECRET}, 400),
        ("GET", "/media/" + "0" * 32 + "/x.png", {"e": "²", "s": "0" * 32}, b"", {}, 404),
        ("GET", "/media/" + "0" * 32 + "/x.png", {"e": "9" * 5000, "s": "0" * 32}, b"", {}, 404),
    ]
    with caplog.at_level(logging.WARNING):
        for method, path, query, body, headers, expected in cases:
            response = await app_client.request(method, path, params=query, data=body, headers=headers)
            assert response.status == expected, (path, query, response.status)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
