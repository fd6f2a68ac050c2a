"""Files kept for a while so a messenger can fetch them by URL (see bot/media.py for the signing)."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert, rows_changed
from storage.models import MediaFile


def media_id(data: bytes, channel: str, chat_id: str) -> str:
    """Same bytes for the same chat, same id: a retried send reuses the stored file instead of
    storing it again. Each recipient has their own copy, deleted if they erase their data."""
    return hashlib.sha256(f"{channel}\x00{chat_id}\x00".encode() + data).hexdigest()[:32]


async def keep(
    session: AsyncSession,
    data: bytes,
    mime_type: str,
    filename: str,
    now: dt.datetime,
    ttl: dt.timedelta,
    *,
    channel: str,
    chat_id: str,
) -> tuple[str, dt.datetime]:
    """Store `data` for that chat until now + ttl (extending an earlier copy's life); its id and expiry."""
    file_id = media_id(data, channel, chat_id)
    expires_at = now + ttl
    stmt = dialect_insert(session, MediaFile).values(
        id=file_id,
        channel=channel,
        chat_id=chat_id,
        data=data,
        mime_type=mime_type[:100],
        filename=filename[:200],
        created_at=now,
        expires_at=expires_at,
    )
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={"expires_at": stmt.excluded.expires_at})
    await session.execute(stmt)
    return file_id, expires_at


async def fetch(session: AsyncSession, file_id: str, now: dt.datetime) -> MediaFile | None:
    """The file, unless it is unknown or has expired."""
    row = await session.get(MediaFile, file_id)
    if row is None or row.expires_at <= now:
        return None
    return row


async def prune(session: AsyncSession, now: dt.datetime) -> int:
    """Forget expired files (the hourly housekeeping does; `fetch` already ignores them)."""
    result = await session.execute(delete(MediaFile).where(MediaFile.expires_at <= now))
    return rows_changed(result) or 0


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(MediaFile)) or 0
