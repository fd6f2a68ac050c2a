"""Files a messenger wants as a URL, served from this server under short-lived signed URLs.

The Zalo Bot Platform sends photos by URL only, and a document Zalo cannot take as a file goes
out as a link. The bytes are kept in the database (any worker can serve them) until the URL
expires; the URL carries its expiry and an HMAC of id and expiry, so it cannot be forged,
extended or guessed, and an expired one answers 410.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import mask
from bot.settings import Settings
from bot.untrusted import Throttled, ascii_int
from storage import media
from storage.models import utcnow

log = logging.getLogger(__name__)
junk = Throttled(log)

MEDIA_PATH = "/media"
_ID = re.compile(r"^[0-9a-f]{32}$")


def signing_key(settings: Settings) -> bytes:
    """MEDIA_URL_KEY, or a key derived from a secret the deployment already has, so that every
    worker signs alike without one more setting."""
    if settings.media_url_key is not None:
        return settings.media_url_key.reveal().encode()
    for secret in (
        settings.zalo_bot_token,
        settings.zalo_oa_app_secret,
        settings.zalo_oa_secret_key,
        settings.telegram_bot_token,
    ):
        if secret is not None:
            key = hmac.new(secret.reveal().encode(), b"media-url-key", hashlib.sha256).digest()
            mask(key)
            return key
    raise RuntimeError("MEDIA_URL_KEY is not set and there is no messenger secret to derive it from")


class MediaLinks:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.ttl = dt.timedelta(hours=settings.media_url_ttl_hours)
        self._key: bytes | None = None

    def _signature(self, file_id: str, expires: int) -> str:
        if self._key is None:  # derived once, when first needed (a service without Zalo needs none)
            self._key = signing_key(self.settings)
        message = f"{file_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def url_for(self, file_id: str, filename: str, expires: int) -> str:
        name = quote(filename or "file", safe="")
        signature = self._signature(file_id, expires)
        return f"{self.settings.own_base_url}{MEDIA_PATH}/{file_id}/{name}?e={expires}&s={signature}"

    async def publish(self, data: bytes, mime_type: str, filename: str, *, channel: str, chat_id: str) -> str:
        """Keep the file for that chat and return the URL it can be fetched at until it expires."""
        async with self.sessions() as db, db.begin():
            file_id, expires_at = await media.keep(
                db, data, mime_type, filename, utcnow(), self.ttl, channel=channel, chat_id=chat_id
            )
        return self.url_for(file_id, filename, int(expires_at.timestamp()))

    def check(self, file_id: str, expires: str, signature: str, now: dt.datetime) -> int:
        """The HTTP status the request deserves before the database is asked: 200 when it may be served."""
        moment = ascii_int(expires, max_digits=12)
        if not _ID.match(file_id) or moment is None or not signature:
            return 404
        if not hmac.compare_digest(signature.encode(), self._signature(file_id, moment).encode()):
            return 403
        if moment <= now.timestamp():
            return 410
        return 200

    async def serve(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        now = utcnow()
        status = self.check(file_id, request.query.get("e", ""), request.query.get("s", ""), now)
        if status != 200:
            if status != 410:  # an expired link is normal; a bad or forged one is worth a line
                junk.warning(f"media-{status}", "media: a request with a bad link refused (%s)", status)
            return web.Response(status=status, text={403: "forbidden", 404: "not found", 410: "expired"}[status])
        async with self.sessions() as db:
            row = await media.fetch(db, file_id, now)
        if row is None:
            return web.Response(status=410, text="expired")
        remaining = max(0, int(int(request.query["e"]) - now.timestamp()))
        return web.Response(
            body=row.data,
            content_type=row.mime_type,
            headers={
                "Content-Disposition": f"inline; filename*=UTF-8''{quote(row.filename, safe='')}",
                "Cache-Control": f"private, max-age={remaining}",
                "X-Content-Type-Options": "nosniff",
            },
        )
