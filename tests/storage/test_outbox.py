"""The outbox and the courier: order per chat, retries with back-off, leases, blocked users."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from bot.channels.base import OutMessage, SendBlocked, SendFailed, SendRetry
from bot.courier import Courier
from handlers.context import Capabilities
from storage import updates
from storage.accounts import created_here, open_account, open_update
from storage.models import Account, OutboxMessage, User, utcnow
from tests.harness import InProcessChannel, statements_run


class FlakyChannel(InProcessChannel):
    name = "test"
    capabilities = Capabilities()

    def __init__(self):
        self.sent: list[tuple[str, str]] = []
        self.failures: list[Exception] = []

    async def send(self, chat_id, message, attachment):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, message.text))


async def _queue(sessions, texts, chat_id="c1", update_id="u1"):
    async with sessions() as db, db.begin():
        rows = [
            updates.queue(
                db,
                channel="test",
                chat_id=chat_id,
                body=OutMessage(text=x, key="k").to_body(),
                account_id=None,
                update_id=update_id,
            )
            for x in texts
        ]
        await db.flush()
        return [r.id for r in rows]


async def test_processed_mark_is_once(sessions):
    async with sessions() as db, db.begin():
        assert await updates.mark_processed(db, "telegram", "1")
        assert not await updates.mark_processed(db, "telegram", "1")
        assert await updates.mark_processed(db, "zalo", "1")


async def test_messages_go_out_in_order_and_once(sessions):
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    ids = await _queue(sessions, ["a", "b", "c"])
    await asyncio.gather(courier.deliver(ids), courier.deliver(ids), courier.sweep())
    assert channel.sent == [("c1", "a"), ("c1", "b"), ("c1", "c")]


async def test_fresh_replies_go_out_in_order_behind_earlier_ones(sessions):
    """Replies handed over with their chat (updates.Queued) skip reading the chat's queue, yet
    never overtake an earlier unsent message: the courier then sends the queue in order."""
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    earlier = await _queue(sessions, ["a", "b"])
    fresh = [updates.Queued(i, "test", "c1") for i in await _queue(sessions, ["c", "d"], update_id="u2")]
    other = [updates.Queued(i, "test", "c2") for i in await _queue(sessions, ["x"], chat_id="c2", update_id="u3")]
    await courier.deliver(fresh + other)
    assert channel.sent == [("c1", "a"), ("c1", "b"), ("c1", "c"), ("c1", "d"), ("c2", "x")]
    await courier.deliver(earlier + fresh)  # sent already: nothing twice
    assert len(channel.sent) == 5


async def test_a_fresh_reply_waits_behind_a_retry(sessions):
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    channel.failures = [SendRetry("429", retry_after=0)]
    await courier.deliver(await _queue(sessions, ["a"]))
    fresh = [updates.Queued(i, "test", "c1") for i in await _queue(sessions, ["b"], update_id="u2")]
    await courier.deliver(fresh)
    assert channel.sent == [("c1", "a"), ("c1", "b")]  # the retry was due: the queue, in order


@pytest.mark.parametrize("queued", ["queued", "replies held"])
async def test_a_retry_keeps_later_messages_waiting(sessions, queued):
    """Queued as any message, or as an update's replies leased at once (updates.queue_replies):
    "b" waits behind "a", and both are free for the sweep, not held for the lease."""
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    channel.failures = [SendRetry("429", retry_after=0)]
    ids = await (_queue if queued == "queued" else _replies)(sessions, ["a", "b"])
    await courier.deliver(ids)
    assert channel.sent == []  # "b" must not overtake "a"
    async with sessions() as db:
        first, second = (await db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert first.attempts == 1 and first.sent_at is None and first.last_error == "429"
        assert first.claimed_until is None and second.claimed_until is None
    await courier.sweep()
    assert channel.sent == [("c1", "a"), ("c1", "b")]


async def test_other_chats_are_not_held_up(sessions):
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    channel.failures = [SendRetry("timeout", retry_after=60)]
    a = await _queue(sessions, ["to-1"], chat_id="c1")
    b = await _queue(sessions, ["to-2"], chat_id="c2", update_id="u2")
    await courier.deliver(a)
    await courier.deliver(b)
    await courier.sweep()
    assert channel.sent == [("c2", "to-2")]


async def test_blocked_user_is_marked_and_skipped(sessions):
    async with sessions() as db, db.begin():
        account, _, _ = await open_account(db, "test", "u-9", "c9")
    channel = FlakyChannel()
    channel.failures = [SendBlocked("Forbidden: bot was blocked by the user")]
    courier = Courier(sessions, {"test": channel})
    ids = await _queue(sessions, ["a", "b"], chat_id="c9")
    await courier.deliver(ids)
    await courier.sweep()
    assert channel.sent == []
    async with sessions() as db:
        assert (await db.scalars(select(Account))).one().blocked_at is not None
        rows = (await db.scalars(select(OutboxMessage))).all()
        assert all(r.failed_at is not None and r.attachment is None for r in rows)


async def test_refused_message_is_not_retried(sessions):
    channel = FlakyChannel()
    channel.failures = [SendFailed("Bad Request: message text is empty")]
    courier = Courier(sessions, {"test": channel})
    ids = await _queue(sessions, ["a", "b"])
    await courier.deliver(ids)
    assert channel.sent == [("c1", "b")]


async def test_a_dead_workers_lease_expires(sessions):
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    (row_id,) = await _queue(sessions, ["a"])
    async with sessions() as db, db.begin():
        assert await updates.claim(db, row_id, dt.timedelta(seconds=60)) is not None  # then "crashes"
    await courier.sweep()
    assert channel.sent == []
    async with sessions() as db, db.begin():
        await db.execute(update(OutboxMessage).values(claimed_until=utcnow() - dt.timedelta(seconds=1)))
    await courier.sweep()
    assert channel.sent == [("c1", "a")]


async def test_gives_up_after_many_attempts(sessions):
    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    (row_id,) = await _queue(sessions, ["a"])
    async with sessions() as db, db.begin():
        await db.execute(update(OutboxMessage).values(attempts=8))
    channel.failures = [SendRetry("502")]
    await courier.deliver([row_id])
    async with sessions() as db:
        row = await db.get(OutboxMessage, row_id)
        assert row.failed_at is not None and "gave up" in row.last_error


async def test_marks_asked_for_at_once_go_together_and_each_sender_waits_for_its_own(sessions):
    """Chats sent to at the same time: their "sent" marks, asked for while another is on its way,
    go together in the next statement; every row ends marked once, with its own content key,
    and no delivery returns before its rows are marked."""
    ids = [(await _queue(sessions, [f"hello {n}"], chat_id=f"chat-{n}", update_id=f"u{n}"))[0] for n in range(12)]

    class TogetherChannel(FlakyChannel):
        """Answers each send once all of them were made: the marks are then asked for at once."""

        def __init__(self):
            super().__init__()
            self.all_sending = asyncio.Event()

        async def send(self, chat_id, message, attachment):
            await super().send(chat_id, message, attachment)
            if len(self.sent) == len(ids):
                self.all_sending.set()
            await self.all_sending.wait()

    courier = Courier(sessions, {"test": TogetherChannel()})
    unmarked_at_return = []

    async def deliver(message_id: int) -> None:
        await courier.deliver([message_id])
        async with sessions() as db:
            if (await db.get(OutboxMessage, message_id)).sent_at is None:
                unmarked_at_return.append(message_id)

    async with statements_run(sessions) as statements:
        await asyncio.gather(*(deliver(message_id) for message_id in ids))
    assert unmarked_at_return == []
    marks = [s for s in statements if s.startswith("UPDATE outbox SET") and "sent_at=" in s]
    assert 1 < len(marks) < len(ids)  # the first alone, the others waiting behind it together
    async with sessions() as db:
        rows = (await db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [(r.sent_at is not None, r.body) for r in rows] == [(True, {"key": "k"})] * len(ids)


async def test_a_sender_goes_on_once_its_own_marks_are_written(sessions):
    """Marks asked for while a sender's own are on their way are written by a task of their own:
    the sender, which holds its chat's turn, goes on without writing them."""
    first, second = [(await _queue(sessions, ["hi"], chat_id=f"chat-{n}", update_id=f"u{n}"))[0] for n in (1, 2)]
    courier = Courier(sessions, {"test": FlakyChannel()})
    write = courier._write_marks
    behind: list[asyncio.Task] = []
    writers: dict[int, asyncio.Task | None] = {}  # row: the task that wrote its mark

    async def writing(sent_ones):
        if not behind:  # another sender asks while these are on their way
            behind.append(asyncio.create_task(courier._mark_sent([(second, "k", False)])))
        await write(sent_ones)
        writers.update({message_id: asyncio.current_task() for message_id, _, _ in sent_ones})

    courier._write_marks = writing
    await courier._mark_sent([(first, "k", False)])
    await behind[0]
    await courier.drain()
    me = asyncio.current_task()
    assert writers[first] is me and writers[second] not in (me, behind[0])
    async with sessions() as db:
        assert [(await db.get(OutboxMessage, i)).sent_at is not None for i in (first, second)] == [True, True]


