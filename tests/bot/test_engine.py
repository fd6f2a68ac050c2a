"""The engine under concurrency: what a worker does once however many updates arrive at once."""

from __future__ import annotations

import asyncio

import pytest

from storage.units import CommuneIndex
from tests.harness import ChatDriver


@pytest.mark.slow
async def test_the_commune_index_is_loaded_once_when_updates_arrive_together(service, monkeypatch):
    """A worker restarted under load: the updates that arrive while the index loads wait for that
    load instead of each loading all 3,321 communes again."""
    people = 6
    service.engine._communes = None  # cold, as after a restart (tests share one index: conftest.py)
    arrived, loads = [], []
    communes, load = service.engine.communes, CommuneIndex.load.__func__

    async def counted(db):
        arrived.append(1)
        return await communes(db)

    async def slow_load(cls, db):
        loads.append(1)
        for _ in range(200):  # the load lasts until every update has asked for the index
            if len(arrived) == people:
                break
            await asyncio.sleep(0.01)
        return await load(cls, db)

    monkeypatch.setattr(service.engine, "communes", counted)
    monkeypatch.setattr(CommuneIndex, "load", classmethod(slow_load))
    chats = [ChatDriver(service, user_id=f"cold-{n}") for n in range(people)]
    await asyncio.gather(*(chat.send("/start") for chat in chats))
    assert len(arrived) == people and len(loads) == 1
    assert all(chat.keys == ["menu.greeting"] for chat in chats)
