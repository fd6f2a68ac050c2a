"""Rate limits kept in this process's memory: a send pace (a messenger's budget) and a per-person
flood guard. bot/coordination.py shares both among workers and machines, with these as fallback."""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict
from dataclasses import dataclass


def pace(next_free: float, now: float, interval: float, slack: float) -> tuple[float, float]:
    """A send's turn under a pace of one per `interval` seconds, with `slack` seconds of turns
    that may be caught up at once (a GCRA): (0, the next free turn) when it may go now, else (the
    seconds to wait before asking again, `next_free` unchanged). Kept as one number, the next
    free turn, so that processes can share it (shared memory; Redis runs the same sum in Lua).

    A turn is taken when the send goes, not booked ahead for a sender to sleep until: a worker
    whose event loop is busy would wake late, and its booked sends would then go together with
    the next second's (the messenger counts sends as they arrive)."""
    start = max(next_free, now)
    if start - now > slack + 1e-9:  # (a turn that is due but for a rounding error goes)
        return start - slack - now, next_free
    return 0.0, start + interval


class Pacer:
    """`per_second` sends, evenly spaced, at most `burst` at once after a pause. One send of this
    process at a time waits for its turn (in the order they came), so that a queue of sends
    costs one check per turn, not one per waiting send."""

    def __init__(self, per_second: float, burst: int = 1, clock=time.monotonic) -> None:
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self.slack = (burst - 1) * self.interval
        self.clock = clock
        self._next = 0.0
        self._turns = asyncio.Lock()

    def try_take(self) -> float:
        """Take a turn now (0), or the seconds until one may be free."""
        wait, self._next = pace(self._next, self.clock(), self.interval, self.slack)
        return wait

    async def _try(self) -> float:
        return self.try_take()

    async def acquire(self) -> None:
        async with self._turns:
            # Polling, not an event: the turn frees up by time, and in another process too.
            while (wait := await self._try()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)


class Verdict(enum.Enum):
    ALLOW = "allow"
    WARN = "warn"  # the first update over the limit: handled as a short "slow down" notice
    DROP = "drop"  # further ones: dropped before they cost a database transaction


@dataclass
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


class FloodGuard:
    """A token bucket per (channel, user): `burst` updates at once, refilled to `burst` over
    `window` seconds (20 in 10 s by default). Kept in memory, for at most `max_keys` people (the
    least recently seen are forgotten), so a guard costs no database round trip. The bucket
    arithmetic is the same wherever buckets are kept (bot/coordination.py keeps them in memory
    shared by a machine's workers, or in Redis); `_load` and `_store` say where.
    """

    def __init__(self, burst: int = 20, window: float = 10.0, max_keys: int = 100_000, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = burst / window
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def _load(self, key: tuple[str, str]) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
        return bucket

    def _store(self, key: tuple[str, str], bucket: _Bucket) -> None:
        if key not in self._buckets:
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)

    def check(self, channel: str, user_id: str) -> Verdict:
        now = self.clock()
        key = (channel, user_id)
        bucket = self._load(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), at=now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        verdict = self._take(bucket)
        self._store(key, bucket)
        return verdict

    def _take(self, bucket: _Bucket) -> Verdict:
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            if bucket.tokens >= self.burst / 2:
                bucket.warned = False  # calmed down: a later flood is told again
            return Verdict.ALLOW
        if bucket.warned:
            return Verdict.DROP
        bucket.warned = True
        return Verdict.WARN

    def dropping(self, channel: str, user_id: str) -> bool:
        """Whether `check` would drop this person's next update now, without counting it: lets
        a webhook turn a flood away before it parses the update."""
        bucket = self._load((channel, user_id))
        if bucket is None or not bucket.warned:
            return False
        return min(float(self.burst), bucket.tokens + (self.clock() - bucket.at) * self.rate) < 1

    def refund(self, channel: str, user_id: str) -> None:
        """Give back the token of an update that could not be handled (the database was down):
        the messenger will deliver it again, and a retry must not count as flooding."""
        key = (channel, user_id)
        bucket = self._load(key)
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1)
            self._store(key, bucket)
