"""Telegram through python-telegram-bot, as transport only: updates in, rendered messages out."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

# Opt in to the library's coming behaviour (RetryAfter.retry_after as a timedelta) now, which
# also silences its deprecation warning on every rate-limited send.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, ContextTypes, TypeHandler

from bot import metrics
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
from bot.channels.common import derive_secret, handle_polled, json_id, junk, same_secret, unavailable
from bot.channels.telegram_http import AiohttpRequest
from bot.ratelimit import Pacer
from bot.settings import Secret, Settings
from bot.untrusted import BadInput, loads
from documents.links import chat_link
from handlers.types import Incoming, Kind, Location

log = logging.getLogger(__name__)

NAME = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]

Receive = Callable[[Incoming], Awaitable[None]]


def configured(settings: Settings) -> bool:
    return settings.telegram_bot_token is not None


def build(wiring: Wiring) -> TelegramChannel:
    return TelegramChannel(
        wiring.settings,
        wiring.receive,
        primary=wiring.primary,
        dropping=wiring.dropping,
        budget=wiring.budget(NAME, wiring.settings.telegram_max_per_second, RATE_BURST),
    )


def _sender_id(data: dict[str, Any]) -> str | None:
    """The sender of an update read straight from its JSON (message, callback query...), cheaper
    than parsing it; None when it has none in the usual place."""
    for value in data.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            return json_id(value["from"].get("id")) or None
    return None


def to_incoming(update: Update) -> Incoming | None:
    """The normalized message for an update; None for what the bot ignores (groups, edits)."""
    uid = str(update.update_id)
    query = update.callback_query
    if query is not None:
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat if message else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return None
        return Incoming(
            channel=NAME,
            user_id=str(query.from_user.id),
            update_id=uid,
            kind=Kind.BUTTON,
            chat_id=str(chat.id) if chat else str(query.from_user.id),
            payload=query.data or "",
            message_ref=str(message.message_id) if message else None,
            language=query.from_user.language_code,
        )
    message = update.message
    if message is None or message.from_user is None or message.chat.type != ChatType.PRIVATE:
        return None
    base: dict[str, Any] = dict(
        channel=NAME,
        user_id=str(message.from_user.id),
        update_id=uid,
        chat_id=str(message.chat.id),
        language=message.from_user.language_code,
    )
    if message.text is not None:
        return Incoming(kind=Kind.TEXT, text=message.text, **base)
    if message.location is not None:
        loc = Location(message.location.latitude, message.location.longitude)
        return Incoming(kind=Kind.LOCATION, location=loc, **base)
    if message.contact is not None:
        own = message.contact.user_id == message.from_user.id
        return Incoming(kind=Kind.CONTACT, contact_phone=message.contact.phone_number, contact_is_own=own, **base)
    if message.sticker is not None:
        return Incoming(kind=Kind.STICKER, **base)
    if message.photo:
        return Incoming(kind=Kind.PHOTO, **base)
    if message.voice is not None or message.audio is not None or message.video_note is not None:
        return Incoming(kind=Kind.VOICE, **base)
    return Incoming(kind=Kind.OTHER, **base)


def derive_webhook_secret(token: Secret) -> Secret:
    """A stable secret for setWebhook when none is configured: every worker derives the same."""
    return derive_secret(token, b"telegram-webhook")


def _inline(buttons: list) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=b.payload)
                for b in row
            ]
            for row in buttons
        ]
    )


def _seconds(retry_after: int | dt.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dt.timedelta) else float(retry_after)


# Sends the pace lets go at once after a pause: enough to make up for an event loop that woke a
# waiting send late, too few to go over Telegram's limit in any one second.
RATE_BURST = 3
# Calls that are not sends: the long poll must not queue behind an announcement.
UNPACED = frozenset({"getUpdates"})


class PacedLimiter(BaseRateLimiter[int]):
    """Every Bot API call but the long poll waits for its turn in `budget` (this process's, or
    one shared by every worker: bot/coordination.py). A 429 is not retried here: the courier
    retries the message after Telegram's retry_after and logs it."""

    def __init__(self, budget: Budget | None) -> None:
        self.budget = budget

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if self.budget is not None and endpoint not in UNPACED:
            await self.budget.acquire()
        return await callback(*args, **kwargs)


