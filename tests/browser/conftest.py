"""Browser tests: the real aiohttp app (the landing page through the real Service, on a SQLite file
of its own) served on 127.0.0.1, driven by Debian's Chromium through Playwright at 360×740, as a
citizen with a cheap Android phone meets it.

Playwright's own browser download cannot work here: the system's Chromium is launched by path
(`make test` installs it with apt-get when run as root). Without it these tests skip, and fail in
CI. One browser serves the whole package; each test gets a fresh context (no cookies). The app runs
in a thread with its own event loop, so the tests drive the browser with Playwright's sync API and
ask the database through `Site.run`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from aiohttp import web

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from tests.conftest import _prepare
from texts import t
from texts.content import Content

T = TypeVar("T")
KEY = "browser-tests-signing-key"
# The flags Chromium needs on a closed network, in a container, without a display.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 360, "height": 740}


def chromium_path() -> str | None:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and os.access(found, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """The web app, serving from a thread of its own."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            database_url=database_url,
            qr_signing_key=Secret(KEY),
            telegram_bot_username="bluezone_test_bot",
            zalo_oa_id="4318802913410839210",
            public_base_url=self.base,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.service: Service | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> Site:
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self.service = Service(self.settings)
        self._runner = web.AppRunner(init_app(self.settings, self.service))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def run(self, work: Awaitable[T]) -> T:
        """Run a coroutine on the app's loop (the database is used from there only)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def prepare(url: str) -> None:
    """A migrated database with the units, made in a thread: once the browser runs, Playwright's
    sync API has an event loop running in this one, where asyncio.run cannot start another."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _prepare(url, None)).result()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        message = (
            "Chromium is missing, so the browser tests cannot run: apt-get install chromium (make test does it as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives the browser a fresh profile (user-data dir) of its own and removes it after.
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'site.db'}"
    prepare(url)
    running = Site(url).start()
    yield running
    running.stop()


@pytest.fixture(scope="package")
def outage() -> Iterator[Site]:
    """The same app whose database is unreachable (nothing listens on its port)."""
    running = Site(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/unreachable").start()
    yield running
    running.stop()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A new phone: a fresh context (no cookie), 360×740. Policy violations are collected in
    `page.csp_violations`."""
    context = browser.new_context(
        viewport=VIEWPORT, locale="vi-VN", device_scale_factor=2, is_mobile=True, has_touch=True
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.csp_violations = []
    tab.on("console", lambda m: tab.csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield tab
    context.close()


_CONTENT = Content.load()


def words(key: str, **values: Any) -> str:
    """What a page shows for a content key."""
    return _CONTENT.render(t(key, **values))


# axe-core's rules at these impacts fail a page; "minor" and "moderate" ones are for a person to weigh.
AXE_FAILING = ("serious", "critical")


def accessibility_problems(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands: axe.min.js is read from
    the axe-playwright-python wheel and run in the page (nothing is fetched)."""
    from importlib.resources import files

    script = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
    page.evaluate(script)
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found["violations"]
        if v["impact"] in AXE_FAILING
    ]
