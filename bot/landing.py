"""The QR's landing page (<PUBLIC_BASE_URL>/q/<payload>): names the venue and offers to check in
right here with one tap, no app needed, or on Zalo or Telegram.

    GET  /q/<payload>          the venue; sets the visitor's cookie; the form carries its CSRF token
    POST /q/<payload>          check in (only with the cookie and the token the GET gave) → 303 …/answer
    GET  /q/<payload>/answer   the check-in and "have you installed the app?" (or the answer given)
    POST /q/<payload>/answer   store the answer → 303 …/answer

Every POST is answered with a redirect to a GET page (POST-redirect-GET), so Back and
pull-to-refresh reload a page and never send a form again.

A web visitor has no messenger account: a random cookie id stands for them ("w:<id>"), so a
repeat tap within 30 minutes counts once. Requests are rate-limited per address; addresses are
kept in memory for that only, never stored.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.webpages import FORWARD, PAGES, Forward, PageError, add_page, render
from bot.webpages.csrf import FIELD as CSRF_FIELD
from bot.webpages.forms import read_form
from bot.webpages.rendering import messengers
from storage import venues
from storage.models import CheckIn, Commune, Province, Venue, utcnow
from storage.venue_codes import verify
from texts import t

COOKIE = "bz_visitor"
COOKIE_ID = re.compile(r"[A-Za-z0-9_-]{22}")
COOKIE_MAX_AGE = 365 * 24 * 3600
CHANNEL = "web"
ANSWERS = {"yes": True, "no": False}


class AddressLimiter:
    """A token bucket per client address: `burst` requests at once, then one every `every` seconds.

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


def visitor_of(request: web.Request) -> str | None:
    """The visitor id of this browser's cookie, if it has a well-formed one."""
    cookie = request.cookies.get(COOKIE, "")
    return cookie if COOKIE_ID.fullmatch(cookie) else None


