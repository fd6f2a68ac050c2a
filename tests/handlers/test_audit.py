"""Officials' actions land in the audit log, which admins read in chat and from the CLI."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from click.testing import CliRunner
from sqlalchemy import select

from storage import roles
from storage.figures import import_rows, record_figure, set_target
from storage.models import AuditEntry
from tests.harness import ChatDriver, grant_role


async def test_actions_are_recorded_and_admins_read_them(service):
    officer = await grant_role(service, "officer", "province_officer", "01")
    async with service.sessions() as db, db.begin():
        await set_target(db, "01", Fraction(3, 5), dt.date(2021, 8, 31), set_by=officer, source="chat")
        await record_figure(
            db, "00070", dt.date(2021, 8, 3), entered_by=officer, source="chat", installed=5, subscribers=10
        )
        await import_rows(
            db,
            ["commune_code", "date", "installed"],
            [["00070", "2021-08-04", "6"], ["00082", "2021-08-04", "7"]],
            "import:x.csv",
        )
        await roles.revoke(db, officer, roles.Role.PROVINCE_OFFICER, "01", by=None)
    async with service.sessions() as db:
        actions = [e.action for e in (await db.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()]
    assert actions == ["grant", "target", "figures", "figures_import", "revoke"]

    citizen = ChatDriver(service, user_id="nobody")
    await citizen.send("/nhatky")
    assert citizen.keys == ["access.no_role"]
    await grant_role(service, "root", "admin", "VN")
    admin = ChatDriver(service, user_id="root")
    await admin.send("/nhatky")
    assert admin.keys == ["common.lines"]
    text = admin.text()
    assert "đặt chỉ tiêu" in text and "nhập số liệu từ tệp" in text and "thu hồi vai trò" in text
    await admin.send("/nhatky 00082")
    assert admin.keys == ["audit.empty"]  # the import's entry names no single commune


def test_the_cli_prints_the_log(tmp_path, monkeypatch):
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/a.db")
    runner = CliRunner()
    assert runner.invoke(main, ["target", "set", "--unit", "01", "--rate", "0.6", "--by", "2030-08-31"]).exit_code == 0
    result = runner.invoke(main, ["audit"])
    assert result.exit_code == 0 and "target" in result.output and "cli" in result.output


async def test_the_log_reads_as_people_say_it(service):
    """Local time in the house format, people as the bot knows them, units by name, rates as
    percentages: never "user 1", "3/5" or a UTC time."""
    from storage.models import Volunteer

    officer = await grant_role(service, "123", "province_officer", "01", channel="telegram")
    volunteer = await grant_role(service, "456", "volunteer", "00070", channel="telegram")
    at = dt.datetime(2026, 12, 6, 6, 17, tzinfo=dt.UTC)  # 13:17 in Vietnam
    async with service.sessions() as db, db.begin():
        db.add(
            Volunteer(
                user_id=volunteer, commune_code="00070", display_name="Lê Thị Lan", phone="0912345678", status="active"
            )
        )
        db.add(
            AuditEntry(
                at=at,
                actor_user_id=officer,
                source="chat",
                action="target",
                unit_code="01",
                details={"rate": "3/5", "deadline": "2026-12-31", "denominator": "population"},
            )
        )
        db.add(
            AuditEntry(
                at=at,
                actor_user_id=officer,
                source="chat",
                action="volunteer_approved",
                unit_code="00070",
                details={"user": volunteer},
            )
        )
    async with service.sessions() as db:
        stored = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "target"))).one()
    assert stored.details["rate"] == "3/5"  # the log keeps the exact rate; only its reading changes

    await grant_role(service, "root", "admin", "VN")
    admin = ChatDriver(service, user_id="root")
    await admin.send("/nhatky")
    assert admin.keys == ["common.lines"]
    text = admin.text()
    assert "lúc 13:17 ngày 06/12/2026" in text and "06:17" not in text
    assert "telegram:123" in text and "Lê Thị Lan" in text and "người dùng" not in text
    assert "tỷ lệ 60%" in text and "3/5" not in text and "hạn 31/12/2026" in text
    assert "Hà Nội" in text and " 01 " not in text and "00070" not in text
