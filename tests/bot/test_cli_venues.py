"""`bluezone-bot venue add|import|list|revoke` (with a manager), `poster` and `posters` on a fresh
SQLite file, and the bot's username from getMe when only the token is configured."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io

import pytest
from click.testing import CliRunner
from PIL import Image

from bot.cli import main
from bot.commands.venues import telegram_username
from bot.service import Service
from bot.settings import Secret, Settings
from documents.posters.bundle import file_stem, posters_index
from storage.models import Venue
from storage.venue_codes import is_valid_code
from tests.documents.posters.tools import decode_qr
from tests.harness import ChatDriver
from tests.standins.telegram_api import TelegramStandin


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("QR_SIGNING_KEY", "cli-tests-signing-key")
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@bluezone_vn_bot")
    for name in ("TELEGRAM_BOT_TOKEN", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def add(name: str, commune: str = "70", *options: str) -> str:
    result = CliRunner().invoke(
        main,
        [
            "venue",
            "add",
            "--name",
            name,
            "--type",
            "market",
            "--commune",
            commune,
            "--address",
            "Phố Hàng Da",
            *options,
        ],
    )
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[-1]
    assert is_valid_code(code)
    return code


def test_venue_add_prints_the_code_last_and_poster_draws_it(env, tmp_path):
    code = add("Chợ Hàng Da")
    for suffix in ("pdf", "png"):
        out = tmp_path / f"poster.{suffix}"
        result = CliRunner().invoke(main, ["poster", "--venue", code.lower(), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "4-M" in result.stdout
    assert (tmp_path / "poster.pdf").read_bytes().startswith(b"%PDF-")
    link, _, _ = decode_qr(Image.open(tmp_path / "poster.png"))
    assert link.startswith("https://t.me/bluezone_vn_bot?start=c-" + code)


def test_venue_add_and_poster_refuse_bad_input(env, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main, ["venue", "add", "--name", "X market", "--type", "market", "--commune", "99999", "--address", "somewhere"]
    )
    assert result.exit_code != 0 and "unknown commune code '99999'" in result.output
    result = runner.invoke(
        main, ["venue", "add", "--name", "Chợ", "--type", "casino", "--commune", "70", "--address", "x"]
    )
    assert result.exit_code != 0
    result = runner.invoke(
        main,
        [
            "venue",
            "add",
            "--name",
            "Chợ A",
            "--type",
            "market",
            "--commune",
            "70",
            "--address",
            "xyz",
            "--latitude",
            "21",
        ],
    )
    assert result.exit_code != 0 and "--longitude" in result.output
    result = runner.invoke(
        main, ["venue", "add", "--name", "\u200b😀\u202e", "--type", "market", "--commune", "70", "--address", "xyz"]
    )
    assert result.exit_code != 0 and "a letter or digit" in result.output
    assert runner.invoke(main, ["poster", "--venue", "2345678", "--out", str(tmp_path / "x.pdf")]).exit_code != 0
    assert (
        "must end in .pdf or .png"
        in runner.invoke(main, ["poster", "--venue", "x", "--out", str(tmp_path / "x.jpg")]).output
    )


def test_poster_needs_the_signing_key(env, tmp_path, monkeypatch):
    code = add("Chợ Hàng Da")
    monkeypatch.delenv("QR_SIGNING_KEY")
    result = CliRunner().invoke(main, ["poster", "--venue", code, "--out", str(tmp_path / "p.pdf")])
    assert result.exit_code != 0 and "set QR_SIGNING_KEY" in result.output


def test_import_and_every_poster_of_a_commune(env, tmp_path):
    csv_file = tmp_path / "venues.csv"
    csv_file.write_text(
        "name,type,commune_code,address,latitude,longitude\n"
        "UBND phường Hoàn Kiếm,government_office,00070,126 Hàng Trống,21.03,105.85\n"
        "Trường Tiểu học Tràng An,school,70,6 Tràng Thi,,\n"
        "Nowhere,school,99999,x,,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["venue", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "line 4: unknown commune code '99999'" in result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "imported 2 new venue(s), updated 0"
    codes = sorted(line.split("\t")[0] for line in lines[:-1])
    out = tmp_path / "posters"
    result = CliRunner().invoke(main, ["posters", "--commune", "70", "--out", str(out), "--format", "both"])
    assert result.exit_code == 0, result.output
    assert "2 posters" in result.stderr  # the progress bar's label
    names = {line.split("\t")[0]: line.split("\t")[2] for line in lines[:-1]}
    address = {"UBND phường Hoàn Kiếm": "126 Hàng Trống", "Trường Tiểu học Tràng An": "6 Tràng Thi"}
    slug = {"UBND phường Hoàn Kiếm": "ubnd-phuong-hoan-kiem", "Trường Tiểu học Tràng An": "truong-tieu-hoc-trang-an"}
    stems = {c: f"{slug[names[c]]}-{c}" for c in codes}
    files = [f"{stems[c]}.{s}" for c in codes for s in ("pdf", "png")]
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, "index.csv"])
    index = (out / "index.csv").read_bytes()
    assert index.startswith(codecs.BOM_UTF8)  # Excel shows the diacritics
    rows = csv.DictReader(io.StringIO(index.decode("utf-8-sig")))
    assert sorted((r["code"], r["name"], r["address"], r["pdf"], r["png"]) for r in rows) == [
        (c, names[c], address[names[c]], f"{stems[c]}.pdf", f"{stems[c]}.png") for c in codes
    ]
    assert (
        "commune 00082 has no venues"
        in CliRunner().invoke(main, ["posters", "--commune", "82", "--out", str(out)]).output
    )


def test_poster_file_names_are_safe_and_unique_and_the_index_is_plain_text():
    def venue(name: str, code: str, address: str = "Phố Huế") -> Venue:
        return Venue(code=code, name=name, address=address, commune_code="00070")

    same = [venue("Chợ Đồng Xuân", "AB23CD7"), venue("chợ đồng xuân!", "XY45FG9")]
    assert [file_stem(v) for v in same] == ["cho-dong-xuan-AB23CD7", "cho-dong-xuan-XY45FG9"]
    assert file_stem(venue('Quán 🍜 / \\ : * ? " < > |', "AB23CD7")) == "quan-AB23CD7"  # nothing Windows refuses
    assert file_stem(venue("北京饭店", "AB23CD7")) == "AB23CD7"  # no Latin letter: the code alone
    long = file_stem(venue("Trung tâm Phục vụ hành chính công tỉnh Thái Bình – Bộ phận Một cửa số 2", "AB23CD7"))
    assert long == "trung-tam-phuc-vu-hanh-chinh-cong-tinh-thai-binh-bo-phan-mot-AB23CD7"  # whole words
    text = posters_index([(venue("=HYPERLINK(1)", "AB23CD7", "@x"), "hyperlink-1-AB23CD7")], ("pdf",))
    assert text.splitlines()[1] == "AB23CD7,'=HYPERLINK(1),'@x,hyperlink-1-AB23CD7.pdf"  # not a formula in Excel


@pytest.mark.e2e  # python-telegram-bot's getMe against the stand-in
async def test_username_comes_from_getme_when_only_the_token_is_set():
    async with TelegramStandin(token="123:abc", username="bluezone_getme_bot") as tg:
        settings = Settings(telegram_bot_token=Secret("123:abc"), telegram_api_base_url=tg.base_url)
        assert await telegram_username(settings) == "bluezone_getme_bot"
        assert (
            await telegram_username(
                Settings(telegram_bot_username="configured_bot", telegram_bot_token=Secret("123:abc"))
            )
            == "configured_bot"
        )
    assert await telegram_username(Settings()) is None


def test_list_revoke_and_a_manager_from_the_command_line(env, tmp_path):
    """Venues added from the command line had no manager and no `venue revoke`: nobody could revoke
    their posters. Now an office gives each a manager (who manages it in the bot) or revokes it itself."""
    runner = CliRunner()
    managed = add("Chợ Hàng Da", "70", "--manager", "telegram:5550001")
    csv_file = tmp_path / "venues.csv"
    csv_file.write_text(
        "name,type,commune_code,address\nBến xe Lương Yên,bus_station,00070,3 Nguyễn Khoái\n", encoding="utf-8"
    )
    result = runner.invoke(main, ["venue", "import", str(csv_file), "--manager", "zalo_oa:4318802913410839210"])
    assert result.exit_code == 0, result.output
    imported = result.stdout.splitlines()[0].split("\t")[0]
    bare = add("Nhà văn hóa phường", commune="82")

    listing = runner.invoke(main, ["venue", "list"]).stdout.splitlines()
    assert f"{managed}\t00070\tmarket\ttelegram:5550001\tChợ Hàng Da" in listing
    assert f"{imported}\t00070\tbus_station\tzalo_oa:4318802913410839210\tBến xe Lương Yên" in listing
    assert f"{bare}\t00082\tmarket\t-\tNhà văn hóa phường" in listing
    assert [
        line.split("\t")[0] for line in runner.invoke(main, ["venue", "list", "--commune", "82"]).stdout.splitlines()
    ] == [bare]
    assert "unknown commune code '99999'" in runner.invoke(main, ["venue", "list", "--commune", "99999"]).output
    assert (
        runner.invoke(
            main,
            [
                "venue",
                "add",
                "--name",
                "Chợ A",
                "--type",
                "market",
                "--commune",
                "70",
                "--address",
                "Phố A",
                "--manager",
                "5550001",
            ],
        ).exit_code
        != 0
    )  # CHANNEL:ID, as grant --user takes it

    # Re-importing the file with a manager gives an unmanaged venue to them, keeping its code.
    csv_file.write_text("name,type,commune_code,address\nNhà văn hóa phường,school,00082,12 Phố B\n", encoding="utf-8")
    result = runner.invoke(main, ["venue", "import", str(csv_file), "--manager", "telegram:5550001"])
    assert result.stdout.splitlines()[-1] == "imported 0 new venue(s), updated 1"
    assert (
        f"{bare}\t00082\tschool\ttelegram:5550001\tNhà văn hóa phường" in runner.invoke(main, ["venue", "list"]).stdout
    )

    result = runner.invoke(main, ["venue", "revoke", bare.lower()])
    assert result.exit_code == 0, result.output
    renewed = result.stdout.strip().splitlines()[-1]
    assert is_valid_code(renewed) and renewed != bare
    assert "already revoked" in runner.invoke(main, ["venue", "revoke", bare]).output
    assert "no venue has the code" in runner.invoke(main, ["venue", "revoke", "2345678"]).output
    assert (
        "revoked, or mistyped"
        in runner.invoke(main, ["poster", "--venue", bare, "--out", str(tmp_path / "p.pdf")]).output
    )

    async def in_chat() -> None:
        settings = Settings.from_env()
        service = Service(settings)
        try:
            visitor = ChatDriver(service, user_id="7001")
            await visitor.send(f"CHECKIN {bare}")  # the old poster is refused, as after a revocation in chat
            assert visitor.keys == ["checkin.revoked"]
            await visitor.send(f"CHECKIN {renewed}")
            assert visitor.keys == ["checkin.thanks"]
            manager = ChatDriver(service, user_id="5550001", channel="telegram")
            await manager.press("venues")  # the manager given on the command line manages them in the bot
            assert (
                manager.keys == ["venue.list"]
                and len([p for p in manager.payloads() if p.startswith("venues:v:")]) == 2
            )
        finally:
            await service.stop()

    asyncio.run(in_chat())
