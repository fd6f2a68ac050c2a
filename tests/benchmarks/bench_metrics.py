"""Metrics' cost: the CPU time the hooks add to one update (bot/metrics.py), in memory (one process)
and in multi-process mode (files shared by `run --workers N`), and the CPU time of one scrape.

Each mode runs in a child process of its own, since prometheus_client picks its mode when first
imported. An update runs: two clock reads and a histogram observation (Service.receive), and a
counter increment per reply sent (Courier). Compared with the same loop without the calls.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

ROUNDS = 5
UPDATES = 100_000
WORKERS = 4  # for the scrape: files of this many processes, three channels, every outcome


def _per_update(body, n: int) -> float:
    """The best of ROUNDS of n calls, in CPU nanoseconds a call."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time_ns()
        for _ in range(n):
            body()
        best = min(best, (time.process_time_ns() - started) / n)
    return best


def _fill(_: int) -> None:
    from bot import metrics

    for channel in ("telegram", "zalo_oa", "zalo_bot"):
        for n in range(1000):
            metrics.update_handled(channel, n / 1e4)
            metrics.send_outcome(channel)
        metrics.flood_drop(channel)


def measure() -> None:
    """In the child: the figures of this process's mode, as one line."""
    from bot import metrics

    clock = time.perf_counter

    def without() -> None:
        began = clock()
        clock() - began

    def hooks() -> None:
        began = clock()
        metrics.update_handled("telegram", clock() - began)
        metrics.send_outcome("telegram")

    base = _per_update(without, UPDATES)
    cost = _per_update(hooks, UPDATES)
    line = f"hooks {cost - base:,.0f} ns of CPU an update (loop alone {base:,.0f} ns)"
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
            pool.map(_fill, range(WORKERS))
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.process_time_ns()
            body = generate_latest(registry)
            best = min(best, time.process_time_ns() - started)
        line += f"; a scrape of {WORKERS + 1} processes' files: {best / 1e6:.1f} ms of CPU, {len(body):,} bytes"
    print(line, flush=True)


def main() -> None:
    load = os.getloadavg()
    print(f"   load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)")
    for mode in ("in memory (1 process)", "multi-process (files)"):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as folder:
            if mode.startswith("multi"):
                env["PROMETHEUS_MULTIPROC_DIR"] = folder
            out = subprocess.run(
                [sys.executable, "-c", "from tests.benchmarks.bench_metrics import measure; measure()"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        print(f"   {mode}: {out}")


if __name__ == "__main__":
    main()
