"""The progress chart read at a glance (issue 19): a bounded picture whatever the number of
communes, a title wrapped and never cut, and counts that add up to the tally."""

from __future__ import annotations

import datetime as dt
import functools
import io
import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from documents.charts import (
    MARGIN,
    TITLE_SIZE,
    WIDTH,
    Glance,
    _font,
    _measure,
    balanced_wrap,
    glance_chart,
    layout,
    wrap,
)
from handlers.progress import GLANCE_AHEAD, GLANCE_BEHIND, glance
from storage.figures import TargetSpec
from storage.tally import Tally, TallyRow, roll_up
from texts import Divisions, Percent, t
from texts.content import Content

AS_OF = dt.date(2026, 12, 6)
TARGET = TargetSpec("79", Fraction(3, 5), dt.date(2026, 12, 31), "subscribers")
KINDS = frozenset({"x", "y"})  # two division types: the mixed wording


def province(communes: int, with_figures: int, target: TargetSpec | None = TARGET, seed: int = 1) -> Tally:
    rng = random.Random(seed)
    rows = []
    for i in range(communes):
        row = TallyRow(f"{i:05d}", f"Unit {i:03d}", "79", "Province", target)
        if i < with_figures:
            row.denominators["subscribers"] = rng.randint(2_000, 200_000)
            row.installed = int(row.denominators["subscribers"] * rng.uniform(0, 0.9))
            row.communes_with_figures = 1
        rows.append(row)
    return Tally("79", "Province", AS_OF, rows, roll_up(rows, "79", "Province", target, "79", "Province"))


@functools.cache
def shared_content() -> Content:
    """The content for property tests, which cannot take a function-scoped fixture."""
    return Content.load()


def picture_height(png: bytes) -> int:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width == WIDTH
        return image.height


@pytest.mark.parametrize("communes,with_figures", [(1, 1), (1, 0), (13, 13), (168, 73), (168, 168), (3321, 3000)])
def test_the_picture_has_a_bounded_height(content, communes, with_figures):
    height = picture_height(glance_chart(glance(province(communes, with_figures), "Province", content, KINDS)))
    # Two sections of bars and four bands at most, whatever the number of communes.
    assert height <= 1500, height


def test_a_large_province_draws_the_same_picture_size_as_a_small_one(content):
    heights = {
        picture_height(glance_chart(glance(province(n, n), "Province", content, KINDS))) for n in (14, 168, 3321)
    }
    assert len(heights) == 1, heights


def test_the_chart_shows_the_furthest_behind_and_ahead_and_counts_every_unit(content):
    tally = province(168, 73)
    shown = glance(tally, "Province", content, KINDS)
    with_figures = sorted((r for r in tally.rows if r.rate is not None), key=lambda r: r.rate or 0)
    behind, ahead = shown.sections
    assert [b.label for b in behind.bars] == [r.name for r in with_figures[:GLANCE_BEHIND]]
    assert [b.label for b in ahead.bars] == [r.name for r in reversed(with_figures[-GLANCE_AHEAD:])]
    # The bands count every commune with figures once; those without are stated, not drawn.
    assert sum(b.count for b in shown.bands) == 73 == tally.totals.communes_with_figures
    missing = content.render(t("tally.chart.missing", count=95, units=Divisions(KINDS)))
    assert missing in shown.notes
    covered = content.render(t("tally.coverage", covered=73, total=168, kinds=Divisions(KINDS)))
    assert any(covered in note for note in shown.notes)
    assert all(b.rate is not None for s in shown.sections for b in s.bars)


def test_the_bands_follow_the_rate_against_the_target(content):
    tally = province(4, 4)
    for row, rate in zip(tally.rows, (Fraction(1, 10), Fraction(2, 5), Fraction(1, 2), Fraction(7, 10)), strict=True):
        row.installed, row.denominators["subscribers"] = rate.numerator, rate.denominator
    # Against a 60% target: a sixth, two thirds, five sixths, above.
    assert [b.count for b in glance(tally, "Province", content, KINDS).bands] == [1, 1, 1, 1]
    assert [b.state for b in glance(tally, "Province", content, KINDS).bands] == ["far", "half", "near", "reached"]


def test_without_targets_the_bands_are_of_the_rate(content):
    tally = province(30, 20, target=None)
    shown = glance(tally, "Province", content, KINDS)
    assert content.render(t("tally.chart.by_rate", units=Divisions(KINDS))) == shown.distribution_heading
    assert sum(b.count for b in shown.bands) == 20 and len(shown.bands) == 5


def test_a_commune_has_its_bar_and_no_distribution(content):
    tally = province(1, 1)
    tally = Tally(tally.rows[0].code, "Unit 000", AS_OF, tally.rows, tally.rows[0])
    shown = glance(tally, "Unit 000", content, KINDS)
    assert [len(s.bars) for s in shown.sections] == [1] and not shown.bands
    assert content.render(t("tally.chart.rate", rate=Percent(tally.totals.rate or 0))) in shown.notes


# The title a tester saw cut short ("đến hết Chủ Nhật, 6 thá…"), as long as titles get.
LONG_TITLE = "Unit " + "Longname " * 12 + "until Sunday, 6 December 2026"


@given(st.text(alphabet=st.sampled_from("abc \u0110\u0111\u1ea0\u1ea1:,"), min_size=1, max_size=300))
def test_wrapping_keeps_every_word(title):
    font = _font(TITLE_SIZE, True)
    lines = wrap(title, font, WIDTH - 2 * MARGIN)
    assert " ".join(" ".join(lines).split()) == " ".join(title.split())
    even = balanced_wrap(title, font, WIDTH - 2 * MARGIN)
    assert " ".join(" ".join(even).split()) == " ".join(title.split()) and len(even) <= len(lines)


def test_the_title_is_wrapped_never_cut():
    plan = layout(Glance(title=LONG_TITLE))
    assert len(plan.title_lines) > 1 and " ".join(plan.title_lines) == LONG_TITLE
    draw, font = _measure(), _font(TITLE_SIZE, True)
    assert all(draw.textlength(line, font=font) <= WIDTH - 2 * MARGIN for line in plan.title_lines)
    assert picture_height(glance_chart(Glance(title=LONG_TITLE))) == plan.height


@given(
    st.lists(
        st.tuples(st.none() | st.integers(0, 120), st.none() | st.sampled_from([50, 60, 100])), min_size=2, max_size=60
    )
)
def test_every_unit_is_counted_once(units):
    """Whatever the rates and targets: the bands and the units without figures add up to the tally."""
    content = shared_content()
    rows = []
    for i, (installed, target) in enumerate(units):
        spec = None if target is None else TargetSpec("79", Fraction(target, 100), AS_OF, "subscribers")
        row = TallyRow(f"{i:05d}", f"Unit {i}", "79", "Province", spec, installed=installed)
        row.denominators["subscribers"] = 100
        rows.append(row)
    tally = Tally("79", "Province", AS_OF, rows, roll_up(rows, "79", "Province", None, "79", "Province"))
    shown = glance(tally, "Province", content, KINDS)
    with_figures = sum(installed is not None for installed, _ in units)
    assert sum(b.count for b in shown.bands) == with_figures
    drawn = [b.label for s in shown.sections for b in s.bars]
    assert len(drawn) == len(set(drawn)) == min(with_figures, GLANCE_BEHIND + GLANCE_AHEAD)
