"""The background loop (outbox sweep, inbound queue) stops when told, whenever it is told."""

import asyncio

import pytest

from bot.background import repeat


@pytest.mark.parametrize("ticks", range(4))
async def test_a_stop_that_arrives_as_the_loop_is_woken_stops_it(ticks):
    # The service's stop cancels the loop; a webhook may set the wake-up event at that very
    # moment. asyncio.wait_for on Python 3.11 swallowed such a cancellation, and the loop ran on
    # forever, so the service never stopped. `ticks` moves the cancel around the wake-up.
    wake = asyncio.Event()
    passes = 0

    async def work() -> None:
        nonlocal passes
        passes += 1

    task = asyncio.create_task(repeat(work, wake, 60, "test pass"))
    while passes == 0:
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # now waiting for the event
    wake.set()
    for _ in range(ticks):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()
