"""`run` (the service, in one process or several workers) and `chat` (the bot in this terminal)."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import sys

import click
from aiohttp import web

from bot.commands.common import load_settings, log, prepare_database
from bot.coordination import LocalShared
from bot.settings import Settings


@click.command()
@click.option(
    "--chat/--no-chat",
    default=None,
    help="Also chat in this terminal (default: when no messenger is configured and stdin is a terminal).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the port (SO_REUSEPORT) and the database; use PostgreSQL for more than one.",
)
def run(chat: bool | None, workers: int) -> None:
    """Serve: the web server (health check, webhooks) and every configured messenger."""
    settings = load_settings()
    if workers == 1:
        # One process keeps its figures in memory, unless the operator asks for the folder.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from bot.metrics import metrics_folder

            with metrics_folder():
                asyncio.run(serve(settings, chat))
        else:
            asyncio.run(serve(settings, chat))
    else:
        supervise(settings, workers)


async def serve(
    settings: Settings, chat: bool | None, *, worker: int = 0, workers: int = 1, shared: LocalShared | None = None
) -> None:
    from bot.channels.terminal import TerminalChannel, chat_loop
    from bot.service import Service
    from bot.web import init_app

    if workers == 1:
        await prepare_database(settings)  # with several workers the supervisor did it once
    service = Service(settings, worker=worker + 1, workers=workers, shared=shared)
    service.configure_channels()
    if chat is None:
        chat = workers == 1 and not service.channels and sys.stdin.isatty()
    if chat:
        service.add_channel(TerminalChannel())
    app = init_app(settings, service)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port, reuse_port=workers > 1).start()
    private = await serve_metrics(settings, service, reuse_port=workers > 1)
    name = f"worker {worker + 1}/{workers} (pid {os.getpid()}) " if workers > 1 else ""
    log.info("%sserving on http://%s:%s (health check: /healthz)", name, settings.http_host, settings.http_port)
    if set(service.channels) <= {"terminal"}:
        log.info("no messenger configured (set TELEGRAM_BOT_TOKEN to serve Telegram)")
    log_poster_gaps(service)
    settle_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if chat:
            chatting = asyncio.create_task(chat_loop(service))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({chatting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (chatting, stopping):
                task.cancel()
        else:
            await stop.wait()
    finally:
        # Draining: /readyz answers 503 while everything is still served, for a load balancer to
        # stop sending here; then the listeners close and the sends under way finish (Service.stop).
        service.draining = True
        if settings.shutdown_grace_seconds:
            log.info("%sdraining: not ready for %g s before stopping", name, settings.shutdown_grace_seconds)
            await asyncio.sleep(settings.shutdown_grace_seconds)
        log.info("%sshutting down", name)
        await runner.cleanup()
        if private is not None:
            await private.cleanup()


# Python's default collects its youngest objects every 700 allocations, and each update allocates
# thousands (SQLAlchemy's rows and states, python-telegram-bot's objects), and the older
# generations' collections re-read what start-up made (settings, content, statements, the units).
# Measured in process on the launch and button mixes, collections took 0.13-0.29 ms of CPU per
# update; with start-up's objects frozen out of every later collection and the youngest collected
# every 10,000 allocations, about 0.02 ms. Reference cycles are still collected; they wait a
# little longer.
GC_YOUNGEST_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, middle, oldest)


async def serve_metrics(settings: Settings, service, *, reuse_port: bool) -> web.AppRunner | None:
    """The private listener at METRICS_ADDRESS (/metrics, /healthz, /readyz), when set."""
    from bot.web import init_metrics_app

    if settings.metrics_address is None:
        return None
    host, port = settings.metrics_address
    runner = web.AppRunner(init_metrics_app(settings, service), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
    if not reuse_port:
        log.info("metrics on http://%s:%s/metrics", host, port)
    return runner


# What an operator sets when posters cannot be made (see documents.posters.venue.poster_gaps).
POSTER_GAPS = {
    "no_key": 'set QR_SIGNING_KEY (16 characters or more, e.g. from python3 -c "import secrets; '
    'print(secrets.token_urlsafe(32))"; keep it: printed QR codes depend on it)',
    "no_handle": "set TELEGRAM_BOT_USERNAME to the bot's @username (or TELEGRAM_BOT_TOKEN, which tells it)",
}


def log_poster_gaps(service) -> None:
    """One INFO line at start when check-in posters cannot be made here, saying what to set: the
    venue entry is not offered without the key, and a poster needs a name of the bot to print."""
    from documents.posters.venue import poster_gaps, public_handles

    gaps = poster_gaps(service.content, service.settings, public_handles(service.settings, service.bot_handles()))
    if gaps:
        log.info("check-in posters are off: %s", "; ".join(POSTER_GAPS[gap] for gap in gaps))


def _worker_main(worker: int, workers: int, shared: LocalShared) -> None:
    asyncio.run(serve(load_settings(), False, worker=worker, workers=workers, shared=shared))


def supervise(settings: Settings, workers: int) -> None:
    """Run `workers` processes on one port; restart one that exits, after a pause that grows while
    it keeps crashing; stop them all on SIGTERM (each finishes its sends), or with exit code 1
    when one crashes WORKER_CRASH_LIMIT times in 10 minutes."""
    from bot.courier import DRAIN_TIMEOUT
    from bot.metrics import metrics_folder
    from bot.supervisor import Backoff, WorkerPool

    if settings.database_url.startswith("sqlite"):
        log.warning("several workers on SQLite take turns at its write lock; use PostgreSQL to scale out")
    asyncio.run(prepare_database(settings))
    context = multiprocessing.get_context("spawn")
    shared = LocalShared(workers)  # the send budgets and flood guard the workers share (bot/coordination.py)

    def start(index: int) -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=_worker_main, args=(index, workers, shared), name=f"bluezone-worker-{index + 1}"
        )
        process.start()
        return process

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with metrics_folder() as folder:
        pool = WorkerPool(workers, start, Backoff(crash_limit=settings.worker_crash_limit), on_exit=folder.mark_dead)
        log.info("supervising %s workers on http://%s:%s", workers, settings.http_host, settings.http_port)
        if settings.metrics_address:
            log.info("metrics on http://%s:%s/metrics", *settings.metrics_address)
        gave_up = pool.watch(lambda: stopping)
        pool.stop(timeout=settings.shutdown_grace_seconds + DRAIN_TIMEOUT + 15)
    log.info("all workers stopped")
    if gave_up:
        sys.exit(1)


@click.command()
def chat() -> None:
    """Talk to the bot in this terminal, as local users (`@name` switches), through the same handlers."""
    settings = load_settings()

    async def go() -> None:
        from bot.channels.terminal import TerminalChannel, chat_loop
        from bot.service import Service

        await prepare_database(settings)
        service = Service(settings)
        service.add_channel(TerminalChannel())
        log_poster_gaps(service)
        # The sweep sends what waits for this terminal's people, such as a notice another
        # terminal's coordinator caused; replies to what is typed here go out at once.
        sending = asyncio.create_task(service.courier.run())
        try:
            await chat_loop(service)
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await service.stop()

    asyncio.run(go())


@click.command("settings")
def settings_command() -> None:
    """Print every setting (variable, default, meaning) as the README's Markdown table."""
    from bot.settings import settings_table

    click.echo(settings_table(), nl=False)
