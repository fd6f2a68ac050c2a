"""Rendering a page: the Jinja2 environment (autoescape on), the content words (`t` in every
template), the one stylesheet and the Content-Security-Policy that admits it, the messengers a page
offers as a way forward. Times and dates are the house formats of every Text (texts.formats)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.webpages.csrf import CsrfTokens
from documents.links import chat_link
from documents.posters.venue import public_handles
from documents.posters.words import printed_channels
from texts import t

if TYPE_CHECKING:
    from bot.service import Service

# The messengers a page names, in this order: Zalo is what most Vietnamese phones have.
WEB_ORDER = ("zalo_oa", "zalo_bot", "telegram")


@dataclass(frozen=True)
class Forward:
    """What an error page of one venue can offer besides the messengers: its code to send, and its page."""

    payload: str
    code: str


# The request's Forward, set by a page as soon as it knows the venue (before asking the database).
FORWARD = web.RequestKey("forward", Forward)


class Pages:
    """What every page needs, kept on the app: the service (content, settings, the bot's names),
    the page routes, the stylesheet and its policy, the CSRF tokens (made once the service runs)."""

    def __init__(self, service_key: web.AppKey) -> None:
        self.service_key = service_key
        self.page_resources: set[web.AbstractResource] = set()
        css = resources.files("bot.webpages").joinpath("templates", "page.css").read_text(encoding="utf-8")
        self.css = Markup(css.strip())
        # The inline stylesheet is admitted by its hash: the page stays one request, and nothing
        # else (no script, no style injected into the page, nothing from elsewhere) can run.
        digest = base64.b64encode(hashlib.sha256(str(self.css).encode()).digest()).decode()
        self.content_security_policy = f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        self._csrf: CsrfTokens | None = None

    def service(self, request: web.Request) -> Service:
        return request.app[self.service_key]

    def csrf(self, request: web.Request) -> CsrfTokens:
        if self._csrf is None:
            self._csrf = CsrfTokens(self.service(request).settings)
        return self._csrf

    def serves(self, request: web.Request) -> bool:
        """A page route, or an address no route serves (a person typed or cut it)."""
        match = request.match_info
        return match.http_exception is not None or match.route.resource in self.page_resources


PAGES = web.AppKey("pages", Pages)


def add_page(app: web.Application, path: str, name: str | None = None, **handlers: Any) -> web.AbstractResource:
    """An address whose answers are pages for people (`GET=show, POST=check_in`): its errors, and
    any failure, become error pages. GET answers HEAD too."""
    resource = app.router.add_resource(path, name=name)
    for method, handler in handlers.items():
        resource.add_route(method, handler)
        if method == "GET":
            resource.add_route("HEAD", handler)
    app[PAGES].page_resources.add(resource)
    return resource


def setup_templates(app: web.Application) -> jinja2.Environment:
    return aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("bot.webpages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        default_helpers=False,
    )


@dataclass(frozen=True)
class Messenger:
    name: str  # the channel: zalo_oa, zalo_bot, telegram
    handle: str
    url: str | None  # opens the bot's chat (Telegram's with the check-in itself); None: no link


def messengers(service: Service, payload: str | None = None) -> list[Messenger]:
    """The messengers the bot can be reached on, Zalo first."""
    handles = public_handles(service.settings, service.bot_handles())
    return [
        Messenger(c.name, c.handle, chat_link(c.name, c.handle, payload))
        for c in printed_channels(service.content, handles, order=WEB_ORDER)
    ]


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """The page, never stored by a browser or a proxy (it shows one visitor's state)."""
    pages = request.app[PAGES]
    content = pages.service(request).content

    def words(key: str, **values: Any) -> str:
        return content.render(t(key, **values))

    page_context = {"t": words, "has": content.has, "page_css": pages.css, **(context or {})}
    response = aiohttp_jinja2.render_template(template, request, page_context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response
