"""The QR's landing page on the real aiohttp app: one-tap web check-in counted once per visitor and
only from the page's own form, POST-redirect-GET, the install question, Vietnamese error pages
(a database outage included), the rate limits, and a web-mode poster's QR."""

from __future__ import annotations

import io
import re
from unittest import mock
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request
from PIL import Image
from sqlalchemy import select

from bot.landing import COOKIE, AddressLimiter, client_address
from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import LANDING, init_app
from bot.webpages.csrf import CsrfTokens
from documents.posters.venue import draw, poster_request
from storage import venues
from storage.models import CheckIn, CommuneDailyCount, utcnow
from storage.venue_codes import new_code, sign
from tests.documents.posters.tools import decode_qr
from texts.content import Content
from texts.formats import LOCAL_TIMEZONE

KEY = "landing-tests-signing-key"
BASE = "http://bot.example.gov.vn"  # the test client speaks plain HTTP: a Secure cookie would not come back


@pytest.fixture
def settings(database: dict) -> Settings:
    return Settings(
        database_url=database["url"],
        qr_signing_key=Secret(KEY),
        telegram_bot_username="bluezone_test_bot",
        public_base_url=BASE,
    )


@pytest.fixture
async def service(settings, db_engine):
    return Service(settings, db_engine=db_engine)


@pytest.fixture
async def client(aiohttp_client, settings, service):
    return await aiohttp_client(init_app(settings, service))


async def add_venue(service, name="Bưu điện Hoàn Kiếm <b>&</b>"):
    async with service.sessions() as db, db.begin():
        return await venues.create_venue(
            db, name=name, kind="other", commune_code="00070", address="75 Đinh Tiên Hoàng"
        )


async def check_ins(service) -> list[CheckIn]:
    async with service.sessions() as db:
        return list((await db.scalars(select(CheckIn).order_by(CheckIn.id))).all())


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def open_page(client, path: str) -> str:
    """GET the page as a browser does (its cookie kept by the client); the form's CSRF token."""
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return CSRF.search(await response.text()).group(1)


async def test_page_names_the_venue_and_offers_the_web_then_zalo_then_telegram(aiohttp_client, database, db_engine):
    settings = Settings(
        database_url=database["url"],
        qr_signing_key=Secret(KEY),
        telegram_bot_username="bluezone_test_bot",
        public_base_url=BASE,
        zalo_oa_id="4318802913410839210",
    )
    service = Service(settings, db_engine=db_engine)
    client = await aiohttp_client(init_app(settings, service))
    venue = await add_venue(service)
    payload = sign(KEY, venue.code)
    response = await client.get(f"/q/{payload}")
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert "Bưu điện Hoàn Kiếm &lt;b&gt;&amp;&lt;/b&gt;" in page and "<b>&</b>" not in page  # escaped
    assert "75 Đinh Tiên Hoàng · Phường Hoàn Kiếm, Thành phố Hà Nội" in page  # the commune, not only the street
    assert "Check-in ngay tại đây" in page and f'action="/q/{payload}"' in page
    assert "21 ngày" in page and 'href="/privacy"' in page  # what is kept, and for how long
    # Zalo first, its instruction and code before its button; Telegram's deep link after it.
    zalo_says, code, zalo_opens = (
        page.index(s)
        for s in ("Trong Zalo, gửi", f'<p class="code">CHECKIN {venue.code}</p>', "https://zalo.me/4318802913410839210")
    )
    assert (
        page.index("Check-in ngay tại đây")
        < zalo_says
        < code
        < zalo_opens
        < page.index(f"https://t.me/bluezone_test_bot?start={payload}")
    )
    assert COOKIE in response.cookies and response.cookies[COOKIE]["httponly"]
    assert not response.cookies[COOKIE]["secure"]
    assert await check_ins(service) == []  # looking is not checking in


