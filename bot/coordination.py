"""What the workers of one machine, and the machines of one deployment, share: each messenger's
send budget (Telegram's 30 a second in all, not per worker), the flood guard's per-person
buckets, and which worker sends announcements.

Three ways, by what there is:
- one process (`run`, no REDIS_URL): in its memory, as bot/ratelimit.py keeps them;
- the workers of one machine (`run --workers N`): memory shared by the processes (`LocalShared`,
  made by the supervisor before it starts them), behind one lock; no server needed;
- several machines (REDIS_URL): Redis, each step one Lua script timed by Redis's clock, so that
  machines whose clocks differ still agree. If Redis goes away, each worker falls back to its
  share (the budget divided by the workers Redis last counted) until it answers again.
Who sends announcements is a lease in the database (storage/leases.py), which every deployment
has, with or without Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import multiprocessing
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot.channels.base import Budget
from bot.ratelimit import FloodGuard, Pacer, Verdict, _Bucket, pace
from bot.settings import Secret

log = logging.getLogger(__name__)

# The budgets a machine's workers share (one slot each in LocalShared): the messengers that pace.
SHARED_BUDGETS = ("telegram", "zalo_oa", "zalo_bot")
# Flood buckets in shared memory: a person's bucket is found by a hash of (channel, user); two
# people on one slot take it from each other (a newcomer starts with a full bucket), which only
# ever lets a flood through a little longer, never holds a calm person back.
FLOOD_SLOTS = 1 << 16
FLOOD_FIELDS = 3  # tokens, at, warned

KEY_PREFIX = "bluezone:"
HEARTBEAT = 1.0  # seconds between a worker's checks in with Redis (also how soon a return is noticed)
PEER_TIMEOUT = 10  # seconds after its last check-in a worker no longer counts among the peers
REDIS_TIMEOUT = 1.0  # seconds a Redis call may take before Redis counts as gone: sends must not hang
# Seconds a worker waits for the shared memory's lock, held for microseconds, before it counts as
# stuck (held by a worker that was killed holding it).
LOCK_TIMEOUT = 0.2


# --- one machine: shared memory ---------------------------------------------------------------


class LocalShared:
    """Memory the supervisor makes before it spawns the workers, passed to each as an argument
    (spawn hands such objects to the child). Times are CLOCK_MONOTONIC, one clock for every
    process of the machine."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.lock = context.Lock()
        self.next_free = context.RawArray("d", len(SHARED_BUDGETS))
        self.flood_keys = context.RawArray("Q", FLOOD_SLOTS)
        self.flood_values = context.RawArray("d", FLOOD_SLOTS * FLOOD_FIELDS)
        self.stuck = False  # this process's own (each gets a copy): see `locked`

    def locked(self) -> bool:
        """Take the lock, unless it is stuck: a worker killed while holding it (SIGKILL, the OOM
        killer) never lets go, and the others must not stop sending with it. Then this process
        keeps its own limits (its share of each budget) until it is restarted, and says so once."""
        if self.stuck:
            return False
        if self.lock.acquire(timeout=LOCK_TIMEOUT):
            return True
        self.stuck = True
        log.warning(
            "the limits this machine's workers share are stuck (a worker died holding their lock): "
            "this worker keeps its share of the send budgets and its own flood guard until restarted"
        )
        return False


class SharedPacer(Pacer):
    """A Pacer whose next free turn lives in LocalShared: the machine's workers take turns from
    one pace."""

    def __init__(self, shared: LocalShared, name: str, per_second: float, burst: int = 1) -> None:
        super().__init__(per_second, burst)
        self.shared = shared
        self.slot = SHARED_BUDGETS.index(name)
        self.own_share = Pacer(per_second / shared.workers)

    def try_take(self) -> float:
        # A lock between processes, held for a few arithmetic operations: cheaper than a hop to
        # a thread, so taken on the event loop.
        if not self.shared.locked():
            return self.own_share.try_take()
        try:
            wait, self.shared.next_free[self.slot] = pace(
                self.shared.next_free[self.slot], self.clock(), self.interval, self.slack
            )
        finally:
            self.shared.lock.release()
        return wait


def _slot_key(key: tuple[str, str]) -> tuple[int, int]:
    """A person's slot and the 64-bit tag that tells them from others on it (never 0: empty).
    A keyed hash of our own: Python's hash() differs between processes."""
    digest = hashlib.blake2b(f"{key[0]}\x00{key[1]}".encode(), digest_size=8).digest()
    tag = int.from_bytes(digest, "big") | 1
    return tag % FLOOD_SLOTS, tag


