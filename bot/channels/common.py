"""Small pieces every messenger channel needs: derived webhook secrets, ids read from untrusted
JSON, polled-update retries, and the answer a webhook gives."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.logs import mask
from bot.settings import Secret
from bot.untrusted import Throttled
from storage.db import is_infrastructure_error

log = logging.getLogger(__name__)
# Junk from strangers on a webhook is logged, but at most a line a minute per kind: never a traceback.
junk = Throttled(logging.getLogger("bot.web"))


def unavailable(channel: str, what: str, exc: Exception) -> web.Response:
    """The answer when an update could not be stored: a 5xx makes the messenger deliver it again,
    and the processed mark keeps a retry of what was stored after all from being handled twice."""
    if is_infrastructure_error(exc):
        log.warning("%s %s not stored: %s", channel, what, exc)
    else:
        log.exception("%s %s could not be handled", channel, what)
    return web.json_response({"ok": False, "error": "temporarily unavailable"}, status=503)


async def answer_webhook(channel: str, handling: Awaitable[tuple[int, str]]) -> web.Response:
    """A Zalo webhook's answer: 200 once the event and its effects are committed (the replies follow
    from the outbox); 503 when it could not be stored, so the messenger delivers it again."""
    try:
        status, reason = await handling
    except Exception as exc:
        return unavailable(channel, "event", exc)
    if status != 200 or reason.startswith("stale"):
        # Answered 200 when stale, so that Zalo does not retry; handled not at all.
        junk.warning(
            f"{channel}-{status}-{reason.split(':')[0]}", "%s webhook: event refused (%s %s)", channel, status, reason
        )
    return web.json_response({"ok": status == 200, "status": reason}, status=status)


def derive_secret(token: Secret, purpose: bytes) -> Secret:
    """A stable secret for a webhook when none is configured: every worker derives the same.
    Masked in the logs from now on (python-telegram-bot logs setWebhook's parameters at DEBUG)."""
    secret = hmac.new(token.reveal().encode(), purpose, hashlib.sha256).hexdigest()
    mask(secret)
    return Secret(secret)


def same_secret(given: str | None, expected: Secret) -> bool:
    """Compared in constant time; a missing header never matches."""
    return given is not None and hmac.compare_digest(given.encode(), expected.reveal().encode())


# A clock a little ahead of ours is normal; an event dated further ahead is not believed.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def age_problem(moment_ms: Any, max_age: dt.timedelta, now: dt.datetime) -> str | None:
    """Why an event dated `moment_ms` (milliseconds since 1970, as both Zalo products date their
    events) is not handled: "too old" (a replay, or a retry Zalo has long given up on) or "from the
    future"; None when it is within bounds or carries no readable date."""
    if isinstance(moment_ms, bool) or not isinstance(moment_ms, (int, str)):
        return None
    if isinstance(moment_ms, str):
        if not (moment_ms.isascii() and moment_ms.isdigit() and len(moment_ms) <= 20):
            return None
        moment_ms = int(moment_ms)
    now_ms = now.timestamp() * 1000
    if moment_ms < now_ms - max_age.total_seconds() * 1000:
        return "too old"
    if moment_ms > now_ms + FUTURE_TOLERANCE.total_seconds() * 1000:
        return "from the future"
    return None


def json_id(value: Any) -> str:
    """An id as a messenger sends it in JSON (a string or a number); "" for anything else (an
    object, an id with a control character, which PostgreSQL cannot even store), so that a
    malformed event is ignored rather than crashing its mapping or its person's lookup."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value)[:64]
    return text if text.isprintable() else ""


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
