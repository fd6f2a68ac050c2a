"""A local stand-in of the Telegram Bot API, so end-to-end tests run the real client offline."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import itertools
import json
import logging
import mimetypes
import re
import socket
import time
from collections import defaultdict, deque
from collections.abc import Callable
from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.standins.activity import Activity

log = logging.getLogger(__name__)

T = TypeVar("T")

# What `sent()` reports: the calls that put something in front of a user.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)

# The methods whose handlers look at uploaded parts.
_UPLOAD_METHODS = frozenset({"sendphoto", "senddocument"})

# Telegram's default when allowed_updates is empty or never given.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Parameters Telegram reads as plain strings. python-telegram-bot sends str values unencoded
# and everything else JSON-encoded, so a text "123" or "[1]" must not be JSON-decoded.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "ip_address",
        "callback_query_id",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "certificate",
        "file_id",
        "language_code",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "action",
        "emoji",
        "title",
        "description",
        "short_description",
        "name",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "question",
        "query",
        "result_id",
        "custom_emoji_id",
        "button_text",
        "start_parameter",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INLINE_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "callback_game",
        "pay",
        "web_app",
        "copy_text",
    }
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_BAD_FILE = "Bad Request: wrong file identifier/HTTP URL specified"

_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}

# Telegram's photo size ladder (s, m, x, y, w): the longest side of each stored copy.
_PHOTO_SIDES = (90, 320, 800, 1280, 2560)


class BotApiError(Exception):
    """An answer with ok=false, shaped like Telegram's."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclasses.dataclass
class UploadedFile:
    """One multipart part that carried a file."""

    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclasses.dataclass
class Call:
    """One request the bot made; `at` is time.monotonic() when it arrived."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    at: float
    failed_with: int | None = None  # error_code answered; 499 = client gave up before the answer
    description: str | None = None
    result: Any = None
    via_webhook_reply: bool = False

    @property
    def ok(self) -> bool:
        return self.failed_with is None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        return self.params.get("text", self.params.get("caption"))

    @property
    def reply_markup(self) -> dict | None:
        return self.params.get("reply_markup")

    def buttons(self) -> list[dict]:
        """The inline keyboard buttons of this call, row after row."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]

    def file(self, param: str) -> UploadedFile | None:
        """The upload behind `param`, whether sent as a part of that name or as attach://."""
        if param in self.files:
            return self.files[param]
        value = self.params.get(param)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value.removeprefix("attach://"))
        return None

    def summary(self) -> str:
        parts = [self.method]
        if self.chat_id is not None:
            parts.append(f"chat={self.chat_id}")
        if self.text is not None:
            text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
            parts.append(repr(text))
        if self.callback_data():
            parts.append(f"buttons={self.callback_data()}")
        if self.files:
            parts.append(f"files={sorted(self.files)}")
        if self.failed_with is not None:
            parts.append(f"-> {self.failed_with} {self.description}")
        return " ".join(parts)


@dataclasses.dataclass
class WebhookDelivery:
    """One attempt to POST an update to the webhook; status is None when no answer came."""

    update_id: int
    status: int | None
    attempt: int
    at: float
    error: str | None = None


