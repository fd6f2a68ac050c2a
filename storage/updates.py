"""Exactly-once handling: which updates were processed, and the outbox of rendered messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from storage import direct
from storage.counters import with_pending_counters
from storage.db import INSERTS_ONLY, built_once, claim_row, claim_statement, dialect_insert, is_postgres, rows_changed
from storage.models import Account, OutboxMessage, ProcessedUpdate, utcnow

# The tables, for Core statements built once (the declarative attribute is typed as any FromClause).
_PROCESSED = cast(Table, ProcessedUpdate.__table__)
# How long processed marks are kept (housekeeping deletes older ones): an update delivered again
# within this window is recognised. Telegram retries a webhook for about a day, Zalo for 12 hours;
# older Zalo events are refused for their age (ZALO_EVENT_MAX_AGE_HOURS), which must stay shorter.
PROCESSED_KEPT_DAYS = 7


async def mark_processed(session: AsyncSession, channel: str, update_id: str) -> bool:
    """Record the update as handled; False when it already was (a retried webhook, a replay)."""
    stmt = built_once(
        session,
        "mark_processed",
        lambda: (
            dialect_insert(session, _PROCESSED)
            .values(
                channel=bindparam("p_channel", type_=_PROCESSED.c.channel.type),
                update_id=bindparam("p_update", type_=_PROCESSED.c.update_id.type),
                processed_at=bindparam("p_now", type_=_PROCESSED.c.processed_at.type),
            )
            .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        ),
    )
    result = await session.execute(stmt, {"p_channel": channel, "p_update": update_id, "p_now": utcnow()})
    return rows_changed(result) == 1


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row leased to this worker: what the courier sends, and how it settles it."""

    id: int
    channel: str
    chat_id: str
    body: dict[str, Any]
    attachment: bytes | None
    attempts: int  # counting this one
    forget_when_settled: bool

    @property
    def key(self) -> str | None:
        return self.body.get("key")


@dataclass(frozen=True, slots=True)
class Queued:
    """An outbox row just queued, with its chat: the courier can go straight to sending it,
    without looking the row up first. `leased`: it was queued already leased to this worker (its
    chat had nothing else waiting), with what to send; it goes out without a claim of its own."""

    id: int
    channel: str
    chat_id: str
    leased: Delivery | None = None


def queued(rows: Sequence[OutboxMessage]) -> list[Queued]:
    """Rows just added (and flushed), each with its chat."""
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
    about_user_id: int | None = None,
) -> OutboxMessage:
    """A message to send, added to the session (notices to others, daily reports)."""
    row = OutboxMessage(
        channel=channel,
        chat_id=chat_id,
        body=body,
        account_id=account_id,
        update_id=update_id,
        about_user_id=about_user_id,
        attachment=attachment,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
        attempts=0,
    )
    session.add(row)
    return row


_OUTBOX = cast(Table, OutboxMessage.__table__)
_BUSY = _OUTBOX.alias("busy")
# The chat already has a conversation message waiting (announcements do not count): a new reply
# must wait its turn behind it.
_CHAT_BUSY = exists().where(
    _BUSY.c.channel == bindparam("q_channel", type_=_OUTBOX.c.channel.type),
    _BUSY.c.chat_id == bindparam("q_chat", type_=_OUTBOX.c.chat_id.type),
    _BUSY.c.sent_at.is_(None),
    _BUSY.c.failed_at.is_(None),
    _BUSY.c.broadcast_id.is_(None),
)
_REPLY_VALUES = dict(
    channel=bindparam("q_channel", type_=_OUTBOX.c.channel.type),
    chat_id=bindparam("q_chat", type_=_OUTBOX.c.chat_id.type),
    body=bindparam("q_body", type_=_OUTBOX.c.body.type),
    attachment=bindparam("q_attachment", type_=_OUTBOX.c.attachment.type),
    account_id=bindparam("q_account", type_=_OUTBOX.c.account_id.type),
    update_id=bindparam("q_update", type_=_OUTBOX.c.update_id.type),
    created_at=bindparam("q_now", type_=_OUTBOX.c.created_at.type),
    next_attempt_at=bindparam("q_now", type_=_OUTBOX.c.next_attempt_at.type),
    forget_when_settled=bindparam("q_forget", type_=_OUTBOX.c.forget_when_settled.type),
)
_UNTIL = bindparam("q_until", type_=_OUTBOX.c.claimed_until.type)
# An update's first reply: leased to this worker at once, unless its chat is busy.
_FIRST_REPLY = (
    insert(_OUTBOX)
    .values(
        **_REPLY_VALUES, attempts=case((_CHAT_BUSY, 0), else_=1), claimed_until=case((_CHAT_BUSY, null()), else_=_UNTIL)
    )
    .returning(_OUTBOX.c.id, _OUTBOX.c.claimed_until, _OUTBOX.c.attempts)
)
# Its further replies follow the first: leased with it, or waiting with it.
_NEXT_REPLY = (
    insert(_OUTBOX)
    .values(**_REPLY_VALUES, attempts=bindparam("q_attempts", type_=_OUTBOX.c.attempts.type), claimed_until=_UNTIL)
    .returning(_OUTBOX.c.id, _OUTBOX.c.claimed_until)
)


