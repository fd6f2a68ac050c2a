"""Prometheus metrics: what each worker counts as it goes, and the `/metrics` answer.

`run --workers N` gives every worker one folder (PROMETHEUS_MULTIPROC_DIR, set before any worker
imports prometheus_client): the client keeps each process's figures in files of its own there,
and a scrape answered by whichever worker sums them all, those of workers that died included, so
counters never go back. Figures of the whole database (the outbox, check-ins, visits) are read
once per scrape instead, by the worker that answers it: nothing is added to an update's work but
a few increments in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hmac
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.base import SendBlocked, SendFailed, SendRateLimited, SendRetry
from bot.untrusted import Throttled
from storage import counters, updates
from storage.models import utcnow

log = logging.getLogger(__name__)
# Prometheus scrapes every few seconds: while the database is away, a line a minute says so.
scrapes = Throttled(log)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The text format's media type (version 0.0.4), what Prometheus asks for by default.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A scrape must answer even when the database does not: its figures are left out after this.
DATABASE_TIMEOUT = 2.0

# From a button press (a few ms) to the slowest official views (a second or two); beyond 2.5 s a
# messenger may give up on the webhook and deliver the update again.
UPDATE_SECONDS = Histogram(
    "bluezone_update_seconds",
    "Updates handled (the _count), by channel, and how long handling each took",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SENDS = Counter(
    "bluezone_sends",
    "Messages handed to a messenger, by channel and outcome: sent, rate_limited (429), retry "
    "(time-out, server error), blocked, failed (refused for good), error (a bug)",
    ["channel", "outcome"],
)
FLOOD_DROPS = Counter("bluezone_flood_drops", "Updates dropped unanswered by the per-person flood guard", ["channel"])
DATABASE_ERRORS = Counter(
    "bluezone_database_errors",
    "Database errors: connection (could not connect, or the connection broke) and statement (any other)",
    ["kind"],
)


@functools.cache
def _update_timer(channel: str) -> Any:
    return UPDATE_SECONDS.labels(channel)


@functools.cache
def _sends(channel: str, outcome: str) -> Any:
    return SENDS.labels(channel, outcome)


def update_handled(channel: str, seconds: float) -> None:
    _update_timer(channel).observe(seconds)


def send_outcome(channel: str, error: BaseException | None = None) -> None:
    """One send's outcome, told by what the channel raised (None: sent)."""
    if error is None:
        outcome = "sent"
    elif isinstance(error, SendRateLimited):
        outcome = "rate_limited"
    elif isinstance(error, SendBlocked):
        outcome = "blocked"
    elif isinstance(error, SendFailed):
        outcome = "failed"
    elif isinstance(error, SendRetry | TimeoutError):
        outcome = "retry"
    else:
        outcome = "error"
    _sends(channel, outcome).inc()


def flood_drop(channel: str) -> None:
    FLOOD_DROPS.labels(channel).inc()


def watch_database(engine: AsyncEngine) -> None:
    """Count the engine's errors as they happen, at no cost to statements that succeed.

    A failed connection attempt raises no `handle_error` event, so connecting goes through
    `do_connect` (called only when the pool opens a connection) to be counted too."""
    from storage.db import is_infrastructure_error

    @event.listens_for(engine.sync_engine, "handle_error")
    def on_error(context: Any) -> None:
        broken = context.is_disconnect or is_infrastructure_error(context.original_exception)
        DATABASE_ERRORS.labels("connection" if broken else "statement").inc()

    @event.listens_for(engine.sync_engine, "do_connect")
    def on_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception:
            DATABASE_ERRORS.labels("connection").inc()
            raise


# --- the workers' folder


class MetricsFolder:
    """PROMETHEUS_MULTIPROC_DIR, where every worker keeps its figures (see above)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark_dead(self, pid: int | None) -> None:
        """A dead worker's live gauges go; its counters stay, so that totals never go back."""
        if pid is not None:
            mark_process_dead(pid, str(self.path))


@contextlib.contextmanager
def metrics_folder() -> Iterator[MetricsFolder]:
    """The operator's PROMETHEUS_MULTIPROC_DIR, emptied first (an earlier run's figures must not
    add up with these), else a temporary folder removed at the end. Set in the environment
    before any worker starts: a worker's prometheus_client reads it when first imported."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield MetricsFolder(path)
        return
    path = Path(tempfile.mkdtemp(prefix="bluezone-metrics-"))
    os.environ[MULTIPROC_DIR] = str(path)
    try:
        yield MetricsFolder(path)
    finally:
        del os.environ[MULTIPROC_DIR]
        shutil.rmtree(path, ignore_errors=True)


# --- the scrape


def authorized(header: str | None, token: str | None) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time; anything goes without a token."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def render(sessions: async_sessionmaker[AsyncSession]) -> bytes:
    """The text exposition: every worker's counters, then the database's figures of now."""
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:  # one process: its own registry, with the client's process and Python figures
        registry = REGISTRY
    figures = CollectorRegistry()
    figures.register(_Figures(await _database_figures(sessions)))
    return generate_latest(registry) + generate_latest(figures)


class _Figures:
    """Metric families read beforehand (a collector must answer without awaiting)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def _database_figures(sessions: async_sessionmaker[AsyncSession]) -> list[Metric]:
    reachable = GaugeMetricFamily("bluezone_database_up", "Whether this scrape could read the database (1) or not (0)")
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), sessions() as db:
            backlog = await updates.backlog(db)
            totals = await counters.totals(db)
    except Exception as exc:
        scrapes.warning("metrics", "metrics: database figures left out: %s", exc or type(exc).__name__)
        reachable.add_metric([], 0)
        return [reachable]
    reachable.add_metric([], 1)
    depth = GaugeMetricFamily("bluezone_outbox_unsent", "Messages waiting to be sent, by channel", labels=["channel"])
    age = GaugeMetricFamily(
        "bluezone_outbox_oldest_unsent_seconds",
        "Age of the oldest message waiting to be sent, by channel",
        labels=["channel"],
    )
    now = utcnow()
    for channel, count, oldest in backlog:
        depth.add_metric([channel], count)
        if oldest.tzinfo is None:  # SQLite keeps no time zone: stored as UTC
            oldest = oldest.replace(tzinfo=dt.UTC)
        age.add_metric([channel], max(0.0, (now - oldest).total_seconds()))
    # Gauges, not counters: a deleted or corrected visit takes its count back.
    checkins = GaugeMetricFamily("bluezone_checkins", "Check-ins recorded, all communes, since the start")
    checkins.add_metric([], totals["checkins"])
    visits = GaugeMetricFamily("bluezone_visits", "Household visits logged by volunteers (first and return visits)")
    visits.add_metric([], totals["households_visited"] + totals["revisits"])
    installs = GaugeMetricFamily(
        "bluezone_installs", "Installs counted: helped by volunteers, and reported by citizens", labels=["source"]
    )
    installs.add_metric(["volunteers"], totals["installs_helped"])
    installs.add_metric(["citizens"], totals["self_reported_installs"])
    return [reachable, depth, age, checkins, visits, installs]
