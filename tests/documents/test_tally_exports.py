"""The files officials hand on: XLSX cells hold numbers, CSV/JSON carry the documented keys."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from fractions import Fraction

import pytest
from openpyxl import load_workbook

from documents.tally_exports import COLUMNS, to_csv, to_json, to_table, to_xlsx
from storage.figures import TargetSpec
from storage.tally import Tally, TallyRow, roll_up
from texts import Divisions, t

AS_OF = dt.date(2021, 8, 3)
KINDS = frozenset({"x"})  # one division type the content does not name: the mixed wording
TARGET = TargetSpec("24", Fraction(3, 5), dt.date(2021, 8, 31), "subscribers")


@pytest.fixture
def sample() -> Tally:
    a = TallyRow(
        "07210",
        "Phường Bắc Giang",
        "24",
        "Bắc Ninh",
        TARGET,
        installed=82930,
        gain=Fraction(1000),
        communes_with_figures=1,
    )
    a.denominators["subscribers"] = 174229
    a.activity["households_visited"] = 12
    b = TallyRow("07654", "Xã An Lạc", "24", "Bắc Ninh", TARGET)
    return Tally("24", "Bắc Ninh", AS_OF, [a, b], roll_up([a, b], "24", "Bắc Ninh", TARGET, "24", "Bắc Ninh"))


def test_json_document(sample):
    doc = json.loads(to_json(sample, "Bắc Ninh"))
    assert doc["unit"] == {"code": "24", "name": "Bắc Ninh", "units": "2025"} and doc["date"] == "2021-08-03"
    row = doc["rows"][0]
    assert list(row) == [c for c, _ in COLUMNS]
    assert row["official_installed"] == 82930 and isinstance(row["official_installed"], int)
    assert row["rate"] == pytest.approx(0.47598, abs=1e-5)
    assert (row["gap"], row["projected_date"], row["deadline"]) == (21608, "2021-08-25", "2021-08-31")
    assert doc["rows"][1]["rate"] is None
    assert doc["totals"]["official_installed"] == 82930 and doc["totals"]["households_visited"] == 12


def test_csv_has_a_header_and_numbers(sample):
    rows = list(csv.DictReader(io.StringIO(to_csv(sample))))
    assert len(rows) == 3  # two communes and the totals
    assert rows[0]["official_installed"] == "82930" and rows[0]["gap"] == "21608"
    assert rows[1]["rate"] == ""
    # The coverage, for machines: the totals are the sum of two communes, one of them with figures.
    assert [(r["communes"], r["communes_with_figures"]) for r in rows] == [("1", "1"), ("1", "0"), ("2", "1")]


def test_xlsx_opens_with_numbers_percentages_and_a_totals_row(sample, content):
    book = load_workbook(io.BytesIO(to_xlsx(sample, content, "Bắc Ninh", KINDS)))
    sheet = book.active
    header = [c.value for c in sheet[3]]
    assert header[1] == "Tên đơn vị" and "Tỷ lệ cài đặt" in header
    rate_col = header.index("Tỷ lệ cài đặt") + 1
    installed_col = header.index("Số đã cài (số liệu chính thức)") + 1
    assert sheet.cell(4, installed_col).value == 82930
    assert sheet.cell(4, rate_col).value == pytest.approx(0.4759)  # truncated, shown 47.59%
    assert sheet.cell(4, rate_col).number_format == "0.00%"
    # The totals' rate comes from one commune of the two: the totals row and the line under the title say so.
    covered = content.render(t("tally.coverage", covered=1, total=2, kinds=Divisions(KINDS)))
    assert sheet.cell(6, 2).value == content.render(t("tally.export.totals_covered", coverage=covered))
    assert sheet.cell(6, 2).font.bold
    assert sheet["A2"].value == content.render(t("tally.export.coverage", coverage=covered))
    assert sheet.freeze_panes == "C4"
    assert sheet.auto_filter.ref.startswith("A3:")
    assert "Bắc Ninh" in sheet["A1"].value


def test_table_is_formatted_for_vietnamese(sample, content):
    table = to_table(sample, content, "Bắc Ninh", KINDS)
    assert "82.930" in table and "47,59%" in table and "21.608" in table and "25/8/2021" in table
    covered = content.render(t("tally.coverage", covered=1, total=2, kinds=Divisions(KINDS)))
    assert content.render(t("tally.export.coverage", coverage=covered)) in table


def test_a_commune_alone_has_no_coverage_to_state(sample, content):
    (a, _) = sample.rows
    book = load_workbook(io.BytesIO(to_xlsx(Tally(a.code, a.name, AS_OF, [a], a), content, a.name, KINDS)))
    assert book.active["A2"].value is None and book.active.cell(5, 2).value == content.render(t("tally.export.totals"))