class Landing:
    """The landing page's handlers. The service (database, content, the bot's names) is the app's.

    Two budgets per address: `limiter` for presses (POST), `views` for page loads (GET), larger,
    since one visitor loads about three pages for two presses; both keep signatures from being
    guessed online and the database from being flooded."""

    def __init__(self, limiter: AddressLimiter | None = None, views: AddressLimiter | None = None) -> None:
        self.limiter = limiter or AddressLimiter()
        self.views = views or AddressLimiter(burst=60, every=0.5)

    async def show(self, request: web.Request) -> web.Response:
        """The venue, its check-in button, and the messengers to check in with instead."""
        self._admit(request, self.views)
        code = self._code(request)
        visitor = visitor_of(request) or secrets.token_urlsafe(16)
        service = request.app[PAGES].service(request)
        async with service.sessions() as db:
            venue = await self._venue(db, code)
            commune = await commune_label(db, service.content, venue.commune_code)
        context = {
            "venue": venue,
            "commune": commune,
            "page": request.path,
            "csrf": request.app[PAGES].csrf(request).token(visitor),
            "days": service.settings.checkin_retention_days,
            "messengers": messengers(service, request.match_info["payload"]),
        }
        return self._with_cookie(request, render(request, "landing/venue.html", context), visitor)

    async def check_in(self, request: web.Request) -> web.Response:
        """One tap: a check-in for this browser's visitor, counted once per 30 minutes."""
        self._admit(request, self.limiter)
        code = self._code(request)
        visitor = await self._poster(request)
        service = request.app[PAGES].service(request)
        async with service.sessions() as db, db.begin():
            venue = await self._venue(db, code)
            await venues.record_check_in(db, venue, f"w:{self._counted(visitor)}", CHANNEL, utcnow())
        raise web.HTTPSeeOther(answer_path(request))  # after the commit: raising inside rolls back

    async def result(self, request: web.Request) -> web.Response:
        """The visitor's check-in here, and the install question (or the answer they gave)."""
        self._admit(request, self.views)
        code = self._code(request)
        visitor = visitor_of(request)
        service = request.app[PAGES].service(request)
        async with service.sessions() as db:
            venue = await self._venue(db, code)
            check_in = await recent_check_in(db, venue, visitor)
        if check_in is None or visitor is None:  # not checked in here lately (another browser, or long ago)
            raise web.HTTPSeeOther(venue_path(request))
        context = {
            "venue": venue,
            "installed": check_in.already_installed,
            "when": check_in.checked_in_at,
            "minutes": venues.CHECK_IN_WINDOW.seconds // 60,
            "answer": request.path,
            "csrf": request.app[PAGES].csrf(request).token(visitor),
        }
        return render(request, "landing/answer.html", context)

    async def answer(self, request: web.Request) -> web.Response:
        """[Already installed] / [Not yet]: stored on this visitor's latest check-in here."""
        self._admit(request, self.limiter)
        code = self._code(request)
        visitor = await self._poster(request)
        installed = ANSWERS.get(str((await read_form(request)).get("installed", "")))
        if installed is None:
            raise PageError(400)
        service = request.app[PAGES].service(request)
        async with service.sessions() as db, db.begin():
            venue = await self._venue(db, code)
            check_in = await recent_check_in(db, venue, self._counted(visitor))
            if check_in is not None:
                await venues.answer_installed(db, check_in.id, f"w:{visitor}", installed)
        # Nothing to answer (no check-in here lately): back to the venue's page to check in.
        raise web.HTTPSeeOther(answer_path(request) if check_in is not None else venue_path(request))

    # -- the steps every handler takes --

    def _admit(self, request: web.Request, limiter: AddressLimiter) -> None:
        if not limiter.allow(client_address(request)):
            raise PageError(429, "landing.too_many" if limiter is self.limiter else None, forward=False)

    def _code(self, request: web.Request) -> str:
        """The venue code the payload names, checked by its signature alone (no database): from
        here on an error page can offer the code to send on a messenger."""
        payload = request.match_info["payload"]
        key = request.app[PAGES].service(request).settings.qr_signing_key
        code = verify(key.reveal(), payload) if key is not None else None
        if code is None:
            raise PageError(404, "landing.not_found", forward=False)
        request[FORWARD] = Forward(payload=payload, code=code)
        return code

    async def _poster(self, request: web.Request) -> str | None:
        """The visitor of a press when it comes from a page this server gave them (their cookie, and
        the token of that cookie); None for a script's bare POST or a page from another phone. The
        form is read before the database is asked: a slow upload holds no transaction open."""
        visitor = visitor_of(request)
        token = (await read_form(request)).get(CSRF_FIELD)
        return visitor if request.app[PAGES].csrf(request).valid(visitor, token) else None

    def _counted(self, visitor: str | None) -> str:
        """The press's visitor, once the venue is known to exist; otherwise it is not counted."""
        if visitor is None:
            raise PageError(403, "landing.not_counted")
        return visitor

    async def _venue(self, db: AsyncSession, code: str) -> Venue:
        found = await venues.find_by_code(db, code)
        if found.venue is None:
            raise PageError(404, "landing.not_found", forward=False)
        if found.revoked:
            raise PageError(410, "landing.revoked", forward=False, venue=found.venue.name)
        return found.venue

    def _with_cookie(self, request: web.Request, response: web.Response, visitor: str) -> web.Response:
        if request.cookies.get(COOKIE) != visitor:
            settings = request.app[PAGES].service(request).settings
            response.set_cookie(
                COOKIE,
                visitor,
                max_age=COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=(settings.public_base_url or "").startswith("https://"),
            )
        return response


def venue_path(request: web.Request) -> str:
    return f"/q/{request.match_info['payload']}"


def answer_path(request: web.Request) -> str:
    return f"{venue_path(request)}/answer"


async def recent_check_in(db: AsyncSession, venue: Venue, visitor: str | None) -> CheckIn | None:
    """This visitor's latest check-in here, if it is still within the once-per-30-minutes window."""
    if visitor is None:
        return None
    latest = await venues.latest_check_in(db, venue.id, f"w:{visitor}")
    if latest is None or latest.checked_in_at <= utcnow() - venues.CHECK_IN_WINDOW:
        return None
    return latest


async def commune_label(db: AsyncSession, content: Any, code: str) -> str:
    """The commune and its province, as the bot names them (commune.label); the bare code if unknown."""
    commune = await db.get(Commune, code)
    if commune is None:
        return code
    province = await db.get(Province, commune.province_code)
    return content.render(t("commune.label", name=commune.name, province=province.name if province else ""))


def add_routes(app: web.Application, landing: Landing) -> None:
    add_page(app, "/q/{payload}", name="landing", GET=landing.show, POST=landing.check_in)
    add_page(app, "/q/{payload}/answer", name="landing.answer", GET=landing.result, POST=landing.answer)
