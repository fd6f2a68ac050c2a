"""Handles accepted webhook events from the durable queue (storage/inbox.py).

A Zalo webhook answers as soon as its event is stored (Zalo wants an answer within 2 seconds and
retries, then disables, a slow webhook); the work follows here: the engine, then the replies
from the outbox. A person's events are handled one after the other, in the order they came; any
worker process may take any person's next event. The engine's own (channel, update_id) mark
makes handling exactly-once even if an event is taken again after a crash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import repeat
from bot.engine import cleaned
from handlers.types import Incoming, Kind, Location
from storage import inbox
from storage.db import is_infrastructure_error

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)  # a worker that dies mid-event frees it after this
MAX_ATTEMPTS = 10


def incoming_to_json(msg: Incoming) -> dict[str, Any]:
    data = dataclasses.asdict(msg)
    data["kind"] = msg.kind.value
    return data


def incoming_from_json(data: dict[str, Any]) -> Incoming:
    location = data.get("location")
    return Incoming(**{**data, "kind": Kind(data["kind"]), "location": Location(**location) if location else None})


class Inbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handle: Callable[[Incoming], Awaitable[None]],
        concurrency: int = 4,
    ) -> None:
        self.sessions = sessions
        self.handle = handle
        self.concurrency = concurrency
        self._wake = asyncio.Event()

    async def accept(self, incoming: Incoming) -> bool:
        """Store the event (committed when this returns); False if it was already there."""
        incoming = cleaned(incoming)
        async with self.sessions() as db, db.begin():
            new = await inbox.accept(
                db, incoming.channel, incoming.update_id, incoming.user_id, incoming_to_json(incoming)
            )
        if new:
            self._wake.set()
        return new

    async def run(self, interval: float = 2.0) -> None:
        """Handle what is due; then wait for a new event, or `interval` seconds (retries)."""
        await repeat(self.handle_due, self._wake, interval, "inbound queue pass")

    async def handle_due(self) -> int:
        """One pass: each person's first waiting event, a few at a time."""
        async with self.sessions() as db:
            ids = await inbox.due(db)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(event_id: int) -> None:
            async with gate:
                await self._handle_one(event_id)

        await asyncio.gather(*(one(i) for i in ids))
        if ids:
            self._wake.set()  # the next event of those people is due now
        return len(ids)

    async def _handle_one(self, event_id: int) -> None:
        async with self.sessions() as db, db.begin():
            row = await inbox.claim(db, event_id, LEASE)
        if row is None:
            return  # another worker has it, or it is done
        try:
            await self.handle(incoming_from_json(row.incoming))
        except Exception as exc:
            if is_infrastructure_error(exc) and row.attempts < MAX_ATTEMPTS:
                log.warning("inbound event %s/%s waits: %s", row.channel, row.update_id, exc)
                async with self.sessions() as db, db.begin():
                    await inbox.retry(db, event_id, dt.timedelta(seconds=min(300, 2**row.attempts)))
                return
            log.exception("inbound event %s/%s could not be handled", row.channel, row.update_id)
        async with self.sessions() as db, db.begin():
            await inbox.finish(db, event_id)
