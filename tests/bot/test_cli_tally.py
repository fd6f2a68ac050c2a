"""`bluezone-bot figures import`, `target set`, `tally` in every format, `tally rebuild`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from bot.cli import main
from texts import t


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
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
        ["tally", "--units", "2025", "--unit", "213"],  # no districts on today's map
        ["tally", "--units", "1975", "--unit", "01"],
        ["figures", "import", "--units", "pre2025", "missing.csv"],
        ["grant", "district_officer", "--user", "telegram:1", "--unit", "213"],  # a 2025 deployment
        ["venue", "list", "--units", "pre2025"],  # not this deployment's map
    ],
)
def test_bad_arguments_say_what_is_wrong(env, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.output.strip()


def test_a_pre2025_deployment_tallies_the_seed_city_by_its_district_code(env, monkeypatch, content):
    """Thành phố Bắc Giang is district 213 of the map before 1 July 2025: the letter's figures
    on it, its rate and gap as for a commune today, and on today's map within Bắc Ninh (24)."""
    monkeypatch.setenv("UNITS", "pre2025")
    csv_file = env / "figures.csv"
    csv_file.write_text(
        "unit_code,date,installed,subscribers,population,households\n"
        "213,27/07/2021,75.930,174.229,,\n"
        "213,03/08/2021,82.930,,,\n",
        encoding="utf-8",
    )
    assert "imported 2 row(s)" in run("figures", "import", str(csv_file))
    run("target", "set", "--unit", "24", "--rate", "60%", "--by", "2021-08-31")
    doc = json.loads(run("tally", "--units", "pre2025", "--unit", "213", "--date", "2021-08-03", "--format", "json"))
    assert doc["unit"] == {"code": "213", "name": "Thành phố Bắc Giang", "units": "pre2025"}
    totals = doc["totals"]
    assert (totals["official_installed"], totals["denominator"], totals["gap"]) == (82930, 174229, 21608)
    assert round(totals["rate"], 4) == 0.476 and totals["own_figure"] and totals["level"] == "district"
    assert len(doc["rows"]) == 34 and {r["district_code"] for r in doc["rows"]} == {"213"}
    assert "47,59%" in run("tally", "--unit", "213", "--date", "2021-08-03")

    province = env / "bg.xlsx"
    run("tally", "--unit", "24", "--date", "2021-08-03", "--format", "xlsx", "--out", str(province))
    sheet = load_workbook(province).active
    header = [c.value for c in sheet[3]]
    district_column = header.index(content.render(t("tally.columns.district_code")))
    assert {row[district_column].value for row in sheet.iter_rows(min_row=4, max_row=sheet.max_row - 1)} >= {"213"}

    today = json.loads(run("tally", "--units", "2025", "--unit", "24", "--date", "2021-08-03", "--format", "json"))
    (carried,) = today["carried"]
    assert (carried["code"], carried["recorded_units"], carried["recorded_code"]) == ("24", "pre2025", "213")
    assert carried["gap"] == 21608
    csv_text = run("tally", "--units", "2025", "--unit", "24", "--date", "2021-08-03", "--format", "csv")
    assert csv_text.splitlines()[0].endswith("recorded_units,recorded_code,recorded_name")
    assert csv_text.splitlines()[-1].startswith("24,") and ",pre2025,213,Thành phố Bắc Giang" in csv_text

    history = env / "bn.xlsx"
    run("tally", "--units", "2025", "--unit", "24", "--date", "2021-08-03", "--format", "xlsx", "--out", str(history))
    last = [c.value for c in list(load_workbook(history).active.iter_rows())[-1]]
    label = content.render(t("tally.export.carried", recorded="Thành phố Bắc Giang", unit="Tỉnh Bắc Ninh"))
    assert last[:2] == ["24", label] and last[-3:] == ["pre2025", "213", "Thành phố Bắc Giang"]
    assert "nothing to upgrade" in CliRunner().invoke(main, ["units", "upgrade", "--dry-run"]).output

    # The deployment's own data is on its own map only.
    result = CliRunner().invoke(
        main, ["grant", "coordinator", "--user", "telegram:1", "--unit", "70", "--units", "2025"]
    )
    assert result.exit_code != 0 and "pre2025" in result.output
    assert "granted district_officer of 213 (Thành phố Bắc Giang)" in run(
        "grant", "district_officer", "--user", "telegram:2", "--unit", "213"
    )
