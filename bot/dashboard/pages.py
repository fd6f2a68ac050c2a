"""The dashboard's handlers (see bot/dashboard/__init__.py for the addresses)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dashboard.pictures import installs_over_time, ranked_bars
from bot.dashboard.unit_map import Points, unit_map, unit_points
from bot.dashboard.views import Query, UnitView, child_level, unit_view
from bot.landing import AddressLimiter, client_address
from bot.webpages import PAGES, add_page, render
from bot.webpages.csrf import FIELD as CSRF_FIELD
from bot.webpages.errors import RETRY_AFTER
from bot.webpages.forms import read_form
from documents.coverage import coverage
from documents.tally_exports import to_csv, to_xlsx
from storage import roles, venues, web_sessions
from storage.models import utcnow
from storage.tally import unit_name as stored_unit_name
from storage.unit_map import SCHEME_2025
from storage.units import COUNTRY_CODE, unit_level
from texts import Percent, t
from texts.formats import local_date

COOKIE = "bz_dashboard"
NEW_FEED_COOKIE = "bz_new_feed"  # the new standing link, shown once on the page the POST leads to
ROOT = "/dashboard"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Problems of someone signed in: their page links back to their units.
HOME_LINKED = {
    "not_yours",
    "no_unit",
    "expired_form",
    "volunteer_gone",
    "venue_gone",
    "no_posters",
    "no_venues",
    "hamlet_gone",
}


class Problem(Exception):
    """Answer with the dashboard's page for this problem (`dashboard.problems.<key>`)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(status, key)
        self.status, self.key = status, key


