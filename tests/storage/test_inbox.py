"""The inbound event queue: stored once, handled in order per person, retried after an outage."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.inbox import Inbox, incoming_from_json, incoming_to_json
from handlers.types import Incoming, Kind, Location
from storage import inbox
from storage.models import InboundEvent


def message(user: str, n: int, text: str = "x") -> Incoming:
    return Incoming(channel="zalo_oa", user_id=user, update_id=f"{user}-{n}", kind=Kind.TEXT, chat_id=user, text=text)


async def test_events_are_stored_once_and_offered_in_order_per_person(sessions):
    handled: list[str] = []

    async def handle(msg: Incoming) -> None:
        handled.append(msg.update_id)

    queue = Inbox(sessions, handle)
    for n in range(3):
        assert await queue.accept(message("a", n))
    assert await queue.accept(message("b", 0))
    assert not await queue.accept(message("a", 0))  # a retried webhook: already queued
    async with sessions() as db:
        first = await inbox.due(db)
        offered = [(await db.get(InboundEvent, i)).update_id for i in first]
    assert offered == ["a-0", "b-0"]  # a-1 waits for a-0
    while await queue.handle_due():
        pass
    assert [h for h in handled if h.startswith("a")] == ["a-0", "a-1", "a-2"]
    assert sorted(handled) == ["a-0", "a-1", "a-2", "b-0"]
    async with sessions() as db:
        assert all(e.done_at is not None for e in (await db.scalars(select(InboundEvent))).all())


async def test_an_outage_is_retried_and_a_bug_is_not_retried_forever(sessions):
    calls: list[str] = []

    async def handle(msg: Incoming) -> None:
        calls.append(msg.update_id)
        if msg.update_id == "a-0" and calls.count("a-0") == 1:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database down"))
        if msg.update_id == "b-0":
            raise ValueError("a bug")

    queue = Inbox(sessions, handle)
    await queue.accept(message("a", 0))
    await queue.accept(message("a", 1))
    await queue.accept(message("b", 0))
    await queue.handle_due()
    assert calls == ["a-0", "b-0"]
    async with sessions() as db:
        waiting = (await db.scalars(select(InboundEvent).where(InboundEvent.update_id == "a-0"))).one()
        assert waiting.done_at is None and waiting.attempts == 1
        waiting.next_attempt_at = waiting.received_at  # its back-off has passed
        await db.commit()
    while await queue.handle_due():
        pass
    assert calls == ["a-0", "b-0", "a-0", "a-1"]  # a-1 only after a-0; b-0 (a bug) not again


@given(
    st.sampled_from(list(Kind)),
    st.none() | st.text(max_size=20),
    st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
)
def test_incoming_survives_the_queue(kind, text, location):
    msg = Incoming(
        channel="zalo_bot",
        user_id="u",
        update_id="1",
        kind=kind,
        text=text,
        chat_id="c",
        location=Location(*location) if location else None,
        payload="p:1",
    )
    assert incoming_from_json(incoming_to_json(msg)) == msg


async def test_what_is_queued_is_cleaned_first(sessions):
    """A NUL or a bidi override in what a person typed never reaches the stored event (PostgreSQL
    cannot store a NUL in text, and the event outlives the engine's own cleaning)."""

    async def handle(msg: Incoming) -> None:
        pass

    assert await Inbox(sessions, handle).accept(message("c", 0, text="Nh\x00à \u202eva\u0306n ho\u0301a"))
    async with sessions() as db:
        stored = (await db.scalars(select(InboundEvent))).one().incoming
    assert stored["text"] == "Nhà văn hóa"
