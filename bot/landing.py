"""The QR's landing page (<PUBLIC_BASE_URL>/q/<payload>): names the venue and offers to check in on
Telegram, or right here on the web with one tap, no app needed.

A web visitor has no messenger account: a random cookie id stands for them ("w:<id>"), so a
repeat tap within 30 minutes counts once. Check-in taps are rate-limited per address; addresses are
kept in memory for that only, never stored.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import re
import secrets
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web

from bot.engine import is_infrastructure_error
from handlers.types import t
from bot.posters.venue import public_handles, telegram_link
from bot.posters.words import printed_channels
from storage import venues
from storage.models import Venue, utcnow
from storage.venue_codes import verify

log = logging.getLogger(__name__)

COOKIE = "bz_visitor"
COOKIE_ID = re.compile(r"[A-Za-z0-9_-]{22}")
COOKIE_MAX_AGE = 365 * 24 * 3600
CHANNEL = "web"


class AddressLimiter:
    """A token bucket per client address: `burst` taps at once, then one every `every` seconds.

    A school or a market's Wi-Fi puts many visitors behind one address, hence the generous burst.
    At most `max_addresses` are remembered (the least recently seen are forgotten first).
    """

    def __init__(self, burst: int = 30, every: float = 2.0, max_addresses: int = 10_000) -> None:
        self.burst, self.every, self.max_addresses = burst, every, max_addresses
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / self.every)
        allowed = tokens >= 1.0
        self._buckets[address] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        return allowed


def client_address(request: web.Request) -> str:
    """The visitor's address. Behind a reverse proxy on this machine or the private network (the
    peer is a loopback or private address), the last X-Forwarded-For entry, the one the proxy
    added; a client on the internet cannot forge that one. Workers must therefore not be
    reachable from the internet except through the proxy."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    try:
        address = ipaddress.ip_address(peer)
        proxied = address.is_loopback or address.is_private
    except ValueError:
        proxied = False
    if proxied and forwarded:
        return forwarded.split(",")[-1].strip() or peer
    return peer


class Landing:
    """The landing page's handlers. The service (database, content, the bot's names) is the app's,
    found under `service_key` once the app has started."""

    def __init__(self, service_key: web.AppKey, limiter: AddressLimiter | None = None) -> None:
        self.service_key = service_key
        self.limiter = limiter or AddressLimiter()

    async def show(self, request: web.Request) -> web.Response:
        page = _Page(request.app[self.service_key], request)
        async with page.service.sessions() as db:
            venue, problem = await page.venue(db)
            if problem is not None:
                return problem
            return page.respond(page.venue_page(venue))

    async def check_in(self, request: web.Request) -> web.Response:
        """One tap: a check-in for this browser's visitor id, counted once per 30 minutes."""
        page = _Page(request.app[self.service_key], request)
        if not self.limiter.allow(client_address(request)):
            return page.error(429, "landing.too_many")
        visitor = page.visitor()
        try:
            async with page.service.sessions() as db, db.begin():
                venue, problem = await page.venue(db)
                if problem is not None:
                    return problem
                result = await venues.record_check_in(db, venue, f"w:{visitor}", CHANNEL, utcnow())
                body = page.checked_in_page(venue, result.new, result.check_in.checked_in_at)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            log.warning("web check-in not stored: %s", exc)
            return page.error(503, "landing.unavailable")
        return page.respond(body, visitor)

    async def answer(self, request: web.Request) -> web.Response:
        """[Already installed] / [Not yet]: stored on this visitor's latest check-in here."""
        page = _Page(request.app[self.service_key], request)
        if not self.limiter.allow(client_address(request)):
            return page.error(429, "landing.too_many")
        form = await request.post()
        installed = {"yes": True, "no": False}.get(str(form.get("installed", "")))
        cookie = request.cookies.get(COOKIE, "")
        async with page.service.sessions() as db, db.begin():
            venue, problem = await page.venue(db)
            if problem is not None:
                return problem
            visitor = f"w:{cookie}"
            latest = await venues.latest_check_in(db, venue.id, visitor) if COOKIE_ID.fullmatch(cookie) else None
            if latest is None or installed is None:
                raise web.HTTPSeeOther(f"/q/{page.payload}")  # nothing to answer: back to the venue
            await venues.answer_installed(db, latest.id, visitor, installed)
            body = page.answered_page(venue, installed)
        return page.respond(body)