async def test_account_opened_once_under_concurrency(sessions):
    async def open_one():
        async with sessions() as db, db.begin():
            account, user, convo = await open_account(db, "test", "same", "same")
            return account.id

    ids = await asyncio.gather(*(open_one() for _ in range(5)))
    assert len(set(ids)) == 1
    async with sessions() as db:  # the workers that lost the race left no person behind
        assert await db.scalar(select(func.count()).select_from(User)) == 1


async def test_an_update_opens_its_account_once(sessions):
    """open_update: the processed mark and the account (a new person's, then the same again);
    a retried update opens nothing."""

    async def open_one(update_id: str):
        async with sessions() as db, db.begin():
            opened = await open_update(db, "test", update_id, "someone", "chat-1")
            return None if opened is None else (opened[0].id, opened[1].id, created_here(db, opened[0]))

    first = await open_one("1")
    assert first is not None and first[2]  # created by this update
    assert await open_one("1") is None
    again = await open_one("2")
    assert again == (first[0], first[1], False)


async def test_a_new_persons_updates_at_once_open_one_account(sessions):
    """Updates of someone never seen, handled at once (on PostgreSQL open_update inserts the
    person in its first statement): one person and one account; the updates that lost the race
    left no person behind, and only one of them is the person's first."""

    async def open_one(update_id: str):
        async with sessions() as db, db.begin():
            opened = await open_update(db, "test", update_id, "newcomer", "chat-9")
            assert opened is not None
            return opened[0].id, opened[1].id, created_here(db, opened[0])

    opened = await asyncio.gather(*(open_one(str(n)) for n in range(6)))
    assert len({(account, user) for account, user, _ in opened}) == 1
    assert sum(first for *_, first in opened) == 1
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 1


