"""Zalo Official Account (Open API v3) as transport only: signed webhook events in, messages out.

Events arrive at POST /webhooks/zalo-oa, signed in X-ZEvent-Signature with
sha256(app_id + raw body + timestamp + OA secret key); a good one is stored in the durable
inbound queue (`receive` is Service.accept) and answered at once, within Zalo's 2 seconds, and
bot/inbox.py hands it to the engine right after. Replies go through
POST /v3.0/oa/message/cs with the access token in an `access_token` header: text, text with a
button template (our buttons are `oa.query.hide`, whose payload comes back as the user's text),
images (uploaded first, then attached) and files. See the README's "Zalo" section for what was
verified in Zalo's documentation and what is assumed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from bot.channels.common import age_problem, answer_webhook, json_id
from bot.channels.zalo_oa_tokens import OaTokens, TokenError
from bot.media import MediaLinks
from bot.settings import Settings
from bot.untrusted import BadInput, field_values, loads
from documents.links import chat_link
from handlers.types import Incoming, Kind, Location
from storage import updates
from storage.models import utcnow

log = logging.getLogger(__name__)

NAME = "zalo_oa"
WEBHOOK_PATH = "/webhooks/zalo-oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"
SEND_PATH = "/v3.0/oa/message/cs"
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"
UPLOAD_FILE_PATH = "/v2.0/oa/upload/file"
# Our buttons send their payload back as a hidden text with this mark, so a press is told apart
# from typed text (a person typing it just "presses" that button: handlers check payloads anyway).
BUTTON_MARK = "btn:"
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
MAX_TEXT = 2000
UPLOAD_IMAGE_TYPES = {"image/jpeg", "image/png"}
UPLOAD_IMAGE_MAX = 1024 * 1024
UPLOAD_FILE_TYPES = {
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
UPLOAD_FILE_MAX = 5 * 1024 * 1024
# Error codes in the JSON body (Zalo answers most failures with HTTP 200): the access token
# expired or is invalid; too many calls; the person cannot be messaged (not following the OA, or
# no interaction for 7 days) until they write again. Anything else drops the message.
TOKEN_ERRORS = {-216, -124}
RATE_LIMIT_ERRORS = {-32}
UNREACHABLE_ERRORS = {-213, -230}

Receive = Callable[[Incoming], Awaitable[None]]

_MEDIA_KINDS = {
    "user_send_image": Kind.PHOTO,
    "user_send_gif": Kind.PHOTO,
    "user_send_sticker": Kind.STICKER,
    "user_send_audio": Kind.VOICE,
    "user_send_video": Kind.OTHER,
    "user_send_file": Kind.OTHER,
    "user_send_link": Kind.OTHER,
    "user_send_business_card": Kind.OTHER,
}


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The hex digest Zalo puts in X-ZEvent-Signature (documented as mac=sha256(appId + data +
    timeStamp + OAsecretKey)); not an HMAC, a plain SHA-256 of the concatenation."""
    return hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


def signature_matches(header: str | None, expected: str) -> bool:
    if not header:
        return False
    given = header.strip()
    if given.lower().startswith("mac="):  # some deliveries write it as "mac=<hex>"
        given = given[4:].strip()
    return hmac.compare_digest(given.lower().encode(), expected.encode())


