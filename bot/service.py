"""The running bot: database, content, the conversation engine, the courier and the channels."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from bot import metrics
from bot.channels import messengers
from bot.channels.base import Capabilities, Channel, Wiring
from bot.coordination import AnnouncementLease, Coordination, LocalShared
from bot.courier import Courier
from bot.engine import Engine
from bot.inbox import Inbox
from bot.media import MediaLinks
from bot.ratelimit import Verdict
from bot.settings import Settings
from handlers import build_router
from handlers.menu import error_reply
from handlers.types import Incoming, Reply
from storage.db import create_engine, sessionmaker
from texts.content import Content

log = logging.getLogger(__name__)


class Service:
    """Built by `init_app()` (or the CLI); `start()` connects the channels, `stop()` lets go."""

    def __init__(
        self,
        settings: Settings,
        *,
        content: Content | None = None,
        db_engine: Any = None,
        worker: int = 1,
        workers: int = 1,
        shared: LocalShared | None = None,
    ) -> None:
        self.settings = settings
        # With several worker processes (`run --workers N`), this one's number; worker 1 is the
        # one that polls messengers and registers webhooks.
        self.worker = worker
        self.primary = worker == 1
        # The send budgets and the flood guard, shared with the other workers (memory the
        # supervisor made, `shared`) and machines (REDIS_URL), or this process's own.
        self.coordination = Coordination(settings.redis_url, workers=workers, local=shared, worker=worker)
        self.content = content or Content.load(settings.content_dir)
        self.db = db_engine or create_engine(settings.database_url)
        self._owns_db = db_engine is None
        if self._owns_db:  # an engine handed in (tests) may be shared: its errors are not this service's
            metrics.watch_database(self.db)
        self.sessions = sessionmaker(self.db)
        self.router = build_router()
        self.channels: dict[str, Channel] = {}
        self.capabilities: dict[str, Capabilities] = {}
        self.engine = Engine(
            self.sessions, self.router, self.content, settings, self.capabilities, error_reply, self.bot_handles
        )
        self.courier = Courier(
            self.sessions,
            self.channels,
            sends_broadcasts=self.primary,
            lease=dt.timedelta(seconds=settings.outbox_lease_seconds),
        )
        self.flood_guard = self.coordination.flood_guard(settings.flood_burst)
        # Announcements go from one worker at a time, the holder of this lease (started with the
        # service; until then worker 1's courier sends them, as a service without others does).
        self.announcements = AnnouncementLease(
            self.courier.single_statements, self.coordination.member, self.courier.send_broadcasts
        )
        self.media = MediaLinks(settings, self.sessions)
        # SQLite has one writer at a time: handling events one by one keeps the lock free for the
        # webhooks' short inserts; PostgreSQL handles a few at once.
        self.inbox = Inbox(self.sessions, self.receive, concurrency=1 if self.db.dialect.name == "sqlite" else 4)
        self._tasks: list[asyncio.Task] = []
        self._started: list[Channel] = []
        # /readyz: ready once every channel has started, until a stop begins (SIGTERM's drain).
        self.started = False
        self.draining = False

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel
        self.capabilities[channel.name] = channel.capabilities

    def configure_channels(self) -> None:
        """The messengers whose credentials are in the settings (bot/channels: the registry)."""
        guard = self.flood_guard
        wiring = Wiring(
            settings=self.settings,
            receive=self.receive,
            accept=self.accept,
            sessions=self.sessions,
            media=self.media,
            primary=self.primary,
            dropping=guard.dropping if guard else None,
            budget=self.coordination.budget,
        )
        for messenger in messengers():
            if messenger.configured(self.settings):
                self.add_channel(messenger.build(wiring))

    async def receive(self, incoming: Incoming) -> None:
        """Handle one update (exactly once) and send its replies in the background.

        A person flooding the bot gets one "slow down" notice; what they send beyond it is
        dropped before it costs a database transaction, so others are not slowed down.
        """
        guard = self.flood_guard
        verdict = await guard.check(incoming.channel, incoming.user_id) if guard else Verdict.ALLOW
        if verdict is Verdict.DROP:
            metrics.flood_drop(incoming.channel)
            return
        began = time.perf_counter()
        try:
            if verdict is Verdict.WARN:
                ids = await self.engine.handle(incoming, only_reply=Reply("menu.too_fast"))
            else:
                ids = await self.engine.handle(incoming)
        except Exception:
            if guard:
                await guard.refund(incoming.channel, incoming.user_id)
            raise
        metrics.update_handled(incoming.channel, time.perf_counter() - began)
        self.courier.deliver_soon(ids)

    async def accept(self, incoming: Incoming) -> None:
        """Store one update in the durable queue and return: a webhook answers at once, the inbox
        worker handles it (as `receive` does) right after. Used by the Zalo channels."""
        await self.inbox.accept(incoming)

    async def start(self) -> None:
        await self.coordination.start()
        await self.announcements.start()
        for channel in self.channels.values():
            await channel.start()
            self._started.append(channel)
        from bot import housekeeping
        from bot.daily_reports import DailyReports

        self._tasks = [
            asyncio.create_task(self.inbox.run()),
            asyncio.create_task(self.courier.run()),
            asyncio.create_task(DailyReports(self).run()),
            asyncio.create_task(housekeeping.run(self.sessions, self.settings.checkin_retention_days)),
        ]
        self.started = True

    async def stop(self) -> None:
        self.draining = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        # Sends under way finish before the channels close: one cut off after Telegram took it
        # would be sent again after the restart.
        await self.courier.drain()
        await self.announcements.stop()
        await self.coordination.stop()
        for channel in reversed(self._started):
            try:
                await channel.stop()
            except Exception:
                log.exception("stopping channel %s failed", channel.name)
        self._started.clear()
        if self._owns_db:
            await self.db.dispose()

    def bot_handles(self) -> dict[str, str]:
        """The bot's public name per channel, for links and posters: @username on Telegram, the
        OA id on Zalo OA (https://zalo.me/<id>), the account name on the Zalo Bot Platform."""
        return {name: channel.public_handle for name, channel in self.channels.items() if channel.public_handle}
