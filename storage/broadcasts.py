"""Announcements to the citizens of a unit: who receives them, and the record of each one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import record
from storage.models import Account, Broadcast, Commune, OutboxMessage, User, utcnow
from storage.units import unit_level

MAX_TEXT = 1500


def audience(unit_code: str, channels: list[str]) -> Select:
    """(account id, channel, chat id) of everyone who talked to the bot on these channels, lives
    in the unit (their commune, as they told it), has not opted out (/ngung) nor blocked the bot."""
    stmt = (
        select(Account.id, Account.channel, Account.chat_id)
        .join(User, User.id == Account.user_id)
        .where(
            Account.channel.in_(channels),
            Account.blocked_at.is_(None),
            User.opted_out_at.is_(None),
            User.erased_at.is_(None),
            User.commune_code.is_not(None),
        )
    )
    level = unit_level(unit_code)
    if level == "commune":
        stmt = stmt.where(User.commune_code == unit_code)
    elif level == "district":
        stmt = stmt.join(Commune, Commune.code == User.commune_code).where(Commune.district_code == unit_code)
    elif level == "province":
        stmt = stmt.join(Commune, Commune.code == User.commune_code).where(Commune.province_code == unit_code)
    return stmt.order_by(Account.id)


async def audience_size(session: AsyncSession, unit_code: str, channels: list[str]) -> int:
    return await session.scalar(select(func.count()).select_from(audience(unit_code, channels).subquery())) or 0


async def create(session: AsyncSession, unit_code: str, text: str, *, by: int | None, source: str) -> Broadcast:
    """The announcement's record (its copies are queued by the engine in the same transaction)."""
    row = Broadcast(unit_code=unit_code, text=text[:MAX_TEXT], created_by=by, created_at=utcnow(), recipients=0)
    session.add(row)
    await session.flush()
    await record(session, "broadcast", actor=by, source=source, unit_code=unit_code, broadcast_id=row.id, text=row.text)
    return row


async def queue_copies(
    session: AsyncSession, broadcast_id: int, unit_code: str, bodies: dict[str, dict[str, Any]]
) -> int:
    """Queue the announcement's copies, one per recipient account, with the body rendered for its
    channel (channel → body), in the caller's transaction; the (broadcast, account) unique key
    means nobody gets it twice. Returns how many, also recorded on the broadcast."""
    total = 0
    now = utcnow()
    for channel, body in bodies.items():
        recipients = (await session.execute(audience(unit_code, [channel]))).all()
        for start in range(0, len(recipients), 1000):  # bounded statements for a province's audience
            rows = [
                {
                    "channel": channel,
                    "chat_id": chat_id,
                    "body": body,
                    "account_id": account_id,
                    "broadcast_id": broadcast_id,
                    "created_at": now,
                    "next_attempt_at": now,
                    "attempts": 0,
                }
                for account_id, _, chat_id in recipients[start : start + 1000]
            ]
            await session.execute(insert(OutboxMessage), rows)
        total += len(recipients)
    await session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(recipients=total))
    return total