async def test_a_message_held_back_behind_one_being_sent_goes_out_when_that_one_is_done(sessions):
    """The person writes again while the previous reply is still being sent: the new reply waits
    for it (order per chat), then goes at once, not at the next periodic sweep."""

    class SlowChannel(FlakyChannel):
        def __init__(self):
            super().__init__()
            self.release = asyncio.Event()

        async def send(self, chat_id, message, attachment):
            if message.text == "first":
                await self.release.wait()
            await super().send(chat_id, message, attachment)

    channel = SlowChannel()
    courier = Courier(sessions, {"test": channel})
    sweeper = asyncio.create_task(courier.run(interval=3600))  # no periodic sweep in this test
    try:
        (first,) = await _queue(sessions, ["first"], update_id="u1")
        sending = asyncio.create_task(courier.deliver([first]))
        while not channel.release.is_set() and not sending.done():
            async with sessions() as db:
                row = await db.get(OutboxMessage, first)
            if row.claimed_until is not None:
                break
            await asyncio.sleep(0.01)
        (second,) = await _queue(sessions, ["second"], update_id="u2")
        behind = asyncio.create_task(courier.deliver([second]))  # waits: "first" is not sent yet
        await asyncio.sleep(0.2)
        assert channel.sent == [] and not behind.done()
        channel.release.set()
        await asyncio.wait_for(asyncio.gather(sending, behind), timeout=10)
        assert channel.sent == [("c1", "first"), ("c1", "second")]
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)


async def _replies(sessions, texts, chat_id="c1", update_id="u1", lease=dt.timedelta(seconds=60)):
    """An update's replies as the engine queues them (updates.queue_replies)."""
    async with sessions() as db, db.begin():
        return await updates.queue_replies(
            db,
            channel="test",
            chat_id=chat_id,
            messages=[(OutMessage(text=x, key=f"key-{x}").to_body(), None) for x in texts],
            account_id=None,
            update_id=update_id,
            lease=lease,
        )


