"""Decides which handler serves an incoming message: buttons, commands, the current step, free text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from handlers.context import Context
from handlers.types import Incoming, Kind, Step

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, Context], Awaitable[Step]]
# A free-text handler answers only text it recognises; None passes the text on.
TextHandler = Callable[[Incoming, Context], Awaitable[Step | None]]
Visible = Callable[[Context], Awaitable[bool]]


@dataclass(frozen=True)
class MenuEntry:
    payload: str
    label: str  # content key
    order: int = 100
    visible: Visible | None = None


@dataclass
class Flow:
    """One conversation's table: what it answers, by button prefix, command, step and free text.

    Button payloads are "<prefix>:<args>"; deep links (/start <payload>) are "<prefix>-<args>";
    steps are named "<flow>.<step>".
    """

    name: str
    buttons: dict[str, Handler] = field(default_factory=dict)
    commands: dict[str, Handler] = field(default_factory=dict)
    states: dict[str, Handler] = field(default_factory=dict)
    deep_links: dict[str, Handler] = field(default_factory=dict)
    text: list[TextHandler] = field(default_factory=list)
    menu: list[MenuEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """One way into the bot: a command, a button prefix, a deep-link prefix or a free-text reader
    (named "<module>.<function>"), with the flow that serves it ("router" for the router's own)."""

    flow: str
    kind: str  # "command", "button", "deep_link" or "text"
    name: str


@dataclass(frozen=True)
class Fallbacks:
    """The answers the router itself gives, supplied by the menu flow."""

    home: Handler  # /start without payload, /menu, /huy
    not_understood: Handler  # text nobody recognised, stickers, photos, voice
    stale_button: Handler  # a button nobody serves (an old message, a forged payload)
    off_topic_in_step: Handler  # a sticker or photo while a question is open


# Media a question cannot be answered with; they get a nudge instead of reaching the step.
_MEDIA = {Kind.STICKER, Kind.PHOTO, Kind.VOICE, Kind.OTHER}
HOME_COMMANDS = {"menu", "huy", "cancel"}


class Router:
    def __init__(self, flows: Iterable[Flow], fallbacks: Fallbacks) -> None:
        self.flows = list(flows)
        self.fallbacks = fallbacks
        self.buttons: dict[str, Handler] = {}
        self.commands: dict[str, Handler] = {}
        self.states: dict[str, Handler] = {}
        self.deep_links: dict[str, Handler] = {}
        self.text: list[TextHandler] = []
        self.menu: list[MenuEntry] = []
        for flow in self.flows:
            for table, mine in (
                (self.buttons, flow.buttons),
                (self.commands, flow.commands),
                (self.states, flow.states),
                (self.deep_links, flow.deep_links),
            ):
                clash = table.keys() & mine.keys()
                if clash:
                    raise ValueError(f"flow {flow.name} redefines {sorted(clash)}")
                table.update(mine)
            self.text.extend(flow.text)
            self.menu.extend(flow.menu)
        self.menu.sort(key=lambda e: e.order)

    async def dispatch(self, msg: Incoming, ctx: Context) -> Step:
        if msg.kind is Kind.FOLLOW:
            return await self.fallbacks.home(msg, ctx)
        if msg.kind is Kind.BUTTON:
            prefix = (msg.payload or "").split(":", 1)[0]
            handler = self.buttons.get(prefix)
            return await (handler or self.fallbacks.stale_button)(msg, ctx)

        command = msg.command
        if command is not None:
            name, args = command
            if name == "start":
                if args:
                    handler = self.deep_links.get(args.split("-", 1)[0])
                    if handler is not None:
                        return await handler(msg, ctx)
                    log.info("unknown deep link prefix in /start")
                return await self.fallbacks.home(msg, ctx)
            if name in HOME_COMMANDS:
                return await self.fallbacks.home(msg, ctx)
            handler = self.commands.get(name)
            if handler is not None:
                return await handler(msg, ctx)
            return await self.fallbacks.not_understood(msg, ctx)

        state = ctx.convo.state
        if state:
            if msg.kind in _MEDIA:
                return await self.fallbacks.off_topic_in_step(msg, ctx)
            handler = self.states.get(state)
            if handler is not None:
                return await handler(msg, ctx)
            log.warning("conversation in unknown state %r; resetting", state)
            ctx.convo.state = None

        if msg.kind is Kind.TEXT and (msg.text or "").strip():
            for text_handler in self.text:
                step = await text_handler(msg, ctx)
                if step is not None:
                    return step
        return await self.fallbacks.not_understood(msg, ctx)

    def entries(self) -> list[Entry]:
        """Everything a person can send that reaches a handler without an open step: for the
        permission walk (tests/handlers/test_role_walk.py), which must classify each of them."""
        found = [Entry("router", "command", name) for name in ("start", *sorted(HOME_COMMANDS))]
        for flow in self.flows:
            found += [Entry(flow.name, "command", name) for name in flow.commands]
            found += [Entry(flow.name, "button", prefix) for prefix in flow.buttons]
            found += [Entry(flow.name, "deep_link", prefix) for prefix in flow.deep_links]
            found += [Entry(flow.name, "text", f"{h.__module__}.{h.__name__}") for h in flow.text]
        return found

    async def resume(self, state: str, msg: Incoming, ctx: Context) -> Step:
        """Run the handler of `state` now, as if the conversation were already there."""
        ctx.convo.state = state
        step = await self.states[state](msg, ctx)
        return Step(step.replies, state) if step.keeps_state else step

    async def menu_for(self, ctx: Context) -> list[MenuEntry]:
        return [e for e in self.menu if e.visible is None or await e.visible(ctx)]
