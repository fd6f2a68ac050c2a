"""`bluezone-bot run --workers N` as a real subprocess for tests: started on a free port in front
of a Telegram stand-in, ready once every worker has answered a health check."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from tests.standins.telegram_api import TelegramStandin

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Workers:
    process: subprocess.Popen
    base: str
    secret: str | None
    log_path: Path
    count: int
    final_log: str | None = None  # kept once stopped: the log file goes with its folder

    def log(self) -> str:
        """What the supervisor and its workers wrote (a file: a pipe nobody reads would fill up)."""
        return self.final_log if self.final_log is not None else self.log_path.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        """The live worker processes: the supervisor's children that run a spawned worker."""
        pids = set()
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                try:
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                except FileNotFoundError:
                    continue
                if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                    pids.add(int(child))
        return pids

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker (by its X-Bluezone-Worker number) answers /healthz with 200."""
        seen: set[str] = set()
        wanted = {str(n + 1) for n in range(self.count)}
        async with aiohttp.ClientSession() as http:
            for _ in range(int(timeout / 0.1)):
                if self.process.poll() is not None:
                    raise AssertionError(f"the service exited with {self.process.returncode}\n{self.log()}")
                try:
                    async with http.get(f"{self.base}/healthz", headers={"Connection": "close"}) as response:
                        if response.status == 200:
                            seen.add(response.headers["X-Bluezone-Worker"])
                except aiohttp.ClientError:
                    pass
                if seen >= wanted:
                    return
                await asyncio.sleep(0.1)
        raise AssertionError(f"workers answering: {sorted(seen)}\n{self.log()}")

    async def stop(self) -> int:
        """SIGTERM, as a process manager stops the service; its exit code. Waits without blocking
        the event loop: the stand-in in it must go on answering the sends finished while stopping."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            for _ in range(300):
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.asynccontextmanager
async def run_workers(
    tg: TelegramStandin, database_url: str, secret: str | None, count: int = 2, cwd: str | None = None, **env: str
) -> AsyncIterator[Workers]:
    """The service with `count` workers, receiving Telegram by webhook and sending to `tg`;
    without a `secret`, the webhook's is derived from the token. `cwd`: another checkout's code
    (a benchmark's "before")."""
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k != "TELEGRAM_WEBHOOK_SECRET"},
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        **({"TELEGRAM_WEBHOOK_SECRET": secret} if secret else {}),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **env,
    }
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "service.log"
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--workers", str(count)],
                env=environment,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
            )
        workers = Workers(process, f"http://127.0.0.1:{port}", secret, log_path, count)
        try:
            await workers.wait_ready()
            yield workers
        finally:
            await workers.stop()
            workers.final_log = workers.log()
