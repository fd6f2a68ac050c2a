"""Venues in the browser, for their managers and for officers: a commune's venues with their
check-ins, revoking a venue's code (the twin of chat's revoke, handlers/venues.py: same storage
function, audited with source "web"), and posters in bulk: a ZIP of the PDFs named after each
venue with index.csv, made by the code `bluezone-bot posters --commune` uses (documents.posters.bundle).

Who may do what, checked at every request:
- a venue's manager: their venues (the list is issue 20's /dashboard/venues), revoke, posters;
- whoever sees a commune's figures (its coordinator, an officer of its province, an admin): its
  venues and their posters; revoking one of them needs an officer over it (of its province, or
  of its district on the pre-2025 map) or an admin (or its manager), as the command line's
  `venue revoke` is an administrator's.

    GET  /dashboard/venues/posters.zip                the manager's venues' posters
    GET  /dashboard/venues/commune/<code>              a commune's venues
    GET  /dashboard/venues/commune/<code>/posters.zip  their posters
    GET  /dashboard/venues/<id>/revoke                 asks, as chat asks
    POST /dashboard/venues/<id>/revoke                 → 303 /dashboard/venues/<id>/revoked
    GET  /dashboard/venues/<id>/revoked                the old code, the new one, the new poster
    GET  /dashboard/venues/<id>/poster.pdf             one venue's poster
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dashboard.desk import commune_of
from bot.dashboard.pages import ROOT, Dashboard, Problem, page
from bot.webpages import PAGES, add_page, render
from bot.webpages.forms import read_form
from documents.posters import drawing
from documents.posters.bundle import file_stem, posters_zip
from documents.posters.venue import PosterRequest, PosterUnavailable, draw, poster_request, public_handles
from handlers.access import named
from storage import roles, venues
from storage.models import Venue, utcnow
from storage.roles import Role
from texts.formats import local_date

if TYPE_CHECKING:
    from bot.service import Service

PDF = "application/pdf"


def _service(request: web.Request) -> Service:
    return request.app[PAGES].service(request)


class VenueDesk:
    def __init__(self, dashboard: Dashboard) -> None:
        self.d = dashboard

    async def commune(self, request: web.Request) -> web.Response:
        self.d._admit(request)
        code = commune_of(request)
        service = _service(request)
        today = local_date(utcnow())
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            await _sees(db, user, code)
            rows = await venues.venues_in_commune(db, code)
            counts = [(v, await venues.venue_counts(db, v.id, today)) for v in rows]
            officer = bool(await roles.check(db, user, Role.DISTRICT_OFFICER, code))
            title = service.content.render(named(await service.engine.communes(db), code))
        context = {
            "code": code,
            "title": title,
            "venues": counts,
            "may_revoke": officer,
            "fmt": self.d._formatter(request),
            **self.d._frame(request),
        }
        return render(request, "dashboard/commune_venues.html", context)

    async def my_posters(self, request: web.Request) -> web.StreamResponse:
        self.d._admit(request)
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            mine = await venues.venues_of(db, user)
            requests = await _requests(request, db, mine)
        return await _zip(mine, requests, "diem-check-in")

    async def commune_posters(self, request: web.Request) -> web.StreamResponse:
        self.d._admit(request)
        code = commune_of(request)
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            await _sees(db, user, code)
            rows = await venues.venues_in_commune(db, code)
            requests = await _requests(request, db, rows)
        return await _zip(rows, requests, f"diem-check-in-{code}")

    async def poster(self, request: web.Request) -> web.StreamResponse:
        self.d._admit(request)
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            venue = await _venue(db, user, request, revoking=False)
            (poster_of,) = await _requests(request, db, [venue])
        drawn = await drawing(_pdf, poster_of)
        return _attachment(drawn, PDF, f"{file_stem(venue)}.pdf")

    async def revoke_page(self, request: web.Request) -> web.Response:
        """Asks first, as chat does (venue.revoke_ask): the printed posters stop working."""
        self.d._admit(request)
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            venue = await _venue(db, user, request, revoking=True)
        context = {"venue": venue, "back": _back(request), **self.d._frame(request)}
        return render(request, "dashboard/venue_revoke.html", context)

    async def revoke(self, request: web.Request) -> web.Response:
        self.d._admit(request)
        form = await read_form(request)
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request, form)
            venue = await _venue(db, user, request, revoking=True)
            await venues.revoke(db, venue, utcnow(), by=user, source="web")
        back = str(form.get("back", ""))
        suffix = f"?{urlencode({'back': back})}" if _inside(back) else ""
        raise web.HTTPSeeOther(f"{ROOT}/venues/{venue.id}/revoked{suffix}")

    async def revoked(self, request: web.Request) -> web.Response:
        self.d._admit(request)
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            venue = await _venue(db, user, request, revoking=False)
            old = await venues.former_code(db, venue.id)
        context = {"venue": venue, "old": old, "back": _back(request), **self.d._frame(request)}
        return render(request, "dashboard/venue_revoked.html", context)


def _inside(path: str) -> bool:
    """A way back within the dashboard (never another site: `//evil.example` is refused)."""
    return path.startswith(ROOT + "/") and not path.startswith("//") and "\\" not in path


def _back(request: web.Request) -> str:
    back = request.query.get("back", "")
    return back if _inside(back) else f"{ROOT}/venues"


async def _sees(db: AsyncSession, user: int, code: str) -> None:
    """A commune's venues: for whoever sees its figures (storage.roles.may_view, as its page)."""
    if not await roles.unit_exists(db, code):
        raise Problem(404, "no_unit")
    if not await roles.may_view(db, user, code):
        raise Problem(403, "not_yours")


