"""The terminal chat as several people: `@name` switches the person speaking; a message for
another person of the terminal carries their name; a terminal prints only its own people's
messages, each once, and leaves another terminal's to that terminal."""

from __future__ import annotations

import io

from sqlalchemy import select

from bot.channels.base import OutMessage
from bot.channels.terminal import TerminalChannel, chat_id_of, chat_loop, switch_to
from bot.service import Service
from storage.models import Volunteer
from tests.harness import grant_role

HOAN_KIEM = "00070"
# Lan joins without an invite: no code, her commune, name, phone, team.
LAN_REGISTERS = ["@lan", "/dangky", "1", "Hoàn Kiếm", "Nguyễn Thị Lan", "0912 345 678", "Đội 1"]
# The coordinator's desk, the pending registrations, [Duyệt] the first.
APPROVE_FIRST = ["/dieuphoi", "3", "1"]


class Terminal(TerminalChannel):
    """The terminal channel, also noting who each message went to and who was speaking."""

    def __init__(self, login: str) -> None:
        super().__init__(out=io.StringIO(), login=login)
        self.printed: list[tuple[str, str, str]] = []  # (chat, content key, speaking)

    async def send(self, chat_id, message, attachment):
        self.printed.append((chat_id, message.key, self.speaking))
        await super().send(chat_id, message, attachment)

    def keys_for(self, chat_id: str) -> list[str]:
        return [key for chat, key, _ in self.printed if chat == chat_id]


async def type_lines(service: Service, lines: list[str]) -> None:
    await chat_loop(service, io.StringIO("".join(f"{line}\n" for line in lines)))


async def status_of_lan(service: Service) -> str:
    async with service.sessions() as db:
        return (await db.scalars(select(Volunteer.status))).one()


def test_switch_lines():
    assert switch_to("@lan") == "lan" and switch_to(" @ Lan ") == "lan" and switch_to("@Hùng") == "hùng"
    assert switch_to("@") == ""
    assert switch_to("hello @lan") is None and switch_to("@lan ơi") is None and switch_to("email@x.vn") is None


async def test_one_terminal_holds_the_coordinator_and_the_volunteer(service):
    await grant_role(service, "local-an", "coordinator", HOAN_KIEM, channel="terminal")
    terminal = Terminal(login="an")
    service.add_channel(terminal)
    await type_lines(service, ["", *LAN_REGISTERS, "@", "  ", *APPROVE_FIRST])  # Enter alone says nothing
    assert await status_of_lan(service) == "active"
    # The coordinator was asked while Lan was speaking, so the request carried his name; Lan's
    # approval came while he spoke, so it carried hers. Each was printed once.
    asked = [p for p in terminal.printed if p[1] == "volunteer.approval_request"]
    approved = [p for p in terminal.printed if p[1] == "volunteer.approved_notice"]
    assert asked == [("local-an", "volunteer.approval_request", "local-lan")]
    assert approved == [("local-lan", "volunteer.approved_notice", "local-an")]
    out = terminal.out.getvalue()
    assert out.count("[an] 🙋") == 1 and out.count("[lan] ✅") == 1
    assert "Bây giờ bạn là lan (mã tài khoản: terminal:local-lan)." in out
    # Lan's own replies while she spoke carried no name.
    assert "[lan] " not in out.split("Bây giờ bạn là an")[0]
    assert "menu.not_understood" not in [key for _, key, _ in terminal.printed]


async def test_two_terminals_print_only_their_own_peoples_messages(service, settings, db_engine):
    """A second terminal (another process, here another service on the same database) holds Lan;
    neither prints the other's messages, and each gets its own once, from its courier's sweep."""
    await grant_role(service, "local-an", "coordinator", HOAN_KIEM, channel="terminal")
    first = Terminal(login="an")
    service.add_channel(first)
    second_service = Service(settings, content=service.content, db_engine=db_engine)
    second = Terminal(login="lan")
    second_service.add_channel(second)

    try:
        await type_lines(second_service, LAN_REGISTERS[1:])  # already Lan: her terminal's login
        await second_service.courier.sweep()
        await second_service.courier.drain()
        assert "volunteer.approval_request" not in second.keys_for("local-an")
        assert {chat for chat, _, _ in second.printed} == {"local-lan"}

        await type_lines(service, [])  # the coordinator starts his terminal: the request comes first
        await service.courier.sweep()
        await service.courier.drain()
        assert first.keys_for("local-an").count("volunteer.approval_request") == 1

        await type_lines(service, APPROVE_FIRST)
        await service.courier.sweep()
        await service.courier.drain()
        assert await status_of_lan(service) == "active"
        assert {chat for chat, _, _ in first.printed} == {"local-an"}
        await second_service.courier.sweep()
        await second_service.courier.drain()
        assert second.keys_for("local-lan").count("volunteer.approved_notice") == 1
        assert {chat for chat, _, _ in second.printed} == {"local-lan"}
    finally:
        await second_service.stop()


async def test_a_file_is_printed_with_its_caption_right_under_it(tmp_path):
    terminal = TerminalChannel(out=io.StringIO(), files_dir=tmp_path, login="an")
    caption = "caption\n\n1. x"
    picture = OutMessage(text=caption, key="k", attachment_kind="image", filename="chart.png", mime_type="image/png")
    await terminal.send(chat_id_of("an"), picture, b"\x89PNG")
    await terminal.send(
        chat_id_of("an"), OutMessage(text="", key="k", attachment_kind="document", filename="a.pdf"), b"%"
    )
    assert terminal.out.getvalue() == (
        f"\n[image: {tmp_path / 'chart.png'}]\n{caption}\n\n[document: {tmp_path / 'a.pdf'}]\n"
    )
    assert (tmp_path / "chart.png").read_bytes() == b"\x89PNG"
