"""Telegram webhook: updates/s and answer latency of `bluezone-bot run`, beside a bare echo bot.

A load generator on loopback plays Telegram: USERS_AT_ONCE simulated people at a time (Telegram's
default max_connections for a webhook), each posting its updates one after another as soon as the
previous one is answered, real update JSON built with FakeUser. A citizen sends /start, presses
the guide buttons three times and checks in at a venue by its poster's deep link; one person in
five is a volunteer who sends /start and logs two visits by shorthand line. The bot runs as
`bluezone-bot run [--workers N]` in its own processes, on SQLite and on PostgreSQL (a fresh
database each); the TelegramStandin, in this process, answers its sends with no rate limit and the
bot is started with TELEGRAM_MAX_PER_SECOND=0, so that what is measured is the work of the workers,
not Telegram's ceiling. The same harness then drives tests/benchmarks/echo_bot.py: a bare
python-telegram-bot application (no database) that answers each message with its text and
each press with answerCallbackQuery and an edit: the ceiling.

accepted/s counts webhook 200s over the sending window; done/s counts the same updates over the
time until their last reply reached the stand-in (the echo bot answers 200 before handling, the
bot after committing, so done/s is the fair comparison and "% of echo" is taken from it). Memory:
VmRSS of a worker process after start-up (idle) and its VmHWM (peak) after the load.
BENCH_WEBHOOK_UPDATES sets the number of measured updates per configuration (default 1,200);
BENCH_WEBHOOK_PROFILE=file runs the 1-worker bots under cProfile (stats in file.sqlite, file.postgresql).
BENCH_WEBHOOK_CONFIGS picks configurations by ";"-separated prefixes (e.g. "echo;PostgreSQL, 1"); all by default.
BENCH_WEBHOOK_ROUNDS (default 2) measures them all that many times in turn, each round's shares
taken against that round's echo bot.

Two mixes are measured, each against the echo bot: "buttons" (the above) and "launch", a poster
campaign's first hour: BENCH_WEBHOOK_LAUNCH_UPDATES (default 2,000) updates, 16 people at a time,
every person new to the bot, whose first update is `/start` with a venue's check-in payload and
whose second is the answer to the question it asks ("do you already have the app?"), pressed once
the reply arrived. BENCH_WEBHOOK_MIXES="launch" (or "buttons") measures only one.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.commands.common import prepare_database
from bot.settings import Settings
from storage import roles
from storage.accounts import find_or_create_person
from storage.db import create_engine, sessionmaker
from storage.models import Commune, OutboxMessage
from storage.venue_codes import sign
from storage.venues import create_venue
from tests.conftest import PG_URL
from tests.standins.telegram_api import SENDING_METHODS, FakeUser, TelegramStandin

TOKEN = "4242:bench-webhook-token"
SECRET = "bench-webhook-secret"
QR_KEY = "bench-qr-signing-key-0123456789"
USERS_AT_ONCE = 40
UPDATES = int(os.environ.get("BENCH_WEBHOOK_UPDATES") or 1200)
# Every configuration is measured ROUNDS times, all of them in turn, so that a busy moment of a
# shared machine shows as spread instead of passing for a difference between configurations.
ROUNDS = int(os.environ.get("BENCH_WEBHOOK_ROUNDS") or 2)
CONFIGS = [c.strip() for c in (os.environ.get("BENCH_WEBHOOK_CONFIGS") or "").split(";") if c.strip()]
MIXES_WANTED = [m.strip() for m in (os.environ.get("BENCH_WEBHOOK_MIXES") or "").split(";") if m.strip()]
VOLUNTEER_EVERY = 5  # one person in five is a volunteer
VENUES = 5
PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    config: str
    posted: int = 0
    answered_200: int = 0
    other: dict[int, int] = field(default_factory=dict)
    accepted_per_s: float = 0.0
    done_per_s: float = 0.0
    done_after_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    sends: int = 0
    refused_sends: int = 0
    rss_idle_mib: float | None = None
    rss_peak_mib: float | None = None
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU time per update, by process kind


# --- the simulated people ---


class People:
    """The button mix: citizens and volunteers, their scripts built lazily (fresh update ids at send time)."""

    def __init__(self, tg: TelegramStandin, payloads: list[str], volunteers: list[int]) -> None:
        self.tg = tg
        self.payloads = payloads
        self.volunteers = iter(volunteers)
        self.ids = itertools.count(6_100_000_001)
        self.serial = itertools.count()

    def script(self) -> list[Callable[[], dict]]:
        n = next(self.serial)
        if n % VOLUNTEER_EVERY == VOLUNTEER_EVERY - 1:
            volunteer = next(self.volunteers, None)
            if volunteer is not None:
                return self._volunteer(self.tg.user(volunteer), n)
        return self._citizen(self.tg.user(next(self.ids)), n)

    def _citizen(self, user: FakeUser, n: int) -> list[Callable[[], dict]]:
        press = presser(self.tg, user)
        payload = self.payloads[n % len(self.payloads)]
        return [
            lambda: user.build_text("/start"),
            lambda: press("guide"),
            lambda: press("guide:android"),
            lambda: press("guide:android:1"),
            lambda: user.build_text(f"/start {payload}"),
        ]

    def _volunteer(self, user: FakeUser, n: int) -> list[Callable[[], dict]]:
        return [
            lambda: user.build_text("/start"),
            lambda: user.build_text(f"thôn {n % 9 + 1}, số {n}, 4 máy, cài 2, có sẵn 1"),
            lambda: user.build_text(f"thon {n % 9 + 1} so {n}/2 vang nha"),
        ]


class NewPeople:
    """The launch mix: people who never wrote to the bot scan a poster (their first update is
    `/start <check-in payload>`) and, once its reply is on their screen, answer its question
    "do you already have the app?" (every other one "not yet", which opens the guide)."""

    def __init__(self, tg: TelegramStandin, payloads: list[str], volunteers: list[int]) -> None:
        self.tg = tg
        self.payloads = payloads
        self.ids = itertools.count(6_500_000_001)
        self.serial = itertools.count()

    def script(self) -> list[Callable[[], dict | Awaitable[dict]]]:
        n = next(self.serial)
        user = self.tg.user(next(self.ids))
        payload = self.payloads[n % len(self.payloads)]
        return [lambda: user.build_text(f"/start {payload}"), lambda: answer_question(self.tg, user, "yn"[n % 2])]


async def answer_question(tg: TelegramStandin, user: FakeUser, answer: str) -> dict:
    """A press of the check-in's answer button, on the message that asked it, once it arrived (the
    echo bot's reply has no button: its press carries the same kind of data)."""
    for _ in range(3000):
        messages = tg.messages.get(user.id)
        if messages:
            break
        await asyncio.sleep(0.002)
    else:
        raise RuntimeError(f"no reply reached {user.id}")
    message = messages[-1]
    buttons = [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
    data = next(
        (b["callback_data"] for b in buttons if b.get("callback_data", "").startswith(f"ci:{answer}:")),
        f"ci:{answer}:1",
    )
    update = user.build_raw(
        {
            "callback_query": {
                "id": tg._next_callback_id(),
                "from": user.as_dict(),
                "message": copy.deepcopy(message),
                "chat_instance": str(8_000_000_000_000_000_000 + user.id),
                "data": data,
            }
        }
    )
    tg._open_callbacks.add(update["callback_query"]["id"])
    return update


def presser(tg: TelegramStandin, user: FakeUser) -> Callable[[str], dict]:
    """Builds `user`'s button presses (callback_query updates) on one menu message of the bot."""
    menu: dict = {}

    def press(data: str) -> dict:
        if not menu:
            # The message whose buttons are pressed: as if the bot had shown the menu before.
            menu.update(
                tg._new_message(
                    user.id,
                    {"reply_markup": {"inline_keyboard": [[{"text": "Hướng dẫn cài đặt", "callback_data": "guide"}]]}},
                    text="Bluezone",
                )
            )
        update = user.build_raw(
            {
                "callback_query": {
                    "id": tg._next_callback_id(),
                    "from": user.as_dict(),
                    "message": menu,
                    "chat_instance": str(8_000_000_000_000_000_000 + user.id),
                    "data": data,
                }
            }
        )
        tg._open_callbacks.add(update["callback_query"]["id"])  # as Telegram would
        return update

    return press


async def post_update(http: aiohttp.ClientSession, base: str, update: dict, tg: TelegramStandin | None = None) -> int:
    """POST one update to the bot's Telegram webhook as Telegram would (making the Bot API call
    the answer carries, if any, on `tg`): the answer's status (0: no answer)."""
    try:
        async with http.post(
            f"{base}/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as response:
            body = await response.read()
            if tg is not None and response.status == 200:
                await tg._run_webhook_reply(body)
            return response.status
    except aiohttp.ClientError:
        return 0


@dataclass(frozen=True)
class Mix:
    """A kind of traffic: who the simulated people are, how many updates a configuration gets and
    how many people post at once."""

    name: str
    people: type[People] | type[NewPeople]
    updates: int
    at_once: int


MIXES = [
    Mix("buttons", People, UPDATES, USERS_AT_ONCE),
    # A poster campaign's launch, as issue 22 measured it: 2,000 updates, 16 people at once.
    Mix("launch", NewPeople, int(os.environ.get("BENCH_WEBHOOK_LAUNCH_UPDATES") or 2000), 16),
]


async def drive(
    base: str, people: People | NewPeople, updates: int, at_once: int = USERS_AT_ONCE
) -> tuple[list[tuple[float, float, int]], float]:
    """`at_once` people at a time until `updates` were posted: (sent at, seconds, status)."""
    results: list[tuple[float, float, int]] = []
    budget = itertools.count()
    connector = aiohttp.TCPConnector(limit=at_once)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one_at_a_time() -> None:
            while True:
                for build in people.script():
                    if next(budget) >= updates:
                        return
                    update = build()
                    if inspect.isawaitable(update):
                        update = await update
                    t0 = time.monotonic()
                    status = await post_update(http, base, update, people.tg)
                    results.append((t0, time.monotonic() - t0, status))

        await asyncio.gather(*(one_at_a_time() for _ in range(at_once)))
    return results, started


async def settle(
    tg: TelegramStandin, since: int, outbox: Callable | None, quiet: float = 1.0, limit: float = 300
) -> float:
    """Wait until every reply went out (the outbox is empty and the stand-in hears nothing more
    for `quiet` seconds); the monotonic time of the last send."""
    deadline = time.monotonic() + limit
    seen, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(tg.calls)
        if count != seen:
            seen, still_since = count, time.monotonic()
        elif time.monotonic() - still_since >= quiet and (outbox is None or await outbox() == 0):
            break
        await asyncio.sleep(0.1)
    sends = [c.at for c in tg.calls[since:] if c.method in SENDING_METHODS]
    return max(sends) if sends else time.monotonic()


# --- the processes ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process (all its threads) so far."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


async def backend_pids(engine) -> list[int]:
    """PostgreSQL's server processes serving the bot's database."""
    if engine is None or engine.dialect.name != "postgresql":
        return []
    async with engine.connect() as conn:
        return list(
            (
                await conn.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).all()
        )


def worker_pids(process: subprocess.Popen, workers: int) -> list[int]:
    """The processes that serve: the bot itself, or the supervisor's worker children."""
    if workers == 1:
        return [process.pid]
    pids = []
    for task in Path(f"/proc/{process.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                pids.append(int(child))
    return pids


def start_bot(
    tg: TelegramStandin, url: str | None, workers: int, env: dict[str, str] | None = None, profile: str | None = None
) -> tuple[subprocess.Popen, str]:
    """`bluezone-bot run` on database `url` (None: the echo bot) in its own process, its webhook
    on a free port and its Bot API calls going to `tg`, with no send rate limit of its own (the
    workers' own work is measured); `env` adds or overrides settings. The process and its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    if url is None:
        command = [sys.executable, "-m", "tests.benchmarks.echo_bot"]
    else:
        full |= {"DATABASE_URL": url, "PUBLIC_BASE_URL": base, "QR_SIGNING_KEY": QR_KEY, "TELEGRAM_MAX_PER_SECOND": "0"}
        command = [sys.executable, "-m", "bot.cli", "run", "--workers", str(workers)]
        if profile:
            command[1:3] = ["-m", "cProfile", "-o", f"{profile}.{url.split('+')[0]}", "-m", "bot.cli"]
    # Its log goes to a file (a pipe nobody reads would stall a bot that logs much), kept for
    # `measure` to show what went wrong when an answer was not 200.
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        command,
        env={**full, **(env or {})},
        cwd=PROJECT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    LOGS[process.pid] = log
    return process, base


LOGS: dict[int, typing.IO[str]] = {}  # each bot process's log file, by its pid


def bot_log(process: subprocess.Popen) -> str:
    """What the bot wrote to its standard output and error so far (if start_bot started it)."""
    log = LOGS.get(process.pid)
    if log is None:
        return "(its log is kept by whoever started it)"
    log.seek(0)
    return log.read()


async def wait_up(base: str, process: subprocess.Popen, workers: int) -> None:
    seen: set[str] = set()
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"the bot exited with {process.returncode}:\n{bot_log(process)}")
            try:
                async with http.get(f"{base}/healthz", headers={"Connection": "close"}) as response:
                    if response.status == 200:
                        seen.add(response.headers.get("X-Bluezone-Worker", "1"))
            except aiohttp.ClientError:
                pass
            if len(seen) >= workers:
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the bot did not come up (workers seen: {sorted(seen)})")


async def stop(process: subprocess.Popen) -> None:
    """SIGTERM, and wait without blocking this event loop: the stand-in in it must go on
    answering the sends the bot finishes while it stops."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        for _ in range(300):
            if process.poll() is not None:
                return
            await asyncio.sleep(0.1)
        process.kill()
        process.wait()


# --- the databases ---


async def seed(url: str, volunteers: list[int]) -> list[str]:
    """Migrate, register the venues (their QR payloads returned), grant the volunteers."""
    await prepare_database(Settings(database_url=url))
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            commune = await db.scalar(select(Commune.code).order_by(Commune.code).limit(1))
            payloads = []
            for i in range(VENUES):
                venue = await create_venue(
                    db,
                    name=f"Nhà văn hóa {i + 1}",
                    kind="government_office",
                    commune_code=commune,
                    address=f"{i + 1} Đường Bench",
                )
                payloads.append(sign(QR_KEY, venue.code))
            for uid in volunteers:
                person, _ = await find_or_create_person(db, "telegram", str(uid))
                await roles.grant(db, person.id, roles.Role.VOLUNTEER, commune)
        return payloads
    finally:
        await engine.dispose()


async def fresh_pg_database() -> str | None:
    name = f"bz_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"   PostgreSQL skipped: {exc.__class__.__name__}: {exc}")
        return None
    finally:
        await admin.dispose()
    # Through make_url: a URL naming a Unix socket (?host=/var/run/postgresql) ends in its query.
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    await admin.dispose()


# --- one configuration ---


async def measure(config: str, url: str | None, workers: int, mix: Mix = MIXES[0]) -> Result:
    """`url` None: the echo bot."""
    volunteers = [7_100_000_001 + i for i in range(mix.updates // 10 + mix.at_once)] if mix.people is People else []
    payloads = await seed(url, volunteers) if url else ["c-bench"]
    result = Result(config)
    async with TelegramStandin(token=TOKEN, username="bluezone_bench_bot") as tg:
        profile = os.environ.get("BENCH_WEBHOOK_PROFILE")
        process, base = start_bot(tg, url, workers, profile=profile if profile and url and workers == 1 else None)
        engine = create_engine(url) if url else None

        async def outbox() -> int:
            async with engine.connect() as conn:
                return await conn.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
                )

        try:
            await wait_up(base, process, workers)
            await asyncio.sleep(1)
            pids = worker_pids(process, workers)
            result.rss_idle_mib = max(status_kib(p, "VmRSS") or 0 for p in pids) / 1024
            people = mix.people(tg, payloads, volunteers)
            # Warm-up (connections, caches, the commune index): one script per slot, not counted.
            await drive(base, people, mix.at_once * 3, mix.at_once)
            await settle(tg, 0, outbox if engine else None)
            since = len(tg.calls)
            bot_pids = [process.pid, *pids]
            cpu_before = {"bot": cpu_seconds(bot_pids), "PostgreSQL": cpu_seconds(await backend_pids(engine))}
            harness_before = time.process_time()
            answers, started = await drive(base, people, mix.updates, mix.at_once)
            last_send = await settle(tg, since, outbox if engine else None)
            harness = time.process_time() - harness_before
            cpu_after = {"bot": cpu_seconds(bot_pids), "PostgreSQL": cpu_seconds(await backend_pids(engine))}
            for kind, after in cpu_after.items():
                used = sum(seconds - cpu_before[kind].get(pid, 0.0) for pid, seconds in after.items())
                if after:
                    result.cpu_ms[kind] = used * 1000 / mix.updates
            result.cpu_ms["harness (load, stand-in)"] = harness * 1000 / mix.updates
            result.rss_peak_mib = max(status_kib(p, "VmHWM") or 0 for p in pids) / 1024
        finally:
            await stop(process)
            if engine is not None:
                await engine.dispose()
        if any(status != 200 for _, _, status in answers):
            # Why some answers were not 200: the bot's warnings and errors (its log level).
            print("   the bot's log:\n" + "\n".join("     " + line for line in bot_log(process).splitlines()[-40:]))
        LOGS.pop(process.pid).close()
        ok = [seconds for _, seconds, status in answers if status == 200]
        for _, _, status in answers:
            if status != 200:
                result.other[status] = result.other.get(status, 0) + 1
        last_answer = max(t0 + seconds for t0, seconds, _ in answers)
        result.posted, result.answered_200 = len(answers), len(ok)
        result.accepted_per_s = len(ok) / (last_answer - started)
        result.done_after_s = max(last_send, last_answer) - started
        result.done_per_s = len(ok) / result.done_after_s
        ok.sort()
        result.p50_ms = ok[len(ok) // 2] * 1000
        result.p99_ms = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000
        calls = tg.calls[since:]
        result.sends = sum(c.method in SENDING_METHODS and c.ok for c in calls)
        result.refused_sends = sum(not c.ok for c in calls)
    return result


def table(mix: Mix, results: list[Result]) -> None:
    echo = next((r for r in results if r.config.startswith("echo")), None)
    print(f"   {mix.name} mix: {mix.updates} updates per configuration, {mix.at_once} people at a time")
    print(
        "   | config | accepted/s | p50 ms | p99 ms | all replies sent after | done/s | % of echo | "
        "sends (refused) | worker RSS idle / peak |"
    )
    print("   | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        share = f"{100 * r.done_per_s / echo.done_per_s:.0f}%" if echo and echo.done_per_s else "-"
        errors = f" ({r.answered_200}/{r.posted} answered 200: {r.other})" if r.other else ""
        print(
            f"   | {r.config}{errors} | {r.accepted_per_s:.0f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | "
            f"{r.done_after_s:.1f} s | {r.done_per_s:.0f} | {share} | {r.sends} ({r.refused_sends}) | "
            f"{r.rss_idle_mib:.0f} / {r.rss_peak_mib:.0f} MiB |",
            flush=True,
        )
    print("   CPU time per update (all processes of a kind, measured window incl. sending the replies):")
    for r in results:
        print(f"     {r.config}: " + ", ".join(f"{kind} {ms:.1f} ms" for kind, ms in r.cpu_ms.items()))


def summary(rounds: list[dict[str, list[Result]]]) -> None:
    """Each configuration's share of the echo bot in every round, per mix (each against that
    round's echo bot, measured minutes apart at most): the spread shows how noisy the machine was."""
    shares: dict[str, list[float]] = {}
    for by_mix in rounds:
        for mix, results in by_mix.items():
            echo = next((r for r in results if r.config.startswith("echo")), None)
            for r in results:
                if echo and echo.done_per_s and r is not echo:
                    shares.setdefault(f"{mix} mix, {r.config}", []).append(100 * r.done_per_s / echo.done_per_s)
    if len(rounds) > 1 and shares:
        print(
            f"   % of echo over {len(rounds)} rounds: "
            + "; ".join(f"{config} " + ", ".join(f"{s:.0f}%" for s in values) for config, values in shares.items())
        )


def wanted(config: str) -> bool:
    return not CONFIGS or any(config.startswith(prefix) for prefix in CONFIGS)


async def one_round(mix: Mix) -> list[Result]:
    results = []
    echo = "echo bot (python-telegram-bot, no database)"
    if wanted(echo):
        results.append(await measure(echo, None, 1, mix))
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            config = f"SQLite, {workers} worker{'s' * (workers > 1)}"
            if wanted(config):
                results.append(await measure(config, f"sqlite:///{tmp}/bench{workers}.db", workers, mix))
    for workers in (1, 2):
        config = f"PostgreSQL, {workers} worker{'s' * (workers > 1)}"
        if not wanted(config):
            continue
        url = await fresh_pg_database()
        if url is None:
            break
        try:
            results.append(await measure(config, url, workers, mix))
        finally:
            await drop_pg_database(url)
    return results


async def run() -> None:
    rounds: list[dict[str, list[Result]]] = []
    mixes = [m for m in MIXES if not MIXES_WANTED or m.name in MIXES_WANTED]
    for n in range(ROUNDS):
        if ROUNDS > 1:
            print(f"   round {n + 1} of {ROUNDS}:", flush=True)
        rounds.append({})
        for mix in mixes:
            rounds[-1][mix.name] = await one_round(mix)
            table(mix, rounds[-1][mix.name])
    summary(rounds)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
