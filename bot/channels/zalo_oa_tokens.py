"""The Zalo OA access token: refreshed ahead of expiry and when Zalo says it expired, by one worker
at a time, because each refresh token works only once (a second use is refused and the pair lost).

The database row is the truth; each worker caches the access token it last read. A refresh takes
the row lock (SELECT ... FOR UPDATE on PostgreSQL, SQLite's write lock), re-reads the row, and
calls the OAuth endpoint only if nobody refreshed meanwhile; the new pair is committed before the
lock is let go. The HTTP call happens under the lock on purpose: it is rare (about once a day) and
it is exactly the moment no other worker may hold the old refresh token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import mask
from bot.settings import Settings
from storage import zalo_tokens
from storage.models import utcnow

log = logging.getLogger(__name__)

TOKEN_PATH = "/v4/oa/access_token"
REFRESH_AHEAD = dt.timedelta(minutes=30)  # refresh when less than this is left of the access token


class TokenError(Exception):
    """No usable access token: the refresh failed (Zalo down, or the refresh token is spent and an
    admin must authorise the app again and set ZALO_OA_REFRESH_TOKEN)."""


class OaTokens:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        http: Callable[[], aiohttp.ClientSession],
    ) -> None:
        assert settings.zalo_oa_app_id and settings.zalo_oa_app_secret
        self.settings = settings
        self.app_id = settings.zalo_oa_app_id
        self.sessions = sessions
        self.http = http
        self.seed = settings.zalo_oa_refresh_token.reveal() if settings.zalo_oa_refresh_token else None
        self._cached: tuple[str, dt.datetime] | None = None
        self._lock = asyncio.Lock()  # one refresh per process; the row lock does it across processes
        self.refreshes = 0  # OAuth calls made by this worker (logs, tests)

    def _fresh(self, token: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
        return bool(token) and expires_at - now > REFRESH_AHEAD

    def _remember(self, row: Any) -> str:
        """Cache the row's access token; both tokens are masked in every log line from now on."""
        mask(row.access_token, row.refresh_token)
        self._cached = (row.access_token, row.expires_at)
        return row.access_token

    async def get(self) -> str:
        """An access token good for a while yet; refreshed first if it is about to expire."""
        now = utcnow()
        if self._cached and self._fresh(*self._cached, now):
            return self._cached[0]
        async with self.sessions() as db:
            row = await zalo_tokens.current(db, self.app_id)
        reseed = self.seed is not None and (row is None or row.seeded_from != zalo_tokens.fingerprint(self.seed))
        if row is not None and not reseed and self._fresh(row.access_token, row.expires_at, now):
            return self._remember(row)
        return await self.refresh(stale=row.access_token if row is not None else None)

    async def refresh(self, stale: str | None) -> str:
        """A new access token, unless another worker already replaced `stale` (then that one)."""
        async with self._lock:
            now = utcnow()
            async with self.sessions() as db, db.begin():
                row = await zalo_tokens.lock(db, self.app_id, self.seed, now)
                if row is None:
                    raise TokenError("no OA token stored and ZALO_OA_REFRESH_TOKEN is not set")
                mask(row.access_token, row.refresh_token)
                if row.access_token != stale and self._fresh(row.access_token, row.expires_at, now):
                    return self._remember(row)
                answer = await self._call_oauth(row.refresh_token)
                mask(str(answer["access_token"]), str(answer["refresh_token"]))
                zalo_tokens.replace(
                    row, answer["access_token"], answer["refresh_token"], float(answer["expires_in"]), now
                )
                token = self._remember(row)
            log.info("zalo oa: access token refreshed, valid until %s", row.expires_at.isoformat(timespec="minutes"))
            return token

    async def _call_oauth(self, refresh_token: str) -> dict[str, Any]:
        self.refreshes += 1
        url = f"{self.settings.zalo_oauth_base_url}{TOKEN_PATH}"
        assert self.settings.zalo_oa_app_secret is not None
        try:
            async with self.http().post(
                url,
                headers={"secret_key": self.settings.zalo_oa_app_secret.reveal()},
                data={"refresh_token": refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"},
                timeout=aiohttp.ClientTimeout(total=20),
            ) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise TokenError(f"OAuth endpoint unreachable: {exc!r}") from exc
        # Zalo answers failures with HTTP 200 too; only a body with the new pair is success.
        if status != 200 or not isinstance(body, dict) or not body.get("access_token") or not body.get("refresh_token"):
            detail = body if isinstance(body, dict) else {}
            log.error(
                "zalo oa: token refresh refused (HTTP %s, error %s %s: %s)",
                status,
                detail.get("error"),
                detail.get("error_name"),
                detail.get("error_description"),
            )
            raise TokenError(f"refresh refused: HTTP {status}, error {detail.get('error')}")
        return body