async def test_web_check_in_counts_a_repeat_tap_once(client, service):
    venue = await add_venue(service)
    path = f"/q/{sign(KEY, venue.code)}"
    token = await open_page(client, path)
    first = await client.post(path, data={"csrf": token}, allow_redirects=False)
    assert first.status == 303 and first.headers["Location"] == f"{path}/answer"  # POST-redirect-GET
    result = await client.get(f"{path}/answer")
    page = await result.text()
    (row,) = await check_ins(service)
    at = row.checked_in_at.astimezone(LOCAL_TIMEZONE)
    assert "Cảm ơn bạn đã check-in" in page and f"lúc {at:%H:%M} ngày {at:%d/%m/%Y}" in page  # four-digit year
    again = await client.post(path, data={"csrf": token})
    assert again.url.path == f"{path}/answer" and "Cảm ơn bạn đã check-in" in await again.text()
    (row,) = await check_ins(service)
    assert (
        row.channel == "web"
        and row.visitor == f"w:{client.session.cookie_jar.filter_cookies(client.make_url('/'))[COOKIE].value}"
    )
    assert "127.0.0.1" not in row.visitor  # no address is stored

    answer = await client.post(f"{path}/answer", data={"csrf": token, "installed": "no"}, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == f"{path}/answer"
    page = await (await client.get(f"{path}/answer")).text()
    assert "play.google.com" in page and "apps.apple.com" in page
    assert (await check_ins(service))[0].already_installed is False
    await client.post(f"{path}/answer", data={"csrf": token, "installed": "yes"})
    assert (await check_ins(service))[0].already_installed is True
    async with service.sessions() as db:
        (counts,) = (await db.scalars(select(CommuneDailyCount))).all()
        assert (counts.checkins, counts.checkins_already_installed) == (1, 1)
    bad = await client.post(f"{path}/answer", data={"csrf": token, "installed": "maybe"})
    assert bad.status == 400 and "Yêu cầu không hợp lệ" in await bad.text()

    client.session.cookie_jar.clear()  # another phone
    await client.post(path, data={"csrf": await open_page(client, path)})
    assert len(await check_ins(service)) == 2


async def test_a_press_the_page_did_not_give_is_not_counted(client, service):
    """Three curl POSTs used to count three check-ins: a press needs the GET's cookie and token."""
    venue = await add_venue(service)
    path = f"/q/{sign(KEY, venue.code)}"
    for _ in range(3):  # a bare POST, as curl sends it
        response = await client.post(path, allow_redirects=False)
        assert response.status == 403
        page = await response.text()
        assert "Chưa check-in được" in page and f'href="{path}"' in page  # scan again, or open the page
    token = await open_page(client, path)
    assert (await client.post(path, allow_redirects=False)).status == 403  # the cookie without the token
    cookies = dict(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    client.session.cookie_jar.clear()
    other = await open_page(client, path)  # another phone's page
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(cookies)
    assert (await client.post(path, data={"csrf": other}, allow_redirects=False)).status == 403  # its token, not ours
    assert (await client.post(f"{path}/answer", data={"installed": "yes"}, allow_redirects=False)).status == 403
    assert await check_ins(service) == []
    assert (await client.post(path, data={"csrf": token}, allow_redirects=False)).status == 303
    assert len(await check_ins(service)) == 1


async def test_answer_without_a_check_in_goes_back_to_the_venue(client, service):
    venue = await add_venue(service)
    path = f"/q/{sign(KEY, venue.code)}"
    token = await open_page(client, path)
    response = await client.post(f"{path}/answer", data={"csrf": token, "installed": "yes"}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == path
    response = await client.get(f"{path}/answer", allow_redirects=False)  # GET on the answer URL
    assert response.status == 303 and response.headers["Location"] == path
    assert await check_ins(service) == []


async def test_unknown_forged_and_revoked_codes(client, service):
    venue = await add_venue(service)
    payload = sign(KEY, venue.code)
    for bad in (
        sign(KEY, next(c for c in iter(new_code, None) if c != venue.code)),
        payload[:-1] + ("x" if payload[-1] != "x" else "y"),
        sign("another-key-xxxxxxxx", venue.code),
    ):
        for method in (client.get, client.post):
            response = await method(f"/q/{bad}")
            assert response.status == 404
            page = await response.text()
            assert (
                "Không tìm thấy điểm check-in" in page and "CHECKIN AB23CD7" in page
            )  # the typed code, as a way forward
    token = await open_page(client, f"/q/{payload}")
    async with service.sessions() as db, db.begin():
        await venues.revoke(db, await db.get(type(venue), venue.id), utcnow())
    for response in (await client.get(f"/q/{payload}"), await client.post(f"/q/{payload}", data={"csrf": token})):
        assert response.status == 410 and "thu hồi" in await response.text()
    assert await check_ins(service) == []


async def test_pages_and_presses_are_rate_limited_per_address(client, service):
    client.app[LANDING].limiter = AddressLimiter(burst=3, every=60)
    client.app[LANDING].views = AddressLimiter(burst=4, every=60)
    venue = await add_venue(service)
    path = f"/q/{sign(KEY, venue.code)}"
    token = await open_page(client, path)
    statuses = [(await client.post(path, data={"csrf": token}, allow_redirects=False)).status for _ in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    response = await client.post(path, data={"csrf": token})
    assert "đợi một phút" in await response.text()
    statuses = [(await client.get(path)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the first view was open_page's
    response = await client.get(path)
    assert response.headers["Retry-After"] and "Quá nhiều yêu cầu" in await response.text()


async def test_a_database_outage_answers_every_landing_request_with_the_vietnamese_503(aiohttp_client, unused_tcp_port):
    """The page and the answer used to give aiohttp's English "500 Internal Server Error"."""
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/nothing",  # nothing listens
        qr_signing_key=Secret(KEY),
        telegram_bot_username="bluezone_test_bot",
        public_base_url=BASE,
    )
    client = await aiohttp_client(init_app(settings, Service(settings)))
    payload = sign(KEY, new_code())
    visitor = "v" * 22
    token = CsrfTokens(settings).token(visitor)
    client.session.cookie_jar.update_cookies({COOKIE: visitor})
    for response in (
        await client.get(f"/q/{payload}"),
        await client.post(f"/q/{payload}", data={"csrf": token}),
        await client.get(f"/q/{payload}/answer"),
        await client.post(f"/q/{payload}/answer", data={"csrf": token, "installed": "no"}),
    ):
        assert response.status == 503 and response.content_type == "text/html"
        page = await response.text()
        assert "Hệ thống đang bận" in page and "Internal Server Error" not in page
        assert f"https://t.me/bluezone_test_bot?start={payload}" in page  # the way forward, with this venue's code


def test_limiter_refills_and_forgets_old_addresses():
    limiter = AddressLimiter(burst=2, every=10, max_addresses=3)
    assert [limiter.allow("a", now=0) for _ in range(3)] == [True, True, False]
    assert limiter.allow("a", now=10) and not limiter.allow("a", now=10)
    for n, address in enumerate("bcde"):
        limiter.allow(address, now=11 + n)
    assert len(limiter._buckets) == 3 and "a" not in limiter._buckets


@pytest.mark.parametrize(
    "peer,forwarded,expected",
    [
        ("93.184.216.34", None, "93.184.216.34"),
        ("93.184.216.34", "1.2.3.4", "93.184.216.34"),
        ("127.0.0.1", "10.0.0.1, 198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", None, "127.0.0.1"),
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("192.168.1.2", "a, 198.51.100.8", "198.51.100.8"),
    ],
)
def test_client_address_trusts_only_a_local_proxy(peer, forwarded, expected):
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 1234) if name == "peername" else default
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    assert client_address(make_mocked_request("POST", "/q/x", headers=headers, transport=transport)) == expected


async def test_a_web_mode_poster_opens_the_landing_page(client, service, settings):
    venue = await add_venue(service, name="Chợ Đồng Xuân")
    content = Content.load()
    request = poster_request(content, settings, {"telegram": "bluezone_test_bot"}, venue, None)
    assert "Bấm “Check-in” trên trang vừa mở" in request.words.steps[1]
    link, _, _ = decode_qr(Image.open(io.BytesIO(draw(request, pdf=False).png)))
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    response = await client.get(parts.path)
    assert response.status == 200 and "Chợ Đồng Xuân" in await response.text()


async def test_cookie_is_secure_behind_https(aiohttp_client, database, db_engine):
    settings = Settings(
        database_url=database["url"], qr_signing_key=Secret(KEY), public_base_url="https://bot.example.gov.vn"
    )
    service = Service(settings, db_engine=db_engine)
    client = await aiohttp_client(init_app(settings, service))
    venue = await add_venue(service)
    response = await client.get(f"/q/{sign(KEY, venue.code)}")
    assert response.status == 200 and response.cookies[COOKIE]["secure"]
    assert "t.me" not in await response.text()  # no Telegram name known: the web check-in alone


async def test_with_a_zalo_oa_the_page_and_the_poster_offer_zalo_with_the_code(aiohttp_client, database, db_engine):
    from documents.posters.venue import poster_request

    settings = Settings(
        database_url=database["url"],
        qr_signing_key=Secret(KEY),
        telegram_bot_username="bluezone_test_bot",
        public_base_url=BASE,
        zalo_oa_id="4318802913410839210",
    )
    service = Service(settings, db_engine=db_engine)
    client = await aiohttp_client(init_app(settings, service))
    venue = await add_venue(service, name="UBND phường Hoàn Kiếm")
    page = await (await client.get(f"/q/{sign(KEY, venue.code)}")).text()
    assert "https://zalo.me/4318802913410839210" in page  # opens the OA's chat...
    assert f'<p class="code">CHECKIN {venue.code}</p>' in page  # ...with the code to send, large
    from documents.posters.venue import public_handles

    request = poster_request(service.content, settings, public_handles(settings, service.bot_handles()), venue, None)
    assert (
        "Telegram @bluezone_test_bot" in request.words.channels
        and "Zalo zalo.me/4318802913410839210" in request.words.channels
    )