def rate_limiter(per_second: float, budget: Budget | None = None) -> PacedLimiter:
    """`budget` when the workers share one; else `per_second` sends of this process's own, evenly
    spaced (0: no limit of its own). The library's AIORateLimiter (30 a second) lets 30 go at once
    and 30 more within that second, and Telegram answers what goes over its limit with 429."""
    if budget is None and per_second > 0:
        budget = Pacer(per_second, RATE_BURST)
    return PacedLimiter(budget)


class TelegramChannel:
    name = NAME
    webhook_paths = (WEBHOOK_PATH,)
    chats = None  # every chat
    capabilities = Capabilities(
        buttons=True,
        url_buttons=True,
        edit=True,
        file_upload=True,
        request_contact=True,
        request_location=True,
        max_text=4096,
    )

    def __init__(
        self,
        settings: Settings,
        receive: Receive,
        *,
        primary: bool = True,
        dropping: Callable[[str, str], bool] | None = None,
        budget: Budget | None = None,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.receive = receive
        # Of several workers, only the primary polls or registers the webhook; all of them send
        # and (with a webhook) all of them receive.
        self.primary = primary
        self.dropping = dropping
        self.webhook_secret = settings.telegram_webhook_secret or derive_webhook_secret(settings.telegram_bot_token)
        builder: ApplicationBuilder = (
            Application.builder()
            .token(settings.telegram_bot_token.reveal())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_api_base_url.replace("/bot", "/file/bot"))
            .rate_limiter(rate_limiter(settings.telegram_max_per_second, budget))
            .request(AiohttpRequest(read_timeout=settings.telegram_send_timeout))
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
            .concurrent_updates(32)
        )
        if settings.telegram_webhook_mode:
            builder = builder.updater(None)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_polled_update))

    @property
    def bot(self) -> Bot:
        return self.application.bot

    @property
    def username(self) -> str | None:
        return self.application.bot.username if self.application.bot._bot_user else None

    @property
    def public_handle(self) -> str | None:
        return self.username

    def deep_link(self, payload: str | None = None) -> str | None:
        return chat_link(NAME, self.username, payload) if self.username else None

    async def start(self) -> None:
        """Connect (getMe), then poll, or register the webhook on PUBLIC_BASE_URL."""
        await self.application.initialize()
        await self.application.start()
        if not self.primary:
            log.info("telegram: connected as @%s (another worker polls or registers the webhook)", self.username)
        elif self.settings.telegram_webhook_mode:
            url = f"{self.settings.public_base_url}{WEBHOOK_PATH}"
            await self.bot.set_webhook(
                url=url, secret_token=self.webhook_secret.reveal(), allowed_updates=ALLOWED_UPDATES
            )
            log.info("telegram: webhook set to %s for @%s", url, self.username)
        else:
            await self.bot.delete_webhook()
            assert self.application.updater is not None
            await self.application.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES)
            log.info("telegram: polling as @%s", self.username)

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # --- inbound ---

    def check_secret(self, header: str | None) -> bool:
        return same_secret(header, self.webhook_secret)

    def parse(self, data: dict[str, Any]) -> Update:
        """The update in a webhook body; ValueError when it is not one (nothing to retry)."""
        try:
            return Update.de_json(data, self.bot)
        except Exception as exc:  # the library raises TypeError, KeyError, AttributeError...
            raise ValueError(f"not a Telegram update: {exc}") from exc

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        """One webhook call: 200 once handled (the replies follow from the outbox), 401/400 for
        what is not Telegram's, 503 when it could not be stored, so Telegram delivers it again."""
        if not self.check_secret(request.headers.get(SECRET_HEADER)):
            junk.warning("telegram-401", "telegram webhook: a call without the secret token refused")
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            data = loads(await request.read())
        except BadInput as exc:
            junk.warning("telegram-400", "telegram webhook: %s refused", exc)
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            junk.warning("telegram-400", "telegram webhook: not an update")
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        sender = _sender_id(data)
        if self.dropping is not None and sender is not None and self.dropping(NAME, sender):
            metrics.flood_drop(NAME)
            return web.json_response({"ok": True})  # a flood: dropped before parsing, as it would be after
        try:
            update = self.parse(data)
        except ValueError as exc:
            junk.warning(
                "telegram-400",
                "telegram webhook: update %s unreadable (%s)",
                data["update_id"],
                type(exc.__cause__).__name__,
            )
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        try:
            await self._handle(update, answer_press=False)
        except Exception as exc:
            # Not stored (the engine turns a handler's failure into an apology, so what reaches
            # here is the database or the engine itself): a 5xx makes Telegram deliver it again
            # later, and the processed mark keeps the retry from being handled twice.
            return unavailable(NAME, f"update {data['update_id']}", exc)
        if update.callback_query is not None:
            # Telegram makes the Bot API call a webhook answers with: the pressed button's spinner
            # stops without a request of the bot's own (one HTTP round trip less per press).
            return web.json_response({"method": "answerCallbackQuery", "callback_query_id": update.callback_query.id})
        return web.json_response({"ok": True})

    async def _on_polled_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        await handle_polled(lambda: self._handle(update), f"telegram update {update.update_id}")

    async def _handle(self, update: Update, answer_press: bool = True) -> None:
        incoming = to_incoming(update)
        if incoming is not None:
            await self.receive(incoming)
        if answer_press and update.callback_query is not None:
            try:  # stops the spinner on the pressed button; harmless if it fails
                await update.callback_query.answer()
            except TelegramError as exc:
                log.debug("answerCallbackQuery failed: %s", exc)

    # --- outbound ---

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        try:
            await self._send(int(chat_id), message, attachment)
        except Forbidden as exc:
            raise SendBlocked(str(exc)) from exc
        except RetryAfter as exc:
            raise SendRateLimited("rate limited", retry_after=_seconds(exc.retry_after)) from exc
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, BadRequest):
                if "chat not found" in exc.message.lower():
                    raise SendBlocked(exc.message) from exc
                raise SendFailed(exc.message) from exc
            raise SendRetry(str(exc)) from exc

    async def _send(self, chat_id: int, message: OutMessage, attachment: bytes | None) -> None:
        markup = _inline(message.buttons)
        if attachment is not None:
            file = InputFile(attachment, filename=message.filename)
            caption = message.text or None
            if message.attachment_kind == "image":
                await self.bot.send_photo(chat_id, photo=file, caption=caption, reply_markup=markup)
            else:
                await self.bot.send_document(chat_id, document=file, caption=caption, reply_markup=markup)
            return
        if message.edit_ref:
            try:
                await self.bot.edit_message_text(
                    message.text, chat_id=chat_id, message_id=int(message.edit_ref), reply_markup=markup
                )
                return
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return
                log.debug("edit failed (%s); sending a new message", exc.message)
        if message.close_ask:
            # A message takes one keyboard: the share button goes with this text, and any
            # inline buttons follow on a short message of their own.
            await self.bot.send_message(chat_id, message.text, reply_markup=ReplyKeyboardRemove())
            if markup is not None:
                await self.bot.send_message(chat_id, message.ask_alternatives or "…", reply_markup=markup)
            return
        if message.ask:
            keyboard = ReplyKeyboardMarkup(
                [
                    [
                        KeyboardButton(
                            message.ask_label or "📎",
                            request_contact=message.ask == "contact",
                            request_location=message.ask == "location",
                        )
                    ]
                ],
                resize_keyboard=True,
                one_time_keyboard=True,
            )
            await self.bot.send_message(chat_id, message.text, reply_markup=keyboard)
            if markup is not None:  # Telegram allows one keyboard per message
                await self.bot.send_message(chat_id, message.ask_alternatives or "…", reply_markup=markup)
            return
        preview = LinkPreviewOptions(is_disabled=True) if message.no_preview else None
        await self.bot.send_message(chat_id, message.text, reply_markup=markup, link_preview_options=preview)


CHANNEL = TelegramChannel