async def test_replies_to_a_free_chat_are_queued_leased_and_sent_without_a_claim(sessions, db_engine):
    from sqlalchemy import event

    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    first = await _replies(sessions, ["a", "b"])
    assert [q.leased is not None for q in first] == [True, True] and [q.leased.attempts for q in first if q.leased] == [
        1,
        1,
    ]
    async with sessions() as db:
        rows = (await db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert all(r.claimed_until is not None and r.attempts == 1 for r in rows)  # another worker's sweep leaves them
        assert await updates.due(db) == []
    behind = await _replies(sessions, ["c", "e"], update_id="u2")  # "a" and "b" are not sent yet
    assert [q.leased is not None for q in behind] == [False, False]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])
    event.listen(db_engine.sync_engine, "before_cursor_execute", listener)
    try:
        await courier.deliver(first)
    finally:
        event.remove(db_engine.sync_engine, "before_cursor_execute", listener)
    assert channel.sent == [("c1", "a"), ("c1", "b")]
    # Both marked sent in one statement, nothing claimed; each keeps its own content key only.
    assert [s.split()[0] for s in statements if not s.startswith("BEGIN")] == ["UPDATE"]
    async with sessions() as db:
        sent = (await db.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_not(None)))).all()
        assert sorted((r.body["key"], r.body, r.claimed_until) for r in sent) == [
            ("key-a", {"key": "key-a"}, None),
            ("key-b", {"key": "key-b"}, None),
        ]
    await courier.deliver(behind)
    assert channel.sent == [("c1", "a"), ("c1", "b"), ("c1", "c"), ("c1", "e")]
    assert [q.leased is not None for q in await _replies(sessions, ["d"], update_id="u3")] == [True]  # free again
    other = await _replies(sessions, ["x"], chat_id="c2", update_id="u4")  # another chat is not held up
    assert [q.leased is not None for q in other] == [True]


async def test_one_delivery_at_a_time_per_chat(sessions):
    """A person writing again and again while their replies are still going out: each reply
    waits for the chat's previous delivery in this process, none is refused for being early (left
    to the periodic sweep, which this test does not run), and the chat's lock is forgotten after."""

    class SlowChannel(FlakyChannel):
        in_flight = 0
        most = 0

        async def send(self, chat_id, message, attachment):
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            await asyncio.sleep(0.003)
            self.in_flight -= 1
            await super().send(chat_id, message, attachment)

    channel = SlowChannel()
    courier = Courier(sessions, {"test": channel})
    texts = [str(n) for n in range(30)]
    for n, text_ in enumerate(texts):
        courier.deliver_soon(await _replies(sessions, [text_], update_id=f"u{n}"))
        await asyncio.sleep(0.001 * (n % 4))
    await courier.drain()
    assert channel.sent == [("c1", t) for t in texts]
    assert channel.most == 1 and courier._chat_locks == {}


async def test_a_reply_sent_while_the_database_is_away_is_marked_once_it_is_back(sessions, monkeypatch):
    """Telegram took the reply, then marking it sent failed: it is marked from memory when the
    database answers again, not sent a second time after its lease (nor holding the chat up)."""
    from sqlalchemy.exc import OperationalError

    channel = FlakyChannel()
    courier = Courier(sessions, {"test": channel})
    mark_sent = updates.mark_sent

    async def away(db, message_id, key, **_):
        raise OperationalError("UPDATE outbox", {}, ConnectionError("connection was closed"))

    monkeypatch.setattr(updates, "mark_sent", away)
    await courier.deliver(await _replies(sessions, ["a"]))
    assert channel.sent == [("c1", "a")]
    monkeypatch.setattr(updates, "mark_sent", mark_sent)
    later = await _replies(sessions, ["b"], update_id="u2")
    assert [q.leased is not None for q in later] == [False]  # "a" still looks unsent
    await courier.mark_unmarked()
    await courier.deliver(later)
    assert channel.sent == [("c1", "a"), ("c1", "b")]
    async with sessions() as db:
        assert all(r.sent_at is not None for r in (await db.scalars(select(OutboxMessage))).all())


async def test_a_stop_does_not_wait_forever_for_a_stuck_send(sessions, caplog):
    """A send that never returns (a messenger that keeps the connection open) is given up at the
    stop after the drain's time-out: the row stays unsent and leased, for another worker (or the
    next start) to send once the lease runs out."""

    class StuckChannel(FlakyChannel):
        async def send(self, chat_id, message, attachment):
            await asyncio.Event().wait()

    courier = Courier(sessions, {"test": StuckChannel()})
    (row_id,) = await _queue(sessions, ["stuck"])
    courier.deliver_soon([row_id])
    await asyncio.sleep(0.1)
    await asyncio.wait_for(courier.drain(timeout=0.3), timeout=5)
    assert not courier._tasks
    assert "deliveries still under way" in caplog.text
    async with sessions() as db:
        row = await db.get(OutboxMessage, row_id)
        assert row.sent_at is None and row.failed_at is None and row.claimed_until is not None
