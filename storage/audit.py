"""The audit log: officials' actions (targets, figures, grants, announcements, corrections)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, utcnow


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
