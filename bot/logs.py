"""Logging set-up: one format, quiet HTTP libraries, secrets masked and message contents kept out.

Two promises, whoever emits the record (our code, python-telegram-bot, aiohttp, SQLAlchemy):
- no secret the process knows or derives appears: the settings' secrets, and every secret derived
  or fetched later (webhook secrets derived from a token, the Zalo OA's access and refresh tokens,
  the media key) is registered here with `mask()` the moment it exists;
- no message text, name or phone appears: libraries' records carry their data (the parameters of
  a Bot API call, its answer) as arguments, which are replaced by their shape (keys, ids, lengths)
  before the line is formatted. Our own records log ids and lengths only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask innocent words; no real secret is that short
# Our own loggers: their arguments are ids, counts and reasons by construction (see above).
OWN_LOGGERS = ("bot", "handlers", "storage", "texts", "documents", "bluezone_bot", "__main__")


class _Secrets:
    """Every secret value seen so far in this process, longest first (a secret that contains
    another is masked whole)."""

    def __init__(self) -> None:
        self._values: list[str] = []
        self._lock = threading.Lock()

    def add(self, *values: str | bytes | None) -> None:
        with self._lock:
            known = set(self._values)
            for value in values:
                if isinstance(value, bytes):
                    value = value.hex()
                if value and len(value) >= MIN_SECRET_LENGTH and value not in known:
                    known.add(value)
            self._values = sorted(known, key=len, reverse=True)

    def scrub(self, line: str) -> str:
        for secret in self._values:
            if secret in line:
                line = line.replace(secret, MASK)
        return line


SECRETS = _Secrets()


def mask(*values: str | bytes | None) -> None:
    """Never show these in a log line from now on (secrets derived or fetched at run time)."""
    SECRETS.add(*values)


def shape(value: Any, depth: int = 0) -> str:
    """What a value looks like without what it says: "{chat_id: 42, text: <57 chars>}"."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, (str, bytes)):
        return f"<{len(value)} {'chars' if isinstance(value, str) else 'bytes'}>"
    if depth >= 2:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shape(v, depth + 1)}" for k, v in list(value.items())[:12]) + "}"
    if isinstance(value, (list, tuple, set)):
        return f"[{len(value)} × " + (shape(next(iter(value)), depth + 1) if value else "") + "]"
    to_dict = getattr(value, "to_dict", None)  # python-telegram-bot's objects (a Message, an Update)
    if callable(to_dict):
        try:
            return f"{type(value).__name__}{shape(to_dict(), depth)}"
        except Exception:
            pass
    return f"<{type(value).__name__}>"


class PrivacyFilter(logging.Filter):
    """Replaces the arguments of other libraries' records with their shape: python-telegram-bot
    at DEBUG logs every Bot API call with its parameters (the text sent, the names in the answer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and record.name.split(".", 1)[0] not in OWN_LOGGERS:
            if isinstance(record.args, dict):  # "%(name)s" formatting
                record.args = {k: _harmless(v) for k, v in record.args.items()}
            else:
                record.args = tuple(_harmless(a) for a in record.args)
        return True


def _harmless(value: Any) -> Any:
    """Numbers and names of things ("sendMessage") as they are; anything else as its shape."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and len(value) <= 40 and value.isascii() and value.replace(".", "_").isidentifier():
        return value
    return shape(value)


class RedactingFormatter(logging.Formatter):
    """Masks every registered secret wherever it appears: messages, URLs, tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        return SECRETS.scrub(super().format(record))


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    mask(*secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PrivacyFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs carry the token.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
