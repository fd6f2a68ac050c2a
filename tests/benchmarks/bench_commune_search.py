"""Commune search: time per query over all 3,321 communes (target: under 5 ms)."""

from __future__ import annotations

import random
import statistics
import time

from storage.folding import fold
from storage.units import CommuneIndex

FIXED = ["Hoàn Kiếm", "phu hoa", "Tân Phú, Đồng Nai", "an", "Thuỵ Anh", "dac khu phu quy", "hoan kim", "xyzzy", "00070"]


def queries(index: CommuneIndex, n: int, rng: random.Random) -> list[str]:
    out = list(FIXED)
    while len(out) < n:
        entry = rng.choice(index.entries)
        kind = rng.randrange(5)
        if kind == 0:
            out.append(entry.name)
        elif kind == 1:
            out.append(fold(entry.name))
        elif kind == 2:
            out.append(entry.key[: max(2, len(entry.key) // 2)])  # a prefix
        elif kind == 3:
            k = list(entry.key)
            k[rng.randrange(len(k))] = rng.choice("aeiouy")  # a typo
            out.append("".join(k))
        else:
            out.append(f"{entry.name}, {entry.province_name}")
    return out


def main() -> None:
    rng = random.Random(7)
    started = time.perf_counter()
    index = CommuneIndex.from_data()
    build_ms = (time.perf_counter() - started) * 1000
    qs = queries(index, 3000, rng)
    for q in qs[:100]:  # warm-up
        index.search(q)
    times = []
    for q in qs:
        t0 = time.perf_counter()
        index.search(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p = lambda f: times[min(len(times) - 1, int(f * len(times)))]
    print(f"   index of {len(index)} communes built in {build_ms:.0f} ms")
    print(
        f"   {len(times)} queries: mean {statistics.mean(times):.2f} ms, p50 {p(0.5):.2f} ms, "
        f"p99 {p(0.99):.2f} ms, max {times[-1]:.2f} ms (target < 5 ms)"
    )
    worst = sorted(((index_time(index, q), q) for q in FIXED), reverse=True)[:3]
    print("   slowest fixed queries: " + ", ".join(f"{q!r} {ms:.2f} ms" for ms, q in worst))


def index_time(index: CommuneIndex, q: str) -> float:
    t0 = time.perf_counter()
    for _ in range(20):
        index.search(q)
    return (time.perf_counter() - t0) * 1000 / 20


if __name__ == "__main__":
    main()