class SharedFloodGuard(FloodGuard):
    """The flood guard with its buckets in LocalShared: a person flooding three workers is
    counted once."""

    def __init__(self, shared: LocalShared, burst: int = 20, window: float = 10.0) -> None:
        super().__init__(burst, window)
        self.shared = shared
        self.own = FloodGuard(burst, window)  # while the shared memory's lock is stuck

    def _load(self, key: tuple[str, str]) -> _Bucket | None:
        slot, tag = _slot_key(key)
        if self.shared.flood_keys[slot] != tag:
            return None
        base = slot * FLOOD_FIELDS
        values = self.shared.flood_values
        return _Bucket(tokens=values[base], at=values[base + 1], warned=values[base + 2] > 0)

    def _store(self, key: tuple[str, str], bucket: _Bucket) -> None:
        slot, tag = _slot_key(key)
        base = slot * FLOOD_FIELDS
        self.shared.flood_keys[slot] = tag
        self.shared.flood_values[base : base + FLOOD_FIELDS] = [bucket.tokens, bucket.at, float(bucket.warned)]

    def check(self, channel: str, user_id: str) -> Verdict:
        if not self.shared.locked():
            return self.own.check(channel, user_id)
        try:  # load, count, store: one step for every worker
            return super().check(channel, user_id)
        finally:
            self.shared.lock.release()

    def dropping(self, channel: str, user_id: str) -> bool:
        if self.shared.stuck:
            return self.own.dropping(channel, user_id)
        return super().dropping(channel, user_id)  # a read: no lock (a torn read only errs once)

    def refund(self, channel: str, user_id: str) -> None:
        if not self.shared.locked():
            self.own.refund(channel, user_id)
            return
        try:
            super().refund(channel, user_id)
        finally:
            self.shared.lock.release()


# --- several machines: Redis ------------------------------------------------------------------

# A send's turn (bot.ratelimit.pace, in microseconds of Redis's clock): 0 when taken, else the
# wait. The next free turn is kept as a string: Lua's own number-to-string conversion keeps 14
# digits, too few for microseconds since 1970.
PACE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(next_free, now)
local slack = tonumber(ARGV[2])
if start - now > slack then return start - slack - now end
redis.call('SET', KEYS[1], string.format('%.0f', start + tonumber(ARGV[1])), 'PX', 60000)
return 0
"""

# FloodGuard.check (cost 1) and refund (cost -1) on a hash per person; bot/ratelimit.py has the
# same arithmetic. Returns the verdict (0 allow, 1 warn, 2 drop) and the tokens left.
FLOOD_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'warned')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
local warned = b[3] == '1'
local verdict = 0
if ARGV[3] == '-1' then
  if not b[1] then return {0, tostring(burst)} end
  tokens = math.min(burst, tokens + 1)
else
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
  if tokens >= 1 then
    tokens = tokens - 1
    if tokens >= burst / 2 then warned = false end
  elseif warned then
    verdict = 2
  else
    warned = true
    verdict = 1
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%.6f', at), 'warned', warned and '1' or '0')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {verdict, tostring(tokens)}
"""