async def queue_replies(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    messages: Sequence[tuple[dict[str, Any], bytes | None]],
    account_id: int | None,
    update_id: str | None,
    lease: dt.timedelta,
    forget: bool = False,
) -> list[Queued]:
    """Queue an update's replies (body, attachment) for its own chat, in the handler's transaction.

    When nothing else waits for that chat, they are queued already leased to this worker (`held`),
    so the courier sends them without a claim of its own (a transaction less per reply); when
    something does, they wait behind it and are claimed in turn as any other row. The person's
    account lock serialises their updates, so two replies cannot both find the chat free.

    On PostgreSQL the replies are one statement, which also adds the counters kept for COMMIT
    (`counters.with_pending_counters`): queuing its replies is the last thing an update does."""
    now = utcnow()
    out: list[Queued] = []
    held = False
    if messages and is_postgres(session):
        params: dict[str, Any] = {
            "q_channel": channel,
            "q_chat": chat_id,
            "q_account": account_id,
            "q_update": update_id,
            "q_now": now,
            "q_forget": forget,
            "q_until": now + lease,
        }
        for n, (body, attachment) in enumerate(messages):
            params |= {_nth("q_body", n): body, _nth("q_attachment", n): attachment}
        chain, params = with_pending_counters(session, ("replies", len(messages)), _reply_chain(len(messages)), params)
        row = (await direct.rows(session, chain, params))[0]
        held = row[-1] is not None
        return [
            Queued(
                row[n],
                channel,
                chat_id,
                Delivery(row[n], channel, chat_id, body, attachment, 1, forget) if held else None,
            )
            for n, (body, attachment) in enumerate(messages)
        ]
    for n, (body, attachment) in enumerate(messages):
        params = {
            "q_channel": channel,
            "q_chat": chat_id,
            "q_body": body,
            "q_attachment": attachment,
            "q_account": account_id,
            "q_update": update_id,
            "q_now": now,
            "q_forget": forget,
        }
        if n == 0:
            params["q_until"] = now + lease
            row = (await session.execute(_FIRST_REPLY, params)).one()
            held = row.claimed_until is not None
        else:
            params |= {"q_until": now + lease if held else None, "q_attempts": int(held)}
            row = (await session.execute(_NEXT_REPLY, params)).one()
        leased = Delivery(row.id, channel, chat_id, body, attachment, 1, forget) if held else None
        out.append(Queued(row.id, channel, chat_id, leased))
    return out


def _nth(name: str, n: int) -> str:
    """The name of the n-th reply's parameter in _reply_chain (the first's is _FIRST_REPLY's)."""
    return name if n == 0 else f"{name}_{n}"


_REPLY_CHAINS: dict[int, Any] = {}


