"""Delivers officials' daily summaries at the hour they chose, once a day across all workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from handlers.buttons import ProgressOf
from handlers.progress import division_kinds, summary_text
from handlers.types import Button, Reply
from storage import reports, roles
from storage.models import utcnow
from storage.tally import tally
from texts import t
from texts.formats import local_date

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
                user_id, unit = subscription.user_id, subscription.unit_code
                if not await roles.may_view(db, user_id, unit):
                    # The role was revoked since subscribing: no more figures for them.
                    await reports.unsubscribe(db, user_id, unit)
                    log.info("daily report of %s for user %s dropped: no longer allowed", unit, user_id)
                    continue
                result = await tally(db, unit, local_date(now))
                name = result.unit_name or t("tally.country")
                kinds = division_kinds(await self.service.engine.communes(db), result)
                details = [[Button(t("official.reports.open"), payload=ProgressOf(unit).pack())]]
                ids = await self.service.engine.queue_for_user(
                    db, user_id, [Reply(summary_text(result, name, kinds), details)]
                )
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
