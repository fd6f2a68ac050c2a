"""Liveness, readiness and /metrics on the real app: /healthz never asks the database, /readyz
answers 503 while the database is away or the service drains, and /metrics is served in
Prometheus's text format only behind its token (or on the private METRICS_ADDRESS listener)."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.channels.base import OutMessage, SendBlocked, SendRateLimited, SendRetry
from bot.commands.common import prepare_database
from bot.metrics import MULTIPROC_DIR, metrics_folder
from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app, init_metrics_app
from handlers.types import Incoming, Kind
from tests.harness import BUTTONS, RecordingChannel
from tests.standins.tcp_proxy import CuttableProxy

TOKEN = "metrics-test-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition, by name and labels; fails on anything not in the format."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client, token: str | None = TOKEN) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(await response.text())


class Flaky(RecordingChannel):
    """Sends to chat "429" are refused as rate-limited, to "busy" retried, to "gone" blocked."""

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        if chat_id == "429":
            raise SendRateLimited("rate limited", retry_after=30)
        if chat_id == "busy":
            raise SendRetry("server error")
        if chat_id == "gone":
            raise SendBlocked("blocked")
        await super().send(chat_id, message, attachment)


@pytest.fixture
async def client(aiohttp_client, service, settings):
    service.add_channel(Flaky("metrics", BUTTONS))
    app = init_app(dataclasses.replace(settings, metrics_token=Secret(TOKEN)), service)
    return await aiohttp_client(app)


def text(user: str, n: int, words: str = "het pin") -> Incoming:
    return Incoming(
        channel="metrics", user_id=user, chat_id=user, update_id=f"m-{user}-{n}", kind=Kind.TEXT, text=words
    )


async def test_updates_sends_drops_and_the_outbox_are_measured(client, service):
    before = await scrape(client)
    for n in range(3):
        await service.receive(text("calm", n))
    for chat in ("429", "busy", "gone"):
        await service.receive(text(chat, 0))
    await asyncio.gather(*(service.receive(text("flooder", n)) for n in range(30)))
    await service.courier.drain()
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    # 3 + 3 calm updates, and of the flooder's 30 the burst of 20 and the one told to slow down.
    assert delta("bluezone_update_seconds_count", channel="metrics") == 3 + 3 + 21
    assert delta("bluezone_update_seconds_sum", channel="metrics") > 0
    assert delta("bluezone_update_seconds_bucket", channel="metrics", le="+Inf") == 27
    assert delta("bluezone_flood_drops_total", channel="metrics") == 9
    assert delta("bluezone_sends_total", channel="metrics", outcome="rate_limited") == 1
    assert delta("bluezone_sends_total", channel="metrics", outcome="retry") == 1
    assert delta("bluezone_sends_total", channel="metrics", outcome="blocked") == 1
    assert delta("bluezone_sends_total", channel="metrics", outcome="sent") >= 3 + 21
    # Read from the database at the scrape: the two messages waiting for their retry.
    assert after[("bluezone_database_up", ())] == 1
    assert after[("bluezone_outbox_unsent", (("channel", "metrics"),))] == 2
    assert 0 <= after[("bluezone_outbox_oldest_unsent_seconds", (("channel", "metrics"),))] < 60


async def test_metrics_need_the_token_on_the_main_address(client, aiohttp_client, service, settings):
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert await scrape(client)
    # Without a token the public address has no /metrics at all (METRICS_ADDRESS serves it).
    public = await aiohttp_client(init_app(settings, Service(settings, db_engine=service.db)))
    assert (await public.get("/metrics")).status == 404
    private = await aiohttp_client(init_metrics_app(settings, service))
    assert await scrape(private, token=None)
    # The private listener asks for the token too once there is one.
    guarded = await aiohttp_client(
        init_metrics_app(dataclasses.replace(settings, metrics_token=Secret(TOKEN)), service)
    )
    assert (await guarded.get("/metrics")).status == 401
    assert await scrape(guarded)


async def test_readiness_is_lost_while_draining_liveness_is_not(client, aiohttp_client, service, settings):
    unstarted = await aiohttp_client(init_metrics_app(settings, Service(settings, db_engine=service.db)))
    starting = await unstarted.get("/readyz")  # its channels not started yet
    assert starting.status == 503 and (await starting.json())["problems"] == ["starting"]
    assert (await unstarted.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ok"
    service.draining = True  # what SIGTERM sets first (bot/commands/service.py serve)
    draining = await client.get("/readyz")
    assert draining.status == 503 and (await draining.json())["problems"] == ["draining"]
    assert (await client.get("/healthz")).status == 200


async def test_readiness_follows_the_database_liveness_does_not(aiohttp_client, fresh_pg_database):
    await prepare_database(Settings(database_url=fresh_pg_database))
    database = fresh_pg_database.rsplit("/", 1)[1]
    async with CuttableProxy("127.0.0.1", 5432) as proxy:
        settings = Settings(
            database_url=f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}", metrics_token=Secret(TOKEN)
        )
        client = await aiohttp_client(init_app(settings, Service(settings)))
        assert (await client.get("/readyz")).status == 200
        before = await scrape(client)
        proxy.cut()
        away = await client.get("/readyz")
        assert away.status == 503 and (await away.json())["problems"] == ["database unreachable"]
        assert (await client.get("/healthz")).status == 200  # the process is alive: no restart wanted
        during = await scrape(client)  # the scrape still answers, without the database's figures
        assert during[("bluezone_database_up", ())] == 0 and ("bluezone_visits", ()) not in during
        errors = ("bluezone_database_errors_total", (("kind", "connection"),))
        assert during[errors] > before.get(errors, 0)  # the refused connections were counted
        proxy.restore()
        assert (await client.get("/readyz")).status == 200  # recovered by itself


def test_the_workers_folder_is_emptied_at_start_and_a_temporary_one_removed(tmp_path, monkeypatch):
    monkeypatch.delenv(MULTIPROC_DIR, raising=False)
    with metrics_folder() as folder:  # none given: a temporary one, for the workers to inherit
        assert os.environ[MULTIPROC_DIR] == str(folder.path) and folder.path.is_dir()
    assert MULTIPROC_DIR not in os.environ and not folder.path.exists()
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"an earlier run's figures")
    (given / "README").write_text("not ours")
    monkeypatch.setenv(MULTIPROC_DIR, str(given))
    with metrics_folder() as folder:
        assert folder.path == given and sorted(p.name for p in given.iterdir()) == ["README"]
        (given / "gauge_livesum_4242.db").write_bytes(b"x")
        (given / "counter_4242.db").write_bytes(b"x")
        folder.mark_dead(4242)  # a dead worker's live gauges go, its counters stay
        assert sorted(p.name for p in given.iterdir()) == ["README", "counter_4242.db"]
    assert given.is_dir()  # the operator's folder stays
