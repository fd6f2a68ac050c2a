"""Typed citizen questions: the evaluation set's top-1 hit rate, by style, and time per question."""

from __future__ import annotations

import statistics
import time

from handlers.faq import build_ranker
from tests.handlers.faq_phrasings import NOT_UNDERSTOOD, STYLES, load, questions
from texts.content import Content


def main() -> None:
    content = Content.load()
    started = time.perf_counter()
    ranker = build_ranker(content)
    built = (time.perf_counter() - started) * 1000
    rows = load()
    asked = questions(rows)
    readings = {r.text: ranker.read(r.text) for r in rows}
    top1 = [r for r in asked if readings[r.text].targets[:1] == (r.expected,)]
    direct = [r for r in top1 if len(readings[r.text].targets) == 1]
    print(
        f"   {len(asked)} questions: top-1 right {len(top1)} ({len(top1) / len(asked):.1%}); "
        f"answered at once and right {len(direct)}, the right one first among buttons {len(top1) - len(direct)}"
    )
    for style in STYLES:
        of_style = [r for r in asked if r.style == style]
        right = sum(r in top1 for r in of_style)
        print(f"   {style}: {right}/{len(of_style)} ({right / len(of_style):.1%})")
    talk = [r for r in rows if r.style == "small_talk"]
    talk_right = sum(f"small_talk:{readings[r.text].small_talk}" == r.expected for r in talk)
    unrelated = [r for r in rows if r.expected == NOT_UNDERSTOOD]
    answered = [r.text for r in unrelated if readings[r.text].understood]
    print(
        f"   small talk {talk_right}/{len(talk)}; unrelated lines answered (must be 0): {len(answered)}/{len(unrelated)}"
    )
    misses = [(r.text, r.expected, readings[r.text].targets) for r in asked if r not in top1]
    for text, expected, got in misses:
        print(f"     missed: {text!r}: {expected}, got {list(got) or 'nothing'}")

    texts = [r.text for r in rows] * 20
    times = []
    for text in texts:
        t0 = time.perf_counter()
        ranker.read(text)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(
        f"   {len(times)} reads: mean {statistics.mean(times):.2f} ms, p50 {times[len(times) // 2]:.2f} ms, "
        f"p99 {times[int(len(times) * 0.99)]:.2f} ms; ranker built in {built:.0f} ms"
    )


if __name__ == "__main__":
    main()
