"""The engine under concurrency: what a worker does once however many updates arrive at once."""

from __future__ import annotations

import asyncio

from storage.units import CommuneIndex
from tests.harness import ChatDriver


async def test_the_commune_index_is_loaded_once_when_updates_arrive_together(service, monkeypatch):
    """A worker restarted under load: the updates that arrive while the index loads wait for that
    load instead of each loading all 3,321 communes again."""
    loads = []
    load = CommuneIndex.load.__func__

    async def slow_load(cls, db):
        loads.append(1)
        await asyncio.sleep(0.05)  # the other updates arrive meanwhile
        return await load(cls, db)

    monkeypatch.setattr(CommuneIndex, "load", classmethod(slow_load))
    chats = [ChatDriver(service, user_id=f"cold-{n}") for n in range(6)]
    await asyncio.gather(*(chat.send("/start") for chat in chats))
    assert len(loads) == 1
    assert all(chat.keys == ["menu.greeting"] for chat in chats)
