"""Reading what strangers send over HTTP: JSON with a depth limit, one field found in the raw bytes
before anything is parsed, numbers made of ASCII digits only, and warnings that cannot flood the log.

Every route answers junk with a 4xx and at most one WARNING line (no traceback), never a 5xx:
Python's own parsers raise on input they were never meant to see (100,000 nested brackets,
`int("²")`, a 5,000-digit number), so nothing from outside reaches them unchecked.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

MAX_JSON_DEPTH = 32  # the deepest webhook payload we read (a Telegram update) is under 10


class BadInput(ValueError):
    """What was sent cannot be read; the route answers 400 (and says so in one word)."""


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON, refused (BadInput) when malformed, not UTF-8, or nested deeper than `max_depth`."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deep nesting
        raise BadInput("malformed JSON") from exc
    if depth(value) > max_depth:
        raise BadInput("JSON nested too deep")
    return value


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (a scalar is 0); iterative."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def field_values(raw: bytes, name: str, most: int = 8) -> list[str]:
    """The digit strings given to `name` anywhere in a JSON body ("name": "123" or "name": 123),
    found without parsing it: the first `most`, each at most 20 digits. For a signature that
    covers a field inside the body, checked before the body is trusted enough to parse."""
    pattern = re.compile(rb'"' + re.escape(name.encode()) + rb'"\s*:\s*(?:"(\d{1,20})"|(\d{1,20})(?![\d.eE]))')
    found = []
    for match in pattern.finditer(raw):
        found.append((match.group(1) or match.group(2)).decode())
        if len(found) >= most:
            break
    return found


def ascii_int(value: str | None, max_digits: int = 18) -> int | None:
    """A whole number written in ASCII digits only, at most `max_digits` long; else None
    (`"²".isdigit()` is True, and int() of 5,000 digits raises)."""
    if not value or len(value) > max_digits or not value.isascii() or not value.isdigit():
        return None
    return int(value)


class Throttled:
    """A logger's WARNING, at most once per `every` seconds per kind of junk: a stranger posting
    junk in a loop must not fill the disk. What was held back is counted in the next line."""

    def __init__(self, logger: logging.Logger, every: float = 60.0) -> None:
        self.logger, self.every = logger, every
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -self.every) < self.every:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        suffix = f" (and {held} more like it since)" if held else ""
        self.logger.warning(message + suffix, *args)


class MalformedHttpFilter(logging.Filter):
    """aiohttp's server logs a request it cannot even parse (a 10,000-byte URL, binary on the port)
    at ERROR with a traceback, though it answers it 400. Such a record becomes one throttled WARNING
    line without the traceback (and without the request's bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.throttle = Throttled(logging.getLogger("aiohttp.server"))

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        self.throttle.warning(
            "malformed-http", "a malformed HTTP request refused (%s %s)", exc.code, type(exc).__name__
        )
        return False


def quiet_malformed_http() -> None:
    """Install MalformedHttpFilter on aiohttp's server logger, once."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedHttpFilter) for f in server_log.filters):
        server_log.addFilter(MalformedHttpFilter())
