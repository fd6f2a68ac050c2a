"""No secret and no personal text in any log line, at any level, whoever writes it.

`bluezone-bot run` runs as a real subprocess at LOG_LEVEL=DEBUG (pytest's log capture would bypass
the formatter), serving Telegram, a Zalo OA and the Zalo Bot Platform by webhook, with no
TELEGRAM_WEBHOOK_SECRET (derived from the token, which python-telegram-bot logs in setWebhook's
parameters at DEBUG). A volunteer registers with name, phone and team, so the coordinator gets
"Tên: … / Điện thoại: …"; citizens write on both Zalo products. Then every secret the process knew,
derived or fetched, and every personal value, is looked for in what it wrote: none is there.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.channels import telegram as telegram_channel
from bot.channels import zalo_bot as zalo_bot_channel
from bot.media import signing_key
from bot.settings import Secret, Settings
from storage import roles
from storage.accounts import find_or_create_person
from storage.db import create_engine, sessionmaker
from tests.channels.test_telegram_e2e import exchange
from tests.standins.telegram_api import TelegramStandin
from tests.standins.zalo_bot_api import ZaloBotStandin
from tests.standins.zalo_oa_api import ZaloOaStandin
from tests.workers import run_workers

TOKEN = "5151:log-privacy-telegram-token"
QR_KEY = "log-privacy-qr-signing-key"
NAME, PHONE, TEAM = "Phùng Thị Quỳnh Xuyến", "0987 123 456", "Chi đoàn Ximăng Lục Ngạn"
FIRST_NAMES = ("Xuyến", "Điều Phối Viên Hằng")
OA_TEXT = "Tôi là Vũ Đình Khiêm ở số 7 ngõ Gạch, máy tôi Oppo A5 có cài được Bluezone không?"
BOT_TEXT = "Nhà tôi ở xóm Quyết Thắng, Lưu Văn Toản, gọi 0912 000 777"


@pytest.mark.e2e  # `bluezone-bot run` as a process, against the three stand-ins
async def test_debug_logs_carry_no_secret_and_no_personal_text(fresh_pg_database):
    async with (
        TelegramStandin(token=TOKEN, username="bluezone_log_bot") as tg,
        ZaloOaStandin() as oa,
        ZaloBotStandin(token="2468013579:zalo-bot-log-privacy-token") as zbot,
    ):
        env = {
            "LOG_LEVEL": "DEBUG",
            "QR_SIGNING_KEY": QR_KEY,
            "ZALO_OA_APP_ID": oa.app_id,
            "ZALO_OA_APP_SECRET": oa.app_secret,
            "ZALO_OA_SECRET_KEY": oa.oa_secret_key,
            "ZALO_OA_REFRESH_TOKEN": "refresh-token-0",
            "ZALO_OA_ID": oa.oa_id,
            "ZALO_OA_API_BASE_URL": oa.base_url,
            "ZALO_OAUTH_BASE_URL": oa.base_url,
            "ZALO_BOT_TOKEN": zbot.token,
            "ZALO_BOT_API_BASE_URL": zbot.base_url,
        }
        async with run_workers(tg, fresh_pg_database, None, count=1, **env) as service:
            engine = create_engine(fresh_pg_database)
            async with sessionmaker(engine)() as db, db.begin():
                person, _ = await find_or_create_person(db, "telegram", "8101")
                await roles.grant(db, person.id, roles.Role.COORDINATOR, "00070")
            await engine.dispose()
            coordinator, volunteer = tg.user(8101, first_name=FIRST_NAMES[1]), tg.user(8102, first_name=FIRST_NAMES[0])

            await exchange(tg, volunteer.id, lambda: volunteer.send_command("dangky"))
            await exchange(tg, volunteer.id, lambda: volunteer.press("reg:nocode"))
            await exchange(tg, volunteer.id, lambda: volunteer.send_text("Hoàn Kiếm"))
            await exchange(tg, volunteer.id, lambda: volunteer.send_text(NAME))
            await exchange(tg, volunteer.id, lambda: volunteer.send_contact(PHONE.replace(" ", "")), count=2)
            (pending,) = await exchange(tg, volunteer.id, lambda: volunteer.send_text(TEAM))
            assert "điều phối viên" in pending.text
            request = await tg.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == coordinator.id)
            assert NAME in request.text  # the notice that named them went through the log's reach

            oa.webhook_url = f"{service.base}/webhooks/zalo-oa"
            citizen = oa.user("4455667788990011")
            await oa.exchange(citizen.send_text(OA_TEXT), citizen)
            await zbot.exchange(zbot.user("zb-7788", name="Lưu Văn Toản"), BOT_TEXT)
        log = service.log()

    assert "Calling Bot API endpoint `sendMessage`" in log and "Calling Bot API endpoint `setWebhook`" in log
    derived_media_key = signing_key(Settings(zalo_bot_token=Secret(zbot.token)))
    secrets = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "derived Telegram webhook secret": telegram_channel.derive_webhook_secret(Secret(TOKEN)).reveal(),
        "ZALO_BOT_TOKEN": zbot.token,
        "derived Zalo Bot webhook secret": zalo_bot_channel.derive_webhook_secret(Secret(zbot.token)).reveal(),
        "ZALO_OA_APP_SECRET": oa.app_secret,
        "ZALO_OA_SECRET_KEY": oa.oa_secret_key,
        "QR_SIGNING_KEY": QR_KEY,
        "derived media key": derived_media_key.hex(),
        **{f"OA refresh token {t}": t for t in oa.refresh_tokens | oa.spent_refresh_tokens},
        **{f"OA access token {t}": t for t in oa.access_tokens},
    }
    assert len([k for k in secrets if k.startswith("OA access")]) >= 1
    personal = {
        "name": NAME,
        "phone": PHONE.replace(" ", "")[1:],
        "phone as shown": PHONE,
        "team": TEAM,
        "OA text": OA_TEXT[:20],
        "Zalo Bot text": BOT_TEXT[:20],
        "Zalo Bot name": "Lưu Văn Toản",
        **{f"first name {n}": n for n in FIRST_NAMES},
    }
    leaked = [what for what, value in {**secrets, **personal}.items() if value in log]
    assert leaked == [], leaked


async def test_a_failed_statement_does_not_log_its_parameters(db_engine):
    """What a person typed may be a statement's parameter; the error that gets logged names none."""
    typed = "Nguyễn Văn Khách 0912 345 678"
    try:
        async with db_engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO provinces (code, name, division_type) VALUES (:c, :n, :d)"),
                {"c": "01", "n": typed, "d": typed},
            )  # "01" exists: a unique violation
    except DBAPIError as exc:
        assert typed not in str(exc) and "hidden" in str(exc)
    else:
        raise AssertionError("the insert should have failed")
