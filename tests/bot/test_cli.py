"""The `bluezone-bot` command on a fresh SQLite file: migrate, load units, import support points, chat."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from storage.db import create_engine, sessionmaker
from storage.models import SupportPoint


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return url


def _points(url):
    async def go():
        engine = create_engine(url)
        async with sessionmaker(engine)() as db:
            rows = (await db.scalars(select(SupportPoint).order_by(SupportPoint.name))).all()
        await engine.dispose()
        return [(p.commune_code, p.name, p.phone) for p in rows]

    return asyncio.run(go())


def test_db_upgrade_and_units_load(env):
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["units", "load"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(
        "34 provinces, 3321 communes (vietnam-provinces 2026.9.0, data of 2026-09-20)"
    )


def test_support_points_import_reports_bad_rows(env, tmp_path):
    csv_file = tmp_path / "points.csv"
    csv_file.write_text(
        "\ufeffcommune_code,name,address,opening_hours,phone,latitude,longitude\n"
        "00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng,7:00-19:00,0243825,21.03,105.85\n"
        "99999,Nowhere,1 Street,,,,\n"
        "00070,,no name,,,,\n"
        "00082,Viettel Cửa Nam,5 Điện Biên Phủ,,,north,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["support-points", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "imported 1 support point(s)" in result.output
    assert "line 3: unknown commune code '99999'" in result.output
    assert "line 5: latitude/longitude must be numbers" in result.output
    # Re-importing a corrected file updates instead of duplicating.
    csv_file.write_text(
        "commune_code,name,address,opening_hours,phone\n00070,Bưu điện Hoàn Kiếm,75 Đinh Tiên Hoàng,,0999\n",
        encoding="utf-8",
    )
    assert CliRunner().invoke(main, ["support-points", "import", str(csv_file)]).exit_code == 0
    assert _points(env) == [("00070", "Bưu điện Hoàn Kiếm", "0999")]


def test_support_points_import_refuses_non_utf8(env, tmp_path):
    csv_file = tmp_path / "points.csv"
    csv_file.write_bytes("commune_code,name,address\n00070,Bưu điện,x\n".encode("utf-16"))
    result = CliRunner().invoke(main, ["support-points", "import", str(csv_file)])
    assert result.exit_code != 0 and "CSV UTF-8" in result.output


def test_chat_in_the_terminal(env):
    result = CliRunner().invoke(main, ["chat"], input="het pin\n1\n")
    assert result.exit_code == 0, result.output
    assert "Xin chào" in result.output
    assert "10% pin" in result.output  # the battery answer
    assert "Câu hỏi thường gặp" in result.output  # "1" picked the first numbered option: all questions


@pytest.mark.parametrize(
    "variables,named",
    [
        ({}, ["QR_SIGNING_KEY", "TELEGRAM_BOT_USERNAME"]),
        ({"QR_SIGNING_KEY": "k" * 16}, ["TELEGRAM_BOT_USERNAME"]),
        ({"QR_SIGNING_KEY": "k" * 16, "TELEGRAM_BOT_USERNAME": "bz_bot"}, []),
        # With the landing page, the OA's id is a name to print: no Telegram needed.
        ({"QR_SIGNING_KEY": "k" * 16, "PUBLIC_BASE_URL": "https://bot.example.vn", "ZALO_OA_ID": "4318"}, []),
    ],
)
async def test_the_start_says_what_posters_need(env, variables, named, caplog):
    from bot.commands.service import log_poster_gaps
    from bot.service import Service
    from bot.settings import Settings

    service = Service(Settings.from_env({"DATABASE_URL": env, **variables}))
    with caplog.at_level("INFO", logger="bluezone_bot"):
        log_poster_gaps(service)
    await service.stop()
    lines = [r.getMessage() for r in caplog.records if "posters" in r.getMessage()]
    assert len(lines) == (1 if named else 0)
    assert all(name in lines[0] for name in named)


@pytest.mark.e2e  # a real `bluezone-bot run` process
def test_run_serves_health_and_stops_cleanly(env, tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-chat"],
        env={
            **{k: v for k, v in os.environ.items() if k not in {"QR_SIGNING_KEY", "TELEGRAM_BOT_USERNAME"}},
            "HTTP_PORT": str(port),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 60
        body = None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    body = response.read().decode()
            except OSError:
                time.sleep(0.2)
        assert body is not None and '"status": "ok"' in body
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "serving on http://127.0.0.1" in output
        assert "check-in posters are off: set QR_SIGNING_KEY" in output  # what `make run` lacks for posters
    finally:
        if process.poll() is None:
            process.kill()


async def test_zalo_oa_token_status_and_refresh(env, monkeypatch):
    from tests.standins.zalo_oa_api import ZaloOaStandin

    async with ZaloOaStandin() as oa:
        for name, value in {
            "ZALO_OA_APP_ID": oa.app_id,
            "ZALO_OA_APP_SECRET": oa.app_secret,
            "ZALO_OA_SECRET_KEY": oa.oa_secret_key,
            "ZALO_OA_REFRESH_TOKEN": "refresh-token-0",
            "ZALO_OAUTH_BASE_URL": oa.base_url,
            "ZALO_OA_API_BASE_URL": oa.base_url,
        }.items():
            monkeypatch.setenv(name, value)
        runner = CliRunner()
        result = await asyncio.to_thread(runner.invoke, main, ["zalo", "oa-token"])
        assert result.exit_code == 0 and "no OA access token stored yet" in result.output
        result = await asyncio.to_thread(runner.invoke, main, ["zalo", "oa-token", "--refresh"])
        assert result.exit_code == 0, result.output
        assert "valid until" in result.output and "access-" not in result.output
        assert len(oa.oauth_calls()) == 1 and oa.reused == []


def test_a_worker_freezes_start_ups_objects_out_of_garbage_collection():
    """What start-up made is not re-read by every later collection, and the youngest are collected
    less often (bot.commands.service.settle_garbage_collector: measured 0.13-0.29 ms of CPU an
    update before, about 0.02 after)."""
    import gc

    from bot.commands.service import GC_YOUNGEST_THRESHOLD, settle_garbage_collector

    thresholds = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 1000
        assert gc.get_threshold() == (GC_YOUNGEST_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
