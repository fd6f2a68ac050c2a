"""Every setting, read from the environment in one place (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.db import DEFAULT_DATABASE_URL
from storage.updates import PROCESSED_KEPT_DAYS
from texts import DEFAULT_CONTENT_DIR


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


def _number(env: Mapping[str, str], name: str, default: float, kind: type = int, minimum: float = 1) -> Any:
    """A positive number setting; a value that is not one stops the start with a plain message."""
    raw = _optional(env, name)
    if raw is None:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ValueError(
            f"{name} must be a {'whole ' if kind is int else ''}number of at least {minimum:g}, not {raw!r}"
        )
    return value


def _event_age(env: Mapping[str, str]) -> float:
    """ZALO_EVENT_MAX_AGE_HOURS: shorter than the processed marks are kept, or a replay of an old
    event could arrive after its mark is gone."""
    hours = _number(env, "ZALO_EVENT_MAX_AGE_HOURS", 24, float, minimum=1)
    if hours >= PROCESSED_KEPT_DAYS * 24:
        raise ValueError(
            f"ZALO_EVENT_MAX_AGE_HOURS must be less than {PROCESSED_KEPT_DAYS * 24} (processed updates are kept "
            f"{PROCESSED_KEPT_DAYS} days), not {hours:g}"
        )
    return hours


def _base(env: Mapping[str, str], name: str, default: str) -> str:
    return (_optional(env, name) or default).rstrip("/")


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
    # Sends per second this process allows itself on Telegram, evenly spaced: a little under
    # Telegram's limit of about 30 a second. 0: no limit of our own (benchmarks, a local Bot API).
    telegram_max_per_second: float = 29.0
    checkin_retention_days: int = 21
    # Signs the QR check-in payloads; without it no poster is made and no QR link is accepted.
    qr_signing_key: Secret | None = None
    # The bot's @username for posters made outside the running bot (CLI without a token).
    telegram_bot_username: str | None = None
    # Zalo Official Account (Open API v3): the app linked to the OA, and the OA's own secret key
    # (webhook signatures). The refresh token seeds the database once; after that the database
    # holds the current pair, since every refresh spends the old refresh token.
    zalo_oa_app_id: str | None = None
    zalo_oa_app_secret: Secret | None = None
    zalo_oa_secret_key: Secret | None = None
    zalo_oa_refresh_token: Secret | None = None
    zalo_oa_id: str | None = None
    zalo_oa_api_base_url: str = "https://openapi.zalo.me"
    zalo_oauth_base_url: str = "https://oauth.zaloapp.com"
    # Zalo Bot Platform (Telegram-like Bot API).
    zalo_bot_token: Secret | None = None
    zalo_bot_api_base_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_webhook_secret: Secret | None = None
    # Files the messengers fetch by URL are served from this server under signed, expiring URLs.
    media_url_key: Secret | None = None
    media_url_ttl_hours: float = 24.0
    # How long a worker holds an outbox row it is sending. Another worker takes the row over once
    # the lease runs out, so a worker killed mid-send has its replies sent again after this long;
    # it must exceed the longest a send can take (time-outs, waits in the rate limiter).
    outbox_lease_seconds: float = 60.0
    # How long a Bot API call may wait for Telegram's answer before it counts as timed out and
    # is retried later (python-telegram-bot's own default is 5 s).
    telegram_send_timeout: float = 5.0
    # The per-person flood guard: this many updates at once, refilled over 10 s; 0 turns it off
    # (benchmarks that compare with and without it).
    flood_burst: int = 20
    # Zalo events older than this (or dated more than 5 minutes ahead) are answered 200 and not
    # handled: a signed event replayed after its processed mark was purged would count twice.
    # Zalo itself retries for up to 12 hours.
    zalo_event_max_age_hours: float = 24.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            http_host=env.get("HTTP_HOST") or "127.0.0.1",
            http_port=_number(env, "HTTP_PORT", 8080),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            content_dir=Path(env.get("CONTENT_DIR") or DEFAULT_CONTENT_DIR),
            public_base_url=(_optional(env, "PUBLIC_BASE_URL") or "").rstrip("/") or None,
            telegram_bot_token=_secret(env, "TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org/bot",
            telegram_webhook_secret=_secret(env, "TELEGRAM_WEBHOOK_SECRET"),
            telegram_max_per_second=_number(env, "TELEGRAM_MAX_PER_SECOND", 29, float, minimum=0),
            checkin_retention_days=_number(env, "CHECKIN_RETENTION_DAYS", 21),
            qr_signing_key=_qr_key(env),
            telegram_bot_username=(_optional(env, "TELEGRAM_BOT_USERNAME") or "").lstrip("@") or None,
            zalo_oa_app_id=_optional(env, "ZALO_OA_APP_ID"),
            zalo_oa_app_secret=_secret(env, "ZALO_OA_APP_SECRET"),
            zalo_oa_secret_key=_secret(env, "ZALO_OA_SECRET_KEY"),
            zalo_oa_refresh_token=_secret(env, "ZALO_OA_REFRESH_TOKEN"),
            zalo_oa_id=_optional(env, "ZALO_OA_ID"),
            zalo_oa_api_base_url=_base(env, "ZALO_OA_API_BASE_URL", "https://openapi.zalo.me"),
            zalo_oauth_base_url=_base(env, "ZALO_OAUTH_BASE_URL", "https://oauth.zaloapp.com"),
            zalo_bot_token=_secret(env, "ZALO_BOT_TOKEN"),
            zalo_bot_api_base_url=_base(env, "ZALO_BOT_API_BASE_URL", "https://bot-api.zaloplatforms.com"),
            zalo_bot_webhook_secret=_secret(env, "ZALO_BOT_WEBHOOK_SECRET"),
            media_url_key=_secret(env, "MEDIA_URL_KEY"),
            media_url_ttl_hours=_number(env, "MEDIA_URL_TTL_HOURS", 24, float, minimum=0.01),
            outbox_lease_seconds=_number(env, "OUTBOX_LEASE_SECONDS", 60, float, minimum=1),
            telegram_send_timeout=_number(env, "TELEGRAM_SEND_TIMEOUT", 5, float, minimum=0.1),
            flood_burst=_number(env, "FLOOD_BURST", 20, minimum=0),
            zalo_event_max_age_hours=_event_age(env),
        )

    def secrets(self) -> list[str]:
        """Every secret value, for the log formatter to mask."""
        return [v.reveal() for v in vars(self).values() if isinstance(v, Secret)]

    @property
    def telegram_webhook_mode(self) -> bool:
        return self.telegram_bot_token is not None and self.public_base_url is not None

    @property
    def zalo_oa_configured(self) -> bool:
        """The OA needs its app (id and secret, for tokens) and the OA secret key (for webhooks)."""
        return bool(self.zalo_oa_app_id and self.zalo_oa_app_secret and self.zalo_oa_secret_key)

    @property
    def zalo_bot_webhook_mode(self) -> bool:
        return self.zalo_bot_token is not None and self.public_base_url is not None

    @property
    def own_base_url(self) -> str:
        """Where this server is reached: the public address, else the local one (development)."""
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"
