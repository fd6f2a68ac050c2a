"""Small pieces every messenger channel needs: derived webhook secrets, ids read from untrusted
JSON, polled-update retries, and the answer a webhook gives."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any, Awaitable, Callable

from bot.engine import is_infrastructure_error
from bot.logs import mask
from bot.settings import Secret

log = logging.getLogger(__name__)


def derive_secret(token: Secret, purpose: bytes) -> Secret:
    """A stable secret for a webhook when none is configured: every worker derives the same.
    Masked in the logs from now on (python-telegram-bot logs setWebhook's parameters at DEBUG)."""
    secret = hmac.new(token.reveal().encode(), purpose, hashlib.sha256).hexdigest()
    mask(secret)
    return Secret(secret)


def same_secret(given: str | None, expected: Secret) -> bool:
    """Compared in constant time; a missing header never matches."""
    return given is not None and hmac.compare_digest(given.encode(), expected.reveal().encode())


def json_id(value: Any) -> str:
    """An id as a messenger sends it in JSON (a string or a number); "" for anything else, so
    that a malformed event is ignored rather than crashing its mapping."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value)[:64]


async def handle_polled(work: Callable[[], Awaitable[None]], label: str, attempts: int = 6) -> None:
    """Handle an update fetched by polling. The messenger already considers it delivered, so a
    database outage is waited out here (1, 2, 4 ... s) instead of losing the update."""
    for attempt in range(attempts):
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_infrastructure_error(exc) or attempt == attempts - 1:
                log.exception("%s lost", label)
                return
            await asyncio.sleep(2**attempt)