class Unfollow:
    """The person stopped following the OA: nothing more is sent until they write again."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id


def update_id_of(event: dict[str, Any], user_id: str) -> str:
    """message.msg_id when the event carries one (Zalo's own id, the same on every retry);
    otherwise a hash of what identifies the event (follow: event, person, timestamp)."""
    message = _dict(event.get("message"))
    msg_id = json_id(message.get("msg_id")) or json_id(message.get("mid"))
    if msg_id:
        return msg_id
    key = f"{event.get('event_name')}|{user_id}|{event.get('timestamp')}"
    return "h:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_incoming(event: dict[str, Any]) -> Incoming | Unfollow | None:
    """The normalized message for a webhook event; Unfollow; None for events the bot ignores
    (the OA's own messages, seen/received receipts, tags, anything unknown or malformed).
    Total: whatever the JSON holds, it answers and never raises."""
    name = event.get("event_name")
    user_id = json_id(_dict(event.get("follower")).get("id")) or json_id(_dict(event.get("sender")).get("id"))
    if not isinstance(name, str) or not user_id:
        return None
    if name == "unfollow":
        return Unfollow(user_id)
    incoming = functools.partial(
        Incoming, channel=NAME, user_id=user_id, chat_id=user_id, update_id=update_id_of(event, user_id)
    )
    if name == "follow":
        return incoming(kind=Kind.FOLLOW)
    message = _dict(event.get("message"))
    if name in ("user_send_text", "user_click_button"):
        text = message.get("text")
        if not isinstance(text, str):
            return None
        if text.startswith(BUTTON_MARK):
            return incoming(kind=Kind.BUTTON, payload=text[len(BUTTON_MARK) :])
        return incoming(kind=Kind.TEXT, text=text)
    if name == "user_send_location":
        location = _location(message)
        if location is None:
            return incoming(kind=Kind.OTHER)
        return incoming(kind=Kind.LOCATION, location=location)
    if name in _MEDIA_KINDS:
        return incoming(kind=_MEDIA_KINDS[name])
    return None


def _location(message: dict[str, Any]) -> Location | None:
    attachments = message.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict) or attachment.get("type") != "location":
            continue
        coordinates = _dict(_dict(attachment.get("payload")).get("coordinates"))
        try:
            latitude, longitude = float(coordinates["latitude"]), float(coordinates["longitude"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # also NaN and infinities
            return None
        return Location(latitude, longitude)
    return None


def _button(label: str, payload: str | None, url: str | None) -> dict[str, Any]:
    title = label if len(label) <= MAX_BUTTON_TITLE else label[: MAX_BUTTON_TITLE - 1] + "…"
    if url:
        return {"title": title, "type": "oa.open.url", "payload": {"url": url}}
    return {"title": title, "type": "oa.query.hide", "payload": f"{BUTTON_MARK}{payload}"}


class ZaloApiError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}, error {code}: {message}")
        self.status = status
        self.code = code


def configured(settings: Settings) -> bool:
    return settings.zalo_oa_configured


def build(wiring: Wiring) -> ZaloOaChannel:
    # Events are stored at once and handled right after: Zalo wants its answer within seconds.
    return ZaloOaChannel(
        wiring.settings,
        wiring.accept,
        wiring.sessions,
        wiring.media,
        budget=wiring.budget(NAME, wiring.settings.zalo_max_per_second, 1),
    )


class ZaloOaChannel:
    name = NAME
    webhook_paths = (WEBHOOK_PATH,)
    chats = None  # every chat
    capabilities = Capabilities(
        buttons=True,
        url_buttons=True,
        edit=False,
        file_upload=True,
        request_contact=False,
        request_location=False,
        max_text=MAX_TEXT,
        max_buttons=MAX_BUTTONS,
    )

    def __init__(
        self,
        settings: Settings,
        receive: Receive,
        sessions: async_sessionmaker[AsyncSession],
        media: MediaLinks,
        *,
        budget: Budget | None = None,
    ) -> None:
        if not settings.zalo_oa_configured:
            raise ValueError("ZALO_OA_APP_ID, ZALO_OA_APP_SECRET and ZALO_OA_SECRET_KEY are needed")
        self.settings = settings
        self.receive = receive
        self.sessions = sessions
        self.media = media
        self.budget = budget  # paces the messages sent (not uploads), shared by the workers
        self.max_age = dt.timedelta(hours=settings.zalo_event_max_age_hours)
        self._http: aiohttp.ClientSession | None = None
        self.tokens = OaTokens(settings, sessions, self.http)

    @property
    def username(self) -> str | None:
        """The OA's id: the poster's "chat on Zalo" link is https://zalo.me/<id>."""
        return self.settings.zalo_oa_id

    @property
    def public_handle(self) -> str | None:
        return self.username

    def deep_link(self, payload: str | None = None) -> str | None:
        return chat_link(NAME, self.username) if self.username else None  # no start parameter on Zalo

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        return await answer_webhook(NAME, self.handle_webhook(raw, request.headers.get(SIGNATURE_HEADER)))

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    async def start(self) -> None:
        self.http()
        log.info("zalo oa: receiving events at %s%s", self.settings.own_base_url, WEBHOOK_PATH)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()

    # --- inbound ---

    async def handle_webhook(self, raw_body: bytes, signature_header: str | None) -> tuple[int, str]:
        """One webhook call: (HTTP status, short reason). Raises when the event could not be stored
        (the caller answers 503, so Zalo delivers it again). An event already stored (Zalo
        retrying) is answered 200 and not stored again.

        The signature covers the body and the `timestamp` inside it, so that one field is found
        in the raw bytes (untrusted.field_values) and the signature checked before anything is
        parsed: a stranger's body never reaches the JSON parser."""
        if not signature_header:
            return 401, "signature missing"
        assert self.settings.zalo_oa_app_id and self.settings.zalo_oa_secret_key
        app_id, key = self.settings.zalo_oa_app_id, self.settings.zalo_oa_secret_key.reveal()
        signed_at = next(
            (
                ts
                for ts in field_values(raw_body, "timestamp")
                if signature_matches(signature_header, signature(app_id, raw_body, ts, key))
            ),
            None,
        )
        if signed_at is None:
            return 401, "bad signature"
        try:
            event = loads(raw_body)
        except BadInput as exc:
            return 400, str(exc)
        if not isinstance(event, dict) or str(event.get("timestamp")) != signed_at:
            return 400, "not an event"
        problem = age_problem(signed_at, self.max_age, utcnow())
        if problem:
            return 200, f"stale: {problem}"
        incoming = to_incoming(event)
        if incoming is None:
            log.debug("zalo oa: %s ignored", event.get("event_name"))
            return 200, "ignored"
        if isinstance(incoming, Unfollow):
            async with self.sessions() as db, db.begin():
                await updates.mark_blocked(db, NAME, incoming.user_id)
            return 200, "unfollowed"
        await self.receive(incoming)
        return 200, "ok"

    # --- outbound ---

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        try:
            if attachment is not None:
                await self._send_attachment(chat_id, message, attachment)
            else:
                await self._send_text(chat_id, message.text, message.buttons)
        except TokenError as exc:
            raise SendRetry(f"no access token: {exc}", retry_after=300) from exc
        except ZaloApiError as exc:
            if exc.status == 429 or exc.code in RATE_LIMIT_ERRORS:
                raise SendRateLimited(str(exc)) from exc
            if exc.status >= 500 or exc.code in TOKEN_ERRORS:
                raise SendRetry(str(exc)) from exc
            if exc.code in UNREACHABLE_ERRORS:
                raise SendBlocked(str(exc)) from exc
            raise SendFailed(str(exc)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SendRetry(f"network: {exc!r}") from exc

    async def _send_text(self, user_id: str, text: str, rows: list) -> None:
        message: dict[str, Any] = {"text": text}
        buttons = [_button(b.label, b.payload, b.url) for row in rows for b in row]
        if buttons:
            message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
        await self._message(user_id, message)

    async def _send_attachment(self, user_id: str, message: OutMessage, data: bytes) -> None:
        mime = (message.mime_type or "application/octet-stream").lower()
        filename = message.filename or "file"
        if message.attachment_kind == "image":
            if mime in UPLOAD_IMAGE_TYPES and len(data) <= UPLOAD_IMAGE_MAX:
                uploaded = await self._api(UPLOAD_IMAGE_PATH, upload=(data, filename, mime))
                element = {"media_type": "image", "attachment_id": uploaded["attachment_id"]}
            else:  # too big or another format for the upload: Zalo fetches it from our URL
                element = {
                    "media_type": "image",
                    "url": await self.media.publish(data, mime, filename, channel=NAME, chat_id=user_id),
                }
            body: dict[str, Any] = {
                "attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}
            }
            if message.text:
                body["text"] = message.text
            await self._message(user_id, body)
            return
        if mime in UPLOAD_FILE_TYPES and len(data) <= UPLOAD_FILE_MAX:
            uploaded = await self._api(UPLOAD_FILE_PATH, upload=(data, filename, mime))
            if message.text:
                await self._message(user_id, {"text": message.text})
            await self._message(user_id, {"attachment": {"type": "file", "payload": {"token": uploaded["token"]}}})
            return
        # A file the OA cannot carry (a spreadsheet, a big poster): a link to it on our server.
        url = await self.media.publish(data, mime, filename, channel=NAME, chat_id=user_id)
        text = f"{message.text}\n{filename}: {url}" if message.text else f"{filename}: {url}"
        await self._message(user_id, {"text": text})

    async def _message(self, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        if self.budget is not None:
            await self.budget.acquire()
        return await self._api(SEND_PATH, json_body={"recipient": {"user_id": user_id}, "message": message})

    async def _api(
        self, path: str, *, json_body: dict | None = None, upload: tuple[bytes, str, str] | None = None
    ) -> dict[str, Any]:
        """One OpenAPI call; an expired token is refreshed and the call repeated once."""
        token = await self.tokens.get()
        for attempt in (1, 2):
            status, body = await self._post(path, token, json_body, upload)
            code = body.get("error") if isinstance(body, dict) else None
            expired = status == 401 or code in TOKEN_ERRORS
            if expired and attempt == 1:
                log.info("zalo oa: access token rejected (%s); refreshing", code or status)
                token = await self.tokens.refresh(stale=token)
                continue
            if status != 200 or not isinstance(body, dict) or code != 0:
                message = body.get("message", "") if isinstance(body, dict) else str(body)[:200]
                raise ZaloApiError(status, code, message)
            return body.get("data") or {}
        raise AssertionError("unreachable")

    async def _post(
        self, path: str, token: str, json_body: dict | None, upload: tuple[bytes, str, str] | None
    ) -> tuple[int, Any]:
        url = f"{self.settings.zalo_oa_api_base_url}{path}"
        kwargs: dict[str, Any] = {"headers": {"access_token": token}}
        if upload is not None:
            form = aiohttp.FormData()  # built per attempt: a FormData cannot be sent twice
            data, filename, mime = upload
            form.add_field("file", data, filename=filename, content_type=mime)
            kwargs["data"] = form
        else:
            kwargs["json"] = json_body
        async with self.http().post(url, **kwargs) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = await response.text()
            return response.status, body


CHANNEL = ZaloOaChannel
