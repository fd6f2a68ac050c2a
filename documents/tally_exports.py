"""A tally as the files officials hand on: JSON and CSV for machines, XLSX and a text table for people."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from documents.coverage import coverage
from storage.tally import ACTIVITY, Tally, TallyRow
from texts import Percent, Text, t
from texts.content import Content

# (column, kind): kind tells how a value is written (numbers stay numbers in every format).
COLUMNS: list[tuple[str, str]] = [
    ("code", "text"),
    ("name", "text"),
    ("province_code", "text"),
    ("province_name", "text"),
    ("denominator", "int"),
    ("official_installed", "int"),
    ("rate", "rate"),
    ("target_rate", "rate"),
    ("deadline", "date"),
    ("gap", "int"),
    ("avg_daily_gain", "number"),
    ("projected_date", "date"),
    *[(m, "int") for m in ACTIVITY],
    # The coverage: of how many communes the row is the sum, and how many of them have figures.
    ("communes", "int"),
    ("communes_with_figures", "int"),
]


def row_values(row: TallyRow, as_of: dt.date) -> dict[str, Any]:
    """One row with the export's snake_case keys: numbers as numbers, rates as exact fractions."""
    values: dict[str, Any] = {
        "code": row.code,
        "name": row.name,
        "province_code": row.province_code,
        "province_name": row.province_name,
        "denominator": row.denominator,
        "official_installed": row.installed,
        "rate": row.rate,
        "target_rate": row.target_rate,
        "deadline": row.deadline,
        "gap": row.gap,
        "avg_daily_gain": row.gain,
        "projected_date": row.projected(as_of),
    }
    values.update(row.activity)
    values["communes"] = row.communes
    values["communes_with_figures"] = row.communes_with_figures
    return values


def covered(tally: Tally, kinds: Iterable[str], key: str) -> Text:
    """`key` (the totals row's name, the line under the title) with the coverage the totals have."""
    totals = tally.totals
    return t(key, coverage=coverage(totals.communes_with_figures, totals.communes, kinds))


def _plain(value: Any) -> Any:
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def to_json(tally: Tally, unit_name: str) -> str:
    document = {
        "unit": {"code": tally.unit_code, "name": unit_name},
        "date": tally.as_of.isoformat(),
        "rows": [{k: _plain(v) for k, v in row_values(r, tally.as_of).items()} for r in tally.rows],
        "totals": {k: _plain(v) for k, v in row_values(tally.totals, tally.as_of).items()},
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def to_csv(tally: Tally) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c for c, _ in COLUMNS])
    for row in [*tally.rows, tally.totals]:
        values = row_values(row, tally.as_of)
        writer.writerow(["" if values[c] is None else _plain(values[c]) for c, _ in COLUMNS])
    return out.getvalue()


def _cell_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "rate":
        # What the cell shows must never be rounded up: store the truncated rate (0.4759 → 47.59%).
        return float(Percent(value).truncated())
    if kind == "number":
        return round(float(value), 2)
    return value


def to_xlsx(tally: Tally, content: Content, unit_name: str, kinds: Iterable[str] = ()) -> bytes:
    """What a provincial Department forwards: a title, the coverage under it, a formatted and frozen
    header with auto-filter, one row per commune, a totals row, percentages as percentages.
    `kinds`: the division types of the communes (for the coverage's wording)."""
    wb = Workbook()
    ws = wb.active
    ws.title = content.render(t("tally.export.sheet"))
    ws.append([content.render(t("tally.export.title", unit=unit_name, date=tally.as_of))])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([content.render(covered(tally, kinds, "tally.export.coverage")) if len(tally.rows) > 1 else None])
    header_row = 3
    ws.append([content.render(t(f"tally.columns.{c}")) for c, _ in COLUMNS])
    fill = PatternFill("solid", fgColor="1F4E78")
    for cell in ws[header_row]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    ws.row_dimensions[header_row].height = 45
    formats = {"int": "#,##0", "rate": "0.00%", "date": "dd/mm/yyyy", "number": "#,##0.00", "text": "@"}
    for row in tally.rows:
        values = row_values(row, tally.as_of)
        ws.append([_cell_value(values[c], kind) for c, kind in COLUMNS])
    totals = row_values(tally.totals, tally.as_of)
    several = len(tally.rows) > 1
    totals["name"] = content.render(
        covered(tally, kinds, "tally.export.totals_covered") if several else t("tally.export.totals")
    )
    ws.append([_cell_value(totals[c], kind) for c, kind in COLUMNS])
    last = ws.max_row
    for cell in ws[last]:
        cell.font = Font(bold=True)
    for col, (_, kind) in enumerate(COLUMNS, start=1):
        for r in range(header_row + 1, last + 1):
            ws.cell(r, col).number_format = formats[kind]
        width = 42 if col == 2 else 24 if col == 4 else 14  # the name column holds the totals with their coverage
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = ws.cell(header_row + 1, 3)  # header and the code/name columns stay in view
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(COLUMNS))}{last - 1}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_table(tally: Tally, content: Content, unit_name: str, kinds: Iterable[str] = ()) -> str:
    """A plain-text table for the terminal, numbers formatted for vi_VN."""
    shown = [
        "code",
        "name",
        "official_installed",
        "denominator",
        "rate",
        "target_rate",
        "gap",
        "projected_date",
        "households_visited",
        "installs_helped",
        "checkins",
        "self_reported_installs",
    ]
    kinds = dict(COLUMNS)
    header = [content.render(t(f"tally.columns.{c}")) for c in shown]
    lines = []
    for row in [*tally.rows, tally.totals]:
        values = row_values(row, tally.as_of)
        if row is tally.totals:
            values["name"] = content.render(t("tally.export.totals"))
        cells = []
        for c in shown:
            v = values[c]
            if v is None:
                cells.append("–")
            elif kinds[c] == "rate":
                cells.append(content.format_value(Percent(v)))
            else:
                cells.append(content.format_value(v))
        lines.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    title = content.render(t("tally.export.title", unit=unit_name, date=tally.as_of))
    if len(tally.rows) > 1:
        title += "\n" + content.render(covered(tally, kinds, "tally.export.coverage"))
    return "\n".join([title, fmt(header), *(fmt(r) for r in lines)]) + "\n"