# A worker checks in; those not seen for PEER_TIMEOUT seconds are forgotten; how many there are.
PEERS_SCRIPT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
"""

VERDICTS = (Verdict.ALLOW, Verdict.WARN, Verdict.DROP)


class RedisLink:
    """The connection to Redis, and whether it answers. A failed call marks it gone (logged
    once); the heartbeat tries it again every second and marks it back (logged once). Meanwhile
    nothing waits on it: budgets and the flood guard use their per-worker fallbacks."""

    def __init__(self, url: Secret, member: str, local_workers: int) -> None:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside the client: a send must not wait out a back-off; the heartbeat retries.
        self.client = redis.asyncio.from_url(
            url.reveal(),
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.member = member
        self.up = True
        # The workers in all, for the fallback's share: at least this machine's, until Redis says.
        self.peers = local_workers
        self.local_workers = local_workers
        self._pace = self.client.register_script(PACE_SCRIPT)
        self._flood = self.client.register_script(FLOOD_SCRIPT)
        self._peers = self.client.register_script(PEERS_SCRIPT)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.heartbeat()
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.up:
            try:
                await self.client.zrem(KEY_PREFIX + "workers", self.member)
            except Exception as exc:  # gone already: it drops out of the count after PEER_TIMEOUT
                log.debug("redis: leaving the peers failed: %s", type(exc).__name__)
        await self.client.aclose()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        try:
            peers = await self._peers(keys=[KEY_PREFIX + "workers"], args=[self.member, PEER_TIMEOUT])
        except Exception as exc:
            self.failed(exc)
            return
        self.peers = max(int(peers), self.local_workers)
        if not self.up:
            self.up = True
            log.info("redis answers again: the send budgets and the flood guard are shared again")

    def failed(self, exc: BaseException) -> None:
        if self.up:
            self.up = False
            # The exception's type only: redis-py's messages can carry the server's address, and
            # the URL holds the password.
            log.warning(
                "redis unreachable (%s): each worker sends at its share of the budget (1/%d) and "
                "guards floods on its own until it answers again",
                type(exc).__name__,
                self.peers,
            )

    async def pace(self, name: str, interval: float, slack: float) -> float:
        micros = await self._pace(keys=[f"{KEY_PREFIX}budget:{name}"], args=[int(interval * 1e6), int(slack * 1e6)])
        return int(micros) / 1e6

    async def flood(
        self, key: tuple[str, str], burst: int, rate: float, cost: int, ttl: float
    ) -> tuple[Verdict, float]:
        verdict, tokens = await self._flood(
            keys=[f"{KEY_PREFIX}flood:{key[0]}:{key[1]}"], args=[burst, rate, cost, int(ttl * 1000)]
        )
        return VERDICTS[int(verdict)], float(tokens)


class RedisPacer(Pacer):
    """A budget shared through Redis; while Redis is gone, this worker's share of it."""

    def __init__(self, link: RedisLink, name: str, per_second: float, burst: int = 1) -> None:
        super().__init__(per_second, burst)
        self.link = link
        self.name = name
        self._fallback: Pacer | None = None

    def fallback(self) -> Pacer:
        share = self.per_second / self.link.peers
        if self._fallback is None or self._fallback.per_second != share:
            self._fallback = Pacer(share, 1)
        return self._fallback

    async def _try(self) -> float:
        if self.link.up:
            try:
                return await self.link.pace(self.name, self.interval, self.slack)
            except Exception as exc:
                self.link.failed(exc)
        return self.fallback().try_take()


class RedisFloodGuard:
    """The flood guard through Redis; while Redis is gone, this worker's own (in memory). The
    webhook's cheap check before parsing (`dropping`) cannot wait on Redis: it reads what this
    worker last learnt about the person."""

    def __init__(self, link: RedisLink, burst: int = 20, window: float = 10.0) -> None:
        self.link = link
        self.burst = burst
        self.window = window
        self.rate = burst / window
        self.local = FloodGuard(burst, window)
        self._dropping: OrderedDict[tuple[str, str], float] = OrderedDict()  # key → until (monotonic)

    async def check(self, channel: str, user_id: str) -> Verdict:
        key = (channel, user_id)
        if not self.link.up:
            return self.local.check(channel, user_id)
        try:
            verdict, tokens = await self.link.flood(key, self.burst, self.rate, 1, self.window * 2)
        except Exception as exc:
            self.link.failed(exc)
            return self.local.check(channel, user_id)
        if verdict is Verdict.ALLOW:
            self._dropping.pop(key, None)
        else:
            self._dropping[key] = time.monotonic() + (1 - tokens) / self.rate
            self._dropping.move_to_end(key)
            if len(self._dropping) > self.local.max_keys:
                self._dropping.popitem(last=False)
        return verdict

    def dropping(self, channel: str, user_id: str) -> bool:
        if not self.link.up:
            return self.local.dropping(channel, user_id)
        until = self._dropping.get((channel, user_id))
        return until is not None and until > time.monotonic()

    async def refund(self, channel: str, user_id: str) -> None:
        if not self.link.up:
            self.local.refund(channel, user_id)
            return
        try:
            await self.link.flood((channel, user_id), self.burst, self.rate, -1, self.window * 2)
        except Exception as exc:
            self.link.failed(exc)


class Guard:
    """The flood guard as the service uses it, wherever its buckets are: `check` and `refund`
    may wait on Redis; `dropping` never waits."""

    def __init__(self, guard: FloodGuard | RedisFloodGuard) -> None:
        self.guard = guard

    async def check(self, channel: str, user_id: str) -> Verdict:
        if isinstance(self.guard, RedisFloodGuard):
            return await self.guard.check(channel, user_id)
        return self.guard.check(channel, user_id)

    def dropping(self, channel: str, user_id: str) -> bool:
        return self.guard.dropping(channel, user_id)

    async def refund(self, channel: str, user_id: str) -> None:
        if isinstance(self.guard, RedisFloodGuard):
            await self.guard.refund(channel, user_id)
        else:
            self.guard.refund(channel, user_id)


