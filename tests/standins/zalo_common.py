"""What the two Zalo stand-ins share: an aiohttp server on 127.0.0.1, recorded calls, faults on
request, and waiting for the bot's calls."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import socket
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.standins.activity import Activity


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_id(n: int = 20) -> str:
    """Zalo's ids look like 20 hex characters (message ids) or long digit strings (user ids)."""
    return secrets.token_hex(n // 2)


@dataclasses.dataclass
class Call:
    """One request the bot made to the stand-in, and what it was answered."""

    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, form fields, or None
    files: dict[str, tuple[str, str, bytes]]  # field → (filename, content type, bytes)
    at: float
    status: int = 200
    answer: Any = None

    @property
    def ok(self) -> bool:
        return (
            self.status == 200
            and isinstance(self.answer, dict)
            and (self.answer.get("error") == 0 or self.answer.get("ok") is True)
        )


@dataclasses.dataclass
class Fault:
    """An answer to give instead of the real one, `times` times."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    times: int = 1


@dataclasses.dataclass
class WebhookDelivery:
    event: dict[str, Any]
    status: int
    body: str
    seconds: float


class StandinServer:
    """Start/stop, call recording and faults; subclasses add their routes in `routes()`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[Call] = []
        self.deliveries: list[WebhookDelivery] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._changed = asyncio.Event()
        self.activity = Activity()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024**2, middlewares=[self.activity.middleware])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- faults ---

    def fail_next(self, key: str, status: int = 200, times: int = 1, headers: dict | None = None, **body: Any) -> None:
        """Answer the next `times` calls of `key` (a path or method) with `body` (and `status`)."""
        self._faults[key].append(Fault(status, body, headers or {}, times))

    def take_fault(self, key: str) -> Fault | None:
        queue = self._faults.get(key)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # --- recording and waiting ---

    def record(self, call: Call) -> Call:
        self.calls.append(call)
        self.changed()
        return call

    def changed(self) -> None:
        self._changed.set()
        self.activity.touch()

    def busy(self) -> str | None:
        """What the stand-in is still doing besides answering requests, or None."""
        return None

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Until no request is being answered (a long poll waiting for updates aside), nothing
        waits to be fetched or delivered, and nothing happened for `quiet` seconds."""
        await self.activity.wait_idle(self.busy, quiet, timeout, self.describe)

    async def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()  # before looking, so a change while we look is not missed
            result = condition()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what or condition}\n{self.describe()}")
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.2))
            except TimeoutError:
                pass

    def describe(self, last: int = 15) -> str:
        lines = [f"  {c.path} → {c.status} {str(c.answer)[:120]}" for c in self.calls[-last:]]
        return "last calls:\n" + "\n".join(lines)
