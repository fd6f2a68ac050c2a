"""The pages that belong to no venue: the home page (someone who typed the bare address) and the
privacy page every footer links to."""

from __future__ import annotations

from aiohttp import web

from bot.webpages.rendering import PAGES, add_page, messengers, render
from storage.venues import CHECK_IN_WINDOW

PRIVACY_PATH = "/privacy"


async def home(request: web.Request) -> web.Response:
    service = request.app[PAGES].service(request)
    return render(request, "home.html", {"messengers": messengers(service)})


async def privacy(request: web.Request) -> web.Response:
    settings = request.app[PAGES].service(request).settings
    context = {"days": settings.checkin_retention_days, "minutes": CHECK_IN_WINDOW.seconds // 60}
    return render(request, "privacy.html", context)


def add_routes(app: web.Application) -> None:
    add_page(app, "/", name="home", GET=home)
    add_page(app, PRIVACY_PATH, name="privacy", GET=privacy)
