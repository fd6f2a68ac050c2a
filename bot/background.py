"""Background passes (the outbox sweep, the inbound queue) that run again when woken, or every
`interval` seconds, and outlive a database outage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def repeat(work: Callable[[], Awaitable[object]], wake: asyncio.Event, interval: float, what: str) -> None:
    while True:
        try:
            await work()
        except Exception as exc:  # the database may be down; try again next round
            log.warning("%s failed: %s", what, exc)
        try:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the
            # event is set (gh-86296), and the loop then ran forever, hanging the service's stop.
            async with asyncio.timeout(interval):
                await wake.wait()
        except TimeoutError:
            pass
        wake.clear()
