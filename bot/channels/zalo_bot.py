"""The Zalo Bot Platform (a Telegram-like Bot API) as transport only: updates in, messages out.

Calls are `POST <base>/bot<TOKEN>/<method>` with a JSON body, answered {"ok": true, "result": ...}
or {"ok": false, "error_code": ..., "description": ...}. Updates come by webhook (with
PUBLIC_BASE_URL: setWebhook with a secret_token, echoed in X-Bot-Api-Secret-Token) or by
getUpdates long polling, which returns one update per call; either way an update is stored in
the durable inbound queue (`receive` is Service.accept) and handled by bot/inbox.py, so a
webhook answers at once and a polled update is safe once fetched. There are no buttons: the
renderer turns them into numbered menus. Photos go by URL only, so files are served from this
server under signed URLs. See the README's "Zalo" section for what was verified and what is assumed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import (
    Budget,
    Capabilities,
    OutMessage,
    SendBlocked,
    SendFailed,
    SendRateLimited,
    SendRetry,
    Wiring,
)
from bot.channels.common import age_problem, answer_webhook, derive_secret, handle_polled, json_id, junk, same_secret
from bot.media import MediaLinks
from bot.settings import Secret, Settings
from bot.untrusted import BadInput, loads
from handlers.types import Incoming, Kind
from storage.models import utcnow

log = logging.getLogger(__name__)

NAME = "zalo_bot"
WEBHOOK_PATH = "/webhooks/zalo-bot"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000
POLL_TIMEOUT = 30  # seconds a getUpdates call waits for an update

Receive = Callable[[Incoming], Awaitable[None]]

_KINDS = {
    "message.text.received": Kind.TEXT,
    "message.image.received": Kind.PHOTO,
    "message.sticker.received": Kind.STICKER,
    "message.unsupported.received": Kind.OTHER,
}


def derive_webhook_secret(token: Secret) -> Secret:
    # 64 hex characters: within the documented 8-256.
    return derive_secret(token, b"zalo-bot-webhook")


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update in a webhook body or a getUpdates result: sent bare ({"event_name", "message"})
    or wrapped like an API answer ({"ok": true, "result": {...}}); both are accepted."""
    if not isinstance(body, dict):
        return None
    if body.get("ok") is True and isinstance(body.get("result"), dict):
        body = body["result"]
    return body if isinstance(body.get("event_name"), str) else None


def to_incoming(update: dict[str, Any]) -> Incoming | None:
    """The normalized message; None for what the bot ignores (groups, unknown events, malformed
    ones). Total: whatever the JSON holds, it answers and never raises."""
    name = update.get("event_name")
    kind = _KINDS.get(name) if isinstance(name, str) else None
    message = update.get("message")
    if kind is None or not isinstance(message, dict):
        return None
    chat, sender = message.get("chat"), message.get("from")
    chat = chat if isinstance(chat, dict) else {}
    sender = sender if isinstance(sender, dict) else {}
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE" or sender.get("is_bot"):
        return None
    user_id = json_id(sender.get("id")) or json_id(chat.get("id"))
    if not user_id:
        return None
    message_id = json_id(message.get("message_id"))
    if message_id:
        update_id = message_id
    else:  # not seen in practice; a hash of the event keeps retries idempotent all the same
        update_id = "h:" + hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()[:40]
    text = message.get("text") if kind is Kind.TEXT else None
    if kind is Kind.TEXT and not isinstance(text, str):
        return None
    return Incoming(
        channel=NAME,
        user_id=user_id,
        update_id=update_id,
        kind=kind,
        chat_id=json_id(chat.get("id")) or user_id,
        text=text,
    )


class BotApiError(Exception):
    def __init__(self, status: int, code: int | None, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}, error {code}: {description}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


def configured(settings: Settings) -> bool:
    return settings.zalo_bot_token is not None


# The calls that count against ZALO_MAX_PER_SECOND: what reaches a person's chat.
SENDS = frozenset({"sendMessage", "sendPhoto", "sendChatAction"})


def build(wiring: Wiring) -> ZaloBotChannel:
    return ZaloBotChannel(
        wiring.settings,
        wiring.accept,
        wiring.media,
        primary=wiring.primary,
        budget=wiring.budget(NAME, wiring.settings.zalo_max_per_second, 1),
    )


