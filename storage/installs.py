"""Self-reported installs: "I have installed it", counted once per person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.counters import as_date, bump, local_day_sql
from storage.db import dialect_insert, rows_changed, rows_of
from storage.models import SelfReportedInstall, utcnow
from texts.formats import local_date


async def report_install(session: AsyncSession, user_id: int, commune_code: str) -> bool:
    """Record the install; False when this person had already reported one (it is not counted twice)."""
    now = utcnow()
    stmt = (
        dialect_insert(session, SelfReportedInstall)
        .values(user_id=user_id, commune_code=commune_code, reported_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    if rows_changed(await session.execute(stmt)) != 1:
        return False
    await bump(session, commune_code, local_date(now), self_reported_installs=1)
    return True


async def reported_install(session: AsyncSession, user_id: int) -> SelfReportedInstall | None:
    stmt = select(SelfReportedInstall).where(SelfReportedInstall.user_id == user_id)
    return (await session.scalars(stmt)).one_or_none()


async def recount(session: AsyncSession) -> dict[tuple[str, dt.date], dict[str, int]]:
    """The self_reported_installs counter per commune and local day, from the raw rows."""
    day = local_day_sql(session, SelfReportedInstall.reported_at)
    stmt = select(SelfReportedInstall.commune_code, day, func.count()).group_by(SelfReportedInstall.commune_code, day)
    return {(code, as_date(d)): {"self_reported_installs": n} for code, d, n in rows_of(await session.execute(stmt))}
