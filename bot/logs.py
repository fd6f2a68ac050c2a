"""Logging set-up: one format, quiet HTTP libraries, and secrets masked in every line."""

from __future__ import annotations

import logging
from typing import Iterable


class RedactingFormatter(logging.Formatter):
    """Masks secret values (bot tokens, keys) wherever they appear: messages, URLs, tracebacks."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs carry the token.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # The rate limiter logs every 429 it passes on with a traceback; the courier logs the retry.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