class ZaloBotChannel:
    name = NAME
    webhook_paths = (WEBHOOK_PATH,)
    chats = None  # every chat
    capabilities = Capabilities(
        buttons=False,
        url_buttons=False,
        edit=False,
        file_upload=False,
        request_contact=False,
        request_location=False,
        max_text=MAX_TEXT,
    )

    def __init__(
        self,
        settings: Settings,
        receive: Receive,
        media: MediaLinks,
        poll_timeout: int = POLL_TIMEOUT,
        *,
        primary: bool = True,
        budget: Budget | None = None,
    ) -> None:
        if settings.zalo_bot_token is None:
            raise ValueError("ZALO_BOT_TOKEN is not set")
        self.settings = settings
        # Of several workers, only the primary polls or registers the webhook.
        self.primary = primary
        self.token = settings.zalo_bot_token
        self.receive = receive
        self.media = media
        self.budget = budget  # paces the sends (SENDS), shared by the workers
        self.max_age = dt.timedelta(hours=settings.zalo_event_max_age_hours)
        self.poll_timeout = poll_timeout
        self.webhook_secret = settings.zalo_bot_webhook_secret or derive_webhook_secret(self.token)
        self.username: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self._polling: asyncio.Task | None = None

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def start(self) -> None:
        """Connect (getMe), then register the webhook on PUBLIC_BASE_URL, or poll."""
        me = await self.call("getMe")
        self.username = me.get("account_name") or me.get("display_name") or str(me.get("id", ""))
        if not self.primary:
            log.info("zalo bot: connected as %s (another worker polls or registers the webhook)", self.username)
        elif self.settings.zalo_bot_webhook_mode:
            url = f"{self.settings.public_base_url}{WEBHOOK_PATH}"
            await self.call("setWebhook", url=url, secret_token=self.webhook_secret.reveal())
            log.info("zalo bot: webhook set to %s for %s", url, self.username)
        else:
            try:  # polling and a webhook exclude each other
                await self.call("deleteWebhook")
            except BotApiError as exc:
                log.info("zalo bot: deleteWebhook: %s", exc)
            self._polling = asyncio.create_task(self._poll())
            log.info("zalo bot: polling as %s", self.username)

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        if self._http is not None:
            await self._http.close()

    async def call(self, method: str, http_timeout: float = 30, **params: Any) -> Any:
        """One Bot API method; its result, or BotApiError with the platform's code and description."""
        if self.budget is not None and method in SENDS:
            await self.budget.acquire()
        url = f"{self.settings.zalo_bot_api_base_url}/bot{self.token.reveal()}/{method}"
        timeout = aiohttp.ClientTimeout(total=http_timeout)
        async with self.http().post(url, json=params, timeout=timeout) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            if response.status == 200 and isinstance(body, dict) and body.get("ok") is True:
                return body.get("result")
            body = body if isinstance(body, dict) else {}
            retry_after = (body.get("parameters") or {}).get("retry_after") or response.headers.get("Retry-After")
            raise BotApiError(
                response.status,
                body.get("error_code"),
                str(body.get("description", ""))[:200],
                float(retry_after) if retry_after else None,
            )

    # --- inbound ---

    def check_secret(self, header: str | None) -> bool:
        return same_secret(header, self.webhook_secret)

    @property
    def public_handle(self) -> str | None:
        return self.username

    def deep_link(self, payload: str | None = None) -> str | None:
        return None  # the Zalo Bot Platform has no public link format

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        if not self.check_secret(request.headers.get(SECRET_HEADER)):
            junk.warning("zalo_bot-401", "zalo_bot webhook: a call without the secret token refused")
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        return await answer_webhook(NAME, self.handle_webhook(await request.read()))

    async def handle_webhook(self, raw_body: bytes) -> tuple[int, str]:
        """One webhook call (its secret header already checked): (HTTP status, reason). Raises
        when the update could not be stored."""
        try:
            body = loads(raw_body)
        except BadInput as exc:
            return 400, str(exc)
        update = unwrap(body)
        if update is None:
            return 400, "not an update"
        message = update.get("message")
        problem = age_problem(message.get("date") if isinstance(message, dict) else None, self.max_age, utcnow())
        if problem:
            return 200, f"stale: {problem}"
        incoming = to_incoming(update)
        if incoming is None:
            log.debug("zalo bot: %s ignored", update.get("event_name"))
            return 200, "ignored"
        await self.receive(incoming)
        return 200, "ok"

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                result = await self._get_update()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("zalo bot: getUpdates failed (%s); retrying", exc)
                await asyncio.sleep(min(30, 2**failures))
                continue
            update = unwrap(result) if result else None
            incoming = to_incoming(update) if update else None
            if incoming is not None:
                await handle_polled(functools.partial(self.receive, incoming), f"zalo bot update {incoming.update_id}")

    async def _get_update(self) -> dict[str, Any] | None:
        """The next update, or None when the long poll timed out with nothing new."""
        try:
            return await self.call("getUpdates", http_timeout=self.poll_timeout + 10, timeout=str(self.poll_timeout))
        except BotApiError as exc:
            if exc.status == 408 or exc.code == 408:
                return None
            raise

    # --- outbound ---

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        try:
            if attachment is None:
                await self.call("sendMessage", chat_id=chat_id, text=message.text)
            elif message.attachment_kind == "image":
                url = await self.media.publish(
                    attachment,
                    message.mime_type or "image/png",
                    message.filename or "image.png",
                    channel=NAME,
                    chat_id=chat_id,
                )
                try:  # "sending a photo..." while the platform fetches it; cosmetic
                    await self.call("sendChatAction", chat_id=chat_id, action="upload_photo")
                except BotApiError as exc:
                    log.debug("zalo bot: sendChatAction: %s", exc)
                params: dict[str, Any] = {"chat_id": chat_id, "photo": url}
                if message.text:
                    params["caption"] = message.text[:MAX_TEXT]
                await self.call("sendPhoto", http_timeout=60, **params)
            else:  # no documents on the Bot Platform: a link to the file on this server
                filename = message.filename or "file"
                url = await self.media.publish(
                    attachment, message.mime_type or "application/octet-stream", filename, channel=NAME, chat_id=chat_id
                )
                # The link first, its caption (and any choices) right under it, as under a photo.
                line = f"{filename}: {url}"
                await self.call(
                    "sendMessage", chat_id=chat_id, text=f"{line}\n{message.text}" if message.text else line
                )
        except BotApiError as exc:
            if exc.status == 429 or exc.code == 429:
                raise SendRateLimited("rate limited", retry_after=exc.retry_after) from exc
            if exc.status >= 500 or exc.status == 401:  # 401: a token being fixed; keep the messages
                raise SendRetry(str(exc)) from exc
            if exc.status == 403 or exc.code == 403:
                raise SendBlocked(str(exc)) from exc
            raise SendFailed(str(exc)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SendRetry(f"network: {exc!r}") from exc


CHANNEL = ZaloBotChannel
