"""Delivers officials' daily summaries at the hour they chose, once a day across all workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from handlers.progress import summary_text
from handlers.types import Reply, t
from storage import reports
from storage.models import local_date, utcnow
from storage.tally import tally

log = logging.getLogger(__name__)


class DailyReports:
    def __init__(self, service) -> None:
        self.service = service

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Send every report that is due; returns how many this worker sent."""
        now = now or utcnow()
        sessions = self.service.sessions
        async with sessions() as db:
            due = await reports.due(db, now)
        sent = 0
        for subscription_id in due:
            async with sessions() as db, db.begin():
                subscription = await reports.claim(db, subscription_id, now)
                if subscription is None:  # another worker took it
                    continue
                result = await tally(db, subscription.unit_code, local_date(now))
                name = result.unit_name or t("tally.country")
                ids = await self.service.engine.queue_for_user(db, subscription.user_id, [Reply(summary_text(result, name))])
            await self.service.courier.deliver(ids)
            sent += 1
        return sent

    async def run(self, interval: float = 60.0) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be down; the next round tries again
                log.exception("daily reports round failed")
            await asyncio.sleep(interval)