async def _venue(db: AsyncSession, user: int, request: web.Request, *, revoking: bool) -> Venue:
    """The venue, if this person manages it or, for its posters, sees its commune; to revoke it,
    an officer over its commune (district, province) or an admin may too."""
    venue = await db.get(Venue, int(request.match_info["venue"]))
    if venue is None:
        raise Problem(404, "venue_gone")
    if venue.manager_user_id == user:
        return venue
    role = Role.DISTRICT_OFFICER if revoking else roles.viewer_role(venue.commune_code)
    if not await roles.check(db, user, role, venue.commune_code):
        raise Problem(403, "not_yours")
    return venue


async def _requests(request: web.Request, db: AsyncSession, rows: Sequence[Venue]) -> list[PosterRequest]:
    """What to draw for each venue, as chat's poster (handlers.venues.poster_replies) asks."""
    service = _service(request)
    handles = public_handles(service.settings, service.bot_handles())
    communes = await service.engine.communes(db)
    try:
        return [
            poster_request(service.content, service.settings, handles, v, communes.get(v.commune_code)) for v in rows
        ]
    except PosterUnavailable:
        raise Problem(503, "no_posters") from None


def _pdf(poster_of: PosterRequest) -> bytes:
    data = draw(poster_of, pdf=True, png=False).pdf
    assert data is not None  # asked for
    return data


async def _zip(rows: Sequence[Venue], requests: Sequence[PosterRequest], name: str) -> web.Response:
    if not rows:
        raise Problem(404, "no_venues")
    data = await drawing(posters_zip, rows, requests)
    return _attachment(data, "application/zip", f"{name}.zip")


def _attachment(data: bytes, mime: str, filename: str) -> web.Response:
    response = web.Response(body=data, content_type=mime)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application, dashboard: Dashboard) -> None:
    v = VenueDesk(dashboard)
    commune = ROOT + "/venues/commune/{code:[0-9A-Z]{2,5}}"
    one = ROOT + "/venues/{venue:[0-9]{1,18}}"
    add_page(app, ROOT + "/venues/posters.zip", name="dashboard.venues.posters", GET=page(v.my_posters))
    add_page(app, commune, name="dashboard.venues.commune", GET=page(v.commune))
    add_page(app, commune + "/posters.zip", name="dashboard.venues.commune_posters", GET=page(v.commune_posters))
    add_page(app, one + "/revoke", name="dashboard.venues.revoke", GET=page(v.revoke_page), POST=page(v.revoke))
    add_page(app, one + "/revoked", name="dashboard.venues.revoked", GET=page(v.revoked))
    add_page(app, one + "/poster.pdf", name="dashboard.venues.poster", GET=page(v.poster))
