"""Drives conversations through the real engine, router and courier with an in-process channel,
so flow tests assert on reply keys and stored rows, not on wording."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Hashable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from aiohttp import web
from sqlalchemy import event

from bot.channels.base import OutMessage
from handlers.context import Capabilities
from handlers.types import Incoming, Kind, Location

BUTTONS = Capabilities(buttons=True, url_buttons=True, edit=True, request_contact=True, request_location=True)
NO_BUTTONS = Capabilities(buttons=False, url_buttons=False, edit=False, max_text=2000)

_update_ids = itertools.count(1)


@dataclass
class Sent:
    chat_id: str
    message: OutMessage
    attachment: bytes | None


class InProcessChannel:
    """The rest of the channel contract (bot/channels/base.py) for channels that only send: no
    webhook, no public name, nothing to connect."""

    webhook_paths: ClassVar[tuple[str, ...]] = ()
    chats: frozenset[str] | None = None
    public_handle: str | None = None

    def deep_link(self, payload: str | None = None) -> str | None:
        return None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()


@dataclass
class RecordingChannel(InProcessChannel):
    name: str
    capabilities: Capabilities
    sent: list[Sent] = field(default_factory=list)

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        self.sent.append(Sent(chat_id, message, attachment))


class ChatDriver:
    """One person talking to the bot on one channel: each call returns the messages they got."""

    def __init__(self, service, user_id: str = "1001", channel: str = "test", caps: Capabilities = BUTTONS) -> None:
        self.service = service
        self.user_id = user_id
        if channel not in service.channels:
            service.add_channel(RecordingChannel(channel, caps))
        self.channel: RecordingChannel = service.channels[channel]
        self.last: list[OutMessage] = []

    async def _deliver(self, **fields) -> list[OutMessage]:
        fields.setdefault("update_id", f"u{next(_update_ids)}")
        incoming = Incoming(channel=self.channel.name, user_id=self.user_id, chat_id=self.user_id, **fields)
        return await self.deliver(incoming)

    async def deliver(self, incoming: Incoming) -> list[OutMessage]:
        before = len(self.channel.sent)
        ids = await self.service.engine.handle(incoming)
        await self.service.courier.deliver(ids)
        self.last = [s.message for s in self.channel.sent[before:] if s.chat_id == self.user_id]
        return self.last

    async def send(self, text: str, **fields) -> list[OutMessage]:
        return await self._deliver(kind=Kind.TEXT, text=text, **fields)

    async def press(self, payload: str, message_ref: str | None = "42", **fields) -> list[OutMessage]:
        return await self._deliver(kind=Kind.BUTTON, payload=payload, message_ref=message_ref, **fields)

    async def send_kind(self, kind: Kind, **fields) -> list[OutMessage]:
        return await self._deliver(kind=kind, **fields)

    async def send_location(self, lat: float, lon: float) -> list[OutMessage]:
        return await self._deliver(kind=Kind.LOCATION, location=Location(lat, lon))

    @property
    def keys(self) -> list[str]:
        return [m.key for m in self.last]

    def payloads(self, message: OutMessage | None = None) -> list[str]:
        messages = [message] if message else self.last
        return [b.payload for m in messages for row in m.buttons for b in row if b.payload]

    def urls(self) -> list[str]:
        return [b.url for m in self.last for row in m.buttons for b in row if b.url]

    def text(self) -> str:
        return "\n".join(m.text for m in self.last)


async def grant_role(service, external_id: str, role: str, unit_code: str, channel: str = "test") -> int:
    """Give a role to the person behind `channel:external_id` (created if new); their user id."""
    from storage import roles
    from storage.accounts import find_or_create_person

    async with service.sessions() as db, db.begin():
        person, _ = await find_or_create_person(db, channel, external_id)
        await roles.grant(db, person.id, roles.Role(role), unit_code)
        return person.id


def words_by_label(labels: dict[str, list[Hashable]], got: dict[str, list[str]]) -> dict[Hashable, str]:
    """The words each message was sent with, by a label the test gives its outbox rows (their
    content key, or their place in a script everyone followed). A sent row keeps its content key
    only (storage.updates.settled_body), so the words are learnt from the chats that got exactly as
    many messages as they have rows; each label must have had one wording."""
    words: dict[Hashable, set[str]] = {}
    for chat, chat_labels in labels.items():
        if len(got.get(chat, [])) == len(chat_labels):
            for label, text in zip(chat_labels, got[chat], strict=True):
                words.setdefault(label, set()).add(text)
    assert words and all(len(texts) == 1 for texts in words.values()), words
    return {label: texts.pop() for label, texts in words.items()}


@contextlib.contextmanager
def _recording(engine, moment: str) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, moment, record)
    try:
        yield statements
    finally:
        event.remove(engine, moment, record)


@contextlib.asynccontextmanager
async def statements_run(sessions) -> AsyncIterator[list[str]]:
    """The SQL statements the engine of `sessions` runs inside the block, in order: all of them,
    since while this listens storage.direct sends its statements through SQLAlchemy too."""
    async with sessions() as db:
        engine = db.bind.sync_engine
    with _recording(engine, "before_cursor_execute") as statements:
        yield statements


def statements_seen(engine) -> contextlib.AbstractContextManager[list[str]]:
    """The SQL statements SQLAlchemy's cursor runs on `engine` (an AsyncEngine) inside the block:
    those storage.direct sends to asyncpg directly are not among them, and still go there (it
    only steps aside for a listener of before_cursor_execute, as statements_run is)."""
    return _recording(engine.sync_engine, "after_cursor_execute")
