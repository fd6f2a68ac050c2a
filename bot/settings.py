"""Every setting, read from the environment in one place (documented in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from bot.content import DEFAULT_CONTENT_DIR
from storage.db import DEFAULT_DATABASE_URL


class Secret(str):
    """A str that never shows itself in logs, reprs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:  # f-strings and logging use __str__/__format__
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def reveal(self) -> str:
        return str.__str__(self)


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "").strip()
    return Secret(value) if value else None


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


QR_KEY_MIN_LENGTH = 16


def _qr_key(env: Mapping[str, str]) -> Secret | None:
    key = _secret(env, "QR_SIGNING_KEY")
    if key is not None and len(key.reveal()) < QR_KEY_MIN_LENGTH:
        raise ValueError(f"QR_SIGNING_KEY must be at least {QR_KEY_MIN_LENGTH} characters")
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"
    content_dir: Path = DEFAULT_CONTENT_DIR
    public_base_url: str | None = None
    telegram_bot_token: Secret | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_secret: Secret | None = None
    checkin_retention_days: int = 21
    # Signs the QR check-in payloads; without it no poster is made and no QR link is accepted.
    qr_signing_key: Secret | None = None
    # The bot's @username for posters made outside the running bot (CLI without a token).
    telegram_bot_username: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            http_host=env.get("HTTP_HOST") or "127.0.0.1",
            http_port=int(env.get("HTTP_PORT") or 8080),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            content_dir=Path(env.get("CONTENT_DIR") or DEFAULT_CONTENT_DIR),
            public_base_url=(_optional(env, "PUBLIC_BASE_URL") or "").rstrip("/") or None,
            telegram_bot_token=_secret(env, "TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org/bot",
            telegram_webhook_secret=_secret(env, "TELEGRAM_WEBHOOK_SECRET"),
            checkin_retention_days=int(env.get("CHECKIN_RETENTION_DAYS") or 21),
            qr_signing_key=_qr_key(env),
            telegram_bot_username=(_optional(env, "TELEGRAM_BOT_USERNAME") or "").lstrip("@") or None,
        )

    def secrets(self) -> list[str]:
        """Every secret value, for the log formatter to mask."""
        return [v.reveal() for v in vars(self).values() if isinstance(v, Secret)]

    @property
    def telegram_webhook_mode(self) -> bool:
        return self.telegram_bot_token is not None and self.public_base_url is not None