def _reply_chain(count: int) -> Any:
    """PostgreSQL: an update's `count` replies in one statement (built once per count), for
    _FIRST_REPLY's parameters and q_body_N / q_attachment_N of the further ones. Each reply is
    inserted FROM the one before it, so that their ids keep their order and they take the first
    one's lease (or its wait). Returns their ids in order, then the first's lease (NULL: waiting)."""
    chain = _REPLY_CHAINS.get(count)
    if chain is not None:
        return chain
    returned = (_OUTBOX.c.id, _OUTBOX.c.claimed_until, _OUTBOX.c.attempts)
    links = [_FIRST_REPLY.cte("reply_0")]
    columns = list(_REPLY_VALUES)
    for n in range(1, count):
        before = links[-1]
        values = [
            bindparam(_nth(param.key, n) if param.key in ("q_body", "q_attachment") else param.key, type_=param.type)
            for param in _REPLY_VALUES.values()
        ]
        links.append(
            insert(_OUTBOX)
            .from_select(
                [*columns, "attempts", "claimed_until"],
                select(*values, before.c.attempts, before.c.claimed_until).select_from(before),
            )
            .returning(*returned)
            .cte(f"reply_{n}")
        )
    joined: Any = links[0]
    for link in links[1:]:
        joined = joined.join(link, true())
    chain = _REPLY_CHAINS[count] = (
        select(*(link.c.id for link in links), links[0].c.claimed_until)
        .select_from(joined)
        .execution_options(**{INSERTS_ONLY: True})
    )
    return chain


async def unsent_for_update(session: AsyncSession, channel: str, update_id: str) -> list[Queued]:
    """An update's messages still to send (its retry finds it handled: these are all it gets)."""
    stmt = (
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.chat_id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.update_id == update_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .order_by(OutboxMessage.id)
    )
    return [Queued(*row) for row in (await session.execute(stmt)).all()]


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


async def claim(db: AsyncSession | AsyncConnection, message_id: int, lease: dt.timedelta) -> Delivery | None:
    """Take one outbox row for sending, unless it is sent, failed, leased by another worker, or
    an earlier message to the same chat is still unsent (messages keep their order). One
    statement: the courier runs it outside a transaction where it can."""
    row = await claim_row(db, _CLAIM, message_id, lease)
    if row is None:
        return None
    return Delivery(row.id, row.channel, row.chat_id, row.body, row.attachment, row.attempts, row.forget_when_settled)


_SETTLED = select(_OUTBOX.c.sent_at, _OUTBOX.c.failed_at).where(_OUTBOX.c.id == bindparam("s_id"))


async def is_settled(db: AsyncSession | AsyncConnection, message_id: int) -> bool:
    """Sent or given up: nothing more to do for this row."""
    row = (await db.execute(_SETTLED, {"s_id": message_id})).one_or_none()
    return row is None or row.sent_at is not None or row.failed_at is not None


async def pending_for_chat(session: AsyncSession, channel: str, chat_id: str, broadcasts: bool = True) -> list[int]:
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


async def due(
    session: AsyncSession, limit: int = 100, broadcasts: bool = True, only: Mapping[str, Collection[str]] | None = None
) -> Sequence[int]:
    """Outbox rows whose time has come: never sent, or a retry after a failure or a crash.

    A row waits while an earlier row for the same chat is unsent, so messages keep their order.
    Without `broadcasts`, announcements are left to the worker that sends them. `only` limits a
    channel to some of its chats (channel → chat ids): a terminal process reaches only the people
    it holds, and leaves the others' messages to the process that holds them.
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
    for channel, chats in (only or {}).items():
        stmt = stmt.where(or_(OutboxMessage.channel != channel, OutboxMessage.chat_id.in_(list(chats))))
    return (await session.scalars(stmt)).all()


async def describe(session: AsyncSession, ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(id, channel, chat_id) of outbox rows, in id order."""
    stmt = (
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.chat_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    )
    return [(r.id, r.channel, r.chat_id) for r in (await session.execute(stmt)).all()]


def settled_body(body: dict[str, Any] | None) -> dict[str, Any]:
    """What a message keeps once sent or given up: its content key, not its words. The outbox is a
    queue, not an archive: a sent text may name other people (a coordinator told "approved: <name>"),
    or repeat what the person typed (a visit's summary), and none of it is needed any more."""
    return {"key": (body or {}).get("key")}


_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("m_id", type_=_OUTBOX.c.id.type))
    .values(
        sent_at=bindparam("m_now", type_=_OUTBOX.c.sent_at.type),
        claimed_until=None,
        attachment=None,
        last_error=None,
        body=bindparam("m_body", type_=_OUTBOX.c.body.type),
    )
)
_FORGET = delete(_OUTBOX).where(_OUTBOX.c.id == bindparam("m_id", type_=_OUTBOX.c.id.type))


