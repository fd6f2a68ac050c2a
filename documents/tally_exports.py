"""A tally as the files officials hand on: JSON and CSV for machines, XLSX and a text table for people.

On the pre-2025 map each row has its district; a unit's own figure that its children's sum
disagrees with has the sum beside it; figures carried from the other map follow the rows, marked
with the unit they were recorded on. A tally of today's map with none of these has the columns it
always had."""

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
DISTRICT_COLUMNS: list[tuple[str, str]] = [("district_code", "text"), ("district_name", "text")]
SUMMED_COLUMNS: list[tuple[str, str]] = [("summed_installed", "int"), ("summed_denominator", "int")]
CARRIED_COLUMNS: list[tuple[str, str]] = [
    ("recorded_units", "text"),
    ("recorded_code", "text"),
    ("recorded_name", "text"),
]


def columns_for(tally: Tally) -> list[tuple[str, str]]:
    """The columns of this tally's files: the district's after the province's on the pre-2025
    map; the children's sum and the carried rows' origin where there are any."""
    columns = list(COLUMNS)
    if tally.scheme == "pre2025":
        at = columns.index(("province_name", "text")) + 1
        columns[at:at] = DISTRICT_COLUMNS
    if any(r.summed for r in all_rows(tally)):
        at = columns.index(("rate", "rate")) + 1
        columns[at:at] = SUMMED_COLUMNS
    if tally.carried:
        columns += CARRIED_COLUMNS
    return columns


def all_rows(tally: Tally) -> list[TallyRow]:
    """The communes, the totals, then the history carried from the other map."""
    return [*tally.rows, tally.totals, *tally.carried]


def row_values(row: TallyRow, as_of: dt.date) -> dict[str, Any]:
    """One row with the export's snake_case keys: numbers as numbers, rates as exact fractions."""
    values: dict[str, Any] = {
        "code": row.code,
        "name": row.name,
        "province_code": row.province_code,
        "province_name": row.province_name,
        "district_code": row.district_code,
        "district_name": row.district_name,
        "denominator": row.denominator,
        "official_installed": row.installed,
        "rate": row.rate,
        "target_rate": row.target_rate,
        "deadline": row.deadline,
        "gap": row.gap,
        "avg_daily_gain": row.gain,
        "projected_date": row.projected(as_of),
        "summed_installed": row.summed.installed if row.summed else None,
        "summed_denominator": row.summed.denominator if row.summed else None,
        "recorded_units": row.carried_from.scheme if row.carried_from else None,
        "recorded_code": row.carried_from.code if row.carried_from else None,
        "recorded_name": row.carried_from.name if row.carried_from else None,
    }
    values.update(row.activity)
    values["communes"] = row.communes
    values["communes_with_figures"] = row.communes_with_figures
    return values


def json_row(row: TallyRow, as_of: dt.date, columns: list[tuple[str, str]], units: bool = False) -> dict[str, Any]:
    """A row's values in the files' columns; a unit above a commune (`units`) says as well whose
    figures they are (its own, or its communes' sum with their coverage)."""
    values = row_values(row, as_of)
    out = {c: _plain(values[c]) for c, _ in columns}
    if units:
        out["level"] = row.level
        out["own_figure"] = row.own_figure
        out["communes"] = row.communes
        out["communes_with_figures"] = row.communes_with_figures
        summed = row.summed
        out["summed_rate"] = _plain(summed.rate) if summed is not None and summed.rate is not None else None
    return out


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
    columns = columns_for(tally)
    document = {
        "unit": {"code": tally.unit_code, "name": unit_name, "units": tally.scheme},
        "date": tally.as_of.isoformat(),
        "rows": [json_row(r, tally.as_of, columns) for r in tally.rows],
        "children": [json_row(r, tally.as_of, columns, True) for r in tally.children],
        "totals": json_row(tally.totals, tally.as_of, columns, True),
        # Recorded on the other map, each on the smallest unit of this one containing its unit.
        "carried": [json_row(r, tally.as_of, columns, True) for r in tally.carried],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def to_csv(tally: Tally) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = columns_for(tally)
    writer.writerow([c for c, _ in columns])
    for row in all_rows(tally):
        values = row_values(row, tally.as_of)
        writer.writerow(["" if values[c] is None else _plain(values[c]) for c, _ in columns])
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
    columns = columns_for(tally)
    ws.append([content.render(t(f"tally.columns.{c}")) for c, _ in columns])
    fill = PatternFill("solid", fgColor="1F4E78")
    for cell in ws[header_row]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    ws.row_dimensions[header_row].height = 45
    formats = {"int": "#,##0", "rate": "0.00%", "date": "dd/mm/yyyy", "number": "#,##0.00", "text": "@"}
    for row in tally.rows:
        values = row_values(row, tally.as_of)
        ws.append([_cell_value(values[c], kind) for c, kind in columns])
    totals = row_values(tally.totals, tally.as_of)
    several = len(tally.rows) > 1
    totals["name"] = content.render(
        covered(tally, kinds, "tally.export.totals_covered") if several else t("tally.export.totals")
    )
    ws.append([_cell_value(totals[c], kind) for c, kind in columns])
    last = ws.max_row
    for cell in ws[last]:
        cell.font = Font(bold=True)
    for row in tally.carried:
        values = row_values(row, tally.as_of)
        values["name"] = content.render(carried_label(row))
        ws.append([_cell_value(values[c], kind) for c, kind in columns])
        for cell in ws[ws.max_row]:
            cell.font = Font(italic=True)
    # The name column holds the totals with their coverage.
    wide = {"name": 42, "province_name": 24, "district_name": 24, "recorded_name": 30}
    for col, (name, kind) in enumerate(columns, start=1):
        for r in range(header_row + 1, ws.max_row + 1):
            ws.cell(r, col).number_format = formats[kind]
        ws.column_dimensions[get_column_letter(col)].width = wide.get(name, 14)
    ws.freeze_panes = ws.cell(header_row + 1, 3)  # header and the code/name columns stay in view
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{last - 1}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def carried_label(row: TallyRow) -> Text:
    """A carried row's name: the unit it was recorded on, and that it is shown on today's."""
    assert row.carried_from is not None
    return t("tally.export.carried", recorded=row.carried_from.name, unit=row.name)


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
    column_kinds = dict(COLUMNS)  # not `kinds`, the communes' division types for the coverage
    header = [content.render(t(f"tally.columns.{c}")) for c in shown]
    lines = []
    for row in all_rows(tally):
        values = row_values(row, tally.as_of)
        if row is tally.totals:
            values["name"] = content.render(t("tally.export.totals"))
        elif row.carried_from is not None:
            values["name"] = content.render(carried_label(row))
        cells = []
        for c in shown:
            v = values[c]
            if v is None:
                cells.append("–")
            elif column_kinds[c] == "rate":
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
