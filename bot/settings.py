"""Every setting, read from the environment in one place (documented in the README)."""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from storage.db import DEFAULT_DATABASE_URL
from storage.unit_map import DEFAULT_SCHEME, SCHEMES
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


# --- readers: (environment, variable, default) → value; a bad value stops the start with a plain message


def _secret(env: Mapping[str, str], name: str, default: Any = None) -> Secret | None:
    value = env.get(name, "").strip()
    return Secret(value) if value else None


def _optional(env: Mapping[str, str], name: str, default: Any = None) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or default


def _upper(env: Mapping[str, str], name: str, default: str) -> str:
    return (env.get(name) or default).upper()


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    return Path(env.get(name) or default)


def _address(env: Mapping[str, str], name: str, default: None = None) -> str | None:
    """An optional base address, without its trailing slash."""
    return (_optional(env, name) or "").rstrip("/") or None


def _username(env: Mapping[str, str], name: str, default: None = None) -> str | None:
    return (_optional(env, name) or "").lstrip("@") or None


QR_KEY_MIN_LENGTH = 16


def _qr_key(env: Mapping[str, str], name: str, default: None = None) -> Secret | None:
    key = _secret(env, name)
    if key is not None and len(key.reveal()) < QR_KEY_MIN_LENGTH:
        raise ValueError(f"{name} must be at least {QR_KEY_MIN_LENGTH} characters")
    return key


def _number(kind: type = int, minimum: float = 1) -> Reader:
    """A reader of a number setting of at least `minimum`."""

    def read(env: Mapping[str, str], name: str, default: float) -> Any:
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

    return read


def _event_age(env: Mapping[str, str], name: str, default: float) -> float:
    """Shorter than the processed marks are kept, or a replay of an old event could arrive after
    its mark is gone."""
    hours = _number(float, minimum=1)(env, name, default)
    if hours >= PROCESSED_KEPT_DAYS * 24:
        raise ValueError(
            f"{name} must be less than {PROCESSED_KEPT_DAYS * 24} (processed updates are kept "
            f"{PROCESSED_KEPT_DAYS} days), not {hours:g}"
        )
    return hours


def _scheme(env: Mapping[str, str], name: str, default: None = None) -> str | None:
    value = _optional(env, name)
    if value is not None and value not in SCHEMES:
        raise ValueError(f"{name} must be {' or '.join(SCHEMES)}, not {value!r}")
    return value


@functools.cache
def _declared_scheme(content_dir: Path) -> str | None:
    """The map a content pack declares for its campaign (`units` in its campaign.toml), if any."""
    try:
        declared = tomllib.loads((content_dir / "campaign.toml").read_text(encoding="utf-8")).get("units")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if declared is not None and declared not in SCHEMES:
        raise ValueError(f"{content_dir}/campaign.toml: units must be {' or '.join(SCHEMES)}, not {declared!r}")
    return declared


def _host_port(env: Mapping[str, str], name: str, default: None = None) -> tuple[str, int] | None:
    """An optional `host:port` to listen on."""
    value = _optional(env, name)
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{name} must be host:port, such as 127.0.0.1:9100, not {value!r}")
    return host.strip("[]"), int(port)


def _base(env: Mapping[str, str], name: str, default: str) -> str:
    return (_optional(env, name) or default).rstrip("/")


Reader = Callable[[Mapping[str, str], str, Any], Any]


def setting(default: Any, env: str, read: Reader, meaning: str, shown: str | None = None) -> Any:
    """One setting, declared once: its variable, its default (`shown` in the docs when it is not
    a value of its own, "derived from the token"), how it is read, and what it means. The
    README's configuration table is generated from these (`bluezone-bot settings`)."""
    return field(default=default, metadata={"env": env, "read": read, "meaning": meaning, "shown": shown})


