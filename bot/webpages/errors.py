"""Vietnamese error pages, each with a way forward, and the security headers of every response.

A page's failure never reaches a person as aiohttp's English "500 Internal Server Error": the
database unreachable is a 503 page, anything else a 500 page (logged with its traceback). Routes
that answer machines (the webhooks, /media, /healthz) keep their own answers; an address no route
serves is a person's, whatever its prefix, and gets the 404 (or 405) page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.webpages.rendering import FORWARD, PAGES, messengers, render
from storage.db import is_infrastructure_error

log = logging.getLogger(__name__)

# The statuses with words of their own (content/vi/web.toml, [errors.<status>]); any other 4xx
# or 5xx is told with those of 400 or 500.
ERROR_STATUSES = (400, 403, 404, 405, 410, 429, 500, 503)
# How long a browser or a person should wait after a 503 or a 429, in seconds.
RETRY_AFTER = "30"


class PageError(Exception):
    """Raised by a page: answer with this error page. `key` names the words (`<key>.title`,
    `<key>.text`; web.errors.<status> by default); `forward=False` offers no way back to the venue
    (its code is unknown or revoked)."""

    def __init__(self, status: int, key: str | None = None, *, forward: bool = True, **values: Any) -> None:
        super().__init__(status, key)
        self.status, self.key, self.forward, self.values = status, key, forward, values


def _words_of(status: int) -> str:
    if status in ERROR_STATUSES:
        return f"web.errors.{status}"
    return "web.errors.500" if status >= 500 else "web.errors.400"


def error_page(
    request: web.Request,
    status: int,
    key: str | None = None,
    values: Mapping[str, Any] | None = None,
    *,
    forward: bool = True,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    service = request.app[PAGES].service(request)
    venue = request.get(FORWARD) if forward else None
    context = {
        "status": status,
        "words": key or _words_of(status),
        "values": dict(values or {}),
        "venue": venue,
        "messengers": messengers(service, venue.payload if venue else None),
    }
    response = render(request, "error.html", context, status=status)
    response.headers.update(headers or {})
    if status in (429, 503):
        response.headers["Retry-After"] = RETRY_AFTER
    return response


@web.middleware
async def error_pages(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PageError as problem:
        return error_page(request, problem.status, problem.key, problem.values, forward=problem.forward)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.app[PAGES].serves(request):
            raise  # a redirect, or a webhook's own answer
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_page(request, exc.status, headers=allow)
    except Exception as exc:
        if not request.app[PAGES].serves(request):
            raise
        where = request.match_info.route.resource.canonical if request.match_info.route.resource else "?"
        if is_infrastructure_error(exc):
            log.warning("page %s %s: database unreachable: %s", request.method, where, exc)
            return error_page(request, 503)
        log.exception("page %s %s failed", request.method, where)
        return error_page(request, 500)


def _secure(request: web.Request, message: web.StreamResponse) -> None:
    """The headers every response carries; a page also its Content-Security-Policy."""
    headers = message.headers
    headers["X-Content-Type-Options"] = "nosniff"
    # A landing page's address holds the venue's signed code: the messenger or the store opened
    # from it is not told where the visitor came from.
    headers["Referrer-Policy"] = "no-referrer"
    if message.content_type == "text/html":
        headers["Content-Security-Policy"] = request.app[PAGES].content_security_policy
        headers["X-Frame-Options"] = "DENY"  # frame-ancestors, for browsers too old to read it


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, or a webhook's raised answer
        _secure(request, exc)
        raise
    _secure(request, response)
    return response
