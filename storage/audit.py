"""The audit log: officials' actions (targets, figures, grants, announcements, corrections)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Account, AuditEntry, Volunteer, utcnow


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor: int | None,
    source: str,
    unit_code: str | None = None,
    **details: Any,
) -> None:
    """One entry, written in the caller's transaction (so an action and its entry stand or fall together)."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_user_id=actor,
            source=source[:40],
            action=action,
            unit_code=unit_code,
            details={k: _plain(v) for k, v in details.items()},
        )
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


async def entries(session: AsyncSession, *, unit_code: str | None = None, limit: int = 50) -> list[AuditEntry]:
    """The latest entries first, optionally for one unit (its code exactly)."""
    stmt = select(AuditEntry)
    if unit_code:
        stmt = stmt.where(AuditEntry.unit_code == unit_code)
    return list((await session.scalars(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))).all())


async def people(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """The people named in entries as the bot knows them: a volunteer's registered name, otherwise
    their messenger account as `grant --user` takes it ("telegram:123"). An id with neither is absent."""
    if not user_ids:
        return {}
    named: dict[int, str] = {}
    accounts = await session.execute(
        select(Account.user_id, Account.channel, Account.external_id)
        .where(Account.user_id.in_(user_ids))
        .order_by(Account.id.desc())
    )
    for user_id, channel, external_id in accounts:
        named[user_id] = f"{channel}:{external_id}"  # the oldest account wins: it is read last
    volunteers = await session.execute(
        select(Volunteer.user_id, Volunteer.display_name)
        .where(Volunteer.user_id.in_(user_ids))
        .order_by(Volunteer.id.desc())
    )
    for user_id, display_name in volunteers:
        named[user_id] = display_name
    return named
