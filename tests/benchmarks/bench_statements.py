"""Database work per update: SQL statements and sessions (connection checkouts) per kind of update.

The webhook benchmark's updates (a citizen's /start, a guide button, a check-in by deep link; a
volunteer's /start and a visit line; the launch mix's new person's /start by a check-in link and
their answer to its question) go through Service.receive, as the webhook hands them over,
and their replies through the courier, on a fresh PostgreSQL database (SQLite when there is none).
Each statement costs about a millisecond of the worker's CPU (SQLAlchemy and the driver), so
these counts, unlike the throughput figures of a shared machine, show the effect of a change
exactly. The second update of each kind is counted (the first warms caches: the commune index).
BENCH_STATEMENTS_SHOW=kind prints that kind's statements (e.g. "citizen /start"), each cut at
BENCH_STATEMENTS_WIDTH characters (160). Counting them listens to the engine's statements, which
sends those storage.direct would give asyncpg directly through SQLAlchemy: the same SQL, counted.
BENCH_STATEMENTS_CPU=N then measures this process's CPU time per update (the engine and the
courier, without HTTP: the channel records its sends) over N new people of the launch mix (their
/start by a check-in link and their answer, every other one "not yet") and N/2 citizens of the
button mix (/start and three guide buttons), one update at a time, on PostgreSQL and on SQLite:
less noisy on a shared machine than bench_webhook's throughput. Nothing listens there: the hot
statements go to asyncpg directly, as in the service. It also gives the CPU of one statement
through the session against the same sent directly (storage.direct).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import event

from bot.service import Service
from bot.settings import Secret, Settings
from handlers.types import Incoming, Kind
from tests.benchmarks.bench_webhook import QR_KEY, drop_pg_database, fresh_pg_database, seed
from tests.harness import BUTTONS, RecordingChannel

KINDS = [
    "citizen /start",
    "guide button",
    "guide:android",
    "check-in (deep link)",
    "volunteer /start",
    "visit line",
    "new person's /start (deep link)",
    "the check-in's question answered",
]


def asked(channel: RecordingChannel, user: int, prefix: str) -> str:
    """The payload of the latest button sent to `user` that starts with `prefix`: a question's
    answer carries the check-in's id, known only once the question was asked."""
    return next(
        button.payload
        for reply in reversed(channel.sent)
        if reply.chat_id == str(user)
        for row in reply.message.buttons
        for button in row
        if (button.payload or "").startswith(prefix)
    )


async def count(url: str) -> dict[str, tuple[int, int]]:
    volunteers = [7_200_000_001, 7_200_000_002]
    payloads = await seed(url, volunteers)
    service = Service(Settings(database_url=url, qr_signing_key=Secret(QR_KEY)))
    channel = RecordingChannel("telegram", BUTTONS)
    service.add_channel(channel)
    statements: Counter = Counter()
    sessions: Counter = Counter()
    current = ["-"]

    @event.listens_for(service.db.sync_engine, "before_cursor_execute")
    def on_statement(_conn, _cursor, statement, *_args) -> None:
        statements[current[0]] += 1
        if current[0] == os.environ.get("BENCH_STATEMENTS_SHOW"):
            print("     ", " ".join(statement.split())[: int(os.environ.get("BENCH_STATEMENTS_WIDTH", "160"))])

    @event.listens_for(service.db.sync_engine.pool, "checkout")
    def on_checkout(*_args) -> None:
        sessions[current[0]] += 1

    ids = itertools.count(1)

    def incoming(user: int, kind: Kind, **fields) -> Incoming:
        return Incoming(
            channel="telegram", user_id=str(user), chat_id=str(user), update_id=str(next(ids)), kind=kind, **fields
        )

    def script(citizen: int, volunteer: int, n: int) -> list[tuple[str, Incoming | Callable[[], Incoming]]]:
        newcomer = citizen + 1_000
        return [
            ("citizen /start", incoming(citizen, Kind.TEXT, text="/start")),
            ("guide button", incoming(citizen, Kind.BUTTON, payload="guide", message_ref="1")),
            ("guide:android", incoming(citizen, Kind.BUTTON, payload="guide:android", message_ref="1")),
            ("check-in (deep link)", incoming(citizen, Kind.TEXT, text=f"/start {payloads[0]}")),
            ("volunteer /start", incoming(volunteer, Kind.TEXT, text="/start")),
            ("visit line", incoming(volunteer, Kind.TEXT, text=f"thôn 1, số {n}, 4 máy, cài 2, có sẵn 1")),
            # The launch mix of bench_webhook: someone new to the bot scans a poster, then answers.
            ("new person's /start (deep link)", incoming(newcomer, Kind.TEXT, text=f"/start {payloads[1]}")),
            ("the check-in's question answered", lambda: answer(newcomer)),
        ]

    def answer(user: int) -> Incoming:
        """The press on the check-in's own question (its id known only once it was asked)."""
        return incoming(user, Kind.BUTTON, payload=asked(channel, user, "ci:n:"), message_ref="1")

    try:
        for round_, (citizen, volunteer) in enumerate([(6_200_000_001, volunteers[0]), (6_200_000_002, volunteers[1])]):
            for kind, update in script(citizen, volunteer, round_):
                current[0] = kind if round_ else "-"
                await service.receive(update() if callable(update) else update)
                await service.courier.drain()
    finally:
        await service.stop()  # disposes the engine it created
    return {kind: (statements[kind], sessions[kind]) for kind in KINDS}


