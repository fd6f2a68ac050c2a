"""The terminal as a messenger: `bluezone-bot chat` talks to the same handlers as Telegram does.

It has no buttons, so it also shows the generic fallback every button-less channel gets:
numbered menus ("Type 1, 2 or 3") and typed numbers mapped back to the choice.

One terminal holds several people, so that every role can be tried from one place: a line
`@lan` speaks as the person named lan from then on (`terminal:local-lan`, as `grant --user`
takes it), `@` alone as the login user again. A message for a person of this terminal who is not
the one speaking is printed after their name in brackets. A terminal sends only to the people it
holds: another terminal's messages wait for that terminal.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import re
import secrets
import sys
import time
import unicodedata
from pathlib import Path
from typing import ClassVar, TextIO

from aiohttp import web

from bot.channels.base import Capabilities, OutMessage
from handlers.types import Incoming, Kind
from texts import t

NAME = "terminal"
# `@lan`, `@ lan`, `@Lan`: speak as lan; `@` alone: as the login user.
SWITCH = re.compile(r"@\s*(\w[\w.-]{0,31})?")


def chat_id_of(name: str) -> str:
    """A terminal person's id (also their chat id): `local-<name>`, as `grant --user terminal:…`."""
    return f"local-{name}"


class TerminalChannel:
    """The terminal chat (`bluezone-bot chat`): several people typed in one terminal, as `@name`."""

    name = NAME
    webhook_paths: ClassVar[tuple[str, ...]] = ()
    public_handle = None
    capabilities = Capabilities(buttons=False, url_buttons=False, edit=False, file_upload=True, max_text=4096)

    def __init__(self, out: TextIO | None = None, files_dir: Path = Path("data/out"), login: str | None = None) -> None:
        self.out = out or sys.stdout
        self.files_dir = files_dir
        self.login = login or getpass.getuser()
        # The people this terminal holds (chat id → name) and the one speaking now.
        self.people: dict[str, str] = {}
        self.speaking = self.hold(self.login)

    @property
    def chats(self) -> frozenset[str]:
        """The chats this terminal reaches (see Channel): the courier sends nothing else here."""
        return frozenset(self.people)

    def deep_link(self, payload: str | None = None) -> str | None:
        return None

    async def start(self) -> None:
        pass  # nothing to connect: the CLI reads the terminal itself (see chat below)

    async def stop(self) -> None:
        pass

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()  # no webhook_paths: never routed here

    def hold(self, name: str) -> str:
        """Add a person to this terminal (if new) and speak as them; their chat id."""
        chat_id = chat_id_of(name)
        self.people.setdefault(chat_id, name)
        self.speaking = chat_id
        return chat_id

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        # Whose message it is, when it is not for the person speaking now.
        who = "" if chat_id == self.speaking else f"[{self.people.get(chat_id, chat_id)}] "
        if attachment is not None:
            # The file first, its caption right under it, as a messenger shows a photo.
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / (message.filename or "file.bin")
            path.write_bytes(attachment)
            self.out.write(f"\n{who}[{message.attachment_kind}: {path}]\n")
            if message.text:
                self.out.write(f"{message.text}\n")
        elif message.text:
            self.out.write(f"\n{who}{message.text}\n")
        self.out.flush()


def switch_to(line: str) -> str | None:
    """The name a line `@name` switches to ("" for `@` alone: the login user); None: not a switch."""
    match = SWITCH.fullmatch(unicodedata.normalize("NFC", line.strip()))
    if match is None:
        return None
    return (match.group(1) or "").casefold()


async def chat_loop(service, lines: TextIO | None = None) -> None:
    """Read lines from the terminal and hand them to the service as the messages of the person
    speaking (see the module's docstring)."""
    channel: TerminalChannel = service.channels[NAME]
    # Update ids are unique per channel, not per person: two terminals started in the same
    # second must not take each other's updates for duplicates.
    session = f"{int(time.time())}-{secrets.token_hex(4)}"
    counter = itertools.count(1)
    source = lines or sys.stdin

    async def say(text: str) -> None:
        incoming = Incoming(
            channel=NAME,
            user_id=channel.speaking,
            update_id=f"{session}-{next(counter)}",
            kind=Kind.TEXT,
            chat_id=channel.speaking,
            text=text,
        )
        ids = await service.engine.handle(incoming)
        await service.courier.deliver(ids)

    channel.out.write(service.content.render(t("menu.terminal_intro")) + "\n")
    await say("/start")
    while True:
        if source is sys.stdin:
            name = channel.people[channel.speaking]
            sys.stdout.write("> " if name == channel.login else f"{name}> ")
            sys.stdout.flush()
        line = await asyncio.to_thread(source.readline)
        if not line:  # Ctrl-D
            return
        line = line.rstrip("\n")
        if not line.strip():  # Enter alone: nothing said (no "not understood" for it)
            continue
        if line.strip() in {"/quit", "/exit"}:
            return
        person = switch_to(line)
        if person is None:
            await say(line)
            continue
        new = chat_id_of(person or channel.login) not in channel.people
        chat_id = channel.hold(person or channel.login)
        channel.out.write(
            "\n"
            + service.content.render(
                t("menu.terminal_speaking", name=channel.people[chat_id], account=f"{NAME}:{chat_id}")
            )
            + "\n"
        )
        channel.out.flush()
        if new:
            await say("/start")
