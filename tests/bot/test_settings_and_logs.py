"""Settings come from the environment; secrets never reach a log line or a repr."""

from __future__ import annotations

import logging

import pytest

from bot.logs import setup_logging
from bot.settings import Secret, Settings
from storage.db import DEFAULT_DATABASE_URL, normalize_url


def test_defaults_need_nothing_configured():
    s = Settings.from_env({})
    assert s.database_url == DEFAULT_DATABASE_URL
    assert (s.http_host, s.http_port, s.log_level) == ("127.0.0.1", 8080, "INFO")
    assert s.telegram_bot_token is None and not s.telegram_webhook_mode
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"


def test_environment_is_read():
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://postgres@127.0.0.1/test",
            "HTTP_PORT": "9000",
            "LOG_LEVEL": "debug",
            "TELEGRAM_BOT_TOKEN": "123:abcdef",
            "PUBLIC_BASE_URL": "https://bot.example.vn/",
        }
    )
    assert s.http_port == 9000 and s.log_level == "DEBUG"
    assert s.public_base_url == "https://bot.example.vn"
    assert s.telegram_webhook_mode
    assert s.telegram_bot_token.reveal() == "123:abcdef"
    assert "abcdef" not in repr(s)


def test_urls_pick_the_async_drivers():
    assert normalize_url("postgres://u@h/db").startswith("postgresql+asyncpg://")
    # SQLite on the event loop's thread (storage.sqlite_driver), whatever driver the URL names.
    assert normalize_url("sqlite:///./data/x.db") == "sqlite+bluezone:///./data/x.db"
    assert normalize_url("sqlite+aiosqlite:///./data/x.db") == "sqlite+bluezone:///./data/x.db"


def test_secret_is_masked_everywhere(capsys):
    token = "123456:SECRET-token-value"
    secret = Secret(token)
    assert token not in repr(secret) and token not in str(secret) and token not in f"{secret}"
    setup_logging("DEBUG", [token])
    log = logging.getLogger("test")
    log.info("calling https://api.telegram.org/bot%s/getMe", token)
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        log.exception("boom")
    err = capsys.readouterr().err
    assert token not in err and "***" in err
    logging.getLogger().handlers.clear()


def test_qr_signing_key_and_bot_username():
    s = Settings.from_env({"QR_SIGNING_KEY": "0123456789abcdef", "TELEGRAM_BOT_USERNAME": "@bluezone_vn_bot"})
    assert s.qr_signing_key.reveal() == "0123456789abcdef" and "0123456789abcdef" in s.secrets()
    assert s.telegram_bot_username == "bluezone_vn_bot"
    assert Settings.from_env({}).qr_signing_key is None
    with pytest.raises(ValueError, match="at least 16"):
        Settings.from_env({"QR_SIGNING_KEY": "short"})


def test_zalo_settings_are_read_and_their_secrets_masked():
    env = {
        "ZALO_OA_APP_ID": "1234567890",
        "ZALO_OA_APP_SECRET": "app-secret-value",
        "ZALO_OA_SECRET_KEY": "oa-secret-value",
        "ZALO_OA_REFRESH_TOKEN": "refresh-token-value",
        "ZALO_OA_ID": "4321",
        "ZALO_BOT_TOKEN": "999:zalo-bot-token-value",
        "ZALO_BOT_API_BASE_URL": "http://127.0.0.1:9/",
        "PUBLIC_BASE_URL": "https://bot.example.vn",
        "MEDIA_URL_TTL_HOURS": "2",
    }
    s = Settings.from_env(env)
    assert s.zalo_oa_configured and s.zalo_bot_webhook_mode
    assert s.zalo_bot_api_base_url == "http://127.0.0.1:9"  # no trailing slash: paths are appended
    assert s.zalo_oa_api_base_url == "https://openapi.zalo.me" and s.media_url_ttl_hours == 2
    assert s.own_base_url == "https://bot.example.vn"
    assert {"app-secret-value", "oa-secret-value", "refresh-token-value", "999:zalo-bot-token-value"} <= set(
        s.secrets()
    )
    assert "secret-value" not in repr(s) and "token-value" not in repr(s)
    local = Settings.from_env({"ZALO_OA_APP_ID": "1", "HTTP_PORT": "8099"})
    assert not local.zalo_oa_configured and local.own_base_url == "http://127.0.0.1:8099"


@pytest.mark.parametrize(
    "name,value",
    [
        ("HTTP_PORT", "eighty"),
        ("HTTP_PORT", "0"),
        ("CHECKIN_RETENTION_DAYS", "21.5"),
        ("CHECKIN_RETENTION_DAYS", "-3"),
        ("MEDIA_URL_TTL_HOURS", "a day"),
    ],
)
def test_a_bad_number_names_the_setting(name, value):
    with pytest.raises(ValueError, match=f"^{name} must be .* not '{value}'$"):
        Settings.from_env({name: value})
    assert (
        Settings.from_env({"CHECKIN_RETENTION_DAYS": " 30 ", "MEDIA_URL_TTL_HOURS": "0.5"}).checkin_retention_days == 30
    )


def test_the_command_line_says_which_setting_is_bad_without_a_traceback():
    from click.testing import CliRunner

    from bot.cli import main

    result = CliRunner().invoke(main, ["roles"], env={"CHECKIN_RETENTION_DAYS": "abc"})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "CHECKIN_RETENTION_DAYS must be a whole number of at least 1, not 'abc'" in result.output


def test_telegram_send_rate():
    from bot.channels.telegram import RATE_BURST, rate_limiter
    from bot.ratelimit import Pacer

    assert Settings.from_env({}).telegram_max_per_second == 29
    assert Settings.from_env({"TELEGRAM_MAX_PER_SECOND": "0"}).telegram_max_per_second == 0
    paced = rate_limiter(29).budget
    assert isinstance(paced, Pacer) and abs(paced.per_second - 29) < 1e-9
    assert abs(paced.slack - (RATE_BURST - 1) / 29) < 1e-9  # bursts of 3 at most
    assert rate_limiter(0).budget is None
    shared = Pacer(30)
    assert rate_limiter(29, shared).budget is shared  # the workers' budget when they share one


def test_the_campaign_map_from_the_setting_or_the_content_pack(tmp_path):
    assert Settings.from_env({}).unit_scheme == "2025"
    assert Settings.from_env({"UNITS": "pre2025"}).unit_scheme == "pre2025"
    with pytest.raises(ValueError, match="UNITS must be 2025 or pre2025"):
        Settings.from_env({"UNITS": "2021"})
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "campaign.toml").write_text('app_name = "Bluezone"\nunits = "pre2025"\n', encoding="utf-8")
    assert Settings.from_env({"CONTENT_DIR": str(pack)}).unit_scheme == "pre2025"  # the pack declares it
    assert Settings.from_env({"CONTENT_DIR": str(pack), "UNITS": "2025"}).unit_scheme == "2025"  # the setting wins