async def cpu_per_update(url: str, people: int) -> tuple[float, float]:
    """CPU milliseconds per update of this process: (launch mix, button mix)."""
    payloads = await seed(url, [])
    service = Service(Settings(database_url=url, qr_signing_key=Secret(QR_KEY)))
    channel = RecordingChannel("telegram", BUTTONS)
    service.add_channel(channel)
    ids = itertools.count(1)

    async def handle(user: int, kind: Kind, **fields) -> None:
        update = Incoming(
            channel="telegram", user_id=str(user), chat_id=str(user), update_id=str(next(ids)), kind=kind, **fields
        )
        await service.receive(update)
        await service.courier.drain()

    async def newcomer(user: int, n: int) -> None:
        await handle(user, Kind.TEXT, text=f"/start {payloads[n % len(payloads)]}")
        await handle(user, Kind.BUTTON, payload=asked(channel, user, f"ci:{'yn'[n % 2]}:"), message_ref="1")

    async def citizen(user: int) -> None:
        await handle(user, Kind.TEXT, text="/start")
        for payload in ("guide", "guide:android", "guide:android:1"):
            await handle(user, Kind.BUTTON, payload=payload, message_ref="1")

    try:
        for n in range(20):  # warm-up: connections, prepared statements, the commune index
            await newcomer(5_000_000 + n, n)
            await citizen(5_100_000 + n)
        started = time.process_time()
        for n in range(people):
            await newcomer(6_000_000 + n, n)
        launch = time.process_time()
        for n in range(people // 2):
            await citizen(6_500_000 + n)
        buttons = time.process_time()
    finally:
        await service.stop()
    return 1000 * (launch - started) / (2 * people), 1000 * (buttons - launch) / (4 * (people // 2))


async def statement_cpu(url: str, n: int = 2000) -> tuple[float, float]:
    """CPU microseconds of one statement (a one-row SELECT by a parameter, in a transaction) through
    the session, and sent to asyncpg directly (storage.direct), alternating by hundreds."""
    from sqlalchemy import bindparam, select

    from storage import direct
    from storage.db import create_engine, sessionmaker
    from storage.models import Commune

    engine = create_engine(url)
    statement = select(Commune.code, Commune.name).where(Commune.code == bindparam("code"))
    spent = {"session": 0.0, "direct": 0.0}
    try:
        async with sessionmaker(engine)() as db, db.begin():
            await db.execute(statement, {"code": "00004"})  # BEGIN, and the prepared statements
            await direct.rows(db, statement, {"code": "00004"})
            for _ in range(n // 100):
                started = time.process_time()
                for _ in range(100):
                    (await db.execute(statement, {"code": "00004"})).all()
                middle = time.process_time()
                for _ in range(100):
                    await direct.rows(db, statement, {"code": "00004"})
                spent["session"] += middle - started
                spent["direct"] += time.process_time() - middle
    finally:
        await engine.dispose()
    return 1e6 * spent["session"] / n, 1e6 * spent["direct"] / n


async def cpu_table(people: int) -> None:
    print(
        f"   CPU per update in this process (engine and courier, no HTTP), {people} new people, {people // 2} citizens:"
    )
    url = await fresh_pg_database()
    if url is not None:
        try:
            launch, buttons = await cpu_per_update(url, people)
            through_session, sent_directly = await statement_cpu(url)
        finally:
            await drop_pg_database(url)
        print(f"     postgresql: launch mix {launch:.2f} ms, button mix {buttons:.2f} ms")
        print(
            f"     postgresql, one SELECT in a transaction: {through_session:.0f} µs through the session,"
            f" {sent_directly:.0f} µs sent to asyncpg directly (storage.direct)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        launch, buttons = await cpu_per_update(f"sqlite:///{tmp}/cpu.db", people)
    print(f"     sqlite: launch mix {launch:.2f} ms, button mix {buttons:.2f} ms")


async def run() -> None:
    url = await fresh_pg_database()
    tmp = None
    if url is None:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/statements.db"
    try:
        counts = await count(url)
    finally:
        if tmp is None:
            await drop_pg_database(url)
        else:
            tmp.cleanup()
    print(f"   {url.split('+')[0]}: per update, handling and delivering its replies")
    print("   | update | SQL statements | sessions |")
    print("   | --- | --- | --- |")
    for kind, (statements, sessions) in counts.items():
        print(f"   | {kind} | {statements} | {sessions} |")
    people = int(os.environ.get("BENCH_STATEMENTS_CPU") or 0)
    if people:
        await cpu_table(people)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
