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
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
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
    assert "TO DECIDE 00226 Phường Kim Liên (province 01): several matches, 5 stored row(s)" in result.output
    assert "bluezone-bot units upgrade --map OLD=NEW" in result.output
    assert stored(old_db, select(UnitSource.version)) == ["2025.10.1"]

    result = CliRunner().invoke(main, ["units", "upgrade", "--map", "226=229"])
    assert result.exit_code == 0, result.output
    assert "decided 00226 → 00229 Phường Kim Liên (5 stored row(s))" in result.output
    assert sorted(stored(old_db, select(Venue.commune_code))) == ["00166", "00226", "00229", "01537", "01561"]

    assert "write OLD=NEW" in CliRunner().invoke(main, ["units", "upgrade", "--map", "226"]).output
