"""The Zalo OA token pair in the database, read and replaced under a row lock."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.models import ZaloOaToken


def fingerprint(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


async def current(session: AsyncSession, app_id: str) -> ZaloOaToken | None:
    """The stored pair, unlocked (to use the access token)."""
    return await session.get(ZaloOaToken, app_id, populate_existing=True)


async def lock(session: AsyncSession, app_id: str, seed: str | None, now: dt.datetime) -> ZaloOaToken | None:
    """The stored pair, row-locked until the transaction ends: only one worker refreshes at a time.

    `seed` (ZALO_OA_REFRESH_TOKEN) starts the row, or replaces it when it differs from the one the
    row was started from: an admin re-authorised the app and gave a new refresh token. The row is
    then marked expired, so the caller refreshes with it at once.
    """
    if seed:
        # Creates the row if missing; two workers starting together both land on the one row.
        await session.execute(
            dialect_insert(session, ZaloOaToken)
            .values(app_id=app_id, access_token="", refresh_token=seed, expires_at=now, seeded_from=fingerprint(seed))
            .on_conflict_do_nothing(index_elements=["app_id"])
        )
    row = (
        await session.scalars(
            select(ZaloOaToken)
            .where(ZaloOaToken.app_id == app_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is not None and seed and row.seeded_from != fingerprint(seed):
        row.access_token, row.refresh_token, row.expires_at = "", seed, now
        row.seeded_from = fingerprint(seed)
    return row


def replace(row: ZaloOaToken, access_token: str, refresh_token: str, expires_in: float, now: dt.datetime) -> None:
    """Both tokens at once: the old refresh token is spent the moment Zalo answers."""
    row.access_token = access_token
    row.refresh_token = refresh_token
    row.expires_at = now + dt.timedelta(seconds=expires_in)
    row.refreshed_at = now