@dataclass(frozen=True)
class Settings:
    """Every setting, from the environment (`from_env`); one declaration each."""

    database_url: str = setting(
        DEFAULT_DATABASE_URL,
        "DATABASE_URL",
        _text,
        "SQLite file (WAL mode), or PostgreSQL: `postgresql://user:pass@host/db` (asyncpg is used)",
    )
    http_host: str = setting(
        "127.0.0.1",
        "HTTP_HOST",
        _text,
        "the address the aiohttp server listens on: `/healthz`, the webhooks and the web pages",
    )
    http_port: int = setting(8080, "HTTP_PORT", _number(), "its port")
    metrics_address: tuple[str, int] | None = setting(
        None,
        "METRICS_ADDRESS",
        _host_port,
        "`host:port` of a second, private listener for Prometheus (`/metrics`, `/healthz`, `/readyz`), e.g. `127.0.0.1:9100`; see [docs/deploy.md](docs/deploy.md#metrics-and-health)",
    )
    metrics_token: Secret | None = setting(
        None,
        "METRICS_TOKEN",
        _secret,
        "serves `/metrics` on the main address too, to requests with `Authorization: Bearer <token>`. Without either, no `/metrics`",
    )
    shutdown_grace_seconds: float = setting(
        0.0,
        "SHUTDOWN_GRACE_SECONDS",
        _number(float, minimum=0),
        "on SIGTERM, how long `/readyz` answers 503 while everything is still served, so a load balancer stops sending first; then the sends under way finish",
    )
    worker_crash_limit: int = setting(
        5,
        "WORKER_CRASH_LIMIT",
        _number(),
        "`run --workers N`: a worker that exits this many times in 10 minutes stops the service (exit code 1); each restart waits 1, 2, 4 … 60 s",
    )
    log_level: str = setting(
        "INFO",
        "LOG_LEVEL",
        _upper,
        "`DEBUG`, `INFO`, `WARNING`… At every level, no secret, message text, name or phone is logged (see [docs/privacy.md](docs/privacy.md#what-is-stored-and-why))",
    )
    content_dir: Path = setting(DEFAULT_CONTENT_DIR, "CONTENT_DIR", _path, "the campaign's texts", shown="`content/vi`")
    units: str | None = setting(
        None,
        "UNITS",
        _scheme,
        "the campaign's map: `2025` (34 provinces, 3,321 communes) or `pre2025` (63 provinces, 696 districts, "
        "10,051 communes, as just before 1 July 2025; see [docs/units.md](docs/units.md)). A database keeps the "
        "map it started on",
        shown="the content's `units`, else `2025`",
    )
    public_base_url: str | None = setting(
        None,
        "PUBLIC_BASE_URL",
        _address,
        "the public HTTPS address of this server; when set, Telegram uses a webhook instead of polling, and posters' QR codes open the landing page `<PUBLIC_BASE_URL>/q/…`",
    )
    telegram_bot_token: Secret | None = setting(
        None, "TELEGRAM_BOT_TOKEN", _secret, "the token from @BotFather; without it no Telegram channel runs"
    )
    telegram_api_base_url: str = setting(
        "https://api.telegram.org/bot",
        "TELEGRAM_API_BASE_URL",
        _text,
        "another Bot API server (a local `telegram-bot-api`, or the tests' stand-in)",
    )
    telegram_webhook_secret: Secret | None = setting(
        None,
        "TELEGRAM_WEBHOOK_SECRET",
        _secret,
        "the `secret_token` given to `setWebhook` and checked on every webhook call (1–256 of `A-Za-z0-9_-`)",
        shown="derived from the token",
    )
    telegram_max_per_second: float = setting(
        29.0,
        "TELEGRAM_MAX_PER_SECOND",
        _number(float, minimum=0),
        "Telegram sends per second the bot allows itself in all, spaced evenly (bursts of 3 at most); `0`: no limit of its own. Telegram allows about 30 a second: the workers of one machine share this budget, and several machines through `REDIS_URL`",
    )
    checkin_retention_days: int = setting(
        21,
        "CHECKIN_RETENTION_DAYS",
        _number(),
        "check-ins older than this many days are deleted every hour (their counts stay)",
    )
    qr_signing_key: Secret | None = setting(
        None,
        "QR_SIGNING_KEY",
        _qr_key,
        "signs the posters' QR payloads (HMAC-SHA256), at least 16 characters: `python3 -c \"import secrets; print(secrets.token_urlsafe(32))\"`. Without it the check-in points are not offered (typed codes still work; the start says so in one line). Keep it: changing it invalidates every printed QR. The web pages' CSRF tokens use a key derived from it",
    )
    telegram_bot_username: str | None = setting(
        None,
        "TELEGRAM_BOT_USERNAME",
        _username,
        "the bot's @username, for posters made where the bot's token is not configured (`make run` in the terminal, which says so at start, the CLI on an office PC). With `TELEGRAM_BOT_TOKEN` it is asked from Telegram (getMe) instead",
    )
    zalo_oa_app_id: str | None = setting(
        None,
        "ZALO_OA_APP_ID",
        _optional,
        "the Zalo app linked to the Official Account (developers.zalo.me); with the next two, the OA channel runs",
    )
    zalo_oa_app_secret: Secret | None = setting(
        None, "ZALO_OA_APP_SECRET", _secret, "that app's secret key: sent as `secret_key` when refreshing tokens"
    )
    zalo_oa_secret_key: Secret | None = setting(
        None,
        "ZALO_OA_SECRET_KEY",
        _secret,
        "the OA secret key (webhook settings): checks the `X-ZEvent-Signature` of every event",
    )
    zalo_oa_refresh_token: Secret | None = setting(
        None,
        "ZALO_OA_REFRESH_TOKEN",
        _secret,
        "the refresh token from authorising the app for the OA; seeds the database once (see [docs/zalo.md](docs/zalo.md))",
    )
    zalo_oa_id: str | None = setting(
        None, "ZALO_OA_ID", _optional, 'the OA\'s id, for "chat with us on Zalo" links (`https://zalo.me/<id>`)'
    )
    zalo_oa_api_base_url: str = setting(
        "https://openapi.zalo.me", "ZALO_OA_API_BASE_URL", _base, "another OA Open API server (the tests' stand-in)"
    )
    zalo_oauth_base_url: str = setting(
        "https://oauth.zaloapp.com", "ZALO_OAUTH_BASE_URL", _base, "another Zalo OAuth server (the tests' stand-in)"
    )
    zalo_bot_token: Secret | None = setting(
        None,
        "ZALO_BOT_TOKEN",
        _secret,
        "the Zalo Bot Platform token (bot.zapps.me); without it no Zalo Bot channel runs",
    )
    zalo_bot_api_base_url: str = setting(
        "https://bot-api.zaloplatforms.com",
        "ZALO_BOT_API_BASE_URL",
        _base,
        "another Bot API server (the legacy `https://bot-api.zapps.me`, the tests' stand-in)",
    )
    zalo_bot_webhook_secret: Secret | None = setting(
        None,
        "ZALO_BOT_WEBHOOK_SECRET",
        _secret,
        "the `secret_token` given to `setWebhook` and checked in `X-Bot-Api-Secret-Token` (8–256 characters)",
        shown="derived from the token",
    )
    media_url_key: Secret | None = setting(
        None,
        "MEDIA_URL_KEY",
        _secret,
        "HMAC key signing the short-lived URLs of files the messengers fetch (`/media/...`)",
        shown="derived from a messenger secret",
    )
    media_url_ttl_hours: float = setting(
        24.0, "MEDIA_URL_TTL_HOURS", _number(float, minimum=0.01), "how long such a URL (and the stored file) lives"
    )
    outbox_lease_seconds: float = setting(
        60.0,
        "OUTBOX_LEASE_SECONDS",
        _number(float, minimum=1),
        "how long a worker holds a message it is sending: the replies a crashed worker had not sent go out from another worker after this long. Keep it well above the send time-out",
    )
    telegram_send_timeout: float = setting(
        5.0,
        "TELEGRAM_SEND_TIMEOUT",
        _number(float, minimum=0.1),
        "seconds a Bot API call waits for Telegram's answer; a slower one counts as timed out and is sent again after a back-off",
    )
    flood_burst: int = setting(
        20,
        "FLOOD_BURST",
        _number(minimum=0),
        'the per-person flood limit: this many updates at once, refilled over 10 s (20 in 10 s); beyond it one "slow down" notice, then updates are dropped unanswered until the person slows down. Counted across workers, as the send budget. `0` turns the guard off (for benchmarks)',
    )
    zalo_max_per_second: float = setting(
        0.0,
        "ZALO_MAX_PER_SECOND",
        _number(float, minimum=0),
        "messages per second to each Zalo channel (OA, Bot Platform), shared by the workers as Telegram's; `0`: no limit of its own (Zalo publishes none; it answers -32 or 429 when it limits)",
    )
    redis_url: Secret | None = setting(
        None,
        "REDIS_URL",
        _secret,
        "`redis://[:password@]host:6379/0`: machines running the same bot share the send budgets and the flood guard through it; without it, a machine's workers share them alone. If it goes away each worker falls back to its share until it returns (see [docs/deploy.md](docs/deploy.md#running-several-workers))",
    )
    zalo_event_max_age_hours: float = setting(
        24.0,
        "ZALO_EVENT_MAX_AGE_HOURS",
        _event_age,
        "a Zalo event dated longer ago than this (or more than 5 minutes ahead), though correctly signed, is answered 200 and not handled: a replay. Zalo retries for up to 12 hours; must stay under 168 (processed updates are kept a week)",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(**{f.name: f.metadata["read"](env, f.metadata["env"], f.default) for f in fields(cls)})

    def secrets(self) -> list[str]:
        """Every secret value, for the log formatter to mask."""
        return [v.reveal() for v in vars(self).values() if isinstance(v, Secret)]

    @property
    def unit_scheme(self) -> str:
        """The campaign's map: UNITS, else what the content pack declares, else today's."""
        return self.units or _declared_scheme(self.content_dir) or DEFAULT_SCHEME

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


def settings_table() -> str:
    """The README's configuration table, from the declarations (`bluezone-bot settings`)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Settings):
        shown = f.metadata["shown"]
        if shown is None:
            default = f.default
            shown = "(none)" if default is None else f"`{default:g}`" if isinstance(default, float) else f"`{default}`"
        lines.append(f"| `{f.metadata['env']}` | {shown} | {f.metadata['meaning']} |")
    return "\n".join(lines) + "\n"
