"""What every messenger channel provides, and the rendered message a channel sends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from handlers.context import Capabilities


@dataclass(frozen=True)
class OutButton:
    label: str
    payload: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class OutMessage:
    """A reply rendered to words for one channel; stored as JSON in the outbox until sent."""

    text: str
    key: str  # the content key it came from: for tests and logs, never shown
    buttons: list[list[OutButton]] = field(default_factory=list)
    attachment_kind: str | None = None  # "image" | "document"
    filename: str | None = None
    mime_type: str | None = None
    edit_ref: str | None = None
    ask: str | None = None  # "contact" | "location"
    ask_label: str | None = None  # the label of the share-contact / share-location button
    ask_alternatives: str | None = None  # shown above the other buttons when both are needed
    close_ask: bool = False  # take away a share-contact / share-location button left on screen

    def to_body(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> OutMessage:
        body = dict(body)
        body["buttons"] = [[OutButton(**b) for b in row] for row in body.get("buttons", [])]
        return cls(**body)


class SendError(Exception):
    """A send did not go through; the courier decides from the subclass what happens next."""


class SendRetry(SendError):
    """Try again later (rate limit, time-out, server error)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class SendBlocked(SendError):
    """The person blocked the bot or left: stop sending to them."""


class SendFailed(SendError):
    """The messenger refused this message for good (bad request); retrying will not help."""


class Channel(Protocol):
    """A messenger. A channel that reaches only some chats of its messenger also has `chats`, the
    chat ids it reaches (the terminal: the people this process holds); the courier leaves every
    other chat's messages to the process that reaches it."""

    name: str
    capabilities: Capabilities

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        """Send one rendered message; raise a SendError subclass when it does not go through."""
        ...
