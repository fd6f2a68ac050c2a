"""A local stand-in of the Zalo Bot Platform API (bot.zapps.me / bot-api.zaloplatforms.com).

To the documented wire format (see the README's "Zalo" section): `POST /bot<TOKEN>/<method>`
with a JSON body, answered {"ok": true, "result": ...} or {"ok": false, "error_code",
"description"}. getMe; getUpdates (long poll, ONE update per call, error 408 when nothing came);
setWebhook {url, secret_token} (then updates are POSTed there with X-Bot-Api-Secret-Token, and
getUpdates is refused), deleteWebhook, getWebhookInfo; sendMessage (text of at most 2,000
characters), sendPhoto (photo by URL only: the stand-in downloads it, as the platform does),
sendChatAction. Errors on request: `fail_next(method, status=429, error_code=429, ...)`, a
blocked person (403), 5xx.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

import aiohttp
from aiohttp import web

from tests.standins.zalo_common import Call, StandinServer, WebhookDelivery, random_id

MAX_TEXT = 2000


class BotUser:
    """A person chatting with the bot in the Zalo app."""

    def __init__(self, standin: ZaloBotStandin, user_id: str, name: str) -> None:
        self.standin = standin
        self.id = user_id
        self.name = name

    def update(self, event_name: str, **content: Any) -> dict:
        message = {
            "message_id": random_id(),
            "from": {"id": self.id, "display_name": self.name, "is_bot": False},
            "chat": {"id": self.id, "chat_type": "PRIVATE"},
            "date": int(time.time() * 1000),
            **content,
        }
        return {"event_name": event_name, "message": message}

    def send_text(self, text: str) -> dict:
        return self.standin.enqueue(self.update("message.text.received", text=text))

    def send_sticker(self) -> dict:
        return self.standin.enqueue(self.update("message.sticker.received", sticker="d063f44dc80821567819"))

    def send_image(self) -> dict:
        return self.standin.enqueue(self.update("message.image.received", photo_url="https://zalo.me/p.jpg"))

    def sent(self) -> list[Call]:
        return self.standin.sent(self.id)

    def texts(self) -> list[str]:
        return [c.body.get("text") or c.body.get("caption") or "" for c in self.sent()]


class ZaloBotStandin(StandinServer):
    def __init__(self, token: str = "1234567890:zalo-bot-token-for-tests", account_name: str = "bot.bluezone") -> None:
        super().__init__()
        self.token = token
        self.account_name = account_name
        self.pending: deque[dict] = deque()
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.known_chats: set[str] = set()
        self.blocked: set[str] = set()
        self.fetched: dict[str, bytes] = {}  # photo URLs downloaded → bytes
        self._webhook_task: asyncio.Task | None = None
        self._arrived = asyncio.Event()  # wakes a waiting getUpdates
        self._stopping = False

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._api)

    async def stop(self) -> None:
        self._stopping = True
        self._arrived.set()  # a waiting getUpdates answers now instead of at its timeout
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            await asyncio.gather(self._webhook_task, return_exceptions=True)
        await super().stop()

    def user(self, user_id: str, name: str = "Người dùng") -> BotUser:
        return BotUser(self, user_id, name)

    def enqueue(self, update: dict) -> dict:
        self.known_chats.add(update["message"]["chat"]["id"])
        self.pending.append(update)
        self._arrived.set()
        self.changed()
        if self.webhook_url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.create_task(self._push())
        return update

    def sent(self, chat_id: str | None = None) -> list[Call]:
        """Successful calls that put something in front of a person."""
        return [
            c
            for c in self.calls
            if c.path in ("sendMessage", "sendPhoto") and c.ok and (chat_id is None or c.body.get("chat_id") == chat_id)
        ]

    def busy(self) -> str | None:
        if self.pending:
            return f"{len(self.pending)} update(s) not fetched yet"
        if self._webhook_task is not None and not self._webhook_task.done():
            return "delivering an update to the webhook"
        return None

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.path == method]

    async def exchange(self, user: BotUser, text: str, count: int = 1) -> list[str]:
        """The person types `text`; the bot's next `count` messages to them."""
        before = len(user.sent())
        user.send_text(text)
        await self.wait_until(lambda: len(user.sent()) >= before + count, what=f"{count} replies to {text!r}")
        return user.texts()[before : before + count]

    # --- the API ---

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await request.json() if request.can_read_body else {}
        except ValueError:
            params = None
        call = self.record(Call(method, dict(request.headers), params, {}, time.monotonic()))
        if request.match_info["token"] != self.token:
            return self._fail(call, 401, "Unauthorized")
        if not isinstance(params, dict):
            return self._fail(call, 400, "Bad Request: body must be a JSON object")
        fault = self.take_fault(method)
        if fault is not None:
            call.status, call.answer = fault.status, fault.body
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._fail(call, 404, f"Not Found: method {method}")
        try:
            result = await handler(params)
        except _Refused as refused:
            return self._fail(call, refused.code, refused.description, http=refused.http)
        return self._ok(call, result)

    async def _m_getMe(self, params: dict) -> dict:
        return {
            "id": "7001234567890",
            "account_name": self.account_name,
            "account_type": "BASIC",
            "can_join_groups": False,
        }

    async def _m_getUpdates(self, params: dict) -> dict:
        if self.webhook_url:
            raise _Refused(409, "Conflict: can't use getUpdates while a webhook is active")
        timeout = float(params.get("timeout", 30))
        deadline = time.monotonic() + timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping:  # nothing came: the platform answers error 408
                raise _Refused(408, "Request timeout", http=200)
            self._arrived.clear()
            try:
                with self.activity.long_poll():
                    await asyncio.wait_for(self._arrived.wait(), timeout=remaining)
            except TimeoutError:
                pass
        return self.pending.popleft()

    async def _m_setWebhook(self, params: dict) -> dict:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("https://", "http://127.0.0.1")):
            raise _Refused(400, "Bad Request: url must be HTTPS")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise _Refused(400, "Bad Request: secret_token must be 8-256 characters")
        self.webhook_url, self.webhook_secret = url, secret
        if self.pending:
            self._webhook_task = asyncio.create_task(self._push())
        return {"url": url, "updated_at": int(time.time() * 1000)}

    async def _m_deleteWebhook(self, params: dict) -> dict:
        self.webhook_url = self.webhook_secret = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    async def _m_getWebhookInfo(self, params: dict) -> dict:
        return {"url": self.webhook_url or "", "updated_at": int(time.time() * 1000)}

    def _chat(self, params: dict) -> str:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, str) or chat_id not in self.known_chats:
            raise _Refused(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise _Refused(403, "Forbidden: the user blocked the bot")
        return chat_id

    def _message(self, chat_id: str, **content: Any) -> dict:
        return {
            "message_id": random_id(),
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
            "date": int(time.time() * 1000),
            **content,
        }

    async def _m_sendMessage(self, params: dict) -> dict:
        chat_id = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _Refused(400, "Bad Request: text is empty")
        if len(text) > MAX_TEXT:
            raise _Refused(400, f"Bad Request: text is longer than {MAX_TEXT} characters")
        return self._message(chat_id, text=text)

    async def _m_sendPhoto(self, params: dict) -> dict:
        chat_id = self._chat(params)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise _Refused(400, "Bad Request: photo must be a URL")
        caption = params.get("caption")
        if caption is not None and len(caption) > MAX_TEXT:
            raise _Refused(400, "Bad Request: caption too long")
        try:
            async with aiohttp.ClientSession() as http, http.get(photo) as response:
                if response.status != 200 or not response.content_type.startswith("image/"):
                    raise _Refused(400, f"Bad Request: photo URL answered {response.status}")
                self.fetched[photo] = await response.read()
        except aiohttp.ClientError as exc:
            raise _Refused(400, f"Bad Request: photo URL unreachable ({exc})") from exc
        return self._message(chat_id, photo_url=photo, caption=caption)

    async def _m_sendChatAction(self, params: dict) -> bool:
        self._chat(params)
        if params.get("action") not in ("typing", "upload_photo"):
            raise _Refused(400, "Bad Request: unknown action")
        return True

    # --- webhook delivery ---

    async def _push(self) -> None:
        while self.pending and self.webhook_url:
            update = self.pending.popleft()
            await self.post_update(update, self.webhook_secret or "")

    async def post_update(self, update: dict, secret: str | None) -> WebhookDelivery:
        """POST one update to the webhook (the platform sends it bare, not wrapped in {ok, result})."""
        assert self.webhook_url
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Bot-Api-Secret-Token"] = secret
        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            async with http.post(self.webhook_url, data=json.dumps(update).encode(), headers=headers) as response:
                delivery = WebhookDelivery(
                    update, response.status, await response.text(), time.perf_counter() - started
                )
        self.deliveries.append(delivery)
        self.changed()
        return delivery

    # --- answers ---

    def _ok(self, call: Call, result: Any) -> web.Response:
        call.status, call.answer = 200, {"ok": True, "result": result}
        self.changed()
        return web.json_response(call.answer)

    def _fail(self, call: Call, code: int, description: str, http: int | None = None) -> web.Response:
        call.status, call.answer = http or code, {"ok": False, "error_code": code, "description": description}
        self.changed()
        return web.json_response(call.answer, status=call.status)


class _Refused(Exception):
    def __init__(self, code: int, description: str, http: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.http = http
