"""A per-person flood guard: one account sending too fast cannot slow everyone else down."""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from dataclasses import dataclass


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
    `window` seconds (20 in 10 s by default). Kept in memory per worker, for at most `max_keys`
    people (the least recently seen are forgotten), so a guard costs no database round trip.
    """

    def __init__(self, burst: int = 20, window: float = 10.0, max_keys: int = 100_000, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = burst / window
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def check(self, channel: str, user_id: str) -> Verdict:
        now = self.clock()
        key = (channel, user_id)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
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
        bucket = self._buckets.get((channel, user_id))
        if bucket is None or not bucket.warned:
            return False
        return min(float(self.burst), bucket.tokens + (self.clock() - bucket.at) * self.rate) < 1

    def refund(self, channel: str, user_id: str) -> None:
        """Give back the token of an update that could not be handled (the database was down):
        the messenger will deliver it again, and a retry must not count as flooding."""
        bucket = self._buckets.get((channel, user_id))
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1)
