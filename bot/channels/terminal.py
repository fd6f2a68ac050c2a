"""The terminal as a messenger: `bluezone-bot chat` talks to the same handlers as Telegram does.

It has no buttons, so it also shows the generic fallback every button-less channel gets:
numbered menus ("Gõ 1, 2 hoặc 3") and typed numbers mapped back to the choice.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import sys
import time
from pathlib import Path
from typing import TextIO

from bot.channels.base import OutMessage
from handlers.context import Capabilities
from handlers.types import Incoming, Kind

NAME = "terminal"


class TerminalChannel:
    name = NAME
    capabilities = Capabilities(buttons=False, url_buttons=False, edit=False, file_upload=True, max_text=4096)

    def __init__(self, out: TextIO | None = None, files_dir: Path = Path("data/out")) -> None:
        self.out = out or sys.stdout
        self.files_dir = files_dir

    async def send(self, chat_id: str, message: OutMessage, attachment: bytes | None) -> None:
        if message.text:
            self.out.write(f"\n{message.text}\n")
        if attachment is not None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / (message.filename or "file.bin")
            path.write_bytes(attachment)
            self.out.write(f"[{message.attachment_kind}: {path}]\n")
        self.out.flush()


async def chat_loop(service, user_id: str | None = None, lines: TextIO | None = None) -> None:
    """Read lines from the terminal and hand them to the service as one local user's messages."""
    user_id = user_id or f"local-{getpass.getuser()}"
    session = f"{int(time.time())}"
    counter = itertools.count(1)
    source = lines or sys.stdin

    async def say(text: str) -> None:
        incoming = Incoming(
            channel=NAME,
            user_id=user_id,
            update_id=f"{session}-{next(counter)}",
            kind=Kind.TEXT,
            chat_id=user_id,
            text=text,
        )
        ids = await service.engine.handle(incoming)
        await service.courier.deliver(ids)

    await say("/start")
    while True:
        if source is sys.stdin:
            sys.stdout.write("> ")
            sys.stdout.flush()
        line = await asyncio.to_thread(source.readline)
        if not line:  # Ctrl-D
            return
        line = line.rstrip("\n")
        if line.strip() in {"/quit", "/exit"}:
            return
        await say(line)
