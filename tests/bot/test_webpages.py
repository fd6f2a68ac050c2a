"""The web pages' foundation on the real app: Vietnamese error pages for people (addresses no route
serves, under any prefix; a page that fails) while the webhooks keep their answers for machines,
security headers on every response, the stylesheet admitted by its hash, CSRF tokens, the page's
date format."""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import pytest

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from bot.webpages.csrf import CsrfTokens, page_key
from bot.webpages.errors import ERROR_STATUSES
from storage import venues
from storage.venue_codes import new_code, sign

KEY = "webpages-tests-signing-key"


@pytest.fixture
async def client(aiohttp_client, sqlite_only):
    """The app on SQLite alone: these pages read the database little, and the landing tests run on both."""
    settings = Settings(
        database_url=sqlite_only["url"],
        qr_signing_key=Secret(KEY),
        telegram_bot_username="bluezone_test_bot",
        zalo_oa_id="4318802913410839210",
    )
    return await aiohttp_client(init_app(settings, Service(settings)))


def assert_page_headers(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert "http" not in policy  # nothing from outside the service
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "method,path,status,title",
    [
        ("GET", "/q/", 404, "Không tìm thấy trang"),
        ("GET", "/favicon.ico", 404, "Không tìm thấy trang"),
        ("GET", "/webhooks/nothing", 404, "Không tìm thấy trang"),  # under any prefix
        ("GET", "/media/x", 404, "Không tìm thấy trang"),
        ("POST", "/privacy", 405, "Không mở được trang theo cách này"),
        ("GET", "/webhooks/telegram", 405, "Không mở được trang theo cách này"),
    ],
)
async def test_addresses_no_route_serves_get_a_vietnamese_page(client, method, path, status, title):
    response = await client.request(method, path)
    assert response.status == status and response.content_type == "text/html"
    page = await response.text()
    assert '<html lang="vi">' in page and f"<h1>{title}</h1>" in page
    assert "https://zalo.me/4318802913410839210" in page and "https://t.me/bluezone_test_bot" in page  # a way forward
    assert page.index("zalo.me") < page.index("t.me") and "CHECKIN AB23CD7" in page
    assert "Not Found" not in page and "Method Not Allowed" not in page
    assert_page_headers(response)
    if status == 405:
        assert response.headers["Allow"]


async def test_home_privacy_and_a_trailing_slash(client):
    home = await client.get("/")
    assert home.status == 200 and "Check-in và cài Bluezone" in await home.text()
    privacy = await client.get("/privacy")
    page = await privacy.text()
    assert privacy.status == 200 and "21 ngày" in page and "bz_visitor" in page and "IP" in page
    moved = await client.get("/privacy/", allow_redirects=False)
    assert moved.status == 308 and moved.headers["Location"] == "/privacy"
    assert_page_headers(home)


async def test_the_webhooks_keep_their_answers_for_machines(client):
    response = await client.post("/webhooks/zalo-bot", data=b"{}")  # no Zalo bot configured: the handler's own 404
    assert response.status == 404 and response.content_type == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    health = await client.get("/healthz")
    assert health.content_type == "application/json" and "Content-Security-Policy" not in health.headers


async def test_a_page_that_fails_answers_a_vietnamese_500_and_logs_why(client, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(venues, "find_by_code", broken)
    code = new_code()
    with caplog.at_level(logging.ERROR):
        response = await client.get(f"/q/{sign(KEY, code)}")
    assert response.status == 500
    page = await response.text()
    assert "Hệ thống gặp trục trặc" in page and "a bug" not in page and "Traceback" not in page
    assert f"CHECKIN {code}" in page  # the venue's own code, known from the signature alone
    assert any("/q/{payload}" in r.getMessage() and r.exc_info for r in caplog.records)


def test_every_error_status_has_its_words(content):
    for status in ERROR_STATUSES:
        assert content.has(f"web.errors.{status}.title") and content.has(f"web.errors.{status}.text"), status
    for family in ("not_found", "revoked", "not_counted", "too_many"):
        assert content.has(f"landing.{family}.title") and content.has(f"landing.{family}.text"), family


async def test_the_inline_stylesheet_is_what_the_policy_admits(client):
    response = await client.get("/")
    css = re.search(r"<style>(.*?)</style>", await response.text(), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.headers["Content-Security-Policy"]
    assert "<script" not in await response.text()


def test_csrf_tokens_are_bound_to_the_visitor_and_the_key():
    tokens = CsrfTokens(Settings(qr_signing_key=Secret(KEY)))
    mine = tokens.token("a" * 22)
    assert tokens.valid("a" * 22, mine)
    assert not tokens.valid("b" * 22, mine) and not tokens.valid(None, mine)
    assert (
        not tokens.valid("a" * 22, "")
        and not tokens.valid("a" * 22, None)
        and not tokens.valid("a" * 22, mine[:-1] + "é")
    )
    assert not CsrfTokens(Settings(qr_signing_key=Secret("another-signing-key-xx"))).valid("a" * 22, mine)
    # Derived, never the QR key itself; without QR_SIGNING_KEY, from a messenger secret.
    assert page_key(Settings(qr_signing_key=Secret(KEY))) != KEY.encode()
    assert len(page_key(Settings(telegram_bot_token=Secret("1:abc")))) == 32
    with pytest.raises(RuntimeError):
        page_key(Settings())


@pytest.mark.parametrize(
    "body,content_type",
    [(b"\xff" * 100, "application/x-www-form-urlencoded"), (b"--x\r\nbroken", "multipart/form-data; boundary=x")],
    ids=["not-utf-8", "broken-multipart"],
)
async def test_a_body_no_browser_sends_is_a_400_page_not_a_500(client, body, content_type):
    path = f"/q/{sign(KEY, new_code())}"
    for target in (path, f"{path}/answer"):
        response = await client.post(target, data=body, headers={"Content-Type": content_type})
        assert response.status == 400 and "Yêu cầu không hợp lệ" in await response.text()


async def test_head_answers_as_get(client):
    for path in ("/", "/privacy"):
        response = await client.head(path)
        assert response.status == 200 and response.headers["Content-Security-Policy"]