@dataclasses.dataclass
class StoredFile:
    """A file Telegram would know by file_id: uploaded by the bot, sent by a user, or a URL."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    file_path: str | None = None

    @property
    def file_size(self) -> int | None:
        return len(self.data) if self.data is not None else None


@dataclasses.dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclasses.dataclass
class _Fault:
    error_code: int
    description: str | None
    retry_after: int
    times: int


def _utf16_len(text: str) -> int:
    # Entity offsets and lengths count UTF-16 code units, as the Bot API does.
    return len(text.encode("utf-16-le")) // 2


def _chat_key(chat_id: Any) -> Any:
    if isinstance(chat_id, str):
        try:
            return int(chat_id)
        except ValueError:
            return chat_id
    return chat_id


def _update_type(update: dict) -> str:
    return next((key for key in update if key != "update_id"), "")


def _update_chat(update: dict) -> Any:
    """The chat an update belongs to, which orders webhook deliveries."""
    body = update.get(_update_type(update))
    if not isinstance(body, dict):
        return ("update", update.get("update_id"))
    if isinstance(body.get("chat"), dict):
        return body["chat"].get("id")
    if isinstance(body.get("message"), dict) and isinstance(body["message"].get("chat"), dict):
        return body["message"]["chat"].get("id")
    if isinstance(body.get("from"), dict):
        return body["from"].get("id")
    return ("update", update.get("update_id"))


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _mime_type(file_name: str, fallback: str | None = None) -> str:
    return mimetypes.guess_type(file_name)[0] or fallback or "application/octet-stream"


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from the query string and a JSON, form-encoded or multipart body."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as err:
                raise _bad("can't parse JSON object") from err
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = UploadedFile(value.filename, value.content_type, value.file.read())
                else:
                    params[name] = value
    return {name: _decode(name, value) for name, value in params.items()}, files


class _TextBuilder:
    """Accumulates plain text and entities while a marked-up text is parsed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0  # in UTF-16 code units
        self.entities: list[dict] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += _utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        # Telegram drops entities that cover no text.
        if self.pos > start:
            length = self.pos - start
            self.entities.append({"offset": start, "length": length, "type": kind, **extra})

    def result(self) -> tuple[str, list[dict]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def _entity_error(message: str) -> BotApiError:
    return _bad(f"can't parse entities: {message}")


_HTML_KINDS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _HtmlParser(HTMLParser):
    """Telegram's HTML parse mode: the supported tags only, properly nested."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.source = source
        self.out = _TextBuilder()
        self.stack: list[tuple[str, dict, int]] = []
        starts = [0]
        for line in source.split("\n")[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        self.line_starts = starts

    def byte_offset(self) -> int:
        line, column = self.getpos()
        index = self.line_starts[line - 1] + column
        return len(self.source[:index].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag not in _HTML_KINDS:
            self.unsupported(tag)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset()}')
        self.stack.append((tag, attributes, self.out.pos))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.unsupported(tag)

    def unsupported(self, tag: str) -> None:
        raise _entity_error(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset()}')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _entity_error(f"Unexpected end tag at byte offset {self.byte_offset()}")
        open_tag, attributes, start = self.stack[-1]
        if open_tag != tag:
            raise _entity_error(
                f'Unmatched end tag at byte offset {self.byte_offset()}, expected "</{open_tag}>", found "</{tag}>"'
            )
        self.stack.pop()
        kind = _HTML_KINDS[tag]
        if tag == "code" and self.stack and self.stack[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            language = attributes.get("class", "").removeprefix("language-")
            if language:
                self.stack[-1][1]["language"] = language
            return
        extra: dict[str, Any] = {}
        if kind == "text_link":
            if not attributes.get("href"):
                return
            extra["url"] = attributes["href"]
        elif kind == "pre" and attributes.get("language"):
            extra["language"] = attributes["language"]
        elif kind == "blockquote" and "expandable" in attributes:
            kind = "expandable_blockquote"
        elif kind == "custom_emoji":
            extra["custom_emoji_id"] = attributes.get("emoji-id", "")
        self.out.entity(kind, start, **extra)

    def handle_data(self, data: str) -> None:
        self.out.add(data)

    def parse(self) -> tuple[str, list[dict]]:
        self.feed(self.source)
        self.close()
        if self.stack:
            tag = self.stack[-1][0]
            raise _entity_error(f'Can\'t find end tag corresponding to start tag "{tag}"')
        return self.out.result()


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = (
    ("```", "pre", "Pre"),
    ("||", "spoiler", "Spoiler"),
    ("__", "underline", "Underline"),
    ("*", "bold", "Bold"),
    ("_", "italic", "Italic"),
    ("~", "strikethrough", "Strikethrough"),
    ("`", "code", "Code"),
)
_MDV2_NAMES = {marker: name for marker, _, name in _MDV2_MARKERS} | {"[": "TextUrl"}
_MDV2_KINDS = {marker: kind for marker, kind, _ in _MDV2_MARKERS}


def _parse_markdown_v2(source: str) -> tuple[str, list[dict]]:
    """Telegram's MarkdownV2: reserved characters must be escaped, entities must close."""
    out = _TextBuilder()
    stack: list[list[Any]] = []  # [marker, start, byte offset, language]
    quote_start: int | None = None
    line_start = True
    i, n = 0, len(source)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode())

    while i < n:
        char = source[i]
        top = stack[-1][0] if stack else None
        if top in ("`", "```"):
            # Inside code only ` and \ are special.
            if char == "\\" and i + 1 < n and source[i + 1] in "`\\":
                out.add(source[i + 1])
                i += 2
            elif source.startswith(top, i):
                marker, start, _, language = stack.pop()
                extra = {"language": language} if language else {}
                out.entity(_MDV2_KINDS[marker], start, **extra)
                i += len(top)
            else:
                out.add(char)
                i += 1
            continue
        if char == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) < 127:
                out.add(source[i + 1])
                i += 2
            else:
                out.add(char)
                i += 1
            line_start = False
            continue
        if line_start and char == ">":
            if quote_start is None:
                quote_start = out.pos
            i += 1
            line_start = False
            continue
        if char == "\n":
            if quote_start is not None and not source.startswith(">", i + 1):
                out.entity("blockquote", quote_start)
                quote_start = None
            out.add(char)
            line_start = True
            i += 1
            continue
        line_start = False
        if char == "[":
            stack.append(["[", out.pos, byte_offset(i), None])
            i += 1
            continue
        if char == "]" and top == "[" and source.startswith("(", i + 1):
            j, url = i + 2, []
            while j < n and source[j] != ")":
                if source[j] == "\\" and j + 1 < n:
                    j += 1
                url.append(source[j])
                j += 1
            if j >= n:
                raise _entity_error(f"Can't find end of a url at byte offset {byte_offset(i + 2)}")
            _, start, _, _ = stack.pop()
            out.entity("text_link", start, url="".join(url))
            i = j + 1
            continue
        for marker, _, _ in _MDV2_MARKERS:
            if source.startswith(marker, i):
                if top == marker:
                    _, start, _, _ = stack.pop()
                    out.entity(_MDV2_KINDS[marker], start)
                    i += len(marker)
                elif any(entry[0] == marker for entry in stack):
                    entry = next(entry for entry in stack if entry[0] == marker)
                    raise _entity_error(f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset {entry[2]}")
                else:
                    language = None
                    i += len(marker)
                    if marker == "```":
                        end = source.find("\n", i)
                        first_line = source[i:end] if end != -1 else ""
                        if first_line and not re.search(r"\s|`", first_line):
                            language, i = first_line, end + 1
                    stack.append([marker, out.pos, byte_offset(i - len(marker)), language])
                break
        else:
            if char in _MDV2_RESERVED:
                raise _entity_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
            out.add(char)
            i += 1
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        marker, _, offset, _ = stack[-1]
        name = _MDV2_NAMES[marker]
        raise _entity_error(f"Can't find end of {name} entity at byte offset {offset}")
    return out.result()


def _parse_markdown(source: str) -> tuple[str, list[dict]]:
    """Telegram's legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url), no nesting."""
    out = _TextBuilder()
    i, n = 0, len(source)
    kinds = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        marker = "```" if source.startswith("```", i) else char
        if marker in kinds or marker == "[":
            closing = "]" if marker == "[" else marker
            end = source.find(closing, i + len(marker))
            if end == -1:
                offset = len(source[:i].encode())
                raise _entity_error(f"Can't find end of the entity starting at byte offset {offset}")
            start = out.pos
            out.add(source[i + len(marker) : end])
            i = end + len(closing)
            if marker == "[":
                url_end = source.find(")", i) if source.startswith("(", i) else -1
                if url_end != -1:
                    out.entity("text_link", start, url=source[i + 1 : url_end])
                    i = url_end + 1
            else:
                out.entity(kinds[marker], start)
            continue
        out.add(char)
        i += 1
    return out.result()


def _format(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[dict]]:
    """The plain text and entities Telegram would store for a text and its markup."""
    if isinstance(entities, list):
        return text, entities
    mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
    if mode == "html":
        return _HtmlParser(text).parse()
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    if mode:
        raise _bad("unsupported parse_mode")
    return text, []


class FakeUser:
    """A simulated Telegram user in a private chat with the bot; sends become queued updates."""

    def __init__(
        self,
        standin: TelegramStandin,
        user_id: int,
        first_name: str = "Lan",
        username: str | None = None,
        language_code: str | None = "vi",
        last_name: str | None = None,
    ):
        self.standin = standin
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self.last_name = last_name

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r})"

    def as_dict(self) -> dict:
        """The Telegram User object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat(self) -> dict:
        """The private Chat object, whose id is the user id."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    # --- builders: a full Update dict with a fresh update_id, not queued ---

    def _message_update(self, **content: Any) -> dict:
        message_id = self.standin._next_message_id(self.id)
        self.standin._user_message_ids[self.id].add(message_id)
        message = {
            "message_id": message_id,
            "from": self.as_dict(),
            "chat": self.chat(),
            "date": int(time.time()),
            **content,
        }
        return {"update_id": self.standin._next_update_id(), "message": message}

    def build_text(self, text: str) -> dict:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            content["entities"] = [{"offset": 0, "length": _utf16_len(command), "type": "bot_command"}]
        return self._message_update(**content)

    def build_command(self, cmd: str, args: str = "") -> dict:
        text = "/" + cmd.lstrip("/")
        return self.build_text(f"{text} {args}" if args else text)

    def build_press(self, data: str, message: Any = None) -> dict:
        """A callback_query for the inline button carrying `data`.

        Without `message`, the bot's latest message to this chat that has a button with that
        data is pressed, as a user can press any still-visible button."""
        pressed = self._find_pressed_message(data, message)
        callback_query = {
            "id": self.standin._next_callback_id(),
            "from": self.as_dict(),
            "message": pressed,
            "chat_instance": str(8_000_000_000_000_000_000 + self.id),
            "data": data,
        }
        return {"update_id": self.standin._next_update_id(), "callback_query": callback_query}

    def build_sticker(self, emoji: str = "👍") -> dict:
        webp = b"RIFF\x00\x00\x00\x00WEBP"
        stored = self.standin._store_file("sticker", webp, "sticker.webp", "image/webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.file_size,
        }
        return self._message_update(sticker=sticker)

    def build_photo(self, width: int = 800, height: int = 600, caption: str | None = None) -> dict:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), (30, 110, 200)).save(buffer, "JPEG")
        sizes = self.standin._photo_from_bytes(buffer.getvalue(), "photo.jpg")
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return self._message_update(**content)

    def build_voice(self, duration: int = 3) -> dict:
        stored = self.standin._store_file("voice", b"OggS" + bytes(256), "voice.ogg", "audio/ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        return self._message_update(voice=voice)

    def build_document(self, filename: str = "note.txt", data: bytes = b"hello", mime_type: str | None = None) -> dict:
        mime = mime_type or _mime_type(filename)
        stored = self.standin._store_file("document", data, filename, mime)
        return self._message_update(document=self.standin._document_dict(stored))

    def build_location(self, lat: float, lon: float) -> dict:
        return self._message_update(location={"latitude": lat, "longitude": lon})

    def build_contact(self, phone: str, user_id: int | None = None, first_name: str | None = None) -> dict:
        contact = {
            "phone_number": phone,
            "first_name": first_name or self.first_name,
            "user_id": self.id if user_id is None else user_id,
        }
        return self._message_update(contact=contact)

    def build_raw(self, update: dict) -> dict:
        """`update` without update_id; the id is added."""
        return {"update_id": self.standin._next_update_id(), **copy.deepcopy(update)}

    # --- senders: build, queue for getUpdates or the webhook, return the update ---

    def send_text(self, text: str) -> dict:
        return self.standin.enqueue(self.build_text(text))

    def send_command(self, cmd: str, args: str = "") -> dict:
        return self.standin.enqueue(self.build_command(cmd, args))

    def press(self, data: str, message: Any = None) -> dict:
        return self.standin.enqueue(self.build_press(data, message))

    def send_sticker(self, emoji: str = "👍") -> dict:
        return self.standin.enqueue(self.build_sticker(emoji))

    def send_photo(self, width: int = 800, height: int = 600, caption: str | None = None) -> dict:
        return self.standin.enqueue(self.build_photo(width, height, caption))

    def send_voice(self, duration: int = 3) -> dict:
        return self.standin.enqueue(self.build_voice(duration))

    def send_document(self, filename: str = "note.txt", data: bytes = b"hello", mime_type: str | None = None) -> dict:
        return self.standin.enqueue(self.build_document(filename, data, mime_type))

    def send_location(self, lat: float, lon: float) -> dict:
        self.standin.use_reply_keyboard(self.id)
        return self.standin.enqueue(self.build_location(lat, lon))

    def send_contact(self, phone: str, user_id: int | None = None, first_name: str | None = None) -> dict:
        self.standin.use_reply_keyboard(self.id)
        return self.standin.enqueue(self.build_contact(phone, user_id, first_name))

    def send_raw(self, update: dict) -> dict:
        return self.standin.enqueue(self.build_raw(update))

    def _find_pressed_message(self, data: str, message: Any) -> dict:
        sent = self.standin.messages.get(self.id, [])
        if message is not None:
            if hasattr(message, "to_dict"):  # a telegram.Message
                message = message.to_dict()
            message_id = message["message_id"] if isinstance(message, dict) else int(message)
            found = next((m for m in sent if m["message_id"] == message_id), None)
            if found is None:
                raise AssertionError(f"the bot has no message {message_id} in chat {self.id}")
            candidates = [found]
        else:
            candidates = [m for m in reversed(sent) if m.get("reply_markup")]
            if not candidates:
                raise AssertionError(f"the bot sent no message with an inline keyboard to chat {self.id}")
        for candidate in candidates:
            if data in _callback_data(candidate):
                return copy.deepcopy(candidate)
        offered = {m["message_id"]: _callback_data(m) for m in candidates}
        raise AssertionError(f"no button with callback_data={data!r} in chat {self.id}; offered: {offered}")


def _callback_data(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


class TelegramStandin:
    """A fake Bot API server. Usage:
    async with TelegramStandin(token="123:ABC", username="bluezone_test_bot") as tg:
        tg.base_url      # "http://127.0.0.1:<port>/bot"  -> pass to ApplicationBuilder().base_url(...) / Bot(base_url=...)
        tg.base_file_url # "http://127.0.0.1:<port>/file/bot"
    """

    def __init__(
        self,
        token: str = "123:ABC",
        username: str = "bluezone_test_bot",
        *,
        first_name: str = "Bluezone Test Bot",
        max_per_second: float | None = None,
        webhook_retry_delay: float = 0.05,
        webhook_max_attempts: int = 5,
        webhook_timeout: float = 5.0,
        poll_wait_cap: float | None = 1.0,
        strict_chats: bool = False,
    ):
        """
        max_per_second: answer 429 (retry_after=1) to sending calls beyond this many per second.
        webhook_retry_delay: first back-off between webhook attempts; it doubles per attempt.
        poll_wait_cap: longest a getUpdates long poll waits, whatever timeout the client asked.
        strict_chats: answer "chat not found" for chats of no FakeUser, as Telegram does for
            users who never started the bot.
        """
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError(f"a bot token starts with the bot's numeric id: {token!r}")
        self.token = token
        self.bot_user = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.max_per_second = max_per_second
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_timeout = webhook_timeout
        self.poll_wait_cap = poll_wait_cap
        self.strict_chats = strict_chats

        self.calls: list[Call] = []
        self.messages: defaultdict[Any, list[dict]] = defaultdict(list)
        self.files: dict[str, StoredFile] = {}
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.callback_answers: dict[str, dict] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}
        # The custom reply keyboard each chat shows under its input field (ReplyKeyboardMarkup),
        # until a ReplyKeyboardRemove; "hidden" once a one-time keyboard was used.
        self.reply_keyboards: dict[Any, dict] = {}
        self.users: dict[int, FakeUser] = {}

        self._pending: list[dict] = []
        self._allowed_updates: list[str] | None = None
        self._webhook: _Webhook | None = None
        self._webhook_worker: asyncio.Task | None = None
        self._in_flight: set[int] = set()
        self._delivery_tasks: set[asyncio.Task] = set()
        self._poll_generation = 0
        self._closing = False
        self._changed = asyncio.Event()
        self.activity = Activity()

        self._update_ids = itertools.count(700_000_001)
        self._callback_ids = itertools.count(4_382_000_000_000_000_001)
        self._file_numbers = itertools.count(1)
        self._message_ids: defaultdict[Any, itertools.count] = defaultdict(lambda: itertools.count(1))
        self._user_message_ids: defaultdict[Any, set[int]] = defaultdict(set)
        self._photo_sets: dict[str, list[dict]] = {}
        self._open_callbacks: set[str] = set()
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._delays: defaultdict[str, deque[list[float]]] = defaultdict(deque)
        self._late_answers: defaultdict[str, deque[list[float]]] = defaultdict(deque)
        self._blocked: set[Any] = set()
        self._send_times: deque[float] = deque()
        self._stubs: dict[str, tuple[str, Any]] = {}
        self._started_at = time.monotonic()

        self._methods: dict[str, tuple[str, Callable]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "getFile": self._get_file,
                "close": self._true,
                "logOut": self._true,
            }.items()
        }

        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port: int | None = None

    # --- lifecycle ---

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        # Uploads up to Telegram's 50 MB limit must fit.
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self.activity.middleware])
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_path)
        # handler_cancellation: a client that gives up (time-out, stopped poller) must not
        # leave a long poll behind that hands updates to nobody.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        self._closing = True
        self._bump()
        await self._stop_webhook_worker()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> TelegramStandin:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- users and updates ---

    def user(
        self,
        user_id: int,
        first_name: str = "Lan",
        username: str | None = None,
        language_code: str | None = "vi",
        last_name: str | None = None,
    ) -> FakeUser:
        fake = FakeUser(self, user_id, first_name, username, language_code, last_name)
        self.users[user_id] = fake
        return fake

    def enqueue(self, update: dict) -> dict:
        """Queue an update for getUpdates or the webhook; adds update_id when missing.

        Like Telegram, updates of kinds outside allowed_updates are dropped when served;
        by default chat_member and message_reaction(_count) are outside."""
        if "update_id" not in update:
            update = {"update_id": self._next_update_id(), **update}
        callback_query = update.get("callback_query")
        if isinstance(callback_query, dict) and "id" in callback_query:
            self._open_callbacks.add(str(callback_query["id"]))
        self._pending.append(update)
        self._bump()
        return update

    @property
    def pending_updates(self) -> list[dict]:
        return list(self._pending)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued update was confirmed by getUpdates or delivered by webhook."""

        def describe() -> str:
            ids = [u["update_id"] for u in self._pending]
            if self._webhook is not None:
                mode = f"webhook {self._webhook.url}"
            else:
                mode = "getUpdates (is the bot polling?)"
            return f"{len(ids)} update(s) still queued for {mode}: {ids}\n{self.describe_calls()}"

        await self._wait(lambda: not self._pending and not self._in_flight, timeout, describe)

    async def deliver_pending(self, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait until the webhook got every queued update; returns the delivery attempts made."""
        if self._webhook is None:
            raise AssertionError("no webhook is set; updates wait for getUpdates")
        before = len(self.webhook_deliveries)
        await self.drain(timeout)
        return self.webhook_deliveries[before:]

    # --- fault injection ---

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer with `error_code`, as Telegram would."""
        self._faults[method.lower()].append(_Fault(error_code, description, retry_after, times))

    def delay(self, method: str, seconds: float, times: int = 1, *, after: bool = False) -> None:
        """The next `times` calls of `method` wait `seconds` before being answered.

        By default they wait before being carried out, so a client that gives up meanwhile
        changed nothing. With `after`, they are carried out first and only the answer is late,
        as when Telegram did send a message whose answer the bot stopped waiting for; such a
        call is recorded as failed (499) although its message is in `messages`."""
        (self._late_answers if after else self._delays)[method.lower()].append([seconds, times])

    def block(self, user_id: int) -> None:
        """The user blocked the bot: sends to their chat answer 403."""
        self._blocked.add(_chat_key(user_id))

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(_chat_key(user_id))

    def stub(self, method: str, result: Any) -> None:
        """Answer a method this stand-in does not implement with `result` (or result(params))."""
        self._stubs[method.lower()] = (method, result)

    # --- assertions ---

    def reply_keyboard(self, chat_id: Any) -> dict | None:
        """The custom keyboard the chat still has (shown or, after a one-time use, hidden)."""
        return copy.deepcopy(self.reply_keyboards.get(_chat_key(chat_id)))

    def use_reply_keyboard(self, chat_id: Any) -> None:
        """The user pressed a button of the custom keyboard: a one-time keyboard hides (but stays)."""
        keyboard = self.reply_keyboards.get(_chat_key(chat_id))
        if keyboard is not None and keyboard.get("one_time_keyboard"):
            keyboard["hidden"] = True

    def sent(self, chat_id: Any = None) -> list[Call]:
        """Successful sending calls (see SENDING_METHODS), optionally to one chat."""
        return [
            call
            for call in self.calls
            if call.method in SENDING_METHODS
            and call.ok
            and (chat_id is None or _chat_key(call.chat_id) == _chat_key(chat_id))
        ]

    def calls_of(self, method: str, chat_id: Any = None, include_failed: bool = True) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.method.lower() == method.lower()
            and (include_failed or call.ok)
            and (chat_id is None or _chat_key(call.chat_id) == _chat_key(chat_id))
        ]

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 5.0, *, since: int = 0) -> Call:
        """The first recorded call (from index `since`) satisfying predicate, waiting if needed."""

        def find() -> Call | None:
            return next((call for call in self.calls[since:] if predicate(call)), None)

        def describe() -> str:
            return f"no call matched the predicate\n{self.describe_calls()}"

        return await self._wait(find, timeout, describe)

    async def wait_calls(
        self,
        method: str,
        count: int = 1,
        chat_id: Any = None,
        timeout: float = 5.0,
        include_failed: bool = False,
    ) -> list[Call]:
        """Wait for `count` calls of `method`; failed calls count only if include_failed."""

        def enough() -> list[Call] | None:
            found = self.calls_of(method, chat_id, include_failed)
            return found if len(found) >= count else None

        def describe() -> str:
            found = len(self.calls_of(method, chat_id, include_failed))
            where = f" to chat {chat_id}" if chat_id is not None else ""
            return f"expected {count} {method} call(s){where}, got {found}\n{self.describe_calls()}"

        return await self._wait(enough, timeout, describe)

    def describe_calls(self, last: int = 20) -> str:
        """Recent calls, one a line; getUpdates polls that returned nothing are left out."""
        shown = [call for call in self.calls if not (call.method == "getUpdates" and call.ok and not call.result)][
            -last:
        ]
        if not shown:
            return "recent calls: none"
        lines = [f"  +{call.at - self._started_at:7.3f}s {call.summary()}" for call in shown]
        return "recent calls:\n" + "\n".join(lines)

    # --- HTTP ---

    async def _handle_api(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        requested = request.match_info["method"]
        method = self._canonical(requested)
        call = Call(method, {}, {}, at)
        try:
            call.params, call.files = await _read_params(request)
            if request.match_info["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            call.result = await self._dispatch(method, call.params, call.files)
        except BotApiError as err:
            call.failed_with, call.description = err.code, err.description
            self._record(call)
            return web.json_response(err.body(), status=err.code)
        except asyncio.CancelledError:
            call.failed_with, call.description = 499, "client closed the connection"
            self._record(call)
            raise
        self._record(call)
        return web.json_response({"ok": True, "result": call.result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or stored is None or stored.data is None:
            return web.json_response(BotApiError(404, "Not Found").body(), status=404)
        content_type = stored.mime_type or "application/octet-stream"
        return web.Response(body=stored.data, content_type=content_type)

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        return web.json_response(BotApiError(404, "Not Found").body(), status=404)

    def _canonical(self, method: str) -> str:
        key = method.lower()
        if key in self._methods:
            return self._methods[key][0]
        if key in self._stubs:
            return self._stubs[key][0]
        return method

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._bump()

    async def _dispatch(self, method: str, params: dict, files: dict[str, UploadedFile]) -> Any:
        key = method.lower()
        if key not in self._methods and key not in self._stubs:
            raise BotApiError(404, "Not Found")
        await self._apply_delay(key)
        self._apply_fault(key)
        if method in SENDING_METHODS:
            self._apply_rate_limit()
        to_chat = key.startswith("send") or key.startswith("edit")
        if to_chat and _chat_key(params.get("chat_id")) in self._blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        if key in self._stubs:
            result = self._stubs[key][1]
            return result(params) if callable(result) else copy.deepcopy(result)
        handler = self._methods[key][1]
        if key in _UPLOAD_METHODS:
            result = await handler(params, files)
        else:
            result = await handler(params)
        await self._apply_delay(key, self._late_answers)
        return result

    async def _apply_delay(self, key: str, queue: dict[str, deque[list[float]]] | None = None) -> None:
        delays = (self._delays if queue is None else queue).get(key)
        if not delays:
            return
        entry = delays[0]
        entry[1] -= 1
        if entry[1] <= 0:
            delays.popleft()
        await asyncio.sleep(entry[0])

    def _apply_fault(self, key: str) -> None:
        faults = self._faults.get(key)
        if not faults:
            return
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.popleft()
        code = fault.error_code
        if code == 429:
            description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
            raise BotApiError(429, description, {"retry_after": fault.retry_after})
        description = fault.description or _DEFAULT_DESCRIPTIONS.get(code)
        if description is None:
            try:
                description = HTTPStatus(code).phrase
            except ValueError:
                description = "Error"
        raise BotApiError(code, description)

    def _apply_rate_limit(self) -> None:
        if self.max_per_second is None:
            return
        now = time.monotonic()
        while self._send_times and self._send_times[0] <= now - 1.0:
            self._send_times.popleft()
        if len(self._send_times) >= self.max_per_second:
            raise BotApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        self._send_times.append(now)

    # --- waiting ---

    def _bump(self) -> None:
        """Wake everything waiting for a change (calls, updates, deliveries, shutdown)."""
        self._changed.set()
        self._changed = asyncio.Event()
        self.activity.touch()

    def busy(self) -> str | None:
        """What the stand-in is still doing besides answering requests, or None."""
        if self._in_flight:
            return f"delivering update(s) {sorted(self._in_flight)} to the webhook"
        if self._pending:
            return f"{len(self._pending)} update(s) not yet confirmed by getUpdates or delivered"
        return None

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Until no request is being answered (a long poll waiting for updates aside), every queued
        update was confirmed or delivered, and nothing happened for `quiet` seconds."""
        await self.activity.wait_idle(self.busy, quiet, timeout, self.describe_calls)

    async def _wait_change(self, timeout: float | None) -> None:
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            pass

    async def _wait(self, check: Callable[[], T | None], timeout: float, describe: Callable[[], str]) -> T:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(describe())
            await self._wait_change(remaining)

    # --- ids ---

    def _next_update_id(self) -> int:
        return next(self._update_ids)

    def _next_message_id(self, chat_id: Any) -> int:
        return next(self._message_ids[_chat_key(chat_id)])

    def _next_callback_id(self) -> str:
        return str(next(self._callback_ids))

    # --- updates: getUpdates and webhook ---

    def _allowed(self, update: dict) -> bool:
        kind = _update_type(update)
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_EXCLUDED_UPDATES

    def _drop_unwanted(self) -> None:
        kept = [u for u in self._pending if self._allowed(u) or u["update_id"] in self._in_flight]
        if len(kept) != len(self._pending):
            self._pending = kept
            self._bump()

    def _set_allowed_updates(self, value: Any) -> None:
        if isinstance(value, list):
            self._allowed_updates = [str(kind) for kind in value] or None

    async def _get_updates(self, params: dict) -> list[dict]:
        if self._webhook is not None:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if self.poll_wait_cap is not None:
            timeout = min(timeout, self.poll_wait_cap)
        self._set_allowed_updates(params.get("allowed_updates"))

        if offset is not None:
            offset = int(offset)
            before = len(self._pending)
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            if len(self._pending) != before:
                self._bump()

        # A newer poll ends this one, as Telegram does when two bot instances poll.
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while True:
            self._drop_unwanted()
            if self._pending or self._closing:
                return copy.deepcopy(self._pending[:limit])
            if generation != self._poll_generation:
                raise BotApiError(409, _DEFAULT_DESCRIPTIONS[409])
            if self._webhook is not None:
                return []
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with self.activity.long_poll():
                await self._wait_change(remaining)

    async def _set_webhook(self, params: dict) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if urlsplit(url).scheme not in ("http", "https"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            self._pending = [u for u in self._pending if u["update_id"] in self._in_flight]
        self._set_allowed_updates(params.get("allowed_updates"))
        self._webhook = _Webhook(url, str(secret) if secret is not None else None, max_connections)
        if self._webhook_worker is None or self._webhook_worker.done():
            self._webhook_worker = asyncio.create_task(self._run_webhook())
        self._bump()
        return True

    async def _delete_webhook(self, params: dict) -> bool:
        self._webhook = None
        await self._stop_webhook_worker()
        if params.get("drop_pending_updates"):
            self._pending = []
        self._bump()
        return True

    async def _get_webhook_info(self, params: dict) -> dict:
        info: dict[str, Any] = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook:
            info["max_connections"] = self._webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook.last_error_date:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    async def _stop_webhook_worker(self) -> None:
        tasks = [t for t in (self._webhook_worker, *self._delivery_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._webhook_worker = None

    def _next_deliverable(self) -> dict | None:
        """The oldest update whose chat has no delivery in flight, within max_connections."""
        assert self._webhook is not None
        if len(self._in_flight) >= self._webhook.max_connections:
            return None
        self._drop_unwanted()
        busy_chats = set()
        for update in self._pending:
            chat = _update_chat(update)
            if chat in busy_chats:
                continue
            busy_chats.add(chat)
            if update["update_id"] not in self._in_flight:
                return update
        return None

    async def _run_webhook(self) -> None:
        while not self._closing and self._webhook is not None:
            update = self._next_deliverable()
            if update is None:
                await self._wait_change(None)
                continue
            self._in_flight.add(update["update_id"])
            task = asyncio.create_task(self._deliver(update))
            self._delivery_tasks.add(task)
            task.add_done_callback(self._delivery_tasks.discard)

    async def _deliver(self, update: dict) -> None:
        update_id = update["update_id"]
        try:
            for attempt in range(1, self.webhook_max_attempts + 1):
                webhook = self._webhook
                if webhook is None:
                    return
                status, body, error = await self._post_update(webhook, update)
                self.webhook_deliveries.append(WebhookDelivery(update_id, status, attempt, time.monotonic(), error))
                if status is not None and 200 <= status < 300:
                    await self._run_webhook_reply(body)
                    break
                webhook.last_error_date = int(time.time())
                if status is None:
                    webhook.last_error_message = error
                else:
                    answer = _status_text(status)
                    webhook.last_error_message = f"Wrong response from the webhook: {answer}"
                self._bump()
                if attempt < self.webhook_max_attempts:
                    await asyncio.sleep(self.webhook_retry_delay * 2 ** (attempt - 1))
            else:
                log.warning("gave up delivering update %s to the webhook", update_id)
            self._pending = [u for u in self._pending if u["update_id"] != update_id]
        finally:
            # When cancelled (deleteWebhook) the update stays queued for getUpdates.
            self._in_flight.discard(update_id)
            self._bump()

    async def _post_update(self, webhook: _Webhook, update: dict) -> tuple[int | None, bytes, str | None]:
        assert self._session is not None
        headers = {}
        if webhook.secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with self._session.post(
                webhook.url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                return response.status, await response.read(), None
        except (aiohttp.ClientError, TimeoutError) as err:
            return None, b"", f"{type(err).__name__}: {err}"

    async def _run_webhook_reply(self, body: bytes) -> None:
        """A webhook may answer with a method call, which Telegram then performs."""
        try:
            reply = json.loads(body) if body else None
        except ValueError:
            return
        if not isinstance(reply, dict) or not isinstance(reply.get("method"), str):
            return
        params = {k: _decode(k, v) for k, v in reply.items() if k != "method"}
        method = self._canonical(reply["method"])
        call = Call(method, params, {}, time.monotonic(), via_webhook_reply=True)
        try:
            call.result = await self._dispatch(call.method, params, {})
        except BotApiError as err:
            call.failed_with, call.description = err.code, err.description
        self._record(call)

    # --- chats and messages ---

    def _chat_id(self, params: dict) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise _bad("chat not found")
        return chat_id

    def _chat(self, chat_id: int) -> dict:
        if chat_id in self.users:
            return self.users[chat_id].chat()
        if self.strict_chats:
            raise _bad("chat not found")
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}

    def _new_message(self, chat_id: int, params: dict, **content: Any) -> dict:
        chat = self._chat(chat_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        markup = self._inline_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        self._reply_keyboard(chat_id, params.get("reply_markup"))
        self.messages[chat_id].append(message)
        return copy.deepcopy(message)

    def _reply_keyboard(self, chat_id: Any, markup: Any) -> None:
        """A ReplyKeyboardMarkup replaces the chat's keyboard; a ReplyKeyboardRemove removes it."""
        if not isinstance(markup, dict):
            return
        if markup.get("remove_keyboard") is True:
            self.reply_keyboards.pop(_chat_key(chat_id), None)
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not rows or not all(isinstance(row, list) and row for row in rows):
                raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise _bad("can't parse keyboard button: Text must be non-empty")
            self.reply_keyboards[_chat_key(chat_id)] = {**copy.deepcopy(markup), "hidden": False}

    def _find_message(self, params: dict, missing: str) -> dict:
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        for message in self.messages.get(chat_id, []):
            if message["message_id"] == message_id:
                return message
        if message_id in self._user_message_ids.get(chat_id, set()):
            raise _bad("message can't be edited")
        raise _bad(missing)

    def _inline_markup(self, markup: Any) -> dict | None:
        """The markup to store on the message: only a non-empty inline keyboard is echoed."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad("can't parse inline keyboard button: Text must be non-empty")
                if not _INLINE_BUTTON_ACTIONS & button.keys():
                    raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                valid_data = isinstance(data, str) and 1 <= len(data.encode()) <= 64
                if data is not None and not valid_data:
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        if not any(rows):
            return None
        return copy.deepcopy(markup)

    def _text_content(self, params: dict, *, key: str, entities_key: str, limit: int, too_long: str) -> dict:
        text = params.get(key)
        if text is None:
            return {}
        plain, entities = _format(str(text), params.get("parse_mode"), params.get(entities_key))
        if len(plain) > limit:
            raise _bad(too_long)
        content: dict[str, Any] = {key: plain}
        if entities:
            content[entities_key] = entities
        return content

    async def _get_me(self, params: dict) -> dict:
        return dict(self.bot_user)

    async def _true(self, params: dict) -> bool:
        return True

    async def _send_message(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        content = self._text_content(
            params, key="text", entities_key="entities", limit=4096, too_long="message is too long"
        )
        if not content.get("text", "").strip():
            raise _bad("message text is empty")
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return self._new_message(chat_id, params, **content)

    async def _send_photo(self, params: dict, files: dict[str, UploadedFile]) -> dict:
        chat_id = self._chat_id(params)
        sizes = self._resolve_photo(params, files)
        content = self._caption(params)
        return self._new_message(chat_id, params, photo=sizes, **content)

    async def _send_document(self, params: dict, files: dict[str, UploadedFile]) -> dict:
        chat_id = self._chat_id(params)
        stored = self._resolve_document(params, files)
        content = self._caption(params)
        return self._new_message(chat_id, params, document=self._document_dict(stored), **content)

    def _caption(self, params: dict) -> dict:
        return self._text_content(
            params,
            key="caption",
            entities_key="caption_entities",
            limit=1024,
            too_long="message caption is too long",
        )

    async def _edit_message_text(self, params: dict) -> dict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "message to edit not found")
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        content = self._text_content(
            params, key="text", entities_key="entities", limit=4096, too_long="MESSAGE_TOO_LONG"
        )
        if not content.get("text", "").strip():
            raise _bad("message text is empty")
        return self._apply_edit(message, content, params, ("text", "entities"))

    async def _edit_message_caption(self, params: dict) -> dict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "message to edit not found")
        if "text" in message:
            raise _bad("there is no caption in the message to edit")
        content = self._caption(params)
        return self._apply_edit(message, content, params, ("caption", "caption_entities"))

    async def _edit_message_reply_markup(self, params: dict) -> dict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._find_message(params, "message to edit not found")
        return self._apply_edit(message, {}, params, ())

    def _apply_edit(self, message: dict, content: dict, params: dict, fields: tuple[str, ...]) -> dict:
        # Editing without reply_markup removes the inline keyboard, as on Telegram.
        markup = self._inline_markup(params.get("reply_markup"))
        before = {field: message.get(field) for field in (*fields, "reply_markup")}
        after = {field: content.get(field) for field in fields} | {"reply_markup": markup}
        if before == after:
            raise BotApiError(400, _NOT_MODIFIED)
        for field, value in after.items():
            if value is None:
                message.pop(field, None)
            else:
                message[field] = value
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    async def _delete_message(self, params: dict) -> bool:
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        sent = self.messages.get(chat_id, [])
        for index, message in enumerate(sent):
            if message["message_id"] == message_id:
                del sent[index]
                return True
        if message_id in self._user_message_ids.get(chat_id, set()):
            self._user_message_ids[chat_id].discard(message_id)
            return True
        raise _bad("message to delete not found")

    async def _answer_callback_query(self, params: dict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = dict(params)
        return True

    async def _send_chat_action(self, params: dict) -> bool:
        self._chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # --- commands ---

    @staticmethod
    def _commands_key(params: dict) -> tuple[str, str]:
        scope = params.get("scope")
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        scope_key = scope.get("type", "default")
        if "chat_id" in scope:
            scope_key += f":{scope['chat_id']}"
        if "user_id" in scope:
            scope_key += f":{scope['user_id']}"
        return scope_key, str(params.get("language_code") or "")

    async def _set_my_commands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description is empty")
        self.commands[self._commands_key(params)] = copy.deepcopy(commands)
        return True

    async def _get_my_commands(self, params: dict) -> list[dict]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: dict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    # --- files ---

    def _store_file(
        self,
        kind: str,
        data: bytes | None,
        file_name: str | None,
        mime_type: str | None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        number = next(self._file_numbers)
        extension = mimetypes.guess_extension(mime_type or "") or ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        folder = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}
        stored = StoredFile(
            file_id=f"{_FILE_ID_PREFIX.get(kind, 'BQACAgIAAxkBAAI')}{number:08d}",
            file_unique_id=f"AQAD{number:08d}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
            file_path=f"{folder.get(kind, kind)}/file_{number}{extension}",
        )
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, data: bytes | None, width: int, height: int) -> list[dict]:
        longest = max(width, height)
        sides = [side for side in _PHOTO_SIDES if side < longest] + [min(longest, _PHOTO_SIDES[-1])]
        sizes = []
        for side in sides:
            scale = side / longest
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            # Every size serves the original bytes; tests look at the largest one.
            stored = self._store_file("photo", data, "photo.jpg", "image/jpeg", w, h)
            size = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": w,
                "height": h,
            }
            if data is not None:
                size["file_size"] = max(1, round(len(data) * scale * scale))
            sizes.append(size)
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _photo_from_bytes(self, data: bytes, filename: str | None) -> list[dict]:
        if not data:
            raise _bad("file must be non-empty")
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError) as err:
            raise _bad("IMAGE_PROCESS_FAILED") from err
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        return self._photo_sizes(data, width, height)

    def _upload_for(self, name: str, params: dict, files: dict[str, UploadedFile]) -> UploadedFile | str | None:
        """An upload (named part or attach://), or the string given (file_id or URL)."""
        if name in files:
            return files[name]
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(_BAD_FILE.removeprefix("Bad Request: "))
            return upload
        if value is None or value == "":
            return None
        return str(value)

    def _resolve_photo(self, params: dict, files: dict[str, UploadedFile]) -> list[dict]:
        source = self._upload_for("photo", params, files)
        if source is None:
            raise _bad("there is no photo in the request")
        if isinstance(source, UploadedFile):
            return self._photo_from_bytes(source.data, source.filename)
        if source in self._photo_sets:
            return copy.deepcopy(self._photo_sets[source])
        if source in self.files:
            raise _bad("type of file mismatch")
        if re.match(r"https?://", source):
            return self._photo_sizes(None, 640, 480)
        raise _bad(_BAD_FILE.removeprefix("Bad Request: "))

    def _resolve_document(self, params: dict, files: dict[str, UploadedFile]) -> StoredFile:
        source = self._upload_for("document", params, files)
        if source is None:
            raise _bad("there is no document in the request")
        if isinstance(source, UploadedFile):
            if not source.data:
                raise _bad("file must be non-empty")
            name = source.filename or "document"
            # Telegram names the type after the file name, not the part's Content-Type.
            mime = _mime_type(name, source.content_type)
            return self._store_file("document", source.data, name, mime)
        if source in self.files:
            stored = self.files[source]
            if stored.kind != "document":
                raise _bad("type of file mismatch")
            return stored
        if re.match(r"https?://", source):
            name = urlsplit(source).path.rsplit("/", 1)[-1] or "document"
            return self._store_file("document", None, name, _mime_type(name))
        raise _bad(_BAD_FILE.removeprefix("Bad Request: "))

    @staticmethod
    def _document_dict(stored: StoredFile) -> dict:
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        if stored.file_size is not None:
            document["file_size"] = stored.file_size
        return document

    async def _get_file(self, params: dict) -> dict:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
        }
        if stored.file_size is not None:
            result["file_size"] = stored.file_size
            result["file_path"] = stored.file_path
        return result
