"""Daily report subscriptions: who gets which unit's summary at which local hour, once a day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert, rows_changed
from storage.models import ReportSubscription, utcnow
from texts.formats import LOCAL_TIMEZONE


async def subscribe(session: AsyncSession, user_id: int, unit_code: str, hour: int, now: dt.datetime) -> None:
    """Subscribe (or move the hour); the first report comes at the next such hour."""
    if not 0 <= hour <= 23:
        raise ValueError("hour must be 0-23")
    local = now.astimezone(LOCAL_TIMEZONE)
    # Past today's hour already: start tomorrow rather than at once.
    last_sent = local.date() if hour <= local.hour else local.date() - dt.timedelta(days=1)
    stmt = dialect_insert(session, ReportSubscription).values(
        user_id=user_id, unit_code=unit_code, hour=hour, last_sent_on=last_sent, created_at=utcnow()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "unit_code"],
        set_={"hour": stmt.excluded.hour, "last_sent_on": stmt.excluded.last_sent_on},
    )
    await session.execute(stmt)


async def unsubscribe(session: AsyncSession, user_id: int, unit_code: str | None = None) -> int:
    stmt = delete(ReportSubscription).where(ReportSubscription.user_id == user_id)
    if unit_code:
        stmt = stmt.where(ReportSubscription.unit_code == unit_code)
    return rows_changed(await session.execute(stmt))


async def subscriptions_of(session: AsyncSession, user_id: int) -> list[ReportSubscription]:
    stmt = (
        select(ReportSubscription).where(ReportSubscription.user_id == user_id).order_by(ReportSubscription.unit_code)
    )
    return list((await session.scalars(stmt)).all())


async def due(session: AsyncSession, now: dt.datetime) -> list[int]:
    local = now.astimezone(LOCAL_TIMEZONE)
    stmt = select(ReportSubscription.id).where(
        ReportSubscription.hour <= local.hour,
        or_(ReportSubscription.last_sent_on.is_(None), ReportSubscription.last_sent_on < local.date()),
    )
    return list((await session.scalars(stmt)).all())


async def claim(session: AsyncSession, subscription_id: int, now: dt.datetime) -> ReportSubscription | None:
    """Mark today's report as sent, unless another worker did: one winner per day."""
    today = now.astimezone(LOCAL_TIMEZONE).date()
    result = await session.execute(
        update(ReportSubscription)
        .where(
            ReportSubscription.id == subscription_id,
            or_(ReportSubscription.last_sent_on.is_(None), ReportSubscription.last_sent_on < today),
        )
        .values(last_sent_on=today)
    )
    if rows_changed(result) != 1:
        return None
    return await session.get(ReportSubscription, subscription_id, populate_existing=True)
