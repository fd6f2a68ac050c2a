"""The channel contract: what every messenger provides (translate in, send out, its webhook
routes, start and stop, its public handle and deep links, what it can show), what the service
hands it, and the rendered message it sends.

Adding a messenger touches its own module here, its line in bot/channels/__init__.py (the
registry) and its settings; nothing in the service, the web server or the conversations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.types import Capabilities, Incoming

if TYPE_CHECKING:
    from bot.media import MediaLinks
    from bot.settings import Settings

__all__ = [
    "Budget",
    "Capabilities",
    "Channel",
    "OutButton",
    "OutMessage",
    "SendBlocked",
    "SendFailed",
    "SendRetry",
    "Wiring",
]


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
    no_preview: bool = False  # show no preview of the text's links (where the messenger makes them)

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


class SendRateLimited(SendRetry):
    """The messenger answered "too many requests" (HTTP 429): a retry, counted apart (bot.metrics)."""


class SendBlocked(SendError):
    """The person blocked the bot or left: stop sending to them."""


class SendFailed(SendError):
    """The messenger refused this message for good (bad request); retrying will not help."""


Receive = Callable[[Incoming], Awaitable[None]]


class Budget(Protocol):
    """A messenger's send budget (bot/coordination.py: this process's, or shared by workers)."""

    async def acquire(self) -> None:
        """Wait for this send's turn."""
        ...


def own_budget(name: str, per_second: float, burst: int = 1) -> Budget | None:
    """A budget of this process's own (`per_second`; 0: none), for a channel built alone."""
    from bot.ratelimit import Pacer

    return Pacer(per_second, burst) if per_second > 0 else None


@dataclass(frozen=True)
class Wiring:
    """What the service hands a channel it builds."""

    settings: Settings
    receive: Receive  # handle an update now (the replies go out from the outbox)
    accept: Receive  # store it in the durable inbound queue, handled right after (Zalo webhooks)
    sessions: async_sessionmaker[AsyncSession]
    media: MediaLinks  # short-lived signed URLs for files a messenger fetches itself
    primary: bool  # of several workers, the one that polls or registers the webhook
    # The flood guard's cheap check, before an update is parsed: True drops it (channel, sender).
    dropping: Callable[[str, str], bool] | None = None
    # A messenger's send budget by name, `per_second` in all workers (bot/coordination.py).
    budget: Callable[[str, float, int], Budget | None] = own_budget


class Channel(Protocol):
    """A messenger, as the service, the courier and the web server use it."""

    name: str
    capabilities: Capabilities
    # The paths of the service's web server its messenger posts updates to (none: it polls).
    webhook_paths: ClassVar[tuple[str, ...]]

    @property
    def chats(self) -> frozenset[str] | None:
        """The chats this process reaches, when only some (the terminal: the people it holds);
        the courier leaves every other chat's messages to the process that reaches it. None: all."""
        ...

    @property
    def public_handle(self) -> str | None:
        """The bot's public name (@username, the OA id, the account name); None until known."""
        ...

    def deep_link(self, payload: str | None = None) -> str | None:
        """The link that opens a chat with the bot (carrying `payload` where the messenger can);
        None where there is none. The formats live in documents/links.py, with the posters."""
        ...

    async def start(self) -> None:
        """Connect: poll, or register the webhook (the primary worker only)."""
        ...

    async def stop(self) -> None: ...

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        """One call on one of `webhook_paths`: translated in and handed on, answered as the
        messenger expects (a 5xx only when it should deliver the update again)."""
        ...

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        """Send one rendered message; raise a SendError subclass when it does not go through."""
        ...
