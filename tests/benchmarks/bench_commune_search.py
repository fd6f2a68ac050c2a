"""Commune search: time per query over today's 3,321 communes and the 10,051 before 2025, both
indexed before timing (target: under 5 ms)."""

from __future__ import annotations

import random
import statistics
import time

from storage.folding import fold
from storage.units import CommuneIndex

FIXED = [
    "Hoàn Kiếm",
    "phu hoa",
    "Tân Phú, Đồng Nai",
    "an",
    "Thuỵ Anh",
    "dac khu phu quy",
    "hoan kim",
    "xyzzy",
    "00070",
    "duc hoa tay ninh",
    "phuong hoan kiem ha noi",
    "tan phu dong nai",
    "xã Đức Hòa Hạ, huyện Đức Hòa, Long An",
    "Phường Hàng Bạc",
]


def queries(index: CommuneIndex, n: int, rng: random.Random) -> list[str]:
    out = list(FIXED)
    formers = list(index.former.by_code.values())
    while len(out) < n:
        entry = rng.choice(index.entries)
        kind = rng.randrange(7)
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
        elif kind == 4:
            out.append(f"{entry.name}, {entry.province_name}")
        elif kind == 5:
            out.append(f"{fold(entry.name)} {fold(entry.province_name)}")  # in one breath
        else:
            former = rng.choice(formers)  # a name from before 2025, with its district and province
            out.append(f"{former.name}, {former.district_name}, {former.province_name}")
    return out


def main() -> None:
    rng = random.Random(7)
    started = time.perf_counter()
    index = CommuneIndex.from_data()
    _ = index.former  # both maps indexed before any query is timed
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
    print(f"   index of {len(index)} communes and {len(index.former)} former ones built in {build_ms:.0f} ms")
    print(
        f"   {len(times)} queries: mean {statistics.mean(times):.2f} ms, p50 {p(0.5):.2f} ms, "
        f"p99 {p(0.99):.2f} ms, max {times[-1]:.2f} ms (target < 5 ms)"
    )
    # Each query's best of three: what the search costs, less what other processes took meanwhile.
    best = sorted(min(index_time(index, q, 1) for _ in range(3)) for q in qs)
    print(
        f"   best of 3 per query: mean {statistics.mean(best):.2f} ms, p50 {best[len(best) // 2]:.2f} ms, "
        f"p99 {best[int(0.99 * len(best))]:.2f} ms, max {best[-1]:.2f} ms"
    )
    worst = sorted(((index_time(index, q), q) for q in FIXED), reverse=True)[:3]
    print("   slowest fixed queries: " + ", ".join(f"{q!r} {ms:.2f} ms" for ms, q in worst))


def index_time(index: CommuneIndex, q: str, repeat: int = 20) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        index.search(q)
    return (time.perf_counter() - t0) * 1000 / repeat


if __name__ == "__main__":
    main()