async def mark_sent(
    session: AsyncSession | AsyncConnection, message_id: int, key: str | None, *, forget: bool = False
) -> None:
    """One statement: the courier runs it outside a transaction where it can (`storage.db.single_statements`).
    The row keeps its content `key` only (settled_body). With `forget` (the row's
    forget_when_settled: a farewell to someone who erased their data) it is deleted instead:
    nothing may remember whom it went to."""
    params = {"m_id": message_id, "m_now": utcnow(), "m_body": settled_body({"key": key})}
    if isinstance(session, AsyncConnection):
        await direct.run(session, _FORGET if forget else _MARK_SENT, params)
    else:
        await session.execute(_FORGET if forget else _MARK_SENT, params)


def _settled_in_place(dialect: str) -> Any:
    """settled_body in SQL, of each row's own body: what a row marked among others keeps."""
    if dialect == "postgresql":
        return func.json_build_object(literal("key"), _OUTBOX.c.body.op("->")(literal("key")))
    return func.json_object(literal("key"), func.json_extract(_OUTBOX.c.body, literal("$.key")))


_MARK_ALL_SENT = {
    dialect: update(_OUTBOX)
    .where(
        # PostgreSQL: one array parameter, so that one statement (prepared once) marks any number.
        _OUTBOX.c.id == any_(bindparam("m_ids", type_=postgresql.ARRAY(_OUTBOX.c.id.type)))
        if dialect == "postgresql"
        else _OUTBOX.c.id.in_(bindparam("m_ids", expanding=True))
    )
    .values(
        sent_at=bindparam("m_now", type_=_OUTBOX.c.sent_at.type),
        claimed_until=None,
        attachment=None,
        last_error=None,
        body=_settled_in_place(dialect),
    )
    for dialect in ("postgresql", "sqlite")
}


async def mark_sent_together(conn: AsyncConnection, message_ids: Sequence[int]) -> None:
    """mark_sent for several rows (an update's replies, sent one after the other) in one
    statement; each keeps its own content key. Not for rows to be forgotten."""
    await direct.run(conn, _MARK_ALL_SENT[conn.dialect.name], {"m_ids": list(message_ids), "m_now": utcnow()})


async def release(db: AsyncSession | AsyncConnection, ids: Sequence[int]) -> None:
    """Give up the lease of unsent rows, for the sweep to take them in turn."""
    await db.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(ids), _OUTBOX.c.sent_at.is_(None), _OUTBOX.c.failed_at.is_(None))
        .values(claimed_until=None)
    )


async def mark_retry(session: AsyncSession, message_id: int, delay: dt.timedelta, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(next_attempt_at=utcnow() + delay, claimed_until=None, last_error=error[:300])
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str, *, forget: bool = False) -> None:
    if forget:
        await session.execute(_FORGET, {"m_id": message_id})
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            failed_at=utcnow(), claimed_until=None, attachment=None, last_error=error[:300], body=settled_body(None)
        )
    )


async def mark_blocked(session: AsyncSession, channel: str, chat_id: str) -> None:
    """The person blocked the bot: remember it, and drop what was still queued for them."""
    now = utcnow()
    await session.execute(
        update(Account)
        .where(Account.channel == channel, Account.chat_id == chat_id, Account.blocked_at.is_(None))
        .values(blocked_at=now)
    )
    unsent = (
        and_(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id),
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
    )
    await session.execute(delete(OutboxMessage).where(*unsent, OutboxMessage.forget_when_settled.is_(True)))
    await session.execute(
        update(OutboxMessage)
        .where(*unsent)
        .values(failed_at=now, attachment=None, last_error="blocked by the user", body=settled_body(None))
    )


async def backlog(session: AsyncSession) -> list[tuple[str, int, dt.datetime]]:
    """Per channel, the messages not yet sent nor given up, and when the oldest of them was queued
    (the service's metrics, at every scrape: an index on sent_at keeps it to the unsent rows)."""
    stmt = (
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        .group_by(OutboxMessage.channel)
    )
    return [(channel, int(count), oldest) for channel, count, oldest in (await session.execute(stmt)).all()]
