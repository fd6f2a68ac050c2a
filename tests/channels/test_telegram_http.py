"""The library's HTTP transport on aiohttp (bot/channels/telegram_http.py): what goes wrong
reaches the courier as the library's own errors (TimedOut, NetworkError: both retried later)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram_http import AiohttpRequest


@pytest.fixture
async def slow_api():
    """A Bot API that answers /fast at once, echoing the form it got, and /slow after a second."""

    async def fast(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": dict(await request.post())})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/fast", fast)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_call_returns_the_answer_and_errors_are_the_librarys(slow_api):
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        data = RequestData([RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("text", "✓")])
        status, body = await request.do_request(f"{slow_api}/fast", "POST", data)
        assert status == 200 and json.loads(body)["result"] == {"chat_id": "42", "text": "✓"}
        with pytest.raises(TimedOut):
            await request.do_request(f"{slow_api}/slow", "POST")
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            closed = unused.getsockname()[1]
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{closed}/fast", "POST")
    finally:
        await request.shutdown()
    with pytest.raises(RuntimeError):
        await request.do_request(f"{slow_api}/fast", "POST")