class _Page:
    """One request's pages: content rendered and escaped, the cookie, the venue it names."""

    def __init__(self, service: Any, request: web.Request) -> None:
        self.service = service
        self.request = request
        self.payload = request.match_info["payload"]

    async def venue(self, db: Any) -> tuple[Venue | None, web.Response | None]:
        """The venue the payload names; otherwise the error page to answer with."""
        key = self.service.settings.qr_signing_key
        code = verify(key.reveal(), self.payload) if key is not None else None
        if code is None:
            return None, self.error(404, "landing.not_found")
        found = await venues.find_by_code(db, code)
        if found.venue is None:
            return None, self.error(404, "landing.not_found")
        if found.revoked:
            return None, self.error(410, "landing.revoked", venue=found.venue.name)
        return found.venue, None

    def visitor(self) -> str:
        cookie = self.request.cookies.get(COOKIE, "")
        return cookie if COOKIE_ID.fullmatch(cookie) else secrets.token_urlsafe(16)

    def respond(self, body: str, visitor: str | None = None) -> web.Response:
        response = web.Response(text=body, content_type="text/html", charset="utf-8")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        visitor = visitor or self.visitor()
        if self.request.cookies.get(COOKIE) != visitor:
            response.set_cookie(
                COOKIE,
                visitor,
                max_age=COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=(self.service.settings.public_base_url or "").startswith("https://"),
            )
        return response

    def words(self, key: str, **values: Any) -> str:
        return html.escape(self.service.content.render(t(key, **values)))

    def error(self, status: int, key: str, **values: Any) -> web.Response:
        body = self.page(self.words(f"{key}_title"), f"<h1>{self.words(f'{key}_title')}</h1><p>{self.words(key, **values)}</p>")
        return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")

    def page(self, title: str, main: str) -> str:
        return _PAGE.format(title=title, main=main, footer=self.words("landing.footer"))

    def form(self, action: str, label: str, secondary: bool = False, **fields: str) -> str:
        hidden = "".join(f'<input type="hidden" name="{n}" value="{html.escape(v)}">' for n, v in fields.items())
        css = "button secondary" if secondary else "button"
        return f'<form method="post" action="{html.escape(action)}">{hidden}<button class="{css}" type="submit">{label}</button></form>'

    def venue_page(self, venue: Venue) -> str:
        handles = public_handles(self.service.settings, self.service.bot_handles())
        links = []
        for channel in printed_channels(self.service.content, handles):
            url = channel_link(channel.name, channel.handle, self.payload)
            if url is not None:
                label = self.words(f"landing.open.{channel.name}")
                links.append(f'<a class="button secondary" href="{html.escape(url)}">{label}</a>')
            if self.service.content.has(f"landing.send_code.{channel.name}"):
                # No deep link into this messenger: the code to send, large enough to copy by eye.
                send = self.words(f"landing.send_code.{channel.name}", handle=channel.handle)
                code = self.words("poster.manual_message", code=venue.code)
                links.append(f'<p>{send}</p><p class="code">{code}</p>')
        main = (
            f"<h1>{html.escape(venue.name)}</h1>"
            f'<p class="muted">{html.escape(venue.address)}</p>'
            f"<p>{self.words('landing.intro')}</p>"
            + self.form(f"/q/{self.payload}", self.words("landing.check_in_here"))
            + (f"<p>{self.words('landing.or_messenger')}</p>" + "".join(links) if links else "")
        )
        return self.page(html.escape(venue.name), main)

    def checked_in_page(self, venue: Venue, new: bool, when: Any) -> str:
        if new:
            head = self.words("landing.thanks", venue=venue.name)
        else:
            head = self.words("landing.already", venue=venue.name, time=when)
        action = f"/q/{self.payload}/answer"
        main = (
            f"<h1>{head}</h1><p>{self.words('landing.ask_installed')}</p>"
            + self.form(action, self.words("checkin.have_app"), installed="yes")
            + self.form(action, self.words("checkin.need_guide"), secondary=True, installed="no")
        )
        return self.page(html.escape(venue.name), main)

    def answered_page(self, venue: Venue, installed: bool) -> str:
        if installed:
            return self.page(html.escape(venue.name), f"<h1>{self.words('checkin.installed_thanks')}</h1>")
        stores = "".join(
            f'<a class="button" href="{html.escape(self.service.content.render(t(f"campaign.{store}")))}">'
            f"{self.words(f'landing.store.{store}')}</a>"
            for store in ("store_android", "store_ios")
        )
        main = f"<h1>{self.words('landing.install_title')}</h1><p>{self.words('landing.install_intro')}</p>{stores}"
        return self.page(html.escape(venue.name), main)


def channel_link(channel: str, handle: str, payload: str) -> str | None:
    """The link that opens a messenger to check in: Telegram's carries the check-in itself; Zalo
    has no start parameter, so its link opens the OA's chat and the page shows the code to send."""
    if channel == "telegram":
        return telegram_link(handle, payload)
    if channel == "zalo_oa":
        return f"https://zalo.me/{handle}"
    return None


_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#f4f8fc}}
main{{max-width:32rem;margin:0 auto;padding:1.5rem 1.25rem}}
h1{{font-size:1.4rem;line-height:1.3}}
.muted{{color:#555}}
.button{{display:block;width:100%;box-sizing:border-box;margin:.75rem 0;padding:1rem;border:0;border-radius:.6rem;
background:#0b5cad;color:#fff;font-size:1.1rem;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}}
.secondary{{background:#e3f0fb;color:#0b5cad}}
footer{{color:#777;font-size:.85rem;text-align:center;padding:1rem}}
.code{{font-size:2rem;font-weight:700;letter-spacing:.08em;text-align:center;color:#0b5cad;margin:.25rem 0 1rem}}
</style></head>
<body><main>{main}</main><footer>{footer}</footer></body></html>
"""


def add_routes(app: web.Application, landing: Landing) -> None:
    """/q/<payload>: the page; POST: check in here; POST …/answer: "already installed?"."""
    app.router.add_get("/q/{payload}", landing.show)
    app.router.add_post("/q/{payload}", landing.check_in)
    app.router.add_post("/q/{payload}/answer", landing.answer)
