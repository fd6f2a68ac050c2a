"""The restart policy of `run --workers N` (bot/supervisor.py), driven with a fake clock and fake
processes: a crashing worker waits 1, 2, 4 … 60 s before each restart, one that ran healthily
starts again at 1 s, and too many crashes in the window stop the service."""

from __future__ import annotations

import itertools
import logging

from bot.supervisor import Backoff, WorkerPool


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeProcess:
    """A worker that lives `lifetime` seconds of the fake clock, then exits with 1."""

    pids = iter(range(100, 10_000))

    def __init__(self, clock: Clock, lifetime: float) -> None:
        self.clock, self.born, self.lifetime = clock, clock.now, lifetime
        self.pid = next(self.pids)
        self.terminated = False

    @property
    def exitcode(self) -> int | None:
        return None if self.is_alive() else (0 if self.terminated else 1)

    def is_alive(self) -> bool:
        return not self.terminated and self.clock.now < self.born + self.lifetime

    def terminate(self) -> None:
        self.terminated = True

    def kill(self) -> None:
        self.terminated = True

    def join(self, timeout: float | None = None) -> None:
        pass


def run_pool(lifetimes, backoff: Backoff, count: int = 1, until: float = 10_000.0):
    """Start times of each worker (index → [time since the start]), what `watch` returned, and
    the pids reported dead."""
    clock = Clock()
    started: dict[int, list[float]] = {}
    lives = iter(lifetimes)
    dead: list[int | None] = []

    def start(index: int) -> FakeProcess:
        started.setdefault(index, []).append(clock.now - 1000.0)
        return FakeProcess(clock, next(lives))

    pool = WorkerPool(count, start, backoff, on_exit=dead.append, clock=clock, sleep=clock.sleep, poll=0.1)
    gave_up = pool.watch(lambda: clock.now - 1000.0 >= until)
    return started, gave_up, dead


def pauses(starts: list[float], lifetime: float) -> list[float]:
    """The pause before each restart: from the worker's exit to its next start (to the poll)."""
    return [round(b - (a + lifetime)) for a, b in itertools.pairwise(starts)]


def test_a_worker_crashing_at_start_waits_longer_each_time_then_stops_the_service(caplog):
    with caplog.at_level(logging.WARNING, logger="bluezone_bot"):
        started, gave_up, dead = run_pool([0.0] * 20, Backoff(crash_limit=5))
    assert gave_up  # supervise() exits with 1
    assert pauses(started[0], 0.0) == [1, 2, 4, 8]  # and the fifth crash was one too many
    assert len(dead) == 5  # each exit reported, for its metrics files
    assert "its exit number 5 within 10 minutes: stopping the service" in caplog.text
    assert "restarting it in 8 s" in caplog.text


def test_the_pause_stops_growing_at_a_minute():
    started, gave_up, _ = run_pool([0.0] * 20, Backoff(crash_limit=9, window=3600))
    assert gave_up and pauses(started[0], 0.0) == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_worker_that_ran_healthily_starts_again_at_once(caplog):
    # Three quick crashes (pauses 1, 2, 4), then a run of five minutes, then quick crashes again.
    lifetimes = [0.0, 0.0, 0.0, 300.0, 0.0, 0.0, 0.0, 0.0]
    started, gave_up, _ = run_pool(lifetimes, Backoff(crash_limit=5, window=200), until=1000)
    starts = started[0]
    assert round(starts[4] - (starts[3] + 300)) == 1  # after the healthy run: 1 s again, not 8
    assert round(starts[5] - starts[4]) == 2
    # The first three crashes have left the 200 s window: only the later ones count.
    assert gave_up and len(starts) == 8


def test_crashes_spread_out_never_stop_the_service():
    started, gave_up, _ = run_pool([160.0] * 40, Backoff(crash_limit=5), until=5000)
    assert not gave_up and len(started[0]) > 20  # one crash every 161 s: never 5 within 10 minutes


def test_each_worker_is_counted_alone():
    # Worker 1 lives long, worker 2 crashes at start: only worker 2's crashes count.
    lifetimes = iter([10_000.0] + [0.0] * 20)
    started, gave_up, _ = run_pool(lifetimes, Backoff(crash_limit=3), count=2)
    assert gave_up and len(started[0]) == 1 and len(started[1]) == 3
