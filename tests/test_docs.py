"""The documentation is tested, as Datasette's is: every setting in the README's configuration table
with its default, every command and option in docs/cli.md, and the README's five-minute tour run
exactly as written, so that none of them can drift from the code."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from bot.settings import Settings, settings_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """A `## title` section of a Markdown text, up to the next `## ` heading."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def code_blocks(text: str, language: str = "") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.S | re.M)


# --- settings ---------------------------------------------------------------------------------


def test_the_configuration_table_is_the_declared_settings():
    """Each setting is declared once (bot/settings.py: variable, default, reader, meaning); the
    README's table is what `bluezone-bot settings` prints from those declarations."""
    table = section(README, "Configuration")
    generated = settings_table()
    assert generated.count("\n") > 20  # every setting has its row
    assert generated in table, "regenerate the README's table: .venv/bin/bluezone-bot settings"


def test_an_empty_environment_gives_the_declared_defaults():
    declared = {f.name: f.default for f in dataclasses.fields(Settings)}
    read = vars(Settings.from_env({}))
    assert read == declared
    assert {f.metadata["env"] for f in dataclasses.fields(Settings)} == {
        f.name.upper() for f in dataclasses.fields(Settings)
    }


def test_a_bad_number_stops_the_start_with_its_name():
    with pytest.raises(ValueError, match="HTTP_PORT must be a whole number of at least 1, not 'eighty'"):
        Settings.from_env({"HTTP_PORT": "eighty"})


# --- the command line -------------------------------------------------------------------------


def documented_commands() -> dict[tuple[str, ...], set[str]]:
    """docs/cli.md's synopsis: command path → the options written on its line (and the indented
    lines that continue it)."""
    (synopsis,) = [b for b in code_blocks(CLI_DOC) if b.startswith("bluezone-bot ")]
    entries: list[str] = []
    for line in synopsis.splitlines():
        line = line.split("  #", 1)[0]
        if line.startswith("bluezone-bot "):
            entries.append(line)
        elif line.strip():
            entries[-1] += " " + line
    documented = {}
    for entry in entries:
        words = entry.split()[1:]
        command, path = main, []
        while words and isinstance(command, click.Group) and words[0] in command.commands:
            command = command.commands[words[0]]
            path.append(words.pop(0))
        options = set()
        for option in re.findall(r"--[a-z][a-z-]*(?:/--[a-z][a-z-]*)?", " ".join(words)):
            options.update(option.split("/"))
        documented[tuple(path)] = options
    return documented


def commands(group: click.Group = main, path: tuple[str, ...] = ()):
    """Every command a person can run, with its options: leaves, and groups that run by themselves."""
    for name, command in group.commands.items():
        here = path + (name,)
        if not isinstance(command, click.Group) or command.invoke_without_command:
            options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts}
            yield here, options
        if isinstance(command, click.Group):
            yield from commands(command, here)


def test_every_command_and_option_is_documented():
    documented = documented_commands()
    actual = dict(commands())
    assert len(actual) > 15  # the command tree was walked at all
    assert set(documented) == set(actual), "docs/cli.md and the commands differ"
    for path, options in actual.items():
        assert documented[path] == options, (
            f"bluezone-bot {' '.join(path)}: documented {sorted(documented[path])}, has {sorted(options)}"
        )


# --- the five-minute tour ---------------------------------------------------------------------


def tour() -> tuple[list[str], list[str]]:
    """The tour's shell lines and the lines it has you type in the chat (without the # lines)."""
    tour = section(README, "A five-minute tour")
    (shell,) = code_blocks(tour, "sh")
    (chat,) = code_blocks(tour, "text")
    typed = [line for line in chat.splitlines() if line.strip() and not line.startswith("#")]
    return [line for line in shell.splitlines() if line.strip()], typed


def count(url: str, model, *where) -> int:
    from storage.db import create_engine, sessionmaker

    async def go() -> int:
        engine = create_engine(url)
        async with sessionmaker(engine)() as db:
            total = await db.scalar(select(func.count()).select_from(model).where(*where))
        await engine.dispose()
        return total

    return asyncio.run(go())


@pytest.mark.slow  # runs the tour: the CLI, then the chat, on a database of its own (about 7 s)
def test_the_tour_works_as_written(tmp_path, monkeypatch):
    """Runs the tour's commands on a new SQLite file and types its lines into the terminal chat:
    every command succeeds, nothing typed is misunderstood, and each role's step leaves its row."""
    from storage.models import CheckIn, SelfReportedInstall, Visit, Volunteer
    from texts import t
    from texts.content import Content

    url = f"sqlite:///{tmp_path}/tour.db"
    for name in [n for n in os.environ if n.startswith(("TELEGRAM_", "ZALO_", "PUBLIC_", "QR_", "MEDIA_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # posters and charts go to ./data/out, as in the tour
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    shell, typed = tour()
    runner, printed = CliRunner(), ""
    assert shell[-1] == "make run"
    for line in shell[:-1]:
        if line.startswith("export "):  # run by the shell itself, to read what it sets
            name = re.match(r"export (\w+)=", line).group(1)
            value = subprocess.run(
                ["bash", "-c", f'{line}\nprintf %s "${name}"'], capture_output=True, text=True, check=True
            ).stdout
            assert value, line
            monkeypatch.setenv(name, value)
        elif line.startswith(".venv/bin/bluezone-bot "):
            result = runner.invoke(main, shlex.split(line, comments=True)[1:])
            assert result.exit_code == 0, (line, result.output)
            printed += result.output
        else:
            assert line.split("#")[0].strip() == "make run", f"the test does not know how to run {line!r}"
    # "CHECKIN <the code that venue import printed for Chợ Đồng Xuân>": that venue's code.
    codes = {name: code for code, _, name in (row.split("\t") for row in printed.splitlines() if row.count("\t") == 2)}
    lines = []
    for line in typed:
        placeholder = re.search(r"<.* for (.+)>", line)
        lines.append(line.replace(placeholder.group(0), codes[placeholder.group(1)]) if placeholder else line)

    result = runner.invoke(main, ["chat"], input="".join(f"{line}\n" for line in lines))
    assert result.exit_code == 0, result.output
    content = Content.load()
    for key in ("menu.not_understood", "menu.stale_button", "menu.internal_error", "menu.off_topic_in_step"):
        assert content.render(t(key)) not in result.output, key
    # Each role's step left its mark: the citizen's install and check-in, Hoa's poster, Lan
    # approved and her visit, Bình's and Minh's charts.
    assert count(url, SelfReportedInstall) == 1 and count(url, CheckIn) == 1
    assert count(url, Volunteer, Volunteer.status == "active") == 1
    assert count(url, Visit, Visit.hamlet == "Thôn 3", Visit.installed_now == 3) == 1
    out = sorted(p.name for p in (tmp_path / "data" / "out").iterdir())
    assert f"poster-{codes['Chợ Đồng Xuân']}.pdf" in out and f"poster-{codes['Chợ Đồng Xuân']}.png" in out
    assert any(name.startswith("tien-do-01-") for name in out) and any(name.startswith("tien-do-VN-") for name in out)
    assert "[lan] ✅" in result.output  # Lan's approval, told while An spoke


def test_every_sample_file_is_used_by_the_tour():
    shell, _ = tour()
    samples = sorted(f"samples/{p.name}" for p in (ROOT / "samples").iterdir())
    assert samples and all(any(path in line for line in shell) for path in samples), samples
