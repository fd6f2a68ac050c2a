"""Handles one normalized update exactly once: the person, the conversation step, the outbox.

Everything an update changes (its "processed" mark, the conversation, the campaign data, the
messages to send) is written in one transaction. A retried webhook finds the mark and only gets
its still-unsent messages; a crash before commit leaves nothing, so the messenger's retry redoes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import OutMessage
from bot.render import MORE_KEY, Menu, Rendered, render_step
from bot.settings import Settings
from handlers.context import Capabilities, Context
from handlers.router import Router
from handlers.types import Incoming, Kind, Reply, Step
from storage import broadcasts, counters, updates
from storage.accounts import accounts_of, created_here, keep_conversation, open_update
from storage.db import is_infrastructure_error
from storage.models import Account, OutboxMessage, utcnow
from storage.units import CommuneIndex
from storage.updates import Queued
from texts.content import Content
from texts.user_input import clean

log = logging.getLogger(__name__)


class _HandlerFailed(Exception):
    """A handler failed: its update's transaction is rolled back, and the update answered again
    with an apology."""


class Engine:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        router: Router,
        content: Content,
        settings: Settings,
        capabilities: dict[str, Capabilities],
        error_reply: Callable[[], Reply],
        bot_handles: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self.sessions = sessions
        self.router = router
        self.content = content
        self.settings = settings
        self.capabilities = capabilities
        self.error_reply = error_reply
        self.bot_handles = bot_handles
        self._communes: CommuneIndex | None = None
        self._communes_loading = asyncio.Lock()
        self._lease = dt.timedelta(seconds=settings.outbox_lease_seconds)  # of the replies it queues

    async def communes(self, db: AsyncSession) -> CommuneIndex:
        # Units change once a decade (a reform, then `units load`); a restart picks them up.
        # Loaded once: the updates arriving meanwhile (a restart under load) wait for that load.
        if self._communes is None or not len(self._communes):
            async with self._communes_loading:
                if self._communes is None or not len(self._communes):
                    self._communes = await CommuneIndex.load(db)
        return self._communes

    async def handle(self, msg: Incoming, only_reply: Reply | None = None) -> list[Queued]:
        """Process `msg` if it is new; return the ids of its outbox messages still to send.

        With `only_reply`, the update is not routed: that reply is its whole answer (the flood
        guard's "slow down"), and the conversation stays where it was.

        A bug in a handler (or a content error) costs the user an apology, never a stack trace:
        the whole transaction is rolled back, half-done writes and all, and the update is answered
        with the apology in a fresh one (a savepoint around every handler would cost two more
        round trips on every update, for the rare one that fails).
        """
        msg = cleaned(msg)
        try:
            return await self._handle(msg, Step.stay(only_reply) if only_reply is not None else None)
        except _HandlerFailed:
            return await self._handle(msg, Step.end(self.error_reply()))

    async def _handle(self, msg: Incoming, fixed: Step | None) -> list[Queued]:
        """One transaction: the update routed to its handler, or answered with the `fixed` step."""
        caps = self.capabilities[msg.channel]
        async with self.sessions() as db, db.begin():
            counters.defer_until_commit(db)  # the shared counter rows locked for the COMMIT only
            opened = await open_update(db, msg.channel, msg.update_id, msg.user_id, msg.reply_to)
            if opened is None:
                log.info("duplicate update %s/%s skipped", msg.channel, msg.update_id)
                return await updates.unsent_for_update(db, msg.channel, msg.update_id)
            account, user, convo = opened
            shown = Menu.load(convo.menu)
            if fixed is None and msg.kind is Kind.TEXT and shown.wants_more(msg.text):
                # "0": the next page of the choices on screen; the step and its numbers stay.
                page = OutMessage(text=shown.more[0], key=MORE_KEY)
                convo.menu = Menu(shown.choices, shown.more[1:]).dump()
                keep_conversation(db, convo)
                ids = await self._queue_replies(db, account, [Rendered(page, None)], msg.update_id)
                await db.flush()
                return ids
            msg = _resolve_numbered(msg, shown)
            ctx = Context(
                db=db,
                account=account,
                user=user,
                convo=convo,
                content=self.content,
                communes=await self.communes(db),
                settings=self.settings,
                capabilities=caps,
                now=utcnow(),
                bot_handles=self.bot_handles(),
                channels=list(self.capabilities),
                router=self.router,
                first_contact=created_here(db, account),
            )
            if fixed is not None:
                step = fixed
                rendered, menu = render_step(step.replies, self.content, caps, None)
                if step.keeps_state and menu is None:
                    menu = shown
            else:
                step, rendered, menu = await self._run(msg, ctx)
            if ctx.erased:
                # The account and its conversation were deleted: answer this once, keep nothing.
                if convo in db:
                    db.expunge(convo)
                ids = await self._queue_replies(db, account, rendered, msg.update_id, erased=True)
                db.expunge(account)
                await db.flush()
                return ids
            if not step.keeps_state:
                convo.state = step.state
                if step.state is None:
                    convo.draft = {}
            if menu or convo.menu:  # remembered for a typed number; an old one is cleared
                convo.menu = menu.dump() if menu else []
            keep_conversation(db, convo)
            ids = await self._queue_replies(db, account, rendered, msg.update_id)
            notices = []
            for notice in ctx.notices:
                notices.extend(await self._queue_notice(db, notice.user_id, notice.reply, notice.about))
            for announcement in ctx.announcements:
                await self._queue_announcement(db, announcement)
            await db.flush()
            return ids + updates.queued(notices)

    async def _run(self, msg: Incoming, ctx: Context) -> tuple[Step, list[Rendered], Menu | None]:
        """The handler's step, rendered; _HandlerFailed when the handler (or its content) failed."""
        try:
            step = await self.router.dispatch(msg, ctx)
            return (step, *render_step(step.replies, self.content, ctx.capabilities, msg.message_ref))
        except Exception as exc:
            if is_infrastructure_error(exc):
                raise
            log.exception("handler failed on %s update %s", msg.channel, msg.update_id)
            raise _HandlerFailed from exc

    async def _queue_replies(
        self, db: AsyncSession, account: Account, rendered: list[Rendered], update_id: str, erased: bool = False
    ) -> list[Queued]:
        """The update's answer, for the chat it came from (see updates.queue_replies). To a person
        who has just `erased` their data: on no account, and forgotten once it has gone out."""
        if not rendered:
            return []
        return await updates.queue_replies(
            db,
            channel=account.channel,
            chat_id=account.chat_id,
            messages=[(r.message.to_body(), r.attachment) for r in rendered],
            account_id=None if erased else account.id,
            update_id=update_id,
            lease=self._lease,
            forget=erased,
        )

    @staticmethod
    def _queue(db: AsyncSession, account: Account, rendered: list[Rendered], about: int | None) -> list[OutboxMessage]:
        return [
            updates.queue(
                db,
                channel=account.channel,
                chat_id=account.chat_id,
                body=r.message.to_body(),
                attachment=r.attachment,
                account_id=account.id,
                update_id=None,
                about_user_id=about,
            )
            for r in rendered
        ]

    async def _queue_announcement(self, db: AsyncSession, announcement) -> int:
        """One copy per recipient account, rendered once per channel, in the handler's
        transaction; the (broadcast, account) unique key means nobody gets it twice."""
        bodies = {}
        for channel, caps in self.capabilities.items():
            rendered, _ = render_step((announcement.reply,), self.content, caps, None)
            bodies[channel] = rendered[0].message.to_body()  # an announcement is one message
        return await broadcasts.queue_copies(db, announcement.broadcast_id, announcement.unit_code, bodies)

    async def _queue_notice(
        self, db: AsyncSession, user_id: int, reply: Reply, about: int | None = None
    ) -> list[OutboxMessage]:
        """A message for another person, on each of their accounts the deployment can reach;
        `about`: the person it names (see Notice)."""
        rows = []
        for account in await accounts_of(db, user_id):
            caps = self.capabilities.get(account.channel)
            if account.blocked_at is not None or caps is None:
                continue
            rendered, _ = render_step((reply,), self.content, caps, None)
            rows.extend(self._queue(db, account, rendered, about))
        return rows

    async def queue_for_user(self, db: AsyncSession, user_id: int, replies: list[Reply]) -> list[Queued]:
        """Messages the bot starts (daily reports): queued in the caller's transaction."""
        rows = []
        for reply in replies:
            rows.extend(await self._queue_notice(db, user_id, reply))
        await db.flush()
        return updates.queued(rows)


def cleaned(msg: Incoming) -> Incoming:
    """What a person sent, cleaned once for every channel and every handler (see user_input.clean):
    their text, and button payloads too, which people type by hand on the Zalo Bot Platform.
    Also before an event is stored in the inbound queue (bot/inbox.py): what is kept is clean."""
    return dataclasses.replace(
        msg, text=clean(msg.text), payload=clean(msg.payload), contact_phone=clean(msg.contact_phone)
    )


def _resolve_numbered(msg: Incoming, menu: Menu) -> Incoming:
    """After a numbered menu (a channel without buttons, or a reply with more buttons than the
    channel allows), "2" means the option numbered 2 on it; anything else ("²", "99", a number
    in a gap of the main menu) stays text for the step to answer."""
    if msg.kind is not Kind.TEXT or not menu:
        return msg
    payload = menu.pick(msg.text)
    if payload is not None:
        return dataclasses.replace(msg, kind=Kind.BUTTON, payload=payload, text=None)
    return msg
