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
            await asyncio.wait_for(wake.wait(), timeout=interval)
        except TimeoutError:
            pass
        wake.clear()
