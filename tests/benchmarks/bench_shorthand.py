"""Shorthand visit lines: time per parse, and the per-hamlet summary of a busy commune."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from types import SimpleNamespace

from handlers.shorthand import Vocabulary, parse
from storage.visits import summarize
from texts.content import Content

PARTS = {
    "hamlet": ["thôn {n}", "ấp Phú Hòa", "tổ {n}", "to dan pho {n}", "xóm Đình", "khu phố {n}", "thon Dong"],
    "household": ["số {n}", "so {n}", "nhà ông Ba", "sn {n}/3", "số {n} ngõ 4"],
    "counts": ["{n} máy", "cài {n}", "có sẵn {n}", "{n} may", "cai {n}", "san {n}"],
    "outcome": ["không có máy", "vắng nhà", "từ chối", "ko co may", "vang nha"],
}


def lines(n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        parts = [rng.choice(PARTS["hamlet"]), rng.choice(PARTS["household"])]
        if rng.random() < 0.3:
            parts.append(rng.choice(PARTS["outcome"]))
        else:
            parts += rng.sample(PARTS["counts"], rng.randint(1, 3))
        rng.shuffle(parts)
        out.append(rng.choice([", ", " ", " - "]).join(p.format(n=rng.randint(1, 20)) for p in parts))
    return out


def main() -> None:
    rng = random.Random(4)
    vocabulary = Vocabulary.from_section(Content.load().section("shorthand"))
    sample = lines(5000, rng)
    for line in sample[:200]:  # warm-up
        parse(line, vocabulary)
    times = []
    understood = 0
    for line in sample:
        t0 = time.perf_counter()
        parsed = parse(line, vocabulary)
        times.append((time.perf_counter() - t0) * 1000)
        understood += parsed.is_visit and not parsed.unknown
    times.sort()
    p = lambda f: times[min(len(times) - 1, int(f * len(times)))]
    print(
        f"   {len(times)} generated lines: mean {statistics.mean(times):.3f} ms, p50 {p(0.5):.3f} ms, "
        f"p99 {p(0.99):.3f} ms, max {times[-1]:.3f} ms; {understood} read as visits with nothing left over"
    )

    # A commune after a month of door-to-door work: 20,000 visits over 40 hamlets.
    start = dt.datetime(2021, 8, 1, tzinfo=dt.UTC)
    visits = []
    for i in range(20000):
        hamlet = f"Thôn {rng.randint(1, 40)}"
        visits.append(
            SimpleNamespace(
                id=i + 1,
                revisit_of=rng.randint(1, i) if i and rng.random() < 0.1 else None,
                hamlet=hamlet,
                hamlet_key=hamlet.lower(),
                household=str(rng.randint(1, 500)),
                outcome=rng.choice(["helped", "already", "no_smartphone", "refused", "nobody_home"]),
                installed_now=rng.randint(0, 3),
                visited_at=start + dt.timedelta(minutes=2 * i),
            )
        )
    t0 = time.perf_counter()
    summaries = summarize(visits)
    print(
        f"   per-hamlet summary of {len(visits)} visits ({len(summaries)} hamlets): "
        f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
