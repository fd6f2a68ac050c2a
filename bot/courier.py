"""Sends the outbox: in order per chat, retried with back-off, never to someone who blocked the bot.

At least once: a message is marked sent after the messenger's answer, so one that was on its
way when its worker died (sent again when the lease runs out) or whose answer came after the
time-out (retried) can reach the person twice; the Bot API has no idempotency key to prevent it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.background import repeat
from bot.channels.base import Channel, OutMessage, SendBlocked, SendFailed, SendRetry
from storage import updates
from storage.db import is_infrastructure_error, single_statements
from storage.updates import Delivery, Queued

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)  # a worker that dies mid-send frees its rows after this (OUTBOX_LEASE_SECONDS)
MAX_ATTEMPTS = 8


def backoff(attempts: int, retry_after: float | None) -> dt.timedelta:
    """The messenger's own retry_after when it gives one; else 1, 2, 4 ... 300 s with jitter."""
    if retry_after is not None:
        return dt.timedelta(seconds=retry_after)
    base = min(300.0, 2.0 ** max(0, attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


SWEEP_BATCH = 100
# How long a stop (or a test) waits for the sends under way (see Courier.drain).
DRAIN_TIMEOUT = 30.0
# A pass hands over to the next when this many of its chats are still being sent to.
SWEEP_TAIL = 30


class Courier:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: dict[str, Channel],
        *,
        sends_broadcasts: bool = True,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.sessions = sessions
        # Where a claim or a "sent" mark goes, one statement each: on PostgreSQL in autocommit.
        self.single_statements = single_statements(sessions.kw["bind"])
        self.channels = channels
        self.lease = lease
        # Of several workers one at a time sends announcements (the holder of a lease, see
        # bot/coordination.py): more would only queue for the same shared send budget, and an
        # announcement would crowd out the replies of every worker instead of one.
        self.sends_broadcasts = sends_broadcasts
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        # Sent while the database was away, not yet marked: id → (its content key, to be
        # forgotten instead: the farewell to an erased person, see OutboxMessage.forget_when_settled).
        self._unmarked: dict[int, tuple[str | None, bool]] = {}
        self._chat_locks: dict[tuple[str, str], list] = {}  # chat: [lock, deliveries using it]
        # "Sent" marks waiting for the one on its way to the database, each with its sender's
        # future (see _mark_sent), and whether one is on its way.
        self._marks: list[tuple[list[tuple[int, str | None, bool]], asyncio.Future[None]]] = []
        self._marking = False

    def send_broadcasts(self, on: bool) -> None:
        """Start (at once) or stop sending announcements, as this worker gains or loses their lease."""
        self.sends_broadcasts = on
        if on:
            self._wake.set()

    async def deliver(self, ids: Iterable[int | Queued]) -> None:
        """Send these outbox rows now, and whatever else waits for their chats, in order.

        One delivery at a time per chat in this process: a row another delivery could not send
        yet (its chat's earlier message was still on its way) goes with the next delivery
        for that chat instead of waiting for the sweep.

        Rows just queued (Queued: their chat known) are claimed and sent as they are,
        without first reading their chat's queue: the claim itself refuses a row behind an
        earlier unsent message to the same chat, and then the chat's queue is read and sent
        in order, as for any other delivery.
        """
        items = list(ids)
        if not items:
            return
        just_queued = [i for i in items if isinstance(i, Queued)]
        if len(just_queued) == len(items):
            fresh: dict[tuple[str, str], list[Queued]] = {}
            for queued in sorted(just_queued, key=lambda q: q.id):
                fresh.setdefault((queued.channel, queued.chat_id), []).append(queued)
            for (channel, chat_id), rows in fresh.items():
                await self._deliver_chat(channel, chat_id, rows)
            return
        plain = [i.id if isinstance(i, Queued) else i for i in items]
        async with self.sessions() as db:
            chats = list(dict.fromkeys((channel, chat_id) for _, channel, chat_id in await updates.describe(db, plain)))
        for chat in chats:
            await self._deliver_chat(*chat)

    async def _deliver_chat(self, channel: str, chat_id: str, rows: list[Queued] | None = None) -> None:
        """Send a chat's due messages in order; `rows`: only these (just queued), in order."""
        if not self._reaches(channel, chat_id):
            # Another process holds this chat (a second terminal): its courier sends these.
            await self._release(rows or [])
            return
        key = (channel, chat_id)
        # The chat's lock, with the number of deliveries holding or awaiting it: forgotten when
        # the last one is done, not when the lock is merely free (a woken waiter has not taken it
        # yet, and a new delivery must queue behind it rather than get a lock of its own).
        entry = self._chat_locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                if rows is not None and await self._send_in_turn(rows):
                    return
                async with self.sessions() as db:
                    queue = await updates.pending_for_chat(db, channel, chat_id, self.sends_broadcasts)
                for message_id in queue:
                    if not await self._send_one(message_id):
                        self._wake.set()  # the sweep takes over the rest, in order
                        return
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._chat_locks[key]

    async def _release(self, rows: list[Queued]) -> None:
        """Give up the leases these rows were queued with, for the sweep to send them in turn."""
        leased = [q.id for q in rows if q.leased is not None]
        if leased:
            async with self.single_statements.begin() as conn:
                await updates.release(conn, leased)

    async def _send_in_turn(self, rows: list[Queued]) -> bool:
        """Send these rows in order; False as soon as one is not its turn yet (the chat's queue
        must be read and sent in order), True when done (or a failed one left to the sweep).

        An update's replies go out one after the other and are marked sent together, in one
        statement, once the last has gone (or one failed): a statement less per further reply.
        The price: a crash between two of these sends repeats the earlier ones, which a crash
        between a send and its own mark does anyway (at least once)."""
        sent_ones: list[tuple[int, str | None, bool]] = []
        try:
            for n, queued in enumerate(rows):
                sent = await self._send_one(queued.leased or queued.id, sent_ones)
                if sent is None:
                    return False
                if not sent:
                    # The sweep takes over the rest, in order: the replies queued leased to this
                    # worker along with this one must not wait for their lease to run out.
                    await self._release(rows[n + 1 :])
                    self._wake.set()
                    return True
            return True
        finally:
            await self._mark_sent(sent_ones)

    def _reachable(self) -> dict[str, frozenset[str]]:
        """The channels that reach only some of their chats, with those chats (see Channel.chats)."""
        return {
            name: frozenset(chats) for name, channel in self.channels.items() if (chats := channel.chats) is not None
        }

    def _reaches(self, channel: str, chat_id: str) -> bool:
        messenger = self.channels.get(channel)
        chats = messenger.chats if messenger is not None else None
        return chats is None or chat_id in chats

    def deliver_soon(self, ids: Sequence[int | Queued]) -> None:
        """Deliver in the background (a webhook answers at once; the send follows)."""
        if not ids:
            return
        task = asyncio.create_task(self._deliver_logged(ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_logged(self, ids: Sequence[int | Queued]) -> None:
        try:
            await self.deliver(ids)
        except Exception as exc:  # the database went away mid-send: the sweep takes over later
            log.warning("delivery of outbox %s interrupted: %s", ids, exc)

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait for background deliveries (shutdown, tests). Any still under way after `timeout`
        seconds is cancelled and logged with where it waits: its row stays leased, and is sent
        again once the lease runs out, so a stop never hangs on one stuck send."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                stuck = list(self._tasks)
                where = ["; ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in t.get_stack()) for t in stuck]
                log.warning("%d deliveries still under way after %.0f s, cancelled: %s", len(stuck), timeout, where)
                for task in stuck:
                    task.cancel()
                await asyncio.gather(*stuck, return_exceptions=True)
                break
            await asyncio.wait(list(self._tasks), timeout=remaining)
        try:
            await self.mark_unmarked()
        except Exception as exc:  # still away: those may be sent again after the lease
            log.warning("outbox %s could not be marked sent: %s", sorted(self._unmarked), exc)

    async def _send_one(
        self, message: int | Delivery, sent_ones: list[tuple[int, str | None, bool]] | None = None
    ) -> bool | None:
        """Send an outbox row by id (claimed first), or one queued already leased to this worker
        (updates.queue_replies). True: sent or settled, go on with the chat's next; False: to be
        retried later; None: not claimed (leased elsewhere, or behind an unsent message).
        With `sent_ones`, a sent row is added to it for the caller to mark (`_mark_sent`)."""
        if isinstance(message, Delivery):
            row = message
        else:
            async with self.single_statements.begin() as conn:
                claimed = await updates.claim(conn, message, self.lease)
                if claimed is None:
                    # Sent already: go on. Leased elsewhere, or behind an unsent message: the
                    # sweep sends it once its turn comes.
                    return True if await updates.is_settled(conn, message) else None
            row = claimed
        forget, key = row.forget_when_settled, row.key
        channel = self.channels.get(row.channel)
        if channel is None:
            log.warning("no channel %r configured; outbox %s waits", row.channel, row.id)
            async with self.sessions() as db, db.begin():
                await updates.mark_retry(db, row.id, dt.timedelta(minutes=10), "channel not configured")
            return False
        try:
            await channel.send(row.chat_id, OutMessage.from_body(row.body), row.attachment)
        except SendBlocked as exc:
            metrics.send_outcome(row.channel, exc)
            log.info("%s chat blocked the bot; outbox %s dropped", row.channel, row.id)
            async with self.sessions() as db, db.begin():
                await updates.mark_blocked(db, row.channel, row.chat_id)
            return True
        except SendFailed as exc:
            metrics.send_outcome(row.channel, exc)
            log.warning("outbox %s refused by %s: %s", row.id, row.channel, exc)
            async with self.sessions() as db, db.begin():
                await updates.mark_failed(db, row.id, str(exc), forget=forget)
            return True
        except (TimeoutError, SendRetry) as exc:
            metrics.send_outcome(row.channel, exc)
            retry_after = getattr(exc, "retry_after", None)
            async with self.sessions() as db, db.begin():
                if row.attempts >= MAX_ATTEMPTS:
                    log.warning("outbox %s gave up after %s attempts: %s", row.id, row.attempts, exc)
                    await updates.mark_failed(db, row.id, f"gave up: {exc}", forget=forget)
                    return True
                await updates.mark_retry(db, row.id, backoff(row.attempts, retry_after), str(exc))
            log.info("outbox %s will be retried: %s", row.id, exc)
            return False
        except Exception as exc:
            # A bug in a channel must not kill the courier; keep the row for a later retry.
            metrics.send_outcome(row.channel, exc)
            log.exception("unexpected error sending outbox %s", row.id)
            async with self.sessions() as db, db.begin():
                await updates.mark_retry(db, row.id, backoff(row.attempts, None), "unexpected error")
            return False
        metrics.send_outcome(row.channel)
        if sent_ones is not None:
            sent_ones.append((row.id, key, forget))
        else:
            await self._mark_sent([(row.id, key, forget)])
        return True

    async def _mark_sent(self, sent_ones: list[tuple[int, str | None, bool]]) -> None:
        """Mark these rows (id, content key, forget) sent; returns once they are marked.

        Marks asked for while another statement of marks is on its way to the database wait
        for it, then go together in the next one (as a database's group commit): under load one
        statement marks the replies of several chats, and none waits longer than one statement.
        Each sender still goes on only once its own rows are marked (the chat's next message is
        claimed behind them)."""
        if not sent_ones:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((sent_ones, future))
        if not self._marking:
            await self._write_marks_waiting(until=future)
        await future

    async def _write_marks_waiting(self, until: asyncio.Future[None] | None = None) -> None:
        """Write the waiting marks, a statement for all those waiting at a time, until none waits
        or `until` (the caller's own marks) is done: a sender holds its chat's turn, so the marks
        asked for after its own are left to a task of their own."""
        self._marking = True
        batch: list[tuple[list[tuple[int, str | None, bool]], asyncio.Future[None]]] = []
        try:
            while self._marks and not (until is not None and until.done()):
                batch, self._marks = self._marks, []
                try:
                    await self._write_marks([one for ones, _ in batch for one in ones])
                except Exception as exc:
                    for _, waiting in batch:
                        if not waiting.done():
                            waiting.set_exception(exc)
                else:
                    for _, waiting in batch:
                        if not waiting.done():
                            waiting.set_result(None)
                batch = []
        finally:
            for _, waiting in batch:  # cancelled while writing them: so are those senders
                waiting.cancel()
            # The marks asked for meanwhile are written by a task of their own.
            self._marking = bool(self._marks)
            if self._marking:
                task = asyncio.create_task(self._write_marks_waiting())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _write_marks(self, sent_ones: list[tuple[int, str | None, bool]]) -> None:
        """Mark these rows (id, content key, forget) sent: several in one statement."""
        together = [message_id for message_id, _, forget in sent_ones if not forget]
        try:
            async with self.single_statements.begin() as conn:
                if len(together) > 1:
                    await updates.mark_sent_together(conn, together)
                for message_id, key, forget in sent_ones:
                    if forget or len(together) == 1:
                        await updates.mark_sent(conn, message_id, key, forget=forget)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            # Sent, but the database is away: marked from memory as soon as it answers again,
            # instead of being sent a second time when the row's lease runs out (and holding the
            # chat's later messages back until then).
            log.warning("outbox %s sent, its mark waits for the database: %s", [m for m, _, _ in sent_ones], exc)
            for message_id, key, forget in sent_ones:
                self._unmarked[message_id] = (key, forget)
            self._wake.set()

    async def mark_unmarked(self) -> None:
        """Mark sent what went out while the database was away (see _send_one)."""
        if not self._unmarked:
            return
        ids = sorted(self._unmarked)
        async with self.single_statements.begin() as conn:
            for message_id in ids:
                key, forget = self._unmarked[message_id]
                await updates.mark_sent(conn, message_id, key, forget=forget)
        for message_id in ids:
            del self._unmarked[message_id]
        log.info("outbox %s marked sent after the database came back", ids)

    async def sweep(self, tail: int = 0) -> int:
        """One pass: for every chat whose oldest unsent message is due, send its queue in order.

        Returns once all but `tail` of those chats are done; the rest finish in the background
        (`drain` waits for them). The background sweep hands over early, so that the next pass
        claims its rows while they go out and a rate-limited channel never idles between passes."""
        async with self.sessions() as db:
            due = await updates.due(db, SWEEP_BATCH, self.sends_broadcasts, self._reachable())
            heads = await updates.describe(db, due)
        if not heads:
            return 0
        pending = set()
        for _, channel, chat_id in heads:
            task = asyncio.create_task(self._deliver_chat_logged(channel, chat_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            pending.add(task)
        while len(pending) > tail:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        return len(heads)

    async def _deliver_chat_logged(self, channel: str, chat_id: str) -> None:
        try:
            await self._deliver_chat(channel, chat_id)
        except Exception as exc:  # the database went away mid-send: a later sweep takes over
            log.warning("delivery to %s chat %s interrupted: %s", channel, chat_id, exc)

    async def run(self, interval: float = 2.0) -> None:
        """The background sweep: wakes every `interval` seconds, or at once after a failed send."""

        async def one_pass() -> None:
            await self.mark_unmarked()
            if await self.sweep(tail=SWEEP_TAIL) >= SWEEP_BATCH:
                self._wake.set()  # more waiting (an announcement going out): straight on

        await repeat(one_pass, self._wake, interval, "outbox sweep")
