"""What a stand-in is doing, so that a test can wait until it is idle instead of sleeping a while
before checking that nothing else arrived."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

from aiohttp import web


class Activity:
    """Requests being answered, and when anything last happened.

    A stand-in serves its app with `middleware`, calls `touch()` on every change of its own (a
    call recorded, an update queued or delivered), and wraps a long poll's wait for updates in
    `long_poll()`: a bot polling with nothing to fetch is idle."""

    def __init__(self) -> None:
        self.answering = 0
        self.last = time.monotonic()
        self._changed = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        self.answering += 1
        self.touch()
        try:
            return await handler(request)
        finally:  # answered, failed, or cancelled by a client that gave up
            self.answering -= 1
            self.touch()

    @contextlib.contextmanager
    def long_poll(self) -> Iterator[None]:
        self.answering -= 1
        try:
            yield
        finally:
            self.answering += 1

    def touch(self) -> None:
        self.last = time.monotonic()
        self._changed.set()

    async def wait_idle(
        self, busy: Callable[[], str | None], quiet: float, timeout: float, describe: Callable[[], str]
    ) -> None:
        """Until `busy()` says nothing (no request being answered, nothing waiting to be fetched or
        delivered) and nothing happened for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()  # before looking, so a change while we look is not missed
            doing = busy() or (f"{self.answering} request(s) being answered" if self.answering else None)
            calm = time.monotonic() - self.last
            if doing is None and calm >= quiet:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the stand-in never went idle: {doing or 'calls went on'}\n{describe()}")
            wait = quiet - calm if doing is None else remaining
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(max(wait, 0.001), remaining))