# --- the whole -------------------------------------------------------------------------------


class Coordination:
    """What one worker shares with the others: built by the service from the settings, the
    number of workers on this machine and the supervisor's LocalShared (None: not supervised)."""

    def __init__(
        self, redis_url: Secret | None, *, workers: int = 1, local: LocalShared | None = None, worker: int = 1
    ) -> None:
        self.workers = workers
        self.local = local
        self.member = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.redis = RedisLink(redis_url, self.member, workers) if redis_url is not None else None
        self.worker = worker

    @property
    def shared(self) -> bool:
        """Whether others share this worker's budgets (and so its announcements need a lease)."""
        return self.redis is not None or self.local is not None

    def budget(self, name: str, per_second: float, burst: int = 1) -> Budget | None:
        """The send budget `name` (a messenger), `per_second` in all; None: no limit of our own.
        `burst`: turns a pace of this process's own may catch up at once after a pause."""
        if per_second <= 0:
            return None
        if self.shared:
            # Shared, no catch-up: each worker's event loop wakes late on its own, and a worker
            # catching up lands its sends on another's on time (measured with `run --workers 3`
            # under load: bursts of 2 or 3 got 2-4% of the sends answered 429, none without).
            burst = 1
        if self.redis is not None:
            return RedisPacer(self.redis, name, per_second, burst)
        if self.local is not None and name in SHARED_BUDGETS:
            return SharedPacer(self.local, name, per_second, burst)
        return Pacer(per_second, burst)

    def flood_guard(self, burst: int) -> Guard | None:
        if not burst:
            return None
        if self.redis is not None:
            return Guard(RedisFloodGuard(self.redis, burst))
        if self.local is not None:
            return Guard(SharedFloodGuard(self.local, burst))
        return Guard(FloodGuard(burst))

    async def start(self) -> None:
        if self.redis is not None:
            await self.redis.start()

    async def stop(self) -> None:
        if self.redis is not None:
            await self.redis.stop()


# --- announcements: a lease in the database ---------------------------------------------------

ANNOUNCEMENTS = "announcements"
LEASE_DURATION = dt.timedelta(seconds=15)  # a dead holder's announcements resume after at most this
LEASE_RENEWAL = 5.0  # seconds between renewals (and between tries by the others)


class AnnouncementLease:
    """Keeps `on_change(True)` while this worker holds the announcements' lease: it tries to take
    it every `renewal` seconds, renews it while it holds it, and gives it up on stop. A database
    that does not answer counts as losing it: better no worker sending announcements for a while
    than two."""

    def __init__(
        self,
        single_statements: Any,
        holder: str,
        on_change: Callable[[bool], None],
        *,
        duration: dt.timedelta = LEASE_DURATION,
        renewal: float = LEASE_RENEWAL,
    ) -> None:
        self.engine = single_statements
        self.holder = holder
        self.on_change = on_change
        self.duration = duration
        self.renewal = renewal
        self.held = False
        self._told: bool | None = None  # what on_change last said
        self._task: asyncio.Task | None = None

    async def try_once(self) -> bool:
        from storage import leases

        try:
            async with self.engine.begin() as conn:
                held = await leases.take(conn, ANNOUNCEMENTS, self.holder, self.duration)
        except Exception as exc:
            log.warning("announcement lease: the database did not answer (%s)", type(exc).__name__)
            held = False
        self.held = held
        if held != self._told:
            self._told = held
            log.info("%s sending announcements (%s)", "now" if held else "not", self.holder)
            self.on_change(held)
        return held

    async def start(self) -> None:
        await self.try_once()
        self._task = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.renewal)
            await self.try_once()

    async def stop(self) -> None:
        from storage import leases

        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.held:
            # The courier is told at the next try, if any: it stops with the service, and a
            # service stopped but still driven (tests) sends as before.
            self.held = False
            try:
                async with self.engine.begin() as conn:
                    await leases.give_up(conn, ANNOUNCEMENTS, self.holder)
            except Exception as exc:  # it runs out by itself
                log.warning("announcement lease not given up (%s)", type(exc).__name__)
