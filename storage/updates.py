"""Exactly-once handling: which updates were processed, and the outbox of rendered messages."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import claim_row, claim_statement, dialect_insert
from storage.models import Account, OutboxMessage, ProcessedUpdate, utcnow


async def mark_processed(session: AsyncSession, channel: str, update_id: str) -> bool:
    """Record the update as handled; False when it already was (a retried webhook, a replay)."""
    stmt = (
        dialect_insert(session, ProcessedUpdate)
        .values(channel=channel, update_id=update_id, processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
    )
    result = await session.execute(stmt)
    return result.rowcount == 1


class Queued(int):
    """An outbox row's id that also knows its chat (a reply just queued): the courier can go
    straight to sending it, without looking the row up first."""

    channel: str
    chat_id: str

    def __new__(cls, message_id: int, channel: str, chat_id: str) -> "Queued":
        queued = super().__new__(cls, message_id)
        queued.channel, queued.chat_id = channel, chat_id
        return queued


def queued(rows: Sequence[OutboxMessage]) -> list[int]:
    """The ids of rows just added (and flushed), each with its chat."""
    return [Queued(row.id, row.channel, row.chat_id) for row in rows]


def queue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    body: dict[str, Any],
    account_id: int | None,
    update_id: str | None,
    attachment: bytes | None = None,
) -> OutboxMessage:
    row = OutboxMessage(
        channel=channel,
        chat_id=chat_id,
        body=body,
        account_id=account_id,
        update_id=update_id,
        attachment=attachment,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
        attempts=0,
    )
    session.add(row)
    return row


async def unsent_for_update(session: AsyncSession, channel: str, update_id: str) -> list[int]:
    stmt = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.update_id == update_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .order_by(OutboxMessage.id)
    )
    return list((await session.scalars(stmt)).all())


# No earlier conversation message to the same chat is unsent. Announcements neither wait nor
# hold anyone up: a reply must not queue behind a 10,000-person broadcast.
_EARLIER = aliased(OutboxMessage)
_NO_EARLIER_UNSENT = or_(
    OutboxMessage.broadcast_id.is_not(None),
    ~exists().where(
        _EARLIER.channel == OutboxMessage.channel,
        _EARLIER.chat_id == OutboxMessage.chat_id,
        _EARLIER.id < OutboxMessage.id,
        _EARLIER.sent_at.is_(None),
        _EARLIER.failed_at.is_(None),
        _EARLIER.broadcast_id.is_(None),
    ),
)
_CLAIM = claim_statement(
    OutboxMessage, OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None), _NO_EARLIER_UNSENT
)


async def claim(session: AsyncSession, message_id: int, lease: dt.timedelta) -> OutboxMessage | None:
    """Take one outbox row for sending, unless it is sent, failed, leased by another worker, or
    an earlier message to the same chat is still unsent (messages keep their order)."""
    return await claim_row(session, _CLAIM, message_id, lease)


async def is_settled(session: AsyncSession, message_id: int) -> bool:
    """Sent or given up: nothing more to do for this row."""
    row = await session.get(OutboxMessage, message_id, populate_existing=True)
    return row is None or row.sent_at is not None or row.failed_at is not None


async def pending_for_chat(
    session: AsyncSession, channel: str, chat_id: str, broadcasts: bool = True
) -> list[int]:
    """A chat's unsent messages in order; without `broadcasts`, its announcements are left to
    the worker that sends them (one sender keeps them under the messenger's rate limit)."""
    stmt = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at <= utcnow(),
        )
        .order_by(OutboxMessage.id)
    )
    if not broadcasts:
        stmt = stmt.where(OutboxMessage.broadcast_id.is_(None))
    return list((await session.scalars(stmt)).all())


async def due(session: AsyncSession, limit: int = 100, broadcasts: bool = True) -> Sequence[int]:
    """Outbox rows whose time has come: never sent, or a retry after a failure or a crash.

    A row waits while an earlier row for the same chat is unsent, so messages keep their order.
    Without `broadcasts`, announcements are left to the worker that sends them.
    """
    now = utcnow()
    stmt = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            _NO_EARLIER_UNSENT,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if not broadcasts:
        stmt = stmt.where(OutboxMessage.broadcast_id.is_(None))
    return (await session.scalars(stmt)).all()


async def describe(session: AsyncSession, ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(id, channel, chat_id) of outbox rows, in id order."""
    stmt = (
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.chat_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def mark_sent(session: AsyncSession, message_id: int) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(sent_at=utcnow(), claimed_until=None, attachment=None, last_error=None)
    )


async def mark_retry(session: AsyncSession, message_id: int, delay: dt.timedelta, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(next_attempt_at=utcnow() + delay, claimed_until=None, last_error=error[:300])
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(failed_at=utcnow(), claimed_until=None, attachment=None, last_error=error[:300])
    )


async def mark_blocked(session: AsyncSession, channel: str, chat_id: str) -> None:
    """The person blocked the bot: remember it, and drop what was still queued for them."""
    now = utcnow()
    await session.execute(
        update(Account)
        .where(Account.channel == channel, Account.chat_id == chat_id, Account.blocked_at.is_(None))
        .values(blocked_at=now)
    )
    await session.execute(
        update(OutboxMessage)
        .where(
            and_(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id),
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .values(failed_at=now, attachment=None, last_error="blocked by the user")
    )
