"""`bluezone-bot grant / revoke / roles` on a fresh SQLite file, then the granted person in the
terminal chat (a messenger without buttons): the role works from their first message."""

from __future__ import annotations

import asyncio
import getpass

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from storage.db import create_engine, sessionmaker
from storage.models import Account, RoleGrant, Visit, Volunteer
from tests.bot.test_cli import env  # noqa: F401 - env is a fixture


def rows(url, model):
    async def go():
        engine = create_engine(url)
        async with sessionmaker(engine)() as db:
            found = (await db.scalars(select(model))).all()
        await engine.dispose()
        return found

    return asyncio.run(go())


def test_grant_to_someone_who_never_wrote_then_list_and_revoke(env):
    runner = CliRunner()
    result = runner.invoke(main, ["grant", "coordinator", "--user", "telegram:123456789", "--unit", "70"])
    assert result.exit_code == 0, result.output
    assert "granted coordinator of 00070 (Phường Hoàn Kiếm, Thành phố Hà Nội) to telegram:123456789" in result.output
    assert "not yet started the bot" in result.output
    (account,) = rows(env, Account)
    assert (account.channel, account.external_id, account.chat_id) == ("telegram", "123456789", "123456789")
    again = runner.invoke(main, ["grant", "coordinator", "--user", "telegram:123456789", "--unit", "00070"])
    assert "already held" in again.output and "not yet started" not in again.output
    assert runner.invoke(main, ["grant", "admin", "--user", "telegram:42"]).exit_code == 0
    assert runner.invoke(main, ["grant", "province_officer", "--user", "telegram:43", "--unit", "1"]).exit_code == 0
    listing = runner.invoke(main, ["roles"])
    assert listing.exit_code == 0
    assert "coordinator       00070 Phường Hoàn Kiếm" in listing.output and "telegram:123456789" in listing.output
    assert "admin             VN" in listing.output and "province_officer  01    Thành phố Hà Nội" in listing.output
    assert "telegram:42" not in runner.invoke(main, ["roles", "--unit", "00070"]).output
    result = runner.invoke(main, ["revoke", "coordinator", "--user", "telegram:123456789", "--unit", "70"])
    assert result.exit_code == 0 and "revoked" in result.output
    result = runner.invoke(main, ["revoke", "coordinator", "--user", "telegram:123456789", "--unit", "70"])
    assert result.exit_code != 0 and "does not hold" in result.output
    assert [g.revoked_at is not None for g in rows(env, RoleGrant) if g.role == "coordinator"] == [True]


@pytest.mark.parametrize(
    "args,message",
    [
        (["grant", "volunteer", "--user", "telegram:1"], "needs --unit"),
        (["grant", "volunteer", "--user", "123", "--unit", "70"], "CHANNEL:ID"),
        (["grant", "volunteer", "--user", "telegram:1", "--unit", "99999"], "no commune with code 99999"),
        (["grant", "coordinator", "--user", "telegram:1", "--unit", "01"], "no commune with code 00001"),
        (["grant", "admin", "--user", "telegram:1", "--unit", "01"], "whole country"),
        (["grant", "mayor", "--user", "telegram:1", "--unit", "01"], "Invalid value"),
        (["grant", "volunteer", "--user", "telegrm:1", "--unit", "70"], "unknown channel 'telegrm'"),
    ],
)
def test_bad_grants_are_explained(env, args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and message in result.output


def test_a_zalo_user_is_granted_by_the_account_the_bot_showed_them(env):
    """An official on Zalo sends /maso, reads "zalo_oa:<id>", and is granted by that."""
    import bot.channels.telegram
    import bot.channels.terminal
    import bot.channels.zalo_bot
    import bot.channels.zalo_oa
    from bot.commands.roles import CHANNELS

    modules = (bot.channels.telegram, bot.channels.zalo_oa, bot.channels.zalo_bot, bot.channels.terminal)
    assert set(CHANNELS) == {m.NAME for m in modules}
    result = CliRunner().invoke(main, ["grant", "coordinator", "--user", "zalo_oa:4318802913410839210", "--unit", "70"])
    assert result.exit_code == 0, result.output
    (account,) = rows(env, Account)
    assert (account.channel, account.external_id) == ("zalo_oa", "4318802913410839210")


def test_a_volunteer_granted_from_the_cli_logs_a_visit_in_the_terminal(env):
    runner = CliRunner()
    user = f"terminal:local-{getpass.getuser()}"
    assert runner.invoke(main, ["grant", "volunteer", "--user", user, "--unit", "00070"]).exit_code == 0
    # The terminal has no buttons: the menu is numbered, and the summary's [Lưu] is "1".
    result = runner.invoke(main, ["chat"], input="thôn 3, số 12, 4 máy, cài 3, có sẵn 1\n1\n/toi\n")
    assert result.exit_code == 0, result.output
    assert (
        "Thôn 3" in result.output
        and "✅ Đã lưu." in result.output
        and "Xếp hạng theo số hộ đã thăm: 1/1" in result.output
    )
    (visit,) = rows(env, Visit)
    assert (visit.hamlet, visit.household, visit.smartphones, visit.installed_now, visit.already_installed) == (
        "Thôn 3",
        "12",
        4,
        3,
        1,
    )


def test_counts_are_typed_where_there_are_no_buttons(env):
    """In a numbered menu "1" would pick the first choice, so count questions offer none."""
    runner = CliRunner()
    runner.invoke(main, ["grant", "volunteer", "--user", f"terminal:local-{getpass.getuser()}", "--unit", "70"])
    answers = ["/ghinhan", "thôn 3", "số 12", "1", "3", "2", "1", "1"]  # helped; 3 phones, 2 installed, 1 had it
    result = runner.invoke(main, ["chat"], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Điện thoại thông minh: 3 · cài giúp: 2 · có sẵn: 1" in result.output
    (visit,) = rows(env, Visit)
    assert (visit.smartphones, visit.installed_now, visit.already_installed) == (3, 2, 1)


def test_a_volunteer_granted_from_the_cli_counts_on_the_desk(env):
    """A grant makes the profile a registration would: the desk counts the volunteer beside their
    visits; a revoke ends it (the visits stay)."""
    runner = CliRunner()
    user = f"terminal:local-{getpass.getuser()}"
    for role in ("volunteer", "coordinator"):
        assert runner.invoke(main, ["grant", role, "--user", user, "--unit", "70"]).exit_code == 0
    (profile,) = rows(env, Volunteer)
    assert (profile.commune_code, profile.status, profile.display_name, profile.phone) == ("00070", "active", user, "")
    result = runner.invoke(main, ["chat"], input="thôn 3 số 12 vắng nhà\n1\n/dieuphoi\n")
    assert result.exit_code == 0, result.output
    assert "Đang hoạt động: 1 tình nguyện viên" in result.output and "Hôm nay: 1 hộ đã thăm" in result.output
    assert runner.invoke(main, ["revoke", "volunteer", "--user", user, "--unit", "70"]).exit_code == 0
    assert [p.status for p in rows(env, Volunteer)] == ["inactive"] and len(rows(env, Visit)) == 1
