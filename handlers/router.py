"""Decides which handler serves an incoming message: buttons, commands, the current step, free text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from handlers.context import Context
from handlers.payload import Payload, prefix_of
from handlers.types import Incoming, Kind, Step

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, Context], Awaitable[Step]]
# A free-text handler answers only text it recognises; None passes the text on.
TextHandler = Callable[[Incoming, Context], Awaitable[Step | None]]
Visible = Callable[[Context], Awaitable[bool]]
# A button's handler gets the payload read as its type (handlers/buttons.py).
ButtonHandler = Callable[[Incoming, Context, Any], Awaitable[Step]]


@dataclass(frozen=True)
class MenuEntry:
    payload: Payload
    label: str  # content key
    order: int = 100
    visible: Visible | None = None


@dataclass
class Flow:
    """One conversation's table: what it answers, by button payload type, command, step and free text.

    Buttons are payload types (handlers/buttons.py), one handler each; `otherwise` answers a
    payload of one of the flow's prefixes that none of its types reads (an old or forged button;
    by default the router's stale-button answer). Deep links (/start <payload>) are
    "<prefix>-<args>"; steps are named "<flow>.<step>".
    """

    name: str
    buttons: dict[type[Payload], ButtonHandler] = field(default_factory=dict)
    otherwise: dict[str, Handler] = field(default_factory=dict)
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
        # By prefix: the payload types read in turn, and what answers when none reads it.
        self.buttons: dict[str, list[tuple[type[Payload], ButtonHandler]]] = {}
        self.otherwise: dict[str, Handler] = {}
        self.commands: dict[str, Handler] = {}
        self.states: dict[str, Handler] = {}
        self.deep_links: dict[str, Handler] = {}
        self.text: list[TextHandler] = []
        self.menu: list[MenuEntry] = []
        for flow in self.flows:
            self._add_buttons(flow)
            for table, mine in (
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

    def _add_buttons(self, flow: Flow) -> None:
        mine: dict[str, list[tuple[type[Payload], ButtonHandler]]] = {}
        for kind, handler in flow.buttons.items():
            mine.setdefault(kind.prefix, []).append((kind, handler))
        clash = self.buttons.keys() & mine.keys()
        if clash:
            raise ValueError(f"flow {flow.name} redefines {sorted(clash)}")
        if flow.otherwise.keys() - mine.keys():
            raise ValueError(f"flow {flow.name} answers prefixes it has no buttons for")
        self.buttons.update(mine)
        self.otherwise.update(flow.otherwise)

    async def dispatch(self, msg: Incoming, ctx: Context) -> Step:
        if msg.kind is Kind.FOLLOW:
            return await self.fallbacks.home(msg, ctx)
        if msg.kind is Kind.BUTTON:
            return await self.press(msg, ctx)
        command = msg.command
        if command is not None:
            return await self.run_command(msg, ctx, *command)
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

    async def press(self, msg: Incoming, ctx: Context) -> Step:
        """A button: the handler of the first of its prefix's payload types that reads it."""
        prefix = prefix_of(msg.payload)
        for kind, handler in self.buttons.get(prefix, ()):
            payload = kind.read(msg.payload)
            if payload is not None:
                return await handler(msg, ctx, payload)
        return await self.otherwise.get(prefix, self.fallbacks.stale_button)(msg, ctx)

    async def run_command(self, msg: Incoming, ctx: Context, name: str, args: str) -> Step:
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

    def entries(self) -> list[Entry]:
        """Everything a person can send that reaches a handler without an open step: for the
        permission walk (tests/handlers/test_role_walk.py), which must classify each of them."""
        found = [Entry("router", "command", name) for name in ("start", *sorted(HOME_COMMANDS))]
        for flow in self.flows:
            found += [Entry(flow.name, "command", name) for name in flow.commands]
            found += [Entry(flow.name, "button", prefix) for prefix in dict.fromkeys(k.prefix for k in flow.buttons)]
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
