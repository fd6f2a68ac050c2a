"""The channel-neutral vocabulary: what comes in from any messenger and what a handler answers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from texts import Text


class Kind(enum.StrEnum):
    """What a normalized incoming message carries."""

    TEXT = "text"  # typed text, including /commands
    BUTTON = "button"  # a button press (callback data, OA payload, numbered choice)
    LOCATION = "location"
    CONTACT = "contact"
    STICKER = "sticker"
    PHOTO = "photo"
    VOICE = "voice"
    OTHER = "other"  # anything else a messenger may send (video, file, poll...)
    FOLLOW = "follow"  # the user started following / opened the chat without text


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Incoming:
    """One normalized update from a messenger.

    `user_id` is the messenger's own id for the person (unique within `channel`), `update_id`
    the messenger's id for this update (what makes processing idempotent), `chat_id` where
    replies go. `message_ref` names the bot message a button was pressed on, so a channel that
    can edit messages may replace it in place.
    """

    channel: str
    user_id: str
    update_id: str
    kind: Kind
    chat_id: str | None = None
    text: str | None = None
    payload: str | None = None
    location: Location | None = None
    contact_phone: str | None = None
    contact_is_own: bool = False
    message_ref: str | None = None
    language: str | None = None

    @property
    def reply_to(self) -> str:
        return self.chat_id or self.user_id

    @property
    def command(self) -> tuple[str, str] | None:
        """("start", "args") for "/start args" or "/start@bot args"; None for other text."""
        if self.kind is not Kind.TEXT or not self.text or not self.text.startswith("/"):
            return None
        head, _, rest = self.text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if not name:
            return None
        return name, rest.strip()


@dataclass(frozen=True)
class Button:
    """A choice offered to the user.

    `label` is a content Text, or a plain str for data shown verbatim (a commune's name).
    `payload` comes back in `Incoming.payload` when pressed; `url` (a str, or a content Text
    such as the store link) makes a link button instead. `number`: the number it is typed as
    where there are no buttons, when it has its own (a main-menu entry's); otherwise the renderer
    numbers it.
    """

    label: Text | str
    payload: str | None = None
    url: Text | str | None = None
    number: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to send: `kind` is "image" (shown as a photo) or "document"."""

    kind: str
    filename: str
    data: bytes
    mime_type: str
    caption: Text | None = None


class Ask(enum.StrEnum):
    """A special keyboard the messenger may offer to answer with."""

    CONTACT = "contact"
    LOCATION = "location"


@dataclass(frozen=True)
class Reply:
    """One message to send back. `buttons` are rows of buttons.

    `edit` asks to replace the message the pressed button was on (guide Next/Back) when the
    channel can; otherwise it is sent as a new message. `ask` offers the messenger's own
    share-contact or share-location button; `close_ask` takes such a button away once the answer
    came (or is no longer wanted), where the messenger leaves it on screen.
    """

    text: Text
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    edit: bool = False
    ask: Ask | None = None
    close_ask: bool = False
    # False: the messenger shows no preview of the links in the text (a one-time link it must not
    # fetch and show around).
    link_preview: bool = True

    def __init__(
        self,
        text: Text | str,
        buttons: list[list[Button]] | tuple[tuple[Button, ...], ...] = (),
        *,
        attachment: Attachment | None = None,
        edit: bool = False,
        ask: Ask | None = None,
        close_ask: bool = False,
        link_preview: bool = True,
        **values: Any,
    ) -> None:
        if isinstance(text, str):
            text = Text(text, values)
        elif values:
            raise TypeError("pass values either in the Text or as keywords, not both")
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "buttons", tuple(tuple(row) for row in buttons))
        object.__setattr__(self, "attachment", attachment)
        object.__setattr__(self, "edit", edit)
        object.__setattr__(self, "ask", ask)
        object.__setattr__(self, "close_ask", close_ask)
        object.__setattr__(self, "link_preview", link_preview)


_KEEP = object()


@dataclass(frozen=True)
class Step:
    """What a handler decided: the replies, and where the conversation goes next.

    `state` None ends the flow (and clears the draft); `Step.stay` keeps the current state.
    """

    replies: tuple[Reply, ...]
    state: Any = _KEEP

    @classmethod
    def stay(cls, *replies: Reply) -> Step:
        return cls(replies, _KEEP)

    @classmethod
    def to(cls, state: str, *replies: Reply) -> Step:
        return cls(replies, state)

    @classmethod
    def end(cls, *replies: Reply) -> Step:
        return cls(replies, None)

    @property
    def keeps_state(self) -> bool:
        return self.state is _KEEP

    def then(self, *more: Reply) -> Step:
        return Step(self.replies + more, self.state)


@dataclass(frozen=True)
class Capabilities:
    """What a messenger can show; replies are adapted to it (numbered menus, split text). Part of
    the channel contract (bot/channels/base.py), defined here beside Incoming and Reply because
    the conversations read it too, and imports point from bot/ to handlers/, never back."""

    buttons: bool = True
    url_buttons: bool = True
    edit: bool = False
    file_upload: bool = True
    request_contact: bool = False
    request_location: bool = False
    max_text: int = 4096
    # The most buttons one message may carry (Zalo OA templates); a reply with more gets a
    # numbered list instead, as on a channel without buttons. None: no limit.
    max_buttons: int | None = None

    @property
    def numbered(self) -> bool:
        """Whether a long list of choices becomes typed numbers (no buttons, or few a message):
        at most MAX_NUMBERED of them a message, so a list and its navigation keep to that."""
        return not self.buttons or self.max_buttons is not None


# The most numbered choices one message shows (bot/render.py); more wait behind "0".
MAX_NUMBERED = 8