def page(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Problem as problem:
            context = {"key": problem.key, "home": problem.key in HOME_LINKED}
            response = render(request, "dashboard/problem.html", context, status=problem.status)
            if problem.status == 429:
                response.headers["Retry-After"] = RETRY_AFTER
            return response

    return answer


class Dashboard:
    def __init__(self, limiter: AddressLimiter | None = None, points: Points | None = None) -> None:
        # Guessing a link's token online is hopeless (256 bits), but the pages cost database work.
        self.limiter = limiter or AddressLimiter(burst=120, every=0.25)
        self.points = unit_points() if points is None else points  # the map's; none: no map

    # -- getting in --

    async def login_page(self, request: web.Request) -> web.Response:
        """One button; the link stays unused until it is pressed."""
        self._admit(request)
        token = request.match_info["token"]
        async with self._db(request) as db:
            state = await web_sessions.login_state(db, token, utcnow())
        if state is not web_sessions.LoginState.VALID:
            raise Problem(410, f"link_{state.value}")
        context = {"action": request.path, "csrf": self._csrf(request, f"login:{token}")}
        return render(request, "dashboard/login.html", context)

    async def login(self, request: web.Request) -> web.Response:
        self._admit(request)
        token = request.match_info["token"]
        form = await read_form(request)
        if not request.app[PAGES].csrf(request).valid(f"login:{token}", form.get(CSRF_FIELD)):
            raise Problem(403, "expired_form")
        async with self._db(request) as db, db.begin():
            redeemed = await web_sessions.redeem_login(db, token, utcnow())
        if redeemed.session_token is None:
            raise Problem(410, f"link_{redeemed.state.value}")
        response = web.HTTPSeeOther(ROOT)
        self._set_cookie(request, response, COOKIE, redeemed.session_token)
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        cookie = request.cookies.get(COOKIE)
        if cookie and request.app[PAGES].csrf(request).valid(cookie, form.get(CSRF_FIELD)):
            async with self._db(request) as db, db.begin():
                await web_sessions.end_session(db, cookie, utcnow())
        response = web.HTTPSeeOther(f"{ROOT}/signed-out")
        response.del_cookie(COOKIE, path=ROOT)
        raise response

    async def signed_out(self, request: web.Request) -> web.Response:
        return render(request, "dashboard/problem.html", {"key": "signed_out", "home": False})

    # -- what a person sees --

    async def home(self, request: web.Request) -> web.Response:
        self._admit(request)
        async with self._db(request) as db, db.begin():
            user = await self._user(request)
            units = await roles.viewable_units(db, user)
            mine = await venues.venues_of(db, user)
            names = {u: await self._unit_title(request, db, u) for u in units}
        if len(units) == 1 and not mine:
            raise web.HTTPSeeOther(unit_path(units[0]))
        if not units and mine:
            raise web.HTTPSeeOther(f"{ROOT}/venues")
        context = {"units": [(u, names[u]) for u in units], "venues": mine, **self._frame(request)}
        return render(request, "dashboard/home.html", context)

    async def unit(self, request: web.Request) -> web.Response:
        view, title, extra = await self._view(request, with_feeds=True)
        fmt = self._formatter(request)
        content = request.app[PAGES].service(request).content

        def words(key: str, **values: Any) -> str:
            return content.render(t(key, **values))

        row = view.unit.row
        context = {
            "view": view,
            "title": title,
            "coverage": content.render(coverage(row.communes_with_figures, row.communes, view.kinds)),
            "fmt": fmt,
            "pct": lambda v: None if v is None else Percent(v),
            "target_pct": lambda v: None if v is None else Percent.target(v),
            "link": lambda **changes: _address(request.path, view.query.params(**changes)),
            "export": lambda kind: _address(f"{unit_path(view.code)}.{kind}", view.query.params()),
            # The points are of today's codes: on the pre-2025 map the same code is another place.
            "unit_map": unit_map(view.children, self.points if view.scheme == SCHEME_2025 else {}, fmt, words),
            "bars": ranked_bars(
                view.children, lambda rate: fmt(Percent(rate)), alt=words("dashboard.chart.ranked_alt")
            ),
            "over_time": installs_over_time(
                view.unit,
                view.as_of,
                fmt,
                (words("dashboard.chart.installed"), words("dashboard.chart.line")),
                alt=words("dashboard.chart.over_time_alt"),
            ),
            **extra,
            **self._frame(request),
        }
        response = render(request, "dashboard/unit.html", context)
        if NEW_FEED_COOKIE in request.cookies:
            response.del_cookie(NEW_FEED_COOKIE, path=ROOT)
        return response

    async def export(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        view, title, _ = await self._view(request)
        return await _file(request, view, title, kind)

    async def venues(self, request: web.Request) -> web.Response:
        self._admit(request)
        today = local_date(utcnow())
        async with self._db(request) as db, db.begin():
            user = await self._user(request)
            mine = await venues.venues_of(db, user)
            counts = [(v, await venues.venue_counts(db, v.id, today)) for v in mine]
        context = {"venues": counts, "fmt": self._formatter(request), **self._frame(request)}
        return render(request, "dashboard/venues.html", context)

    # -- standing CSV links --

    async def new_feed(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        form = await read_form(request)
        async with self._db(request) as db, db.begin():
            user = await self._user(request, form)
            await self._may_view(db, user, code)
            token = await web_sessions.create_feed(db, user, code, utcnow())
        response = web.HTTPSeeOther(unit_path(code) + "#feeds")
        self._set_cookie(request, response, NEW_FEED_COOKIE, token, max_age=120)
        raise response

    async def revoke_feed(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        back = str(form.get("back", ROOT))
        async with self._db(request) as db, db.begin():
            user = await self._user(request, form)
            await web_sessions.revoke_feed(db, user, request.match_info["key"], utcnow())
        raise web.HTTPSeeOther(back if back.startswith(ROOT + "/") else ROOT)

    async def feed(self, request: web.Request) -> web.Response:
        """The standing link: the unit's table as it opens (no sorting, no filter), while its
        person may still see the unit."""
        self._admit(request)
        async with self._db(request) as db, db.begin():
            found = await web_sessions.feed_of(db, request.match_info["token"])
            allowed = found is not None and await web_sessions.may_enter(db, found[0])
            if found is None or not allowed or not await roles.may_view(db, found[0], found[1]):
                raise Problem(404, "feed_gone")
            view = await unit_view(db, found[1], local_date(utcnow()), Query())
            title = await self._unit_title(request, db, found[1])
        return await _file(request, view, title, "csv")

    # -- the steps every page takes --

    async def _view(self, request: web.Request, with_feeds: bool = False) -> tuple[UnitView, str, dict[str, Any]]:
        self._admit(request)
        code = request.match_info["code"]
        try:
            unit_level(code)
        except ValueError:
            raise Problem(404, "no_unit") from None
        extra: dict[str, Any] = {}
        async with self._db(request) as db, db.begin():
            user = await self._user(request)
            await self._may_view(db, user, code)
            try:
                view = await unit_view(db, code, local_date(utcnow()), Query.read(request.query))
            except LookupError:
                raise Problem(404, "no_unit") from None
            title = await self._unit_title(request, db, code)
            if with_feeds:
                parent = view.parent if view.parent and await roles.may_view(db, user, view.parent) else None
                extra = {
                    "parent": (parent, await self._unit_title(request, db, parent)) if parent else None,
                    "feeds": await web_sessions.feeds_of(db, user, code),
                    "new_feed": _feed_url(request, request.cookies.get(NEW_FEED_COOKIE)),
                    "child_level": child_level(view.level, view.scheme),
                }
        return view, title, extra

    def _admit(self, request: web.Request) -> None:
        if not self.limiter.allow(client_address(request)):
            raise Problem(429, "too_many")

    def _db(self, request: web.Request) -> Any:
        return request.app[PAGES].service(request).sessions()

    async def _user(self, request: web.Request, form: Any = None) -> int:
        """The signed-in person (checked now: roles revoked or data erased end the session); for a
        form, also its CSRF token. Read in a transaction of its own, so that a session found
        ended stays ended whatever the page does next."""
        cookie = request.cookies.get(COOKIE)
        async with self._db(request) as own, own.begin():
            user = await web_sessions.session_user(own, cookie, utcnow())
        if user is None:
            raise Problem(401, "signed_out_needed")
        if form is not None and not request.app[PAGES].csrf(request).valid(cookie, form.get(CSRF_FIELD)):
            raise Problem(403, "expired_form")
        return user

    async def _may_view(self, db: AsyncSession, user: int, code: str) -> None:
        """The check chat makes before a summary (storage.roles.may_view)."""
        if not await roles.may_view(db, user, code):
            raise Problem(403, "not_yours")

    def _csrf(self, request: web.Request, binding: str) -> str:
        return request.app[PAGES].csrf(request).token(binding)

    def _frame(self, request: web.Request) -> dict[str, Any]:
        """What every signed-in page's header needs: the logout form's token."""
        return {"csrf": self._csrf(request, request.cookies.get(COOKIE, ""))}

    def _formatter(self, request: web.Request) -> Callable[[Any], str]:
        content = request.app[PAGES].service(request).content
        return lambda value: "–" if value is None else content.format_value(value)

    async def _unit_title(self, request: web.Request, db: AsyncSession, code: str) -> str:
        content = request.app[PAGES].service(request).content
        if code == COUNTRY_CODE:
            return content.render(t("tally.country"))
        return await stored_unit_name(db, code) or code

    def _set_cookie(
        self, request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int | None = None
    ) -> None:
        settings = request.app[PAGES].service(request).settings
        response.set_cookie(
            name,
            value,
            path=ROOT,
            max_age=max_age,
            httponly=True,
            samesite="Lax",
            secure=(settings.public_base_url or "").startswith("https://"),
        )


def unit_path(code: str) -> str:
    return f"{ROOT}/unit/{code}"


def _address(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _feed_url(request: web.Request, token: str | None) -> str | None:
    if not token:
        return None
    settings = request.app[PAGES].service(request).settings
    return f"{settings.own_base_url.rstrip('/')}{ROOT}/feed/{token}.csv"


async def _file(request: web.Request, view: UnitView, title: str, kind: str) -> web.Response:
    content = request.app[PAGES].service(request).content
    data = view.as_tally(title)
    name = f"tien-do-{view.code}-{view.as_of.isoformat()}"
    if kind == "xlsx":
        body = await asyncio.to_thread(to_xlsx, data, content, title, view.kinds)
        mime = XLSX
    else:
        body = to_csv(data).encode("utf-8-sig")  # the byte-order mark: Excel reads UTF-8, not its default
        mime = "text/csv"
    response = web.Response(body=body, content_type=mime, charset="utf-8" if kind == "csv" else None)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application, dashboard: Dashboard) -> None:
    d = dashboard
    add_page(app, ROOT + "/login/{token}", name="dashboard.login", GET=page(d.login_page), POST=page(d.login))
    add_page(app, ROOT, name="dashboard", GET=page(d.home))
    add_page(app, ROOT + "/unit/{code:[0-9A-Z]{2,5}}", name="dashboard.unit", GET=page(d.unit))
    add_page(app, ROOT + "/unit/{code:[0-9A-Z]{2,5}}.{kind:xlsx|csv}", name="dashboard.export", GET=page(d.export))
    add_page(app, ROOT + "/unit/{code:[0-9A-Z]{2,5}}/feeds", name="dashboard.feeds", POST=page(d.new_feed))
    add_page(app, ROOT + "/feeds/{key:[0-9a-f]{64}}/revoke", name="dashboard.revoke", POST=page(d.revoke_feed))
    add_page(app, ROOT + "/feed/{token}.csv", name="dashboard.feed", GET=page(d.feed))
    add_page(app, ROOT + "/venues", name="dashboard.venues", GET=page(d.venues))
    add_page(app, ROOT + "/logout", name="dashboard.logout", POST=page(d.logout))
    add_page(app, ROOT + "/signed-out", name="dashboard.signed_out", GET=page(d.signed_out))
