"""`bluezone-bot figures import`, `target set`, `tally` in every format, `tally rebuild`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from bot.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return tmp_path


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_seed_figures_through_the_cli(env):
    csv_file = env / "figures.csv"
    csv_file.write_text(
        "commune_code,date,installed,subscribers,population,households\n"
        "07210,27/07/2021,75.930,174.229,,\n"
        "07210,03/08/2021,82.930,,,\n",
        encoding="utf-8",
    )
    assert "imported 2 row(s)" in run("figures", "import", str(csv_file))
    assert "60.00% of subscribers by 2021-08-31" in run(
        "target", "set", "--unit", "24", "--rate", "0.6", "--by", "2021-08-31"
    )
    table = run("tally", "--unit", "07210", "--date", "2021-08-03")
    assert "47,59%" in table and "21.608" in table and "82.930" in table
    doc = json.loads(run("tally", "--unit", "24", "--date", "2021-08-03", "--format", "json"))
    assert doc["totals"]["official_installed"] == 82930 and doc["totals"]["gap"] == 21608
    assert len(doc["rows"]) > 50  # every commune of the province
    csv_text = run("tally", "--unit", "VN", "--date", "2021-08-03", "--format", "csv")
    assert csv_text.startswith("code,name,province_code,province_name,denominator,official_installed,rate,")
    assert len(csv_text.splitlines()) == 3321 + 2
    out = env / "bn.xlsx"
    run("tally", "--unit", "24", "--date", "2021-08-03", "--format", "xlsx", "--out", str(out))
    sheet = load_workbook(out).active
    assert any(row[0].value == "07210" for row in sheet.iter_rows(min_row=4))
    assert "0 drifting counter(s)" in run("tally", "rebuild")


def test_figures_import_from_xlsx(env):
    book = Workbook()
    sheet = book.active
    sheet.append(["commune_code", "date", "installed", "subscribers", "population", "households"])
    sheet.append(["00070", "2021-08-03", 5000, 10000, 20000, None])
    sheet.append(["00070", "2021-08-04", "abc", None, None, None])
    path = env / "figures.xlsx"
    book.save(path)
    result = CliRunner().invoke(main, ["figures", "import", str(path)])
    assert result.exit_code == 0
    assert "imported 1 row(s)" in result.output and "line 3: not a whole number: 'abc'" in result.output
    doc = json.loads(run("tally", "--unit", "00070", "--date", "2021-08-03", "--format", "json"))
    assert doc["rows"][0]["rate"] == 0.5


@pytest.mark.parametrize(
    "args",
    [
        ["tally"],
        ["tally", "--unit", "7"],
        ["tally", "--unit", "99"],
        ["target", "set", "--unit", "01", "--rate", "abc", "--by", "2021-08-31"],
        ["target", "set", "--unit", "01", "--rate", "1.5", "--by", "2021-08-31"],
        ["target", "set", "--unit", "01", "--rate", "0.5", "--by", "31/08"],
    ],
)
def test_bad_arguments_say_what_is_wrong(env, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.output.strip()
