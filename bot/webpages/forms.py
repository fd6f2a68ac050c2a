"""Reading a page's form: a body the browser could not have sent (bytes that are not UTF-8, a
broken multipart) is a 400 page, never a 500."""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from bot.webpages.errors import PageError


async def read_form(request: web.Request) -> MultiDictProxy:
    try:
        return await request.post()
    except (ValueError, HttpProcessingError):  # UnicodeDecodeError is a ValueError
        raise PageError(400) from None
