"""Keeps `run --workers N`'s processes running: a worker that exits is started again after a pause
that doubles while it keeps crashing, and one that crashes too often stops the service, so that
a process manager (systemd) sees the failure instead of a restart loop hiding it."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("bluezone_bot")

# Crashes are counted over this window (WORKER_CRASH_LIMIT of them stop the service).
CRASH_WINDOW = 600.0


@dataclass(frozen=True)
class Backoff:
    """When a worker that exited is started again, and when the supervisor gives up on it."""

    crash_limit: int = 5  # this many exits of one worker within `window` seconds stop the service
    window: float = CRASH_WINDOW
    first: float = 1.0
    longest: float = 60.0
    # A worker that ran this long had recovered: its next crash waits `first` again.
    healthy: float = 60.0

    def pause(self, streak: int) -> float:
        """Before the restart that follows the `streak`-th crash in a row: 1, 2, 4 … 60 s."""
        return min(self.longest, self.first * 2 ** max(0, streak - 1))


class Process(Protocol):
    """What the pool needs of a worker process (multiprocessing's, or a test's)."""

    @property
    def pid(self) -> int | None: ...
    @property
    def exitcode(self) -> int | None: ...
    def is_alive(self) -> bool: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


@dataclass
class _Slot:
    index: int
    process: Process | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    streak: int = 0  # crashes in a row, each after less than `healthy` seconds of running
    crashes: deque[float] = field(default_factory=deque)


class WorkerPool:
    """`count` workers, each started by `start(index)`; `on_exit(pid)` after each one ends."""

    def __init__(
        self,
        count: int,
        start: Callable[[int], Process],
        backoff: Backoff,
        *,
        on_exit: Callable[[int | None], None] = lambda pid: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.2,
    ) -> None:
        self.slots = [_Slot(index) for index in range(count)]
        self.start, self.backoff, self.on_exit = start, backoff, on_exit
        self.clock, self.sleep, self.poll = clock, sleep, poll

    def watch(self, stopping: Callable[[], bool]) -> bool:
        """Start the workers and keep them running until `stopping()`: then False. True when
        one worker exited `crash_limit` times within the window: the service must stop."""
        for slot in self.slots:
            self._start(slot)
        while not stopping():
            self.sleep(self.poll)
            if stopping():  # a Ctrl-C reaches the workers too: their exit is no crash
                break
            now = self.clock()
            for slot in self.slots:
                if slot.process is not None and not slot.process.is_alive() and self._crashed(slot, now):
                    return True
                if slot.process is None and now >= slot.restart_at and not stopping():
                    self._start(slot)
        return False

    def _start(self, slot: _Slot) -> None:
        slot.process = self.start(slot.index)
        slot.started_at = self.clock()

    def _crashed(self, slot: _Slot, now: float) -> bool:
        """Book a worker's exit; True when it was one too many."""
        process, backoff = slot.process, self.backoff
        assert process is not None
        slot.process = None
        self.on_exit(process.pid)
        ran = now - slot.started_at
        slot.streak = 1 if ran >= backoff.healthy else slot.streak + 1
        slot.crashes.append(now)
        while slot.crashes[0] <= now - backoff.window:
            slot.crashes.popleft()
        name = f"worker {slot.index + 1} (pid {process.pid})"
        if len(slot.crashes) >= backoff.crash_limit:
            log.error(
                "%s exited with %s, its exit number %s within %.0f minutes: stopping the service "
                "(WORKER_CRASH_LIMIT=%s; its error is logged above)",
                name,
                process.exitcode,
                len(slot.crashes),
                backoff.window / 60,
                backoff.crash_limit,
            )
            return True
        pause = backoff.pause(slot.streak)
        slot.restart_at = now + pause
        log.warning("%s exited with %s after %.0f s; restarting it in %g s", name, process.exitcode, ran, pause)
        return False

    def stop(self, timeout: float) -> None:
        """SIGTERM to every live worker (each drains: its sends under way finish), then SIGKILL to
        any still running after `timeout` seconds."""
        alive = [s.process for s in self.slots if s.process is not None and s.process.is_alive()]
        for process in alive:
            process.terminate()
        deadline = self.clock() + timeout
        for process in alive:
            process.join(timeout=max(0.0, deadline - self.clock()))
            if process.is_alive():
                log.warning("worker pid %s still running after %.0f s: killed", process.pid, timeout)
                process.kill()
                process.join()
            self.on_exit(process.pid)
        for slot in self.slots:
            slot.process = None
