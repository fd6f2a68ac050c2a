"""What a handler is handed besides the message: the session, the person, the conversation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers.types import Capabilities, Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from documents.posters.venue import PosterSettings
    from handlers.router import Router
    from storage.models import Account, Conversation, User
    from storage.units import CommuneIndex
    from texts.content import Content


@dataclass
class Notice:
    """A message for another person (a coordinator told of a new volunteer). `about` is the
    person it names, if any: erasing that person deletes the notice too."""

    user_id: int
    reply: Reply
    about: int | None = None


@dataclass
class Announcement:
    """An announcement's copies, one per person of the unit who may receive it (queued by the engine)."""

    broadcast_id: int
    unit_code: str
    reply: Reply


@dataclass
class Context:
    db: AsyncSession
    account: Account
    user: User
    convo: Conversation
    content: Content
    communes: CommuneIndex
    # What handlers read of bot.settings.Settings: the QR signing key and the names posters print.
    settings: PosterSettings
    capabilities: Capabilities
    now: dt.datetime
    # The bot's public name per channel ({"telegram": "bluezone_bot"}), for deep links and posters.
    bot_handles: dict[str, str]
    # The messengers this deployment runs (announcements reach people on these).
    channels: list[str]
    # The flows' table: to continue at another flow's step (the commune picker hands back to
    # whoever asked for it) and to build the menu from every flow's entries.
    router: Router
    notices: list[Notice] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    # Set by the erasure step (/xoadulieu): the account is gone; only this update's reply goes out.
    erased: bool = False
    # The person's first update: their account was created in this transaction (nothing of
    # theirs is stored yet, so nothing need be looked up).
    first_contact: bool = False

    @property
    def draft(self) -> dict[str, Any]:
        """The conversation's scratch data. Reassigned, not mutated, so the JSON column is saved."""
        return self.convo.draft

    def remember(self, **values: Any) -> None:
        self.convo.draft = {**(self.convo.draft or {}), **values}

    def forget(self, *names: str) -> None:
        self.convo.draft = {k: v for k, v in (self.convo.draft or {}).items() if k not in names}

    def notify(self, user_id: int, reply: Reply, *, about: int | None = None) -> None:
        self.notices.append(Notice(user_id, reply, about))

    def announce(self, broadcast_id: int, unit_code: str, reply: Reply) -> None:
        self.announcements.append(Announcement(broadcast_id, unit_code, reply))
