"""`bluezone-bot units`: the upgrade of a database filled under an older data version, from the command line."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.models import UnitSource, Venue
from tests.storage.test_unit_upgrade import fill_as_under_2025_10_1


@pytest.fixture
def old_db(tmp_path, monkeypatch):
    """A SQLite file at revision 0008 filled under vietnam-provinces 2025.10.1."""
    url = f"sqlite:///{tmp_path}/old.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)

    async def go():
        engine = create_engine(url)
        await upgrade(engine, "0008")
        await fill_as_under_2025_10_1(engine)
        await engine.dispose()

    asyncio.run(go())
    return url


def stored(url, query):
    async def go():
        engine = create_engine(url)
        async with sessionmaker(engine)() as db:
            result = (await db.scalars(query)).all()
        await engine.dispose()
        return result

    return asyncio.run(go())


def test_dry_run_reports_every_move_and_changes_nothing(old_db):
    result = CliRunner().invoke(main, ["units", "upgrade", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("units: vietnam-provinces 2025.10.1 → 2026.9.0: 123 code(s) moved")
    assert "moved 00167 → 00166 Phường Cầu Giấy (5 stored row(s))" in lines
    assert lines[-1] == "dry run: nothing was changed"
    assert stored(old_db, select(UnitSource.version)) == ["2025.10.1"]
    assert "00226" in stored(old_db, select(Venue.commune_code))

    result = CliRunner().invoke(main, ["units", "upgrade"])
    assert result.exit_code == 0, result.output
    assert stored(old_db, select(UnitSource.version)) == ["2026.9.0"]
    assert sorted(stored(old_db, select(Venue.commune_code))) == ["00166", "00226", "00229", "01537", "01561"]


def test_a_blocked_upgrade_says_what_to_decide(old_db, monkeypatch):
    from storage import units

    data = units.division_data()
    data[0]["wards"].append({"code": 99991, "name": "Phường Kim Liên", "division_type": "phường"})
    monkeypatch.setattr(units, "division_data", lambda: data)
    # Any command that prepares the database stops before changing anything.
    result = CliRunner().invoke(main, ["venue", "list"])
    assert result.exit_code == 1
    # Six: its venue, check-ins, day counters and, since issue 22, its running totals.
    assert "TO DECIDE 00226 Phường Kim Liên (province 01): several matches, 6 stored row(s)" in result.output
    assert "bluezone-bot units upgrade --map OLD=NEW" in result.output
    assert stored(old_db, select(UnitSource.version)) == ["2025.10.1"]

    result = CliRunner().invoke(main, ["units", "upgrade", "--map", "226=229"])
    assert result.exit_code == 0, result.output
    assert "decided 00226 → 00229 Phường Kim Liên (6 stored row(s))" in result.output
    assert sorted(stored(old_db, select(Venue.commune_code))) == ["00166", "00226", "00229", "01537", "01561"]

    assert "write OLD=NEW" in CliRunner().invoke(main, ["units", "upgrade", "--map", "226"]).output


def convert(*args: str):
    return CliRunner().invoke(main, ["units", "convert", *args])


def test_convert_an_old_commune_code_to_todays():
    result = convert("27985", "--units", "pre2025")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "27985\tXã Đức Hòa Hạ\tHuyện Đức Hòa\tTỉnh Long An",
        "→\t27937\tXã Đức Hòa\tTỉnh Tây Ninh\twhole",
    ]
    # A commune split in two: each part, flagged.
    assert convert("7", "--units", "pre2025").exit_code == 1  # one digit is a province: there was no 07
    lines = convert("00007", "--units", "pre2025").output.splitlines()
    assert lines[0] == "00007\tPhường Cống Vị\tQuận Ba Đình\tThành phố Hà Nội"
    assert sorted(lines[1:]) == [
        "→\t00008\tPhường Ngọc Hà\tThành phố Hà Nội\tpart",
        "→\t00025\tPhường Giảng Võ\tThành phố Hà Nội\tpart",
    ]


def test_convert_todays_code_to_what_it_was_made_of():
    lines = convert("27937", "--units", "2025").output.splitlines()
    assert lines == [
        "27937\tXã Đức Hòa\tTỉnh Tây Ninh",
        "←\t27937\tThị trấn Đức Hòa\tHuyện Đức Hòa\tTỉnh Long An\twhole",
        "←\t27985\tXã Đức Hòa Hạ\tHuyện Đức Hòa\tTỉnh Long An\twhole",
        "←\t27988\tXã Hựu Thạnh\tHuyện Đức Hòa\tTỉnh Long An\twhole",
    ]
    # Phường Hoàn Kiếm took part of Phường Cửa Nam (old 00073) and all of Phường Hàng Bạc.
    lines = convert("00070", "--units", "2025").output.splitlines()
    assert "←\t00073\tPhường Cửa Nam\tQuận Hoàn Kiếm\tThành phố Hà Nội\tpart" in lines
    assert "←\t00061\tPhường Hàng Bạc\tQuận Hoàn Kiếm\tThành phố Hà Nội\twhole" in lines


def test_convert_provinces_and_bad_codes():
    assert convert("80", "--units", "pre2025").output.splitlines() == ["80\tTỉnh Long An", "→\t80\tTỉnh Tây Ninh"]
    assert convert("80", "--units", "2025").output.splitlines() == [
        "80\tTỉnh Tây Ninh",
        "←\t72\tTỉnh Tây Ninh",
        "←\t80\tTỉnh Long An",
        "←\t82\tTỉnh Tiền Giang",
    ]
    result = convert("99999", "--units", "2025")
    assert result.exit_code == 1 and "no commune 99999 today" in result.output
    result = convert("1x", "--units", "2025")
    assert result.exit_code == 2 and "not a commune or province code" in result.output
    assert convert("00070").exit_code == 2  # --units is required: the two schemes' codes overlap
