"""A local stand-in of the Zalo Official Account Open API, its OAuth endpoint and its webhook.

To the wire format documented by Zalo (see the README's "Zalo" section):
- POST /v4/oa/access_token (form: refresh_token, app_id, grant_type=refresh_token; header
  secret_key = app secret) answers a new pair {access_token, refresh_token, expires_in}; a refresh
  token works once: a second use is refused (error -14020) AND recorded in `reused`.
- POST /v3.0/oa/message/cs (header access_token; JSON {recipient: {user_id}, message}) answers
  {"error": 0, "message": "Success", "data": {"message_id", "user_id"}}; an expired or unknown
  token gets error -216 with HTTP 200, as Zalo does.
- POST /v2.0/oa/upload/image and /v2.0/oa/upload/file (multipart "file") answer an attachment_id
  or a file token.
- Webhook events are POSTed to `webhook_url`, signed in X-ZEvent-Signature with
  sha256(app_id + body + timestamp + OA secret key), as if a person wrote to the OA.
Errors on request: `fail_next(path, error=-32)` (rate limit), `fail_next(path, status=502)`,
`expire_access_tokens()` (Zalo invalidating the current token).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.standins.zalo_common import Call, StandinServer, WebhookDelivery, random_id

SEND = "/v3.0/oa/message/cs"
UPLOAD_IMAGE = "/v2.0/oa/upload/image"
UPLOAD_FILE = "/v2.0/oa/upload/file"
OAUTH = "/v4/oa/access_token"

INVALID_TOKEN = {"error": -216, "message": "Access token is invalid"}
INVALID_PARAM = -201
REPLY_WINDOW = 48 * 3600  # free replies after each message from the person...
REPLIES_PER_WINDOW = 8  # ... this many (Zalo OA help centre: "8 tin phản hồi trong vòng 48h")
OUT_OF_QUOTA = -211  # the code for "no free reply left" is not documented where we could read it
FILE_TYPES = {
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def sign(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


class OaUser:
    """A person writing to the OA from the Zalo app."""

    def __init__(self, standin: ZaloOaStandin, user_id: str) -> None:
        self.standin = standin
        self.id = user_id

    def _event(self, name: str, message: dict | None = None, **extra: Any) -> dict:
        event: dict[str, Any] = {
            "app_id": self.standin.app_id,
            "user_id_by_app": f"9{self.id[-12:]}",
            "event_name": name,
            "sender": {"id": self.id},
            "recipient": {"id": self.standin.oa_id},
            "timestamp": str(int(time.time() * 1000)),
        }
        if message is not None:
            event["message"] = {**message, "msg_id": random_id()}
        event.update(extra)
        return event

    def text_event(self, text: str) -> dict:
        return self._event("user_send_text", {"text": text})

    async def send_text(self, text: str) -> WebhookDelivery:
        return await self.standin.deliver(self.text_event(text))

    async def press(self, title_or_payload: str) -> WebhookDelivery:
        """Tap an oa.query.hide button the OA sent this person: its payload comes back as text."""
        payload = self.standin.button_payload(self.id, title_or_payload)
        return await self.standin.deliver(self._event("user_send_text", {"text": payload}))

    async def open_url(self, title: str) -> str:
        return self.standin.button_url(self.id, title)

    async def send_location(self, lat: float, lon: float) -> WebhookDelivery:
        attachment = {"type": "location", "payload": {"coordinates": {"latitude": str(lat), "longitude": str(lon)}}}
        return await self.standin.deliver(self._event("user_send_location", {"text": "", "attachments": [attachment]}))

    async def send_sticker(self) -> WebhookDelivery:
        attachment = {"type": "sticker", "payload": {"id": "abc", "url": "https://zalo.me/sticker/abc"}}
        return await self.standin.deliver(self._event("user_send_sticker", {"attachments": [attachment]}))

    async def follow(self) -> WebhookDelivery:
        return await self.standin.deliver(self._event("follow", follower={"id": self.id}, source="testing"))

    async def unfollow(self) -> WebhookDelivery:
        return await self.standin.deliver(self._event("unfollow", follower={"id": self.id}, source="testing"))

    def messages(self) -> list[dict]:
        return self.standin.messages.get(self.id, [])

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.messages()]


class ZaloOaStandin(StandinServer):
    def __init__(
        self,
        app_id: str = "1234567890123456789",
        app_secret: str = "app-secret-for-tests",
        oa_secret_key: str = "oa-secret-key-for-tests",
        oa_id: str = "4321987654321098765",
        refresh_token: str = "refresh-token-0",
        access_token_ttl: int = 90000,
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.oa_secret_key = oa_secret_key
        self.oa_id = oa_id
        self.access_token_ttl = access_token_ttl
        self.oauth_delay = 0.0  # seconds a refresh takes: lets concurrent refreshes overlap
        self.refresh_tokens: set[str] = {refresh_token}  # issued and not yet used
        self.spent_refresh_tokens: set[str] = set()
        self.reused: list[str] = []  # refresh tokens presented a second time: must stay empty
        self.access_tokens: dict[str, float] = {}  # token → expiry (time.time())
        self.messages: dict[str, list[dict]] = {}  # user id → message bodies delivered
        self.uploads: dict[str, tuple[str, bytes]] = {}  # attachment id / file token → (type, bytes)
        self.fetched: dict[str, bytes] = {}  # media URLs the "server" fetched → bytes
        self.last_user_message: dict[str, float] = {}
        self.replies_per_window: int | None = REPLIES_PER_WINDOW  # None: no limit
        self.replies_used: dict[str, int] = {}
        self.webhook_url: str | None = None
        self.sign_with_prefix = False  # "mac=<hex>" instead of "<hex>" in X-ZEvent-Signature
        self._counter = 0
        self._http: aiohttp.ClientSession | None = None

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        await super().stop()

    def routes(self, app: web.Application) -> None:
        app.router.add_post(OAUTH, self._oauth)
        app.router.add_post(SEND, self._send)
        app.router.add_post(UPLOAD_IMAGE, self._upload)
        app.router.add_post(UPLOAD_FILE, self._upload)

    def user(self, user_id: str) -> OaUser:
        return OaUser(self, user_id)

    # --- what tests look at ---

    def sends(self, user_id: str | None = None, ok_only: bool = True) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.path == SEND
            and (not ok_only or c.ok)
            and (
                user_id is None or (isinstance(c.body, dict) and c.body.get("recipient", {}).get("user_id") == user_id)
            )
        ]

    def oauth_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path == OAUTH]

    async def wait_messages(self, user_id: str, count: int, timeout: float = 10.0) -> list[dict]:
        return await self.wait_until(
            lambda: self.messages.get(user_id, [])[:count] if len(self.messages.get(user_id, [])) >= count else None,
            timeout,
            f"{count} messages to {user_id}",
        )

    async def exchange(self, action, user: OaUser, count: int = 1) -> list[dict]:
        """Do `action` (the person's message), then return the OA's next `count` messages to them."""
        before = len(user.messages())
        delivery = await action
        assert delivery.status == 200, delivery
        messages = await self.wait_messages(user.id, before + count)
        return messages[before:]

    def buttons(self, user_id: str) -> list[dict]:
        """The buttons of the last message with buttons sent to this person."""
        for body in reversed(self.messages.get(user_id, [])):
            buttons = ((body.get("attachment") or {}).get("payload") or {}).get("buttons")
            if buttons:
                return buttons
        return []

    def button_payload(self, user_id: str, title_or_payload: str) -> str:
        for button in self.buttons(user_id):
            if button["type"] == "oa.query.hide" and title_or_payload in (button["title"], button["payload"]):
                return button["payload"]
        raise AssertionError(f"no button {title_or_payload!r} offered to {user_id}: {self.buttons(user_id)}")

    def button_url(self, user_id: str, title: str) -> str:
        for button in self.buttons(user_id):
            if button["type"] == "oa.open.url" and button["title"] == title:
                return button["payload"]["url"]
        raise AssertionError(f"no link button {title!r}")

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def issue_access_token(self, ttl: int | None = None) -> str:
        token = f"access-{random_id(24)}"
        self.access_tokens[token] = time.time() + (self.access_token_ttl if ttl is None else ttl)
        return token

    # --- the webhook (the person's side) ---

    async def deliver(self, event: dict) -> WebhookDelivery:
        """POST a signed event to the bot, as Zalo does, and note how fast it answered."""
        assert self.webhook_url, "set webhook_url (the URL registered in the Zalo developer console)"
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        mac = sign(self.app_id, body, str(event["timestamp"]), self.oa_secret_key)
        header = f"mac={mac}" if self.sign_with_prefix else mac
        if event.get("event_name", "").startswith("user_send") or event.get("event_name") == "follow":
            self.last_user_message[event["sender"]["id"]] = time.time()  # opens the reply window
            self.replies_used[event["sender"]["id"]] = 0
        return await self.post_webhook(event, body, {"X-ZEvent-Signature": header})

    async def post_webhook(self, event: dict, body: bytes, headers: dict[str, str]) -> WebhookDelivery:
        if self._http is None:  # one client for all deliveries, as Zalo keeps its connections
            self._http = aiohttp.ClientSession()
        started = time.perf_counter()
        async with self._http.post(
            self.webhook_url, data=body, headers={"Content-Type": "application/json", **headers}
        ) as r:
            delivery = WebhookDelivery(event, r.status, await r.text(), time.perf_counter() - started)
        self.deliveries.append(delivery)
        return delivery

    # --- OAuth ---

    async def _oauth(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        call = self.record(Call(OAUTH, dict(request.headers), form, {}, time.monotonic()))
        if self.oauth_delay:
            await asyncio.sleep(self.oauth_delay)
        fault = self.take_fault(OAUTH)
        if fault is not None:
            return self._answer(call, fault.body, fault.status)
        if request.headers.get("secret_key") != self.app_secret:
            return self._answer(
                call,
                {"error": -14002, "error_name": "Invalid app secret", "error_description": "secret_key is invalid"},
            )
        if form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
            return self._answer(
                call, {"error": -14001, "error_name": "Invalid parameter", "error_description": "app_id or grant_type"}
            )
        token = form.get("refresh_token", "")
        if token in self.spent_refresh_tokens:
            self.reused.append(token)
            return self._answer(
                call,
                {
                    "error": -14020,
                    "error_name": "Invalid refresh token",
                    "error_description": "refresh token has been used",
                },
            )
        if token not in self.refresh_tokens:
            return self._answer(
                call,
                {
                    "error": -14020,
                    "error_name": "Invalid refresh token",
                    "error_description": "refresh token is invalid",
                },
            )
        self.refresh_tokens.discard(token)
        self.spent_refresh_tokens.add(token)
        self._counter += 1
        new_refresh = f"refresh-token-{self._counter}"
        self.refresh_tokens.add(new_refresh)
        access = self.issue_access_token()
        # Zalo gives expires_in as a string of seconds.
        return self._answer(
            call, {"access_token": access, "refresh_token": new_refresh, "expires_in": str(self.access_token_ttl)}
        )

    # --- OpenAPI ---

    def _token_ok(self, request: web.Request) -> bool:
        expiry = self.access_tokens.get(request.headers.get("access_token", ""))
        return expiry is not None and expiry > time.time()

    async def _send(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        call = self.record(Call(SEND, dict(request.headers), body, {}, time.monotonic()))
        fault = self.take_fault(SEND)
        if fault is not None:
            return self._answer(call, fault.body, fault.status, fault.headers)
        if not self._token_ok(request):
            return self._answer(call, INVALID_TOKEN)
        problem = await self._check_message(body)
        if problem:
            return self._answer(call, {"error": INVALID_PARAM, "message": problem})
        user_id = body["recipient"]["user_id"]
        # Replies are free for a while after each message from the person; then the OA must use
        # paid proactive messages, which this stand-in (like an unverified OA) does not have.
        last = self.last_user_message.get(user_id)
        if last is None or time.time() - last > REPLY_WINDOW:
            return self._answer(call, {"error": -230, "message": "User has not interacted with the OA recently"})
        if self.replies_per_window is not None and self.replies_used.get(user_id, 0) >= self.replies_per_window:
            return self._answer(call, {"error": OUT_OF_QUOTA, "message": "Out of quota"})
        self.replies_used[user_id] = self.replies_used.get(user_id, 0) + 1
        self.messages.setdefault(user_id, []).append(body["message"])
        return self._answer(
            call, {"error": 0, "message": "Success", "data": {"message_id": random_id(), "user_id": user_id}}
        )

    async def _check_message(self, body: Any) -> str | None:
        if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict):
            return "recipient is required"
        if not isinstance(body["recipient"].get("user_id"), str):
            return "recipient.user_id must be a string"
        message = body.get("message")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            return "message needs text or an attachment"
        text = message.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > 2000):
            return "text must be a string of at most 2000 characters"
        attachment = message.get("attachment")
        if attachment is None:
            return None
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "file":
            return None if payload.get("token") in self.uploads else "unknown file token"
        if attachment.get("type") != "template":
            return f"unknown attachment type {attachment.get('type')!r}"
        for button in payload.get("buttons", []):
            if len(payload["buttons"]) > 5:
                return "at most 5 buttons"
            if not button.get("title") or len(button["title"]) > 100:
                return "button title must be 1-100 characters"
            if button.get("type") == "oa.query.hide":
                if not isinstance(button.get("payload"), str) or len(button["payload"]) > 1000:
                    return "oa.query.hide payload must be a string of at most 1000 characters"
            elif button.get("type") == "oa.open.url":
                if not str((button.get("payload") or {}).get("url", "")).startswith(("http://", "https://")):
                    return "oa.open.url needs payload.url"
            else:
                return f"unsupported button type {button.get('type')!r}"
        if payload.get("template_type") == "media":
            elements = payload.get("elements") or []
            if len(elements) != 1 or elements[0].get("media_type") != "image":
                return "a media template has one image element"
            element = elements[0]
            if "attachment_id" in element:
                return None if element["attachment_id"] in self.uploads else "unknown attachment_id"
            return await self._fetch(element.get("url", ""))
        if "template_type" in payload:
            return f"unsupported template {payload['template_type']!r}"
        return None

    async def _fetch(self, url: str) -> str | None:
        """Zalo downloads an image given by URL; so does the stand-in."""
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                if response.status != 200 or not response.content_type.startswith("image/"):
                    return f"image url answered {response.status} {response.content_type}"
                self.fetched[url] = await response.read()
                return None
        except aiohttp.ClientError as exc:
            return f"image url unreachable: {exc}"

    async def _upload(self, request: web.Request) -> web.Response:
        path = request.path
        files: dict[str, tuple[str, str, bytes]] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                files[part.name] = (part.filename or "", part.headers.get("Content-Type", ""), await part.read())
        call = self.record(Call(path, dict(request.headers), None, files, time.monotonic()))
        fault = self.take_fault(path)
        if fault is not None:
            return self._answer(call, fault.body, fault.status, fault.headers)
        if not self._token_ok(request):
            return self._answer(call, INVALID_TOKEN)
        if "file" not in files:
            return self._answer(call, {"error": INVALID_PARAM, "message": "file is required"})
        filename, content_type, data = files["file"]
        key = random_id(32)
        if path == UPLOAD_IMAGE:
            if content_type not in ("image/jpeg", "image/png") or len(data) > 1024 * 1024:
                return self._answer(call, {"error": INVALID_PARAM, "message": "jpg or png, at most 1 MB"})
            try:
                Image.open(io.BytesIO(data)).verify()
            except (UnidentifiedImageError, OSError):
                return self._answer(call, {"error": INVALID_PARAM, "message": "not an image"})
            self.uploads[key] = (content_type, data)
            return self._answer(call, {"error": 0, "message": "Success", "data": {"attachment_id": key}})
        if content_type not in FILE_TYPES or len(data) > 5 * 1024 * 1024:
            return self._answer(call, {"error": INVALID_PARAM, "message": "pdf, doc or docx, at most 5 MB"})
        self.uploads[key] = (content_type, data)
        return self._answer(call, {"error": 0, "message": "Success", "data": {"token": key}})

    def _answer(self, call: Call, body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
        call.status, call.answer = status, body
        self.changed()
        return web.json_response(body, status=status, headers=headers)
