"""The map's points and picture: the shipped file names exactly the units we load, each once; a unit
without a point is left off and counted; bands by rate; no points, no map."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from bot.dashboard.unit_map import BANDS, COLOURS, NO_RATE, POINTS_FILE, band, unit_map, unit_points
from bot.dashboard.views import UnitRow
from storage.tally import TallyRow
from storage.units import division_data
from texts import t
from texts.content import Content

CONTENT = Content.load()


def say(key: str, **values: object) -> str:
    return CONTENT.render(t(key, **values))


def fmt(value: object) -> str:
    return "–" if value is None else CONTENT.format_value(value)


def child(code: str, installed: int | None, subscribers: int = 1000) -> UnitRow:
    row = TallyRow(code=code, name=f"unit {code}", province_code="24", province_name="p", target=None)
    row.installed = installed
    row.denominators["subscribers"] = subscribers
    return UnitRow(row=row, expected=None, last=None)


def test_the_points_are_the_units_we_load_each_once_and_inside_vietnam():
    data = division_data()
    units = {f"{p['code']:02d}" for p in data} | {f"{w['code']:05d}" for p in data for w in p["wards"]}
    codes = [line.split(",")[0] for line in POINTS_FILE.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(codes) == len(set(codes)) == len(units)
    points = unit_points()
    assert set(points) == units
    # The mainland and the islands (Trường Sa reaches 114°E): a swapped or mistyped column shows here.
    assert all(8 < lat < 24 and 102 < lon < 118 for lat, lon in points.values())


def test_without_the_file_there_are_no_points(tmp_path: Path):
    assert unit_points(tmp_path / "absent.csv") == {}


def test_bands_by_rate():
    assert band(None) is None
    assert band(Fraction(0)) == 0
    assert band(Fraction(1, 5) - Fraction(1, 10**6)) == 0
    assert band(Fraction(1, 5)) == 1
    assert band(Fraction(4, 5)) == len(BANDS) - 1 == 4
    assert band(Fraction(3, 2)) == 4  # above the denominator (an old subscriber count): the top band


def test_a_dot_per_unit_with_a_point_the_others_counted():
    rows = [child("07210", 475), child("07228", 900), child("07231", None), child("99999", 10)]
    points = {"07210": (21.27, 106.19), "07228": (21.2, 106.1), "07231": (21.1, 106.3)}
    figure = str(unit_map(rows, points, fmt, say))
    fills = re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="\d+" fill="(#\w+)"', figure.split('<ul class="legend">')[0])
    assert sorted(fills) == sorted([COLOURS[2], COLOURS[4], NO_RATE])
    assert say("dashboard.map.missing", count="1") in figure
    assert say("dashboard.map.band", band=say("dashboard.map.no_rate"), count="1") in figure
    assert 'role="img"' in figure and say("dashboard.map.alt", drawn="3") in figure
    assert "<script" not in figure and "http://" not in figure.replace("http://www.w3.org/2000/svg", "")


def test_no_points_no_map():
    assert unit_map([child("07210", 475)], {}, fmt, say) is None
    assert unit_map([], unit_points(), fmt, say) is None


def test_an_island_far_out_at_sea_gets_a_box_of_its_own():
    points = unit_points()
    khanh_hoa = [code for code in points if code.startswith("22") and len(code) == 5][:60]  # on the mainland
    rows = [child(code, 500) for code in khanh_hoa] + [child("22736", 200)]  # and Đặc khu Trường Sa
    figure = str(unit_map(rows, points, fmt, say))
    assert figure.count("<circle") - figure.count('<circle cx="7" cy="7"') == len(rows)  # every unit drawn
    assert figure.count("<rect") == 1 and "unit 22736</text>" in figure
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', figure).groups())
    assert width > 200 and height > 200  # the mainland's communes are not squeezed into a corner
    near = [child(code, 500) for code in khanh_hoa]
    assert "<rect" not in str(unit_map(near, points, fmt, say))
